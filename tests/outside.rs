//! The egress's modes and rules, and clock strobes, end to end on short runs: what a user
//! sees, what the egress logged, and that the checkers agree with both.

use std::path::Path;

use harness::events::{EgressVerdict, Event, EventKind, Log, RequestOutcome};
use harness::executor;
use harness::report::Outcome;
use harness::scenario;

/// Runs `extra` (TOML appended to a 20 s scenario where a third of the users log in with
/// facebook.com) and returns the events and the outcome.
fn run(name: &str, extra: &str) -> (Log, Outcome) {
    let text = format!(
        "format_version = 1\nname = \"{name}\"\nseed = 3\nduration = \"20s\"\ntick = \"2ms\"\n\
         [load]\nrate_per_s = 20\nsocial_share = 0.3\n{extra}"
    );
    let scenario = scenario::parse(Path::new(&format!("{name}.toml")), &text)
        .unwrap_or_else(|e| panic!("{e}"));
    let run = executor::run(&scenario, scenario.seed).expect("the run completes");
    let outcome = Outcome::new(&scenario, scenario.seed, &run.events);
    (run.events, outcome)
}

/// The social logins' outcomes: (succeeded, failed with their reasons).
fn social(events: &Log) -> (usize, Vec<String>) {
    let mut ok = 0;
    let mut failed = Vec::new();
    for r in events.requests() {
        if r.endpoint == "POST /login/social" {
            match &r.outcome {
                RequestOutcome::Ok => ok += 1,
                other => failed.push(other.describe()),
            }
        }
    }
    (ok, failed)
}

fn holds(outcome: &Outcome, expectation: &str) -> bool {
    outcome
        .verdicts
        .iter()
        .find(|v| v.expectation == expectation)
        .unwrap_or_else(|| panic!("no verdict {expectation:?}"))
        .holds()
}

/// The egress's outcome records (not the `Forwarding` ones that precede them).
fn decisions(events: &[Event]) -> Vec<(String, String, EgressVerdict)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Egress(r) if r.verdict != EgressVerdict::Forwarding => {
                Some((r.protocol.clone(), r.target.clone(), r.verdict.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Proves the proxy lets the nodes' social logins through by default, and every request
/// the egress forwarded to facebook.com is an HTTP decision delivered with 200.
#[test]
fn proxy_lets_nodes_through() {
    let (events, outcome) = run("proxy", "");
    let (ok, failed) = social(&events);
    assert!(ok > 50 && failed.is_empty(), "{ok} ok, {failed:?}");
    let to_idp: Vec<_> = decisions(&events)
        .into_iter()
        .filter(|(_, target, _)| target == "facebook.com")
        .collect();
    assert_eq!(to_idp.len(), ok);
    assert!(
        to_idp
            .iter()
            .all(|(p, _, v)| p == "http" && *v == EgressVerdict::Delivered { status: Some(200) })
    );
    assert!(holds(&outcome, "egress decisions accounted for"));
}

/// Proves that without the nodes' exception the proxy answers 407, the node's 502 names
/// it, and nothing reaches the internet (NTP's UDP is NAT'd, not proxied, and still works).
#[test]
fn proxy_without_the_exception_answers_407() {
    let (events, outcome) = run(
        "no-exception",
        "[topology.egress]\nnode_exception = false\n",
    );
    let (ok, failed) = social(&events);
    assert_eq!(ok, 0);
    assert!(!failed.is_empty());
    assert!(
        failed
            .iter()
            .all(|f| f.starts_with("502 (social login: egress: node-")
                && f.contains("has no exception")),
        "{failed:?}"
    );
    let http: Vec<_> = decisions(&events)
        .into_iter()
        .filter(|(p, ..)| p == "http")
        .collect();
    assert!(http.iter().all(|(.., v)| matches!(
        v,
        EgressVerdict::Denied {
            status: Some(407),
            ..
        }
    )));
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, EventKind::NtpSynced { .. }))
    );
    assert!(holds(&outcome, "egress decisions accounted for"));
}

