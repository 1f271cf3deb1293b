//! Safety over many seeds: primary-loss, partition-minority, smtp-outage and
//! egress-blocked each run on 40 seeds (200 with `HARNESS_LONG=1`), and
//! on every seed no acknowledged write is lost, the members end with one log, no term has
//! two primaries, no acknowledged signup is ever among the entries a member rolled back
//! (the cut-off primary never acknowledged a write a majority did not hold), no queued
//! verification mail is lost (and in smtp-outage, where no primary fails over, none is
//! delivered twice), every token check agrees with the clocks, every egress decision is
//! accounted for, egress-blocked tells its story (see `egress_blocked_story`), a new
//! primary is elected within the file's `failover_max`, and the set is healthy again
//! and its mail queue drained within `converge_within` of the last fault. Strict: each
//! of these must pass; a verdict not judged or vacuous is reported as a problem.
//!
//! The sweeps run `tests/fixtures/sweep-*.toml`: each scenario's faults, timeouts and
//! expectations, with a lighter load (10 requests/s), the coarsest tick (2 ms) and TLS
//! off written in the file itself (`lightened_files_keep_the_scenarios_faults` proves
//! the rest is the scenario's), so that every failing seed's reproduce command, which
//! the failure message prints, replays it: `harness sweep FILE --seeds 1..40` runs the
//! same seeds. Each seed runs as `harness sweep` runs it (`harness::sweep::pool` on two
//! threads, `sweep::one::record` for the verdicts), and the test reads the event log
//! besides for the checks no verdict makes. In primary-loss, partition-minority and
//! smtp-outage the fixtures draw each fault's start and end per seed from a 10 s range
//! after the scenario's (`at = "30s..40s"`), so faults land at different points of the
//! heartbeat and election cycles; egress-blocked keeps its times, which its story
//! checks name. The seed also varies the arrivals, the users' choices and the network's
//! randomness.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use harness::events::EventKind;
use harness::events::RsEvent;
use harness::executor;
use harness::report::Outcome;
use harness::scenario::{self, Scenario};
use harness::sweep::record::Status;
use harness::sweep::{one, pool};

/// Seeds per scenario in `cargo test` (CI).
const SEEDS_CI: u64 = 40;
/// Seeds per scenario with `HARNESS_LONG=1`.
const SEEDS_LONG: u64 = 200;
/// Simulations at once: the CI machine's two cores.
const JOBS: usize = 2;

/// How many seeds this run sweeps: [`SEEDS_LONG`] when `HARNESS_LONG=1`, else
/// [`SEEDS_CI`].
fn seeds() -> u64 {
    match std::env::var("HARNESS_LONG").as_deref() {
        Ok("1") => SEEDS_LONG,
        _ => SEEDS_CI,
    }
}

/// The verdicts (by key) that must pass on every seed (availability and timing may vary).
const SAFETY: [&str; 6] = [
    "no_write_lost",
    "same_log",
    "one_primary_per_term",
    "no_mail_lost",
    "tokens_match_clocks",
    "egress_accounted",
];

/// Held only where no primary fails over: mail is delivered at least once by design, and
/// a failover between the relay's 250 and the `MailSent` commit sends it again.
const EXACTLY_ONCE: &str = "mail_exactly_once";

/// Verdicts that must pass too: failover (where the file expects it), the set's
/// liveness and the mail queue's.
const JUDGED: [&str; 3] = ["failover_max", "converge_within", "mail_queue_drains"];

/// A check of one scenario's story on one seed's events.
type Story = fn(&harness::events::Log) -> Vec<String>;

/// What went wrong on one seed, if anything, with the command that replays it.
fn check(
    scenario: &Scenario,
    seed: u64,
    exactly_once: bool,
    story: Option<Story>,
) -> Option<String> {
    let reproduce = one::reproduce(&scenario.path, seed);
    let run = match executor::run(scenario, seed) {
        Ok(run) => run,
        Err(e) => return Some(format!("seed {seed}: {e}; reproduce: {reproduce}")),
    };
    let outcome = Outcome::new(scenario, seed, &run.events);
    let record = one::record(scenario, &outcome, &run);
    let failover_expected = scenario.expect.failover_max.is_some();
    let required: Vec<&str> = SAFETY
        .into_iter()
        .chain(exactly_once.then_some(EXACTLY_ONCE))
        .chain(
            JUDGED
                .into_iter()
                .filter(|j| *j != JUDGED[0] || failover_expected),
        )
        .collect();
    for key in &required {
        assert!(
            record.verdicts.iter().any(|v| v.key == *key),
            "seed {seed}: no verdict {key:?}"
        );
    }
    // Strict: a required check must pass; not judged or vacuous is a problem too.
    let mut problems: Vec<String> = record
        .verdicts
        .iter()
        .filter(|v| v.status != Status::Pass && required.contains(&v.key.as_str()))
        .map(|v| format!("{} ({}): {}", v.expectation, v.status.word(), v.observed))
        .collect();
    problems.extend(rolled_back_acknowledged(&run.events));
    if let Some(story) = story {
        problems.extend(story(&run.events));
    }
    (!problems.is_empty()).then(|| {
        format!(
            "seed {seed}: {}; reproduce: {reproduce}",
            problems.join("; ")
        )
    })
}

