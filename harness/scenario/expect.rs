//! Expectations: each one's verdict, computed from what the run recorded.
//!
//! Nothing here knows what a scenario "should" do; every observed value is measured from
//! the event log, so a change in the model shows up as a changed figure or a failed
//! verdict.

use std::time::Duration;

use serde::Serialize;

use super::spec::Expectations;
use crate::duration::span;
use std::collections::{BTreeMap, BTreeSet};

use crate::events::{CheckEffect, Event, EventKind, MemberFinal, RequestRecord};
use crate::services::replica_set::RsEvent;

/// A maximal stretch of failed requests: each starts within the failure gap of the end of
/// the one before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureWindow {
    /// The first failed request (by start time).
    pub first: RequestRecord,
    /// The failed request that ended last.
    pub last: RequestRecord,
    /// Failed requests in the window.
    pub failed: usize,
    /// All requests that started between the window's first start and its end.
    pub sent: usize,
    /// How long its failed requests took, median (fast refusals versus timeouts).
    pub median_failure_latency: Duration,
}

impl FailureWindow {
    pub fn start(&self) -> Duration {
        self.first.started
    }

    pub fn end(&self) -> Duration {
        self.last.started + self.last.latency
    }

    pub fn length(&self) -> Duration {
        self.end() - self.start()
    }
}

/// Groups failed requests into windows. `requests` must be in start order.
pub fn failure_windows(requests: &[RequestRecord], gap: Duration) -> Vec<FailureWindow> {
    let mut windows: Vec<FailureWindow> = Vec::new();
    for r in requests.iter().filter(|r| !r.outcome.is_ok()) {
        let end = r.started + r.latency;
        match windows.last_mut() {
            Some(w) if r.started <= w.end() + gap => {
                w.failed += 1;
                if end > w.end() {
                    w.last = r.clone();
                }
            }
            _ => windows.push(FailureWindow {
                first: r.clone(),
                last: r.clone(),
                failed: 1,
                sent: 0,
                median_failure_latency: Duration::ZERO,
            }),
        }
    }
    for w in &mut windows {
        let inside: Vec<&RequestRecord> = requests
            .iter()
            .filter(|r| r.started >= w.start() && r.started <= w.end())
            .collect();
        w.sent = inside.len();
        let mut failed: Vec<Duration> = inside
            .iter()
            .filter(|r| !r.outcome.is_ok())
            .map(|r| r.latency)
            .collect();
        failed.sort_unstable();
        w.median_failure_latency = failed
            .get(failed.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or_default();
    }
    windows
}

/// One expectation's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The expectation as the scenario states it: `availability >= 97%`.
    pub expectation: String,
    /// What the run measured.
    pub observed: String,
    pub holds: bool,
}

/// Judges every expectation the scenario states, in a fixed order.
pub fn judge(
    expect: &Expectations,
    topology: &crate::topology::Topology,
    events: &[Event],
    requests: &[RequestRecord],
    windows: &[FailureWindow],
) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    if let Some(min) = expect.availability_pct_min {
        let ok = requests.iter().filter(|r| r.outcome.is_ok()).count();
        let pct = if requests.is_empty() {
            0.0
        } else {
            100.0 * ok as f64 / requests.len() as f64
        };
        verdicts.push(Verdict {
            expectation: format!("availability >= {min}%"),
            observed: format!("{pct:.2}% ({ok} of {} requests ok)", requests.len()),
            holds: !requests.is_empty() && pct >= min,
        });
    }
    if let Some(max) = expect.failure_window_max {
        let longest = windows.iter().enumerate().max_by_key(|(_, w)| w.length());
        let observed = match longest {
            None => "no failed requests".to_string(),
            Some((i, w)) => format!(
                "{} (window {} of {})",
                span(w.length()),
                i + 1,
                windows.len()
            ),
        };
        let holds = longest.is_none_or(|(_, w)| w.length() <= max);
        verdicts.push(Verdict {
            expectation: format!("longest failure window <= {}", span(max)),
            observed,
            holds,
        });
    }
    if let Some(max) = expect.detection_max {
        verdicts.extend(reactions(events, max, Reaction::Detection));
    }
    if let Some(max) = expect.recovery_max {
        verdicts.extend(reactions(events, max, Reaction::Recovery));
    }
    if let Some(max) = expect.failover_max {
        verdicts.extend(failovers(events, max));
    }
    // The dev/test instance's own mail is not production's: its attempts are left out.
    let dev: Vec<&str> = topology
        .with_role(crate::topology::Role::DevNode)
        .map(|h| h.name.as_str())
        .collect();
    let mut safety = safety(events, requests, &dev);
    if expect.mail_exactly_once != Some(true) {
        safety.retain(|v| v.expectation != MAIL_TWICE);
    }
    verdicts.extend(safety);
    verdicts.push(super::outside::tokens(events, topology));
    verdicts.push(super::outside::egress_books(events, topology));
    // Judged on every run; without dev-1 it holds vacuously and stays out of the report,
    // so reports of runs without dev-1 read as they did before it existed.
    let isolation = super::isolation::verdict(events, topology);
    if topology.dev.enabled {
        verdicts.push(isolation);
    }
    verdicts.push(liveness(events, expect.converge_within()));
    verdicts
}