/// Proves a name off the allow-list gets 403 while the listed ones pass.
#[test]
fn allow_list_refuses_other_names() {
    let (events, outcome) = run(
        "allow-list",
        "[topology.egress]\nallow = [\"cdn.auth0.com\", \"updates.auth0.com\"]\n",
    );
    let (ok, failed) = social(&events);
    assert_eq!(ok, 0);
    assert!(
        !failed.is_empty()
            && failed
                .iter()
                .all(|f| f.contains("egress: facebook.com is not on the allow-list")),
        "{failed:?}"
    );
    let checks: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Outbound { result, .. } => Some(result.is_ok()),
            _ => None,
        })
        .collect();
    assert!(!checks.is_empty() && checks.iter().all(|ok| *ok));
    assert!(holds(&outcome, "egress decisions accounted for"));
}

/// Proves NAT mode relays TCP as it is: social logins succeed through "tcp" decisions,
/// and the allow-list (a proxy's rule) does not apply.
#[test]
fn nat_relays_tcp() {
    let (events, outcome) = run(
        "nat",
        "[topology.egress]\nmode = \"nat\"\nallow = [\"cdn.auth0.com\"]\n",
    );
    let (ok, failed) = social(&events);
    assert!(ok > 50 && failed.is_empty(), "{ok} ok, {failed:?}");
    let all = decisions(&events);
    assert!(
        all.iter()
            .any(|(p, t, _)| p == "tcp" && t == "facebook.com")
    );
    assert!(all.iter().all(|(p, ..)| p != "http"));
    assert!(holds(&outcome, "egress decisions accounted for"));
}

/// Proves a strobe flips the clock between its two offsets every period and sets the
/// first again when it ends, and that the token checker follows every flip.
#[test]
fn strobe_flips_the_clock() {
    let (events, outcome) = run(
        "strobe",
        "[topology.ntp]\nenabled = false\n\
         [[steps]]\nat = \"5s\"\nclock = { node = \"node-3\", strobe = [\"0s\", \"10m\"], period = \"2s\", for = \"9s\" }\n",
    );
    let flips: Vec<(u128, i64)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ClockChanged { setting, .. } => {
                Some((e.at.as_millis(), setting.offset_ns / 1_000_000_000))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        flips,
        [
            (5000, 0),
            (7000, 600),
            (9000, 0),
            (11000, 600),
            (13000, 0),
            (14000, 0)
        ]
    );
    let rejected = events
        .all()
        .filter(|e| {
            matches!(
                &e.kind,
                EventKind::TokenChecked {
                    rejected: Some(_),
                    ..
                }
            )
        })
        .count();
    assert!(rejected > 0);
    assert!(holds(&outcome, "token checks match the clocks"));
}

/// Proves a crashed site is refused at the egress, not at the node: social logins after
/// facebook.com's processes die get the egress's 502 naming the refusal, and the egress
/// records the failed upstream.
#[test]
fn crashed_site_is_met_by_the_egress() {
    let (events, outcome) = run(
        "site-down",
        "[[steps]]\nat = \"5s\"\ncrash = { node = \"facebook.com\", mode = \"process\" }\n",
    );
    let (ok, failed) = social(&events);
    assert!(ok > 0 && !failed.is_empty(), "{ok} ok, {failed:?}");
    // A login already talking to facebook.com when it died may instead wait out the
    // node's timeout; every later one is refused at the egress.
    let refused = failed
        .iter()
        .filter(|f| *f == "502 (social login: egress: upstream facebook.com: connection refused)")
        .count();
    assert!(refused + 1 >= failed.len() && refused > 20, "{failed:?}");
    assert!(decisions(&events).iter().any(|(p, t, v)| p == "http"
        && t == "facebook.com"
        && matches!(v, EgressVerdict::UpstreamFailed { .. })));
    assert!(holds(&outcome, "egress decisions accounted for"));
}
