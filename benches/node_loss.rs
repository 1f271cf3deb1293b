//! Benchmarks of the harness itself, on the scenario files with their fixed seeds.
//!
//! - `node-loss/end to end, 1ms tick`: load, simulate (120 s of load plus the drain) and build the
//!   outcome. Criterion's throughput line reads "elem/s" = simulated seconds per wall
//!   second.
//! - the same at the coarsest tick the loader allows (2 ms), to show what the tick costs.

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use harness::executor;
use harness::report::Outcome;
use harness::scenario;

fn end_to_end(c: &mut Criterion) {
    let scenario = scenario::load(Path::new("scenarios/node-loss.toml"))
        .expect("the reference scenario loads");
    let simulated = executor::run(&scenario, scenario.seed)
        .expect("the run completes")
        .simulated;
    let mut group = c.benchmark_group("node-loss");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(simulated.as_secs()));
    group.bench_function("end to end, 1ms tick", |b| {
        b.iter(|| {
            let run = executor::run(&scenario, scenario.seed).expect("the run completes");
            Outcome::new(&scenario, scenario.seed, &run.events)
        })
    });
    let mut coarse = scenario.clone();
    coarse.tick = harness::scenario::load::TICK_RANGE.1;
    group.bench_function("end to end, 2ms tick", |b| {
        b.iter(|| {
            let run = executor::run(&coarse, coarse.seed).expect("the run completes");
            Outcome::new(&coarse, coarse.seed, &run.events)
        })
    });
    group.finish();
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