/// For every lost primary: the next election, and how long after the loss it came.
fn failovers(events: &[Event], max: Duration) -> Vec<Verdict> {
    let losses = events.iter().filter_map(|e| match &e.kind {
        EventKind::PrimaryLost {
            node,
            term: lost_term,
            ..
        } => Some((e.at, node, *lost_term)),
        _ => None,
    });
    let losses: Vec<_> = losses.collect();
    if losses.is_empty() {
        // "Every time a step loses the primary" holds when no step did; say so.
        let expectation = format!("a new primary within {} of losing one", span(max));
        return vec![Verdict {
            expectation,
            observed: "no step lost the primary".to_string(),
            holds: true,
        }];
    }
    losses
        .into_iter()
        .map(|(at, node, lost_term)| {
            let expectation = format!(
                "a new primary within {} of losing {node} at {}",
                span(max),
                crate::duration::clock(at)
            );
            let elected = events
                .iter()
                .filter(|e| e.at >= at)
                .find_map(|e| match &e.kind {
                    // A later term's winner: the lost primary cannot count as its own successor.
                    EventKind::ReplicaSet(RsEvent::Elected { term, .. }) if *term > lost_term => {
                        Some((e.at - at, e.host.clone(), *term))
                    }
                    _ => None,
                });
            match elected {
                Some((after, winner, term)) => Verdict {
                    expectation,
                    observed: format!("{winner} after {} (term {term})", span(after)),
                    holds: after <= max,
                },
                None => Verdict {
                    expectation,
                    observed: "never".to_string(),
                    holds: false,
                },
            }
        })
        .collect()
}

/// The replica set's safety checks, judged on every run.
fn safety(events: &[Event], requests: &[RequestRecord], dev: &[&str]) -> Vec<Verdict> {
    if !events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Converged))
    {
        // The end state of a set that never recovered says nothing about lost writes or
        // diverged logs; the liveness verdict already fails the run.
        let observed = "not judged: the replica set never became healthy after the last fault";
        let not_judged = |e: &str| Verdict {
            expectation: e.to_string(),
            observed: observed.to_string(),
            holds: true,
        };
        return vec![
            not_judged(LOST),
            not_judged(SAME_LOG),
            one_primary_per_term(events),
            not_judged(MAIL_LOST),
            not_judged(MAIL_TWICE),
        ];
    }
    let finals: Vec<&MemberFinal> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MemberFinal(f) => Some(f),
            _ => None,
        })
        .collect();
    let up: Vec<&MemberFinal> = finals.iter().copied().filter(|f| f.up).collect();
    let down: Vec<&str> = finals
        .iter()
        .filter(|f| !f.up)
        .map(|f| f.node.as_str())
        .collect();
    let aside = if down.is_empty() {
        String::new()
    } else {
        format!("; {} down at the end, not checked", down.join(", "))
    };
    let [lost_mail, twice] = mail(events, &up, dev);
    vec![
        no_write_lost(requests, &up, &aside),
        same_log(&up, &aside),
        one_primary_per_term(events),
        lost_mail,
        twice,
    ]
}

const MAIL_LOST: &str = "no queued mail lost";
const MAIL_TWICE: &str = "no mail delivered twice";

