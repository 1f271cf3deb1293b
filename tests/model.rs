//! The figures come from the model: moving the load balancer's settings moves detection
//! time and the failed-request count the way the health-check rules say they must.

use std::path::Path;
use std::time::Duration;

use harness::executor;
use harness::report::Outcome;
use harness::scenario;

/// node-2 loses power at 20 s of a 40 s run; returns (detection time, failed requests).
fn crash_with(interval_s: u64, fall: u32) -> (Duration, usize) {
    let text = format!(
        r#"format_version = 1
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
    let run = executor::run(&scenario, scenario.seed).expect("the run completes");
    let outcome = Outcome::new(&scenario, scenario.seed, &run.events);
    let verdict = &outcome.verdicts[0];
    assert!(verdict.holds(), "{verdict:?}");
    let after = verdict
        .observed
        .strip_prefix("after ")
        .expect("a measured detection");
    let detection = harness::duration::parse(after).expect("a printed duration");
    (detection, outcome.totals.sent - outcome.totals.ok)
}

/// Proves detection lands where rise/fall arithmetic puts it (node-2 is checked at
/// offset interval/3, each check fails after the 1 s connect timeout and the next starts
/// `interval` after it ended, HAProxy's schedule, and the `fall`-th one takes it out),
/// and that failures grow with it: about a third of the requests
/// sent while node-2 is still in rotation fail.
#[test]
fn detection_follows_interval_and_fall() {
    let (base, base_failed) = crash_with(2, 3);
    let (more_fall, more_fall_failed) = crash_with(2, 5);
    let (longer, longer_failed) = crash_with(4, 3);
    for (interval, fall, detected) in [(2u32, 3u32, base), (2, 5, more_fall), (4, 3, longer)] {
        let interval = Duration::from_secs(interval.into());
        let cycle = interval + Duration::from_secs(1);
        let lower = cycle * (fall - 1) + Duration::from_secs(1);
        let upper = lower + interval;
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

fn run(text: &str) -> Outcome {
    let scenario = scenario::parse(Path::new("model.toml"), text).expect("a valid scenario");
    let run = executor::run(&scenario, scenario.seed).expect("the run completes");
    Outcome::new(&scenario, scenario.seed, &run.events)
}

fn verdict<'a>(outcome: &'a Outcome, starts: &str) -> &'a harness::report::verdicts::Phrased {
    outcome
        .verdicts
        .iter()
        .find(|v| v.expectation.starts_with(starts))
        .expect("the verdict is judged")
}

/// Proves the liveness verdict can fail: a partition that never heals leaves node-1
/// cut off with writes of its own, so the set is never healthy again, and the end-state
/// checks say they were not judged rather than pass silently, and the summary names them
/// on a line of its own.
#[test]
fn an_unhealed_partition_fails_liveness() {
    let outcome = run(r#"format_version = 1
        name = "unhealed"
        seed = 4
        duration = "40s"
        [[steps]]
        at = "10s"
        isolate = { node = "node-1", mode = "drop" }
        [expect]
        converge_within = "20s"
        "#);
    let liveness = verdict(&outcome, "replica set healthy within");
    assert!(!liveness.holds(), "{liveness:?}");
    assert_eq!(liveness.observed, "it never did");
    assert_eq!(
        verdict(&outcome, "no acknowledged write lost").status,
        harness::report::verdicts::Mark::NotJudged
    );
    let report = harness::report::text::render(&outcome, "reproduce");
    assert!(
        report.contains(
            "could not be judged (3 of 8): no acknowledged write lost; members end with the same log; no queued mail lost"
        ),
        "{report}"
    );
    assert!(!outcome.passed);
}

/// Proves priority decides the first primary: with node-1 at priority 0, node-2 starts
/// as primary and node-1 never becomes one, even when node-2 is lost.
#[test]
fn priority_zero_never_leads() {
    let outcome = run(r#"format_version = 1
        name = "priority"
        seed = 2
        duration = "40s"
        [topology.replica_set]
        priority = { node-1 = 0 }
        [[steps]]
        at = "10s"
        crash = { node = "node-2" }
        [expect]
        failover_max = "16s"
        "#);
    let failover = verdict(&outcome, "a new primary within");
    assert!(
        failover.holds() && failover.expectation.contains("losing node-2"),
        "{failover:?}"
    );
    assert!(failover.observed.starts_with("node-3"), "{failover:?}");
}

/// Proves a wrong `smtp.node_password` with no steps is blamed on the mail queue, not on
/// the replica set, and names no fault: the set is healthy within 30s of the start, the
/// mail queue never drains.
#[test]
fn a_wrong_smtp_password_fails_the_mail_not_the_replica_set() {
    let outcome = run(r#"format_version = 1
        name = "wrong-password"
        seed = 7
        duration = "10s"
        [topology.smtp]
        node_password = "not-the-relay-password"
        "#);
    let set = verdict(&outcome, "replica set healthy within");
    assert!(set.holds(), "{set:?}");
    assert_eq!(
        set.expectation,
        "replica set healthy within 30s of the start (no fault injected)"
    );
    let mail = verdict(&outcome, "mail queue drains within");
    assert!(!mail.holds(), "{mail:?}");
    assert!(mail.observed.starts_with("it never did"), "{mail:?}");
    assert!(!outcome.passed);
}
