//! The figures come from the model: moving the load balancer's settings moves detection
//! time and the failed-request count the way the health-check rules say they must.

use std::path::Path;
use std::time::Duration;

use harness::report::Outcome;
use harness::scenario::{self, executor};

/// node-2 loses power at 20 s of a 40 s run; returns (detection time, failed requests).
fn crash_with(interval_s: u64, fall: u32) -> (Duration, usize) {
    let text = format!(
        r#"
        name = "detection"
        seed = 3
        duration = "40s"
        [topology.lb]
        interval = "{interval_s}s"
        fall = {fall}
        [[steps]]
        at = "20s"
        crash = {{ node = "node-2" }}
        [expect]
        detection_max = "1m"
        "#
    );
    let scenario = scenario::parse(Path::new("detection.toml"), &text).expect("a valid scenario");
    let run = executor::run(&scenario, None).expect("the run completes");
    let outcome = Outcome::new(&scenario, scenario.seed, &run.events);
    let verdict = &outcome.verdicts[0];
    assert!(verdict.holds, "{verdict:?}");
    let after = verdict
        .observed
        .strip_prefix("after ")
        .expect("a measured detection");
    let detection = harness::duration::parse(after).expect("a printed duration");
    (detection, outcome.totals.sent - outcome.totals.ok)
}

/// Proves detection lands where rise/fall arithmetic puts it (node-2 is checked at
/// offset interval/3, each check fails after the 1 s connect timeout, and the `fall`-th
/// one takes it out), and that failures grow with it: about a third of the requests
/// sent while node-2 is still in rotation fail.
#[test]
fn detection_follows_interval_and_fall() {
    let (base, base_failed) = crash_with(2, 3);
    let (more_fall, more_fall_failed) = crash_with(2, 5);
    let (longer, longer_failed) = crash_with(4, 3);
    for (interval, fall, detected) in [(2u32, 3u32, base), (2, 5, more_fall), (4, 3, longer)] {
        let interval = Duration::from_secs(interval.into());
        let lower = interval * (fall - 1) + Duration::from_secs(1);
        let upper = interval * fall + Duration::from_secs(1);
        assert!(
            detected >= lower && detected <= upper,
            "interval {interval:?} fall {fall}: {detected:?} not in {lower:?}..={upper:?}"
        );
    }
    assert!(more_fall > base && longer > base);
    assert!(more_fall_failed > base_failed && longer_failed > base_failed);
    // 50 requests/s, a third of them to node-2, for the detection time (±30%).
    for (detected, failed) in [
        (base, base_failed),
        (more_fall, more_fall_failed),
        (longer, longer_failed),
    ] {
        let expected = 50.0 / 3.0 * detected.as_secs_f64();
        let ratio = failed as f64 / expected;
        assert!(
            (0.7..1.3).contains(&ratio),
            "{failed} failed for {detected:?} of detection"
        );
    }
}
