//! Figure 2: a quiet cluster, the reference topology at 1 request/s with no steps, read as
//! "x real time" (simulated seconds per wall second).
//!
//! The issue asks for one simulated hour. The bench first runs [`QUICK`] of load; from its
//! cost it predicts the hour's, linearly in simulated time (an over-estimate once idle
//! time is skipped, since the run's fixed start-up cost is counted again per second). When
//! the predicted hour fits [`HOUR_RUN_WALL_MAX`] (or `HARNESS_BENCH_QUIET_HOUR=1` is set)
//! it benches the hour; otherwise it benches [`QUICK`] and says so in the bench's name and
//! in the summary. Today (about 30x real time) an hour would take about two minutes a run,
//! over twenty minutes for criterion's ten samples; the quick run keeps `cargo bench`
//! bounded, and the hour becomes the figure by itself once time jumps make it cheap.

use std::time::Duration;

use criterion::Criterion;

use crate::ledger::Ledger;
use crate::scenarios::Variant;
use crate::{Filter, Probe, SAMPLES, bench, group, run_scenario};

/// The group's name in criterion's report.
pub const GROUP: &str = "fig2 quiet";

/// A quiet cluster's load: one request per second.
pub const QUIET_RATE_PER_S: f64 = 1.0;

/// The duration: one simulated hour (the loader's maximum).
pub const HOUR: &str = "1h";

/// The shorter stretch benched when the hour does not fit.
pub const QUICK: &str = "1m";

/// The longest one run of the hour may take (predicted) for the bench to run it: with the
/// first run, criterion's samples then take at most about a minute.
pub const HOUR_RUN_WALL_MAX: Duration = Duration::from_secs(6);

/// Set to `1` to bench the hour whatever it costs.
pub const FORCE_HOUR_ENV: &str = "HARNESS_BENCH_QUIET_HOUR";

fn variant(duration: &'static str) -> Variant {
    Variant {
        duration,
        rate_per_s: QUIET_RATE_PER_S,
        nodes: 3,
    }
}

/// The bench's name for a run of `duration`.
fn name(duration: &str) -> String {
    format!("1 req per s, {duration}")
}

/// The hour's predicted wall time from a run of [`QUICK`] and the hour's simulated time.
fn predicted(quick: &Probe, hour_simulated: Duration) -> Duration {
    quick
        .wall
        .mul_f64(hour_simulated.as_secs_f64() / quick.simulated.as_secs_f64())
}

pub fn benches(c: &mut Criterion, ledger: &Ledger) {
    let filter = Filter::from_args();
    if !filter.wants(&format!("{GROUP}/{}", name(HOUR)))
        && !filter.wants(&format!("{GROUP}/{}", name(QUICK)))
    {
        return;
    }
    let quick_scenario = variant(QUICK).scenario();
    let hour_scenario = variant(HOUR).scenario();
    let quick = run_scenario(&quick_scenario);
    // The run adds its drain to the load, as the quick run did.
    let hour_simulated = hour_scenario.duration + (quick.simulated - quick_scenario.duration);
    let prediction = predicted(&quick, hour_simulated);
    let forced = std::env::var(FORCE_HOUR_ENV).is_ok_and(|v| v == "1");
    let (scenario, duration, probe) = if forced || prediction <= HOUR_RUN_WALL_MAX {
        (&hour_scenario, HOUR, run_scenario(&hour_scenario))
    } else {
        (&quick_scenario, QUICK, quick)
    };
    ledger.remark(format!(
        "fig 2: benched {duration} of load: the hour was predicted at {:.1} s a run from {QUICK} \
         ({:.0} s for the first run and {} samples; limit {} s a run{})",
        prediction.as_secs_f64(),
        prediction.as_secs_f64() * (SAMPLES + 1) as f64,
        SAMPLES,
        HOUR_RUN_WALL_MAX.as_secs(),
        if forced {
            ", forced by HARNESS_BENCH_QUIET_HOUR=1"
        } else {
            ""
        },
    ));
    let mut group = group(c, GROUP);
    bench(
        &mut group,
        (GROUP, &name(duration)),
        (ledger, 2),
        probe,
        || run_scenario(scenario).wall,
    );
    group.finish();
}