/// Every acknowledged signup a member rolled back (there must be none).
fn rolled_back_acknowledged(events: &harness::events::Log) -> Vec<String> {
    let requests = events.requests();
    let acked: BTreeSet<&str> = requests
        .iter()
        .filter(|r| r.outcome.is_ok())
        .filter_map(|r| r.user.as_deref())
        .collect();
    let mut problems = Vec::new();
    for e in events {
        if let EventKind::ReplicaSet(RsEvent::RolledBack { signups, .. }) = &e.kind
            && let Some(lost) = signups.iter().find(|u| acked.contains(u.as_str()))
        {
            problems.push(format!("{} rolled back acknowledged signup {lost}", e.host));
        }
    }
    problems
}

fn sweep(file: &str, exactly_once: bool, story: Option<Story>) {
    let scenario = scenario::load(Path::new(file)).unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let all: Vec<u64> = (1..=seeds()).collect();
    let results = pool::run_each(
        &all,
        JOBS,
        |seed| check(&scenario, seed, exactly_once, story),
        |_| {},
    );
    let failures: Vec<String> = results.into_iter().filter_map(|(_, f)| f).collect();
    let wall = started.elapsed().as_secs_f64();
    eprintln!(
        "{file}: {} seeds in {wall:.1}s ({:.1} seeds/s)",
        seeds(),
        seeds() as f64 / wall
    );
    assert!(
        failures.is_empty(),
        "{} of {} seeds broke safety:\n{}",
        failures.len(),
        seeds(),
        failures.join("\n")
    );
}

/// How much later than the scenario's a fixture may draw a fault's time.
const SHIFT_MAX: Duration = Duration::from_secs(10);

