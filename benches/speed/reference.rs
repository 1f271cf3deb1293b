//! Figure 1: the reference run, `scenarios/node-loss.toml` as committed (TLS on, 1 ms
//! tick, 2 minutes of load at 50 requests/s with node-2 down from 0:30 to 1:30), end to
//! end. (The former bench's run at the 2 ms tick is left out: at about 7 s a run today,
//! its ten samples would add over a minute to `cargo bench`; the tick's cost shows in
//! figure 4's idle worlds.) Beside it, the same run with a packet capture (`harness run
//! --pcap`: every message observed and built into a pcap file in memory, not written), so
//! the table shows what a capture adds; the committed row is the run without one, which
//! installs no observer. Between them, the run with an observer that keeps nothing (turmoil
//! builds every observation and calls it): what the capture hook itself costs once it is
//! on. With capture off the hook is one `Option` test per message, less than that row's
//! cost above the committed one; [`notes`] prints both ratios, so "capture off costs
//! nothing measurable" is a figure anyone can rerun (`cargo bench --bench speed -- fig1`).

use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use harness::capture::Capture;
use harness::capture::options::{Limits, PCAP_MAX_BYTES_DEFAULT};
use harness::executor;
use harness::report::Outcome;
use harness::scenario::spec::Scenario;

use crate::ledger::Ledger;
use crate::{Filter, Probe, bench, bench_scenario, group, scenarios};

/// The group's name in criterion's report.
pub const GROUP: &str = "fig1 node-loss";

/// The reference as committed.
pub const COMMITTED: &str = "as committed, 1ms tick";

/// The reference with an observer that keeps nothing: the capture hook's own cost.
pub const OBSERVED: &str = "with an observer that keeps nothing";

/// The reference with `--pcap` (default limits).
pub const CAPTURED: &str = "with --pcap";

pub fn benches(c: &mut Criterion, ledger: &Ledger) {
    let scenario = scenarios::reference();
    let mut group = group(c, GROUP);
    bench_scenario(&mut group, (GROUP, COMMITTED), (ledger, 1), &scenario);
    if Filter::from_args().wants(&format!("{GROUP}/{OBSERVED}")) {
        let probe = run_observed(&scenario);
        bench(&mut group, (GROUP, OBSERVED), (ledger, 1), probe, || {
            run_observed(&scenario).wall
        });
    }
    if Filter::from_args().wants(&format!("{GROUP}/{CAPTURED}")) {
        let probe = run_captured(&scenario);
        bench(&mut group, (GROUP, CAPTURED), (ledger, 1), probe, || {
            run_captured(&scenario).wall
        });
    }
    group.finish();
}

/// The lines closing `cargo bench` on the capture's cost: each row beside the committed
/// one, as a ratio of wall time per run.
pub fn notes(ledger: &Ledger) -> Vec<String> {
    let Some(off) = ledger.find(&format!("{GROUP}/{COMMITTED}")) else {
        return Vec::new();
    };
    let Some(off_wall) = off.wall() else {
        return Vec::new();
    };
    [OBSERVED, CAPTURED]
        .iter()
        .filter_map(|name| {
            let wall = ledger.find(&format!("{GROUP}/{name}"))?.wall()?;
            Some(format!(
                "fig1: {name}: {:.3} s per run against {:.3} s with capture off ({:.3}x)",
                wall.as_secs_f64(),
                off_wall.as_secs_f64(),
                wall.as_secs_f64() / off_wall.as_secs_f64()
            ))
        })
        .collect()
}

/// One run of `scenario` with an observer that keeps nothing.
fn run_observed(scenario: &Scenario) -> Probe {
    let start = Instant::now();
    let observer = Box::new(|o: &turmoil::Observation<'_>| {
        black_box(o);
    });
    let run =
        executor::run_observed(scenario, scenario.seed, Some(observer)).expect("the run completes");
    let outcome = Outcome::new(scenario, scenario.seed, &run.events);
    Probe {
        simulated: run.simulated,
        requests: Some(black_box(outcome).totals.sent),
        wall: start.elapsed(),
    }
}

/// One run of `scenario` as `harness run --pcap` makes it (the file's bytes built in
/// memory, not written).
fn run_captured(scenario: &Scenario) -> Probe {
    let start = Instant::now();
    let limits = Limits {
        hosts: Vec::new(),
        ports: Vec::new(),
        from: Duration::ZERO,
        until: None,
        max_bytes: usize::try_from(PCAP_MAX_BYTES_DEFAULT).expect("256 MiB fits a usize"),
    };
    let capture = Rc::new(RefCell::new(Capture::new(limits)));
    let tap = capture.clone();
    let observer = Box::new(move |o: &turmoil::Observation<'_>| tap.borrow_mut().see(o));
    let run =
        executor::run_observed(scenario, scenario.seed, Some(observer)).expect("the run completes");
    let outcome = Outcome::new(scenario, scenario.seed, &run.events);
    black_box(capture.borrow().finish().0.len());
    Probe {
        simulated: run.simulated,
        requests: Some(black_box(outcome).totals.sent),
        wall: start.elapsed(),
    }
}
