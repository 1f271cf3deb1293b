//! The harness's speed, measured side by side in one `cargo bench` (issue 15's figures 1-4).
//!
//! - figure 1, `fig1 node-loss`: `scenarios/node-loss.toml` as committed (TLS on, 1 ms
//!   tick), end to end (load, simulate, build the outcome);
//! - figure 2, `fig2 quiet`: the reference topology at 1 request/s with no steps, for one
//!   simulated hour when that fits the bench's budget, else for a shorter stretch
//!   ([`quiet`] says how it decides; `HARNESS_BENCH_QUIET_HOUR=1` forces the hour);
//! - figure 3, `fig3 load` and `fig3 nodes`: cost per simulated second at 10, 100, 500 and
//!   2,000 requests/s, and with 3, 5 and 7 nodes, each 2 s of load without faults and
//!   the drain after it ([`load`] says why so short);
//! - figure 4, `fig4 idle`: the reference scenario's 13 hosts idle for 10 simulated
//!   seconds, as bare turmoil hosts and as the harness's world.
//!
//! Criterion's throughput line reads "elem/s" = simulated seconds per wall second. Every
//! run is seeded (the reference's seed), so each iteration simulates the same thing;
//! criterion takes its minimum of 10 samples of one run each (flat sampling), after a
//! first run that measures how much simulated time a run covers. `cargo bench` closes with
//! a table of every figure and the ratios the issue asks for ([`ledger`]).
//!
//! `cargo bench --bench speed -- fig3` runs one group (criterion's filter; the first runs
//! of the benches it leaves out are skipped too).

mod idle;
mod ledger;
mod load;
mod quiet;
mod reference;
mod scenarios;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};
use harness::executor;
use harness::report::Outcome;
use harness::scenario::spec::Scenario;

use ledger::Ledger;

/// Samples per bench: criterion's minimum. A run is deterministic, so the samples differ
/// only by the machine's noise.
pub const SAMPLES: usize = 10;

/// Criterion's warm-up: as short as it allows (one run). The first run each bench makes to
/// measure its simulated time warms it up already.
const WARM_UP: Duration = Duration::from_millis(1);

/// What one first run of a bench found: what criterion's throughput and the ledger need.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    /// Simulated time one run covers.
    pub simulated: Duration,
    /// Requests the users sent, when the run has users.
    pub requests: Option<usize>,
    /// Wall time of the run.
    pub wall: Duration,
}

/// One run of `scenario` end to end, as `harness run` makes it: simulate, build the
/// outcome. Returns what it covered and its wall time.
pub fn run_scenario(scenario: &Scenario) -> Probe {
    let start = Instant::now();
    let run = executor::run(scenario, scenario.seed).expect("the run completes");
    let outcome = Outcome::new(scenario, scenario.seed, &run.events);
    let wall = start.elapsed();
    Probe {
        simulated: run.simulated,
        requests: Some(black_box(outcome).totals.sent),
        wall,
    }
}

/// The benches' settings for one group: flat sampling of [`SAMPLES`] runs.
pub fn group<'c>(c: &'c mut Criterion, name: &str) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(SAMPLES)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(WARM_UP);
    group
}

/// Benches `measure` (one run; returns the wall time to count) as `name` in `group`,
/// which is called `group_name`, recording every sample in `ledger` under `figure`.
/// `probe` is the first run's: its simulated time sets the throughput, its wall time the
/// measurement time (so criterion takes one run per sample).
pub fn bench(
    group: &mut BenchmarkGroup<'_, WallTime>,
    (group_name, name): (&str, &str),
    (ledger, figure): (&Ledger, u8),
    probe: Probe,
    mut measure: impl FnMut() -> Duration,
) {
    let id = format!("{group_name}/{name}");
    let row = ledger.open(figure, &id, probe.simulated, probe.requests);
    // Half the runs' expected time: flat sampling then takes one run per sample unless a
    // run turns out twice as fast as the first one (criterion may warn that 10 samples
    // need more time than that: they take what they take, one run each).
    let target = probe.wall.mul_f64(0.5 * SAMPLES as f64);
    group
        .throughput(Throughput::Elements(probe.simulated.as_secs()))
        .measurement_time(target.max(Duration::from_millis(10)));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let total: Duration = (0..iters).map(|_| measure()).sum();
            let runs = u32::try_from(iters).expect("a sample is a few runs");
            ledger.sample(row, total / runs);
            total
        });
    });
}

/// Benches one scenario end to end (after a first run, unless the filter leaves it out).
pub fn bench_scenario(
    group: &mut BenchmarkGroup<'_, WallTime>,
    (group_name, name): (&str, &str),
    (ledger, figure): (&Ledger, u8),
    scenario: &Scenario,
) {
    if !Filter::from_args().wants(&format!("{group_name}/{name}")) {
        return;
    }
    let probe = run_scenario(scenario);
    bench(group, (group_name, name), (ledger, figure), probe, || {
        run_scenario(scenario).wall
    });
}

/// Criterion's benchmark filter, read from the command line as criterion reads it, so
/// that the benches it leaves out skip their first runs too.
#[derive(Debug, Default)]
pub struct Filter {
    pattern: Option<String>,
    exact: bool,
}

/// Criterion's options that take a value (`--name value`).
const OPTIONS_WITH_VALUE: [&str; 17] = [
    "--color",
    "-c",
    "--save-baseline",
    "-s",
    "--baseline",
    "-b",
    "--baseline-lenient",
    "--load-baseline",
    "--sample-size",
    "--warm-up-time",
    "--measurement-time",
    "--nresamples",
    "--noise-threshold",
    "--confidence-level",
    "--significance-level",
    "--profile-time",
    "--plotting-backend",
];

impl Filter {
    pub fn from_args() -> Self {
        let mut filter = Self::default();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if arg == "--exact" {
                filter.exact = true;
            } else if OPTIONS_WITH_VALUE.contains(&arg.as_str())
                || arg == "--output-format"
                || arg == "--format"
            {
                args.next();
            } else if !arg.starts_with('-') {
                filter.pattern = Some(arg);
            }
        }
        filter
    }

    /// Whether criterion will run the bench `id`. A pattern that may be a regular
    /// expression beyond a plain substring is taken to want everything.
    pub fn wants(&self, id: &str) -> bool {
        match &self.pattern {
            None => true,
            Some(p) if p.contains(|c: char| "\\.^$*+?()[]{}|".contains(c)) => true,
            Some(p) if self.exact => id == p,
            Some(p) => id.contains(p.as_str()),
        }
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let ledger = Ledger::default();
    reference::benches(&mut c, &ledger);
    quiet::benches(&mut c, &ledger);
    load::benches(&mut c, &ledger);
    idle::benches(&mut c, &ledger);
    c.final_summary();
    let mut notes = ledger.remarks();
    notes.extend(reference::notes(&ledger));
    notes.extend(load::notes(&ledger));
    notes.extend(idle::notes(&ledger));
    println!();
    println!(
        "speed summary (release; each row the median of its runs; x real = simulated s per wall s)"
    );
    print!("{}", ledger.table());
    for note in notes {
        println!("{note}");
    }
}
