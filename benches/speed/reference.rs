//! Figure 1: the reference run, `scenarios/node-loss.toml` as committed (TLS on, 1 ms
//! tick, 2 minutes of load at 50 requests/s with node-2 down from 0:30 to 1:30), end to
//! end. (The former bench's run at the 2 ms tick is left out: at about 7 s a run today,
//! its ten samples would add over a minute to `cargo bench`; the tick's cost shows in
//! figure 4's idle worlds.)

use criterion::Criterion;

use crate::ledger::Ledger;
use crate::{bench_scenario, group, scenarios};

/// The group's name in criterion's report.
pub const GROUP: &str = "fig1 node-loss";

/// The reference as committed.
pub const COMMITTED: &str = "as committed, 1ms tick";

pub fn benches(c: &mut Criterion, ledger: &Ledger) {
    let scenario = scenarios::reference();
    let mut group = group(c, GROUP);
    bench_scenario(&mut group, (GROUP, COMMITTED), (ledger, 1), &scenario);
    group.finish();
}