/// Every signup in the final log queued one verification mail: the relay must have
/// accepted each (and nothing never queued), and each once; and every delivery a node
/// recorded must be one the relay accepted. Delivery is at least once by
/// design (see `services::mail`): a primary that fails over between the relay's 250 and
/// its `MailSent` commit makes the next primary send again, and the second verdict says
/// so. The dev/test hosts' failed attempts (`dev`) are not counted: they are not
/// production's queue (mail of theirs a production relay accepted is, as never queued).
fn mail(events: &[Event], up: &[&MemberFinal], dev: &[&str]) -> [Verdict; 2] {
    let mut accepted: BTreeMap<&str, usize> = BTreeMap::new();
    for e in events {
        if let EventKind::MailAccepted { message_id, .. } = &e.kind {
            *accepted.entry(message_id.as_str()).or_default() += 1;
        }
    }
    let queued: BTreeSet<String> = up
        .first()
        .map(|f| {
            f.signups
                .iter()
                .map(|u| crate::services::mail::message_id(u, &f.domain))
                .collect()
        })
        .unwrap_or_default();
    let missing: Vec<&str> = queued
        .iter()
        .map(String::as_str)
        .filter(|id| !accepted.contains_key(id))
        .collect();
    let stray: Vec<&str> = accepted
        .keys()
        .copied()
        .filter(|id| !queued.contains(*id))
        .collect();
    let twice: Vec<&str> = accepted
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| *id)
        .collect();
    // A node records a delivery when the relay answered 250 to its DATA; the relay records
    // its acceptance before it answers. A delivery no relay accepted means the node's
    // session was answered for another message (what SMTP command injection did).
    let unaccepted: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MailSent { message_id, .. } => Some(message_id.as_str()),
            _ => None,
        })
        .filter(|id| !accepted.contains_key(id))
        .collect();
    let unaccepted: Vec<&str> = unaccepted.into_iter().collect();
    let retries = events
        .iter()
        .filter(|e| {
            matches!(e.kind, EventKind::MailFailed { .. }) && !dev.contains(&e.host.as_str())
        })
        .count();
    let mut problems = Vec::new();
    for (what, ids) in [
        ("never delivered", &missing),
        ("delivered but never queued", &stray),
        (
            "recorded as sent but never accepted by the relay",
            &unaccepted,
        ),
    ] {
        if let Some(first) = ids.first() {
            problems.push(format!("{} {what} (first: {first})", ids.len()));
        }
    }
    let observed = if problems.is_empty() {
        format!(
            "{} queued, all delivered ({retries} failed attempts retried)",
            queued.len()
        )
    } else {
        problems.join("; ")
    };
    let lost = Verdict {
        expectation: MAIL_LOST.to_string(),
        observed,
        holds: problems.is_empty(),
    };
    let observed = match twice.first() {
        None => format!(
            "{} messages, each accepted once by the relay",
            accepted.len()
        ),
        Some(first) => format!(
            "{} delivered twice (first: {first}): a primary failed over before recording a delivery",
            twice.len()
        ),
    };
    [
        lost,
        Verdict {
            expectation: MAIL_TWICE.to_string(),
            observed,
            holds: twice.is_empty(),
        },
    ]
}

const LOST: &str = "no acknowledged write lost";
const SAME_LOG: &str = "members end with the same log";

/// Every signup a user got 201 for is on every member that is up.
fn no_write_lost(requests: &[RequestRecord], up: &[&MemberFinal], aside: &str) -> Verdict {
    let acked: Vec<&str> = requests
        .iter()
        .filter(|r| r.outcome.is_ok())
        .filter_map(|r| r.user.as_deref())
        .collect();
    let mut missing: Vec<String> = Vec::new();
    for f in up {
        let held: BTreeSet<&str> = f.signups.iter().map(String::as_str).collect();
        let lost: Vec<&str> = acked
            .iter()
            .copied()
            .filter(|u| !held.contains(u))
            .collect();
        if let Some(first) = lost.first() {
            missing.push(format!("{} lacks {} (first: {first})", f.node, lost.len()));
        }
    }
    let observed = if missing.is_empty() {
        format!(
            "all {} acknowledged signups on every member that is up{aside}",
            acked.len()
        )
    } else {
        missing.join("; ")
    };
    Verdict {
        expectation: LOST.to_string(),
        observed,
        holds: missing.is_empty() && !up.is_empty(),
    }
}

/// Every member that is up ends at the same entry with the same signups.
fn same_log(up: &[&MemberFinal], aside: &str) -> Verdict {
    let same = up.windows(2).all(|w| {
        (w[0].last_index, w[0].last_term, &w[0].signups)
            == (w[1].last_index, w[1].last_term, &w[1].signups)
    });
    let observed = match (same, up.first()) {
        (true, Some(f)) => format!(
            "{} members at index {}, term {}{aside}",
            up.len(),
            f.last_index,
            f.last_term
        ),
        _ => up
            .iter()
            .map(|f| format!("{} at {}/{}", f.node, f.last_index, f.last_term))
            .collect::<Vec<_>>()
            .join(", "),
    };
    Verdict {
        expectation: SAME_LOG.to_string(),
        observed,
        holds: same && !up.is_empty(),
    }
}

