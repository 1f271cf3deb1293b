//! Figure 1: the reference run, `scenarios/node-loss.toml` as committed (TLS on, 1 ms
//! tick, 2 minutes of load at 50 requests/s with node-2 down from 0:30 to 1:30), end to
//! end. (The former bench's run at the 2 ms tick is left out: at about 7 s a run today,
//! its ten samples would add over a minute to `cargo bench`; the tick's cost shows in
//! figure 4's idle worlds.) Beside it, the same run with a packet capture (`harness run
//! --pcap`: every message observed and built into a pcap file in memory, not written), so
//! the table shows what a capture adds; the committed row is the run without one, which
//! installs no observer.

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

/// The reference with `--pcap` (default limits).
pub const CAPTURED: &str = "with --pcap";

pub fn benches(c: &mut Criterion, ledger: &Ledger) {
    let scenario = scenarios::reference();
    let mut group = group(c, GROUP);
    bench_scenario(&mut group, (GROUP, COMMITTED), (ledger, 1), &scenario);
    if Filter::from_args().wants(&format!("{GROUP}/{CAPTURED}")) {
        let probe = run_captured(&scenario);
        bench(&mut group, (GROUP, CAPTURED), (ledger, 1), probe, || {
            run_captured(&scenario).wall
        });
    }
    group.finish();
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
