//! The same scenario and seed give a byte-identical outcome; another seed gives another
//! run (docs/ARCHITECTURE.md section 4).

use std::path::Path;

use harness::executor;
use harness::report::{Outcome, json, text};
use harness::scenario;

fn outcome(seed: u64) -> (String, String, Vec<u64>) {
    let scenario = scenario::load(Path::new("scenarios/node-loss.toml"))
        .expect("the reference scenario loads");
    let run = executor::run(&scenario, seed).expect("the run completes");
    let outcome = Outcome::new(&scenario, seed, &run.events);
    let starts = run
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            harness::events::EventKind::Request(r) => {
                Some(u64::try_from(r.started.as_micros()).unwrap())
            }
            _ => None,
        })
        .collect();
    let json = json::render(&outcome, json::Options { signups: true });
    (text::render(&outcome, "reproduce"), json, starts)
}

/// Proves two runs with one seed agree byte for byte (text and JSON, every request's
/// start time), and a different seed changes the arrivals.
#[test]
fn same_seed_same_outcome_other_seed_other_arrivals() {
    let (text_a, json_a, starts_a) = outcome(1);
    let (text_b, json_b, starts_b) = outcome(1);
    assert_eq!(text_a, text_b);
    assert_eq!(json_a, json_b);
    assert_eq!(starts_a, starts_b);
    let (_, _, starts_c) = outcome(2);
    assert_ne!(starts_a, starts_c);
    assert!(starts_a.len() > 5_000 && starts_c.len() > 5_000);
}

/// Proves the outside world is deterministic too: egress-blocked (the proxy, NAT'd NTP
/// datagrams with their PROXY headers, clock drift and slews, social logins) gives the
/// same event log, event for event, on two runs with one seed.
#[test]
fn same_seed_same_events_through_the_egress() {
    let scenario =
        scenario::load(Path::new("scenarios/egress-blocked.toml")).expect("the scenario loads");
    let events = || {
        format!(
            "{:?}",
            executor::run(&scenario, 7)
                .expect("the run completes")
                .events
        )
    };
    let first = events();
    assert!(
        first.contains("NtpSynced")
            && first.contains("Egress(")
            && first.contains("POST /login/social")
    );
    assert_eq!(first, events());
}

/// Proves the dev/test instance is deterministic too: dev-bridged (dev-1's tester, its
/// one-member set, its mail crossing to production's relay, the boundary's records) gives
/// the same event log, event for event, on two runs with one seed.
#[test]
fn same_seed_same_events_across_the_dev_boundary() {
    let scenario =
        scenario::load(Path::new("scenarios/dev-bridged.toml")).expect("the scenario loads");
    let events = || {
        format!(
            "{:?}",
            executor::run(&scenario, 3)
                .expect("the run completes")
                .events
        )
    };
    let first = events();
    assert!(first.contains("Boundary(") && first.contains("Crossed") && first.contains("DevFinal"));
    assert_eq!(first, events());
}