/// No term has two winners.
fn one_primary_per_term(events: &[Event]) -> Verdict {
    let mut winners: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    for e in events {
        if let EventKind::ReplicaSet(RsEvent::Elected { term, .. }) = &e.kind {
            winners.entry(*term).or_default().insert(e.host.as_str());
        }
    }
    let doubled: Vec<String> = winners
        .iter()
        .filter(|(_, w)| w.len() > 1)
        .map(|(t, w)| {
            format!(
                "term {t}: {}",
                w.iter().copied().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    Verdict {
        expectation: "at most one primary per term".to_string(),
        observed: match (doubled.is_empty(), winners.len()) {
            (true, 0) => "no elections".to_string(),
            (true, 1) => "1 election, one winner".to_string(),
            (true, n) => format!("{n} elections, one winner each"),
            (false, _) => doubled.join("; "),
        },
        holds: doubled.is_empty(),
    }
}

/// After the last fault the members that are up must agree within `bound`.
fn liveness(events: &[Event], bound: Duration) -> Verdict {
    let last_fault = events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Crashed { .. }
                    | EventKind::Restarted { .. }
                    | EventKind::Network { .. }
                    | EventKind::ClockChanged { .. }
            ) && e.host == crate::world::sim::EXECUTOR
        })
        .map(|e| e.at)
        .max()
        .unwrap_or(Duration::ZERO);
    let converged = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Converged))
        .map(|e| e.at);
    let expectation = format!(
        "replica set healthy within {} of the last fault ({})",
        span(bound),
        crate::duration::clock(last_fault)
    );
    match converged {
        Some(at) => Verdict {
            expectation,
            observed: format!("after {}", span(at.saturating_sub(last_fault))),
            holds: at.saturating_sub(last_fault) <= bound,
        },
        None => Verdict {
            expectation,
            observed: "they never did".to_string(),
            holds: false,
        },
    }
}

#[derive(Clone, Copy)]
enum Reaction {
    /// From a crash to the balancer taking the node out.
    Detection,
    /// From a restart to the balancer putting the node back.
    Recovery,
}

