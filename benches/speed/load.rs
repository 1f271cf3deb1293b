//! Figure 3: cost per simulated second against offered load, and against the number of
//! nodes.
//!
//! Each run is the reference scenario without its steps (no faults) for [`LOAD_DURATION`]
//! of load, plus what the executor adds (the drain, the users' timeout and a second, and
//! the wait for the replica set to be seen settled): about the same simulated stretch at
//! every rate, so wall time per run compares directly. Most of that stretch has no new
//! requests, so the idle cost weighs in every row; the wall time each request adds is the
//! figure that shows whether the cost is linear in the load. Linear cost means cost = idle + rate x per-request;
//! the summary prints cost(r) / cost(10 req/s) beside r / 10, and the wall time each request
//! above the 10 req/s run's adds (constant when the cost is linear in the load). For nodes
//! it prints the curve: cost per simulated second at 3, 5 and 7 nodes, at the reference's
//! 50 requests/s.

use criterion::Criterion;

use crate::ledger::{Ledger, Row};
use crate::scenarios::Variant;
use crate::{bench_scenario, group};

/// The group's names in criterion's report.
pub const LOAD_GROUP: &str = "fig3 load";
pub const NODES_GROUP: &str = "fig3 nodes";

/// Load per run: short because a request costs about 1.25 ms of CPU today (2,000
/// requests/s for 2 s, 4,000 requests, is about 5 s a run; 10 s of load would make this
/// group alone take several minutes).
pub const LOAD_DURATION: &str = "2s";

/// The offered loads, requests per second (the loader allows at most 2,000).
pub const RATES_PER_S: [u32; 4] = [10, 100, 500, 2000];

/// The node counts (the loader allows 1 to 7).
pub const NODE_COUNTS: [u8; 3] = [3, 5, 7];

/// The reference's rate, at which the node counts are compared.
pub const NODES_RATE_PER_S: f64 = 50.0;

fn rate_name(rate: u32) -> String {
    format!("{rate} req per s")
}

fn nodes_name(nodes: u8) -> String {
    format!("{nodes} nodes")
}

pub fn benches(c: &mut Criterion, ledger: &Ledger) {
    let mut group = group(c, LOAD_GROUP);
    for rate in RATES_PER_S {
        let scenario = Variant {
            duration: LOAD_DURATION,
            rate_per_s: f64::from(rate),
            nodes: 3,
        }
        .scenario();
        bench_scenario(
            &mut group,
            (LOAD_GROUP, &rate_name(rate)),
            (ledger, 3),
            &scenario,
        );
    }
    group.finish();
    let mut group = crate::group(c, NODES_GROUP);
    for nodes in NODE_COUNTS {
        let scenario = Variant {
            duration: LOAD_DURATION,
            rate_per_s: NODES_RATE_PER_S,
            nodes,
        }
        .scenario();
        bench_scenario(
            &mut group,
            (NODES_GROUP, &nodes_name(nodes)),
            (ledger, 3),
            &scenario,
        );
    }
    group.finish();
}

/// Wall microseconds each request adds over `base`'s run (`None` without requests).
fn marginal_us_per_request(row: &Row, base: &Row) -> Option<f64> {
    let extra_requests = row.requests? as f64 - base.requests? as f64;
    let extra_wall = row.wall()?.as_secs_f64() - base.wall()?.as_secs_f64();
    (extra_requests > 0.0).then(|| extra_wall * 1e6 / extra_requests)
}

/// The summary's lines: load ratios against 10 req/s, and the nodes' curve.
pub fn notes(ledger: &Ledger) -> Vec<String> {
    let mut notes = Vec::new();
    let base_rate = RATES_PER_S[0];
    let base = ledger.find(&format!("{LOAD_GROUP}/{}", rate_name(base_rate)));
    if let Some(base) = base {
        let base_cost = base.wall_ms_per_simulated_s().unwrap_or(f64::NAN);
        let mut line = format!("fig 3, load: cost per simulated second vs {base_rate} req/s:");
        for rate in &RATES_PER_S[1..] {
            let Some(row) = ledger.find(&format!("{LOAD_GROUP}/{}", rate_name(*rate))) else {
                continue;
            };
            let cost = row.wall_ms_per_simulated_s().unwrap_or(f64::NAN);
            let marginal = marginal_us_per_request(&row, &base).unwrap_or(f64::NAN);
            line.push_str(&format!(
                " {rate}: {:.2}x (load {}x, {:.0} us/request above {base_rate});",
                cost / base_cost,
                rate / base_rate,
                marginal
            ));
        }
        notes.push(line);
    }
    let curve: Vec<String> = NODE_COUNTS
        .iter()
        .filter_map(|n| {
            let row = ledger.find(&format!("{NODES_GROUP}/{}", nodes_name(*n)))?;
            Some(format!("{n}: {:.1}", row.wall_ms_per_simulated_s()?))
        })
        .collect();
    if !curve.is_empty() {
        notes.push(format!(
            "fig 3, nodes at {NODES_RATE_PER_S} req/s: wall ms per simulated second by node count: {}",
            curve.join(", ")
        ));
    }
    notes
}