/// Proves each lightened fixture is its scenario with only the load's rate, the tick
/// and TLS changed, and fault times drawn from a range of at most [`SHIFT_MAX`] that
/// starts at the scenario's: the same duration, steps, expectations and every other
/// setting.
#[test]
fn lightened_files_keep_the_scenarios_faults() {
    for name in [
        "primary-loss",
        "partition-minority",
        "smtp-outage",
        "egress-blocked",
        "pause-primary",
        "replication-loss",
    ] {
        let load =
            |path: String| scenario::load(Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
        let original = load(format!("scenarios/{name}.toml"));
        let mut light = load(format!("tests/fixtures/sweep-{name}.toml"));
        assert_eq!(light.load.rate_per_s, 10.0, "{name}");
        assert_eq!(light.tick, harness::scenario::load::TICK_RANGE.1, "{name}");
        assert!(!light.topology.tls.enabled, "{name}");
        light.load.rate_per_s = original.load.rate_per_s;
        light.tick = original.tick;
        light.topology.tls.enabled = true;
        // A fault's time may be a range the seed draws from (`at = "30s..40s"`): at most
        // SHIFT_MAX later than the scenario's, never earlier; otherwise the same step.
        for (step, was) in light.steps.iter_mut().zip(&original.steps) {
            assert_eq!(
                step.when.lo, was.at,
                "{name}: a drawn time starts at the file's"
            );
            assert!(step.when.hi - step.when.lo <= SHIFT_MAX, "{name}");
            step.when = was.when;
        }
        assert_eq!(light.steps, original.steps, "{name}");
        assert_eq!(light.expect, original.expect, "{name}");
        assert_eq!(light.duration, original.duration, "{name}");
        assert_eq!(light.load, original.load, "{name}");
        assert_eq!(light.topology, original.topology, "{name}");
    }
}

/// Proves the safety properties hold on every seed of primary-loss (40, or 200 long).
#[test]
fn primary_loss_is_safe_on_every_seed() {
    sweep("tests/fixtures/sweep-primary-loss.toml", false, None);
}

/// Proves the safety properties hold on every seed of pause-primary (40, or 200 long): a
/// primary paused 10 to 30 s and resumed after another was elected never loses an
/// acknowledged write, and no term has two primaries (issue 18).
#[test]
fn pause_primary_is_safe_on_every_seed() {
    sweep("tests/fixtures/sweep-pause-primary.toml", false, None);
}

/// Proves the safety properties hold on every seed of replication-loss (40, or 200
/// long): 20% loss on every link among the nodes for 40 s, TCP retransmitting what is
/// lost, never loses an acknowledged write, and no term has two primaries (issue 18).
#[test]
fn replication_loss_is_safe_on_every_seed() {
    sweep("tests/fixtures/sweep-replication-loss.toml", false, None);
}

/// Proves the safety properties hold on every seed of partition-minority (40, or 200 long).
#[test]
fn partition_minority_is_safe_on_every_seed() {
    sweep("tests/fixtures/sweep-partition-minority.toml", false, None);
}

/// Proves no mail is lost or duplicated on every seed of smtp-outage (40, or 200 long),
/// and the replica set stays safe while the relay is down.
#[test]
fn smtp_outage_delivers_every_mail_once_on_every_seed() {
    sweep("tests/fixtures/sweep-smtp-outage.toml", true, None);
}

/// egress-blocked's story on one seed: the egress is blocked from 0:30 to 1:30. Every failed request is a social login that started in the block and got
/// a 502 naming the egress within 1 s (fail fast; nothing else fails); every social login
/// that started inside the block (but for its last second, when the call out lands after
/// it) failed; every node's NTP
/// failed during the block and answered again after it; every node's update check failed
/// during it and worked again after.
fn egress_blocked_story(events: &harness::events::Log) -> Vec<String> {
    let (from, to) = (Duration::from_secs(30), Duration::from_secs(90));
    let edge = Duration::from_secs(1);
    let mut problems = Vec::new();
    for r in &events.requests() {
        // A login started in the block's last second reaches the egress after it.
        let inside = r.started >= from && r.started + edge < to;
        let near_edge = r.started + edge >= from && r.started < to + edge;
        match (&r.outcome, r.endpoint) {
            (harness::events::RequestOutcome::Ok, "POST /login/social") if inside => {
                problems.push(format!(
                    "social login {} at {:?} succeeded while blocked",
                    r.id, r.started
                ));
            }
            (harness::events::RequestOutcome::Ok, _) => {}
            (
                harness::events::RequestOutcome::Status { code: 502, reason },
                "POST /login/social",
            ) if near_edge && reason.starts_with("social login: egress:") && r.latency < edge => {}
            (other, endpoint) => problems.push(format!(
                "{endpoint} {} at {:?} failed unexpectedly after {:?}: {}",
                r.id,
                r.started,
                r.latency,
                other.describe()
            )),
        }
    }
    for node in ["node-1", "node-2", "node-3"] {
        let mine = || events.iter().filter(move |e| e.host == node);
        let ntp_failed = mine()
            .any(|e| matches!(e.kind, EventKind::NtpFailed { .. }) && e.at > from && e.at < to);
        let ntp_back = mine().any(|e| matches!(e.kind, EventKind::NtpSynced { .. }) && e.at > to);
        let update = |ok: bool| {
            mine().any(|e| match &e.kind {
                EventKind::Outbound { purpose, result } => {
                    purpose == "update check"
                        && result.is_ok() == ok
                        && if ok {
                            e.at > to
                        } else {
                            e.at > from && e.at < to
                        }
                }
                _ => false,
            })
        };
        for (holds, what) in [
            (ntp_failed, "NTP failed during the block"),
            (ntp_back, "NTP answered after it"),
            (update(false), "the update check failed during the block"),
            (update(true), "the update check worked after it"),
        ] {
            if !holds {
                problems.push(format!("{node}: expected {what}"));
            }
        }
    }
    problems.truncate(5);
    problems
}

/// Proves egress-blocked tells its story on every seed (40, or 200 long): social logins
/// fail fast with the egress's reason and only while blocked, nothing else fails, NTP and
/// the update check fail and recover on every node, and the token and egress checkers
/// hold.
#[test]
fn egress_blocked_fails_fast_and_recovers_on_every_seed() {
    sweep(
        "tests/fixtures/sweep-egress-blocked.toml",
        false,
        Some(egress_blocked_story),
    );
}