fn reactions(events: &[Event], max: Duration, reaction: Reaction) -> Vec<Verdict> {
    let causes = events.iter().filter_map(|e| match (&e.kind, reaction) {
        (EventKind::Crashed { node, .. }, Reaction::Detection) => Some((e.at, node)),
        (EventKind::Restarted { node }, Reaction::Recovery) => Some((e.at, node)),
        _ => None,
    });
    causes
        .map(|(at, node)| {
            let (wanted, verb, undo) = match reaction {
                Reaction::Detection => ("took", "out", "restarted"),
                Reaction::Recovery => ("put", "back", "crashed"),
            };
            let effect =
                events
                    .iter()
                    .filter(|e| e.at >= at)
                    .find_map(|e| match (&e.kind, reaction) {
                        (
                            EventKind::Check {
                                backend,
                                effect: CheckEffect::WentDown { .. },
                                ..
                            },
                            Reaction::Detection,
                        )
                        | (
                            EventKind::Check {
                                backend,
                                effect: CheckEffect::WentUp { .. },
                                ..
                            },
                            Reaction::Recovery,
                        ) if backend == node => Some(Ok(e.at - at)),
                        (EventKind::Restarted { node: n }, Reaction::Detection)
                        | (EventKind::Crashed { node: n, .. }, Reaction::Recovery)
                            if n == node =>
                        {
                            Some(Err(e.at))
                        }
                        _ => None,
                    });
            let expectation = format!(
                "lb {wanted} {node} {verb} within {} of {}",
                span(max),
                crate::duration::clock(at)
            );
            match effect {
                Some(Ok(after)) => Verdict {
                    expectation,
                    observed: format!("after {}", span(after)),
                    holds: after <= max,
                },
                Some(Err(when)) => Verdict {
                    expectation,
                    observed: format!(
                        "never: {node} was {undo} first, at {}",
                        crate::duration::clock(when)
                    ),
                    holds: false,
                },
                None => Verdict {
                    expectation,
                    observed: "never, by the end of the run".to_string(),
                    holds: false,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::RequestOutcome;

    fn req(id: u64, started_ms: u64, latency_ms: u64, ok: bool) -> RequestRecord {
        let outcome = if ok {
            RequestOutcome::Ok
        } else {
            RequestOutcome::Timeout
        };
        RequestRecord {
            id,
            endpoint: "POST /login",
            user: None,
            started: Duration::from_millis(started_ms),
            latency: Duration::from_millis(latency_ms),
            outcome,
        }
    }

    /// Proves the mail checker fails a message a node recorded as sent that no relay
    /// accepted (what SMTP command injection produced: the node's session was answered
    /// 250 for an attacker's message, and the real one never reached the relay), even when
    /// the relay accepted exactly the queued messages otherwise.
    #[test]
    fn mail_recorded_as_sent_but_never_accepted_fails() {
        let member = MemberFinal {
            node: "node-1".into(),
            up: true,
            role: "primary".into(),
            term: 1,
            last_index: 1,
            last_term: 1,
            signups: vec!["alice".into()],
            domain: "example.com".into(),
        };
        let at = |ms, host: &str, kind| Event {
            at: Duration::from_millis(ms),
            host: host.into(),
            kind,
        };
        let alice = crate::services::mail::message_id("alice", "example.com");
        let sent = |id: &str| EventKind::MailSent {
            message_id: id.to_string(),
            attempts: 1,
            waited_ms: 0,
        };
        let honest = [
            at(
                1,
                "smtp",
                EventKind::MailAccepted {
                    message_id: alice.clone(),
                    to: "alice@example.com".into(),
                },
            ),
            at(2, "node-1", sent(&alice)),
        ];
        let [lost, _] = mail(&honest, &[&member], &[]);
        assert!(lost.holds, "{}", lost.observed);
        // The relay accepted alice's mail once (say, an earlier attempt), but the node also
        // claims a delivery of bob's, which no relay ever saw.
        let bob = crate::services::mail::message_id("bob", "example.com");
        let forged = [
            honest[0].clone(),
            honest[1].clone(),
            at(3, "node-1", sent(&bob)),
        ];
        let [lost, _] = mail(&forged, &[&member], &[]);
        assert!(!lost.holds, "{}", lost.observed);
        assert!(
            lost.observed
                .contains("recorded as sent but never accepted"),
            "{}",
            lost.observed
        );
    }

    /// Proves failures closer than the gap share a window, farther ones open a new one,
    /// and a window's length runs from its first start to its latest end.
    #[test]
    fn groups_failure_windows() {
        let rs = [
            req(0, 0, 10, true),
            req(1, 100, 1000, false),
            req(2, 200, 10, true),
            req(3, 2500, 500, false),
            req(4, 9000, 10, false),
        ];
        let ws = failure_windows(&rs, Duration::from_secs(2));
        assert_eq!(ws.len(), 2);
        assert_eq!((ws[0].failed, ws[0].sent), (2, 3));
        assert_eq!(ws[0].length(), Duration::from_millis(2900));
        assert_eq!(ws[1].length(), Duration::from_millis(10));
    }

    /// Proves the availability verdict fails below the threshold and on a run with no
    /// requests at all.
    #[test]
    fn availability() {
        let expect = Expectations {
            availability_pct_min: Some(75.0),
            ..Default::default()
        };
        let rs = [
            req(0, 0, 1, true),
            req(1, 1, 1, true),
            req(2, 2, 1, true),
            req(3, 3, 1, false),
        ];
        assert!(judge(&expect, &crate::topology::Topology::ha3(), &[], &rs, &[])[0].holds);
        assert!(
            !judge(
                &expect,
                &crate::topology::Topology::ha3(),
                &[],
                &rs[2..],
                &[]
            )[0]
            .holds
        );
        assert!(!judge(&expect, &crate::topology::Topology::ha3(), &[], &[], &[])[0].holds);
    }

    /// Proves detection is measured from the crash to the node's DOWN transition, and
    /// that a node never taken out fails the expectation.
    #[test]
    fn detection() {
        let ev = |ms, kind| Event {
            at: Duration::from_millis(ms),
            host: "x".into(),
            kind,
        };
        let crash = ev(
            30_000,
            EventKind::Crashed {
                node: "node-2".into(),
                mode: crate::faults::CrashMode::PowerOff,
            },
        );
        let down = ev(
            35_500,
            EventKind::Check {
                backend: "node-2".into(),
                effect: CheckEffect::WentDown { fall: 3 },
                detail: String::new(),
            },
        );
        let expect = Expectations {
            detection_max: Some(Duration::from_secs(6)),
            ..Default::default()
        };
        let v = judge(
            &expect,
            &crate::topology::Topology::ha3(),
            &[crash.clone(), down],
            &[],
            &[],
        );
        assert_eq!((v[0].holds, v[0].observed.as_str()), (true, "after 5.5s"));
        let v = judge(
            &expect,
            &crate::topology::Topology::ha3(),
            &[crash],
            &[],
            &[],
        );
        assert!(!v[0].holds);
    }
}
