//! Expectations: each one's verdict, computed from what the run recorded.
//!
//! Nothing here knows what a scenario "should" do; every observed value is measured from
//! the event log, so a change in the model shows up as a changed figure or a failed
//! verdict.

use std::time::Duration;

use serde::Serialize;

use super::spec::Expectations;
use crate::duration::span;
use crate::events::{CheckEffect, Event, EventKind, RequestRecord};

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
            }),
        }
    }
    for w in &mut windows {
        w.sent = requests
            .iter()
            .filter(|r| r.started >= w.start() && r.started <= w.end())
            .count();
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
    verdicts
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
        assert!(judge(&expect, &[], &rs, &[])[0].holds);
        assert!(!judge(&expect, &[], &rs[2..], &[])[0].holds);
        assert!(!judge(&expect, &[], &[], &[])[0].holds);
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
                mode: crate::events::CrashMode::PowerOff,
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
        let v = judge(&expect, &[crash.clone(), down], &[], &[]);
        assert_eq!((v[0].holds, v[0].observed.as_str()), (true, "after 5.5s"));
        let v = judge(&expect, &[crash], &[], &[]);
        assert!(!v[0].holds);
    }
}
