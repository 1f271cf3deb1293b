//! Remote maintenance access confined: no SSH session outside a maintenance window, and
//! none except through the jumphost (the security and access requirements: SSH "via
//! Jumphost", "enabled for and disabled after the agreed-upon time frames").
//!
//! Judged from the event log and the topology's declared windows alone, not from the
//! SSH service's own decisions: every session a node opened must come from the jumphost,
//! open inside a declared window and end by that window's end (within
//! [`CLOSE_SLACK`]); a session still open when the log ends counts as ending then. A
//! direct attempt (a step's session from anywhere but the jumphost) that a node let in
//! is a breach like any other session from outside; one refused, or that never reached
//! the node, is not. Vacuous when no step asked for a session and no node opened one.

use std::time::Duration;

use super::{Expectation, Observed, Offenders, Vacuity, Verdict};
use crate::events::access::SshEvent;
use crate::events::{Event, EventKind};
use crate::topology::{AccessWindow, JUMPHOST, Topology};

/// How late a node may close a session after its window's end: its timer fires at the
/// first tick at or after the end (a tick is 1 or 2 ms).
pub const CLOSE_SLACK: Duration = Duration::from_millis(10);

/// What the run's SSH attempts came to, and the first breach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sessions {
    /// Sessions the steps asked for.
    pub asked: usize,
    /// Sessions the nodes opened.
    pub opened: usize,
    /// Connections the nodes refused.
    pub refused: usize,
    /// Sessions that broke the rules, and the first of them.
    pub breaches: Option<Offenders<Breach>>,
}

/// A session that should not have been.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    /// When the node opened it.
    pub at: Duration,
    pub from: String,
    pub to: String,
    pub rule: Broken,
}

/// Which rule a session broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    /// It did not come from the jumphost.
    NotThroughJumphost,
    /// It opened outside every declared window.
    OutsideWindow,
    /// It opened inside a window but was still open at `end`, the window's end.
    PastWindow { end: Duration },
}

/// One session a node opened: who, when, and when it ended (`None`: still open).
struct Opened<'a> {
    at: Duration,
    from: &'a str,
    to: &'a str,
    ended: Option<Duration>,
}

/// The sessions the nodes opened, each with its end, in order.
fn opened(events: &[Event]) -> Vec<Opened<'_>> {
    let mut sessions: Vec<Opened<'_>> = Vec::new();
    for e in events {
        match &e.kind {
            EventKind::Ssh(SshEvent::Opened { from, to, .. }) => sessions.push(Opened {
                at: e.at,
                from,
                to,
                ended: None,
            }),
            EventKind::Ssh(SshEvent::Closed { from, to, .. }) => {
                let open = sessions
                    .iter_mut()
                    .find(|s| s.from == from && s.to == to && s.ended.is_none());
                if let Some(s) = open {
                    s.ended = Some(e.at);
                }
            }
            _ => {}
        }
    }
    sessions
}

/// The rule `session` broke, if any, given the declared `windows` and the log's end.
fn broken(session: &Opened<'_>, windows: &[AccessWindow], log_end: Duration) -> Option<Broken> {
    if session.from != JUMPHOST {
        return Some(Broken::NotThroughJumphost);
    }
    let Some(window) = windows.iter().find(|w| w.contains(session.at)) else {
        return Some(Broken::OutsideWindow);
    };
    let ended = session.ended.unwrap_or(log_end);
    (ended > window.end + CLOSE_SLACK).then_some(Broken::PastWindow { end: window.end })
}

/// The verdict over the run's sessions.
pub fn check(events: &[Event], topology: &Topology) -> Verdict {
    let log_end = events.last().map_or(Duration::ZERO, |e| e.at);
    let windows = &topology.access.windows;
    let sessions = opened(events);
    let breaches: Vec<Breach> = sessions
        .iter()
        .filter_map(|s| {
            broken(s, windows, log_end).map(|rule| Breach {
                at: s.at,
                from: s.from.to_string(),
                to: s.to.to_string(),
                rule,
            })
        })
        .collect();
    let count = |f: fn(&SshEvent) -> bool| {
        events
            .iter()
            .filter(|e| matches!(&e.kind, EventKind::Ssh(s) if f(s)))
            .count()
    };
    let observed = Sessions {
        asked: count(|s| matches!(s, SshEvent::Asked(_))),
        opened: sessions.len(),
        refused: count(|s| matches!(s, SshEvent::Refused { .. })),
        breaches: Offenders::of(breaches),
    };
    let holds = observed.breaches.is_none();
    if observed.asked == 0 && observed.opened == 0 {
        let observed = Observed::Access(observed);
        return Verdict::vacuous(Expectation::AccessConfined, observed, Vacuity::NoSshAttempt);
    }
    Verdict::judged(
        Expectation::AccessConfined,
        Observed::Access(observed),
        holds,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::{Status, event_at};
    use crate::faults::access::{SshRefusal, SshSession};
    use crate::topology::{AccessWindow, TopologySpec};

    fn topology() -> Topology {
        let mut spec = TopologySpec::default();
        spec.access.jumphost = true;
        spec.access.windows = vec![AccessWindow {
            start: Duration::from_secs(10),
            end: Duration::from_secs(40),
        }];
        Topology::from_spec(&spec).expect("a valid topology")
    }

    fn asked(secs: u64, from: &str) -> Event {
        let session = SshSession {
            from: from.into(),
            to: "node-2".into(),
            duration_ms: 20_000,
        };
        event_at("scenario", secs, EventKind::Ssh(SshEvent::Asked(session)))
    }

    fn opened(secs: u64, from: &str) -> Event {
        let kind = SshEvent::Opened {
            from: from.into(),
            to: "node-2".into(),
            window: Some(1),
        };
        event_at("node-2", secs, EventKind::Ssh(kind))
    }

    fn closed(secs: u64, from: &str) -> Event {
        let kind = SshEvent::Closed {
            from: from.into(),
            to: "node-2".into(),
            after_ms: 0,
            why: crate::events::access::SshClose::Logout,
        };
        event_at("node-2", secs, EventKind::Ssh(kind))
    }

    fn refused(secs: u64, from: &str) -> Event {
        let kind = SshEvent::Refused {
            from: from.into(),
            to: "node-2".into(),
            reason: SshRefusal::NotThroughJumphost,
        };
        event_at("node-2", secs, EventKind::Ssh(kind))
    }

    /// Proves the pass: a session through the jumphost inside the window, closed before
    /// its end, and a direct attempt refused.
    #[test]
    fn confined_sessions_pass() {
        let events = [
            asked(20, JUMPHOST),
            opened(20, JUMPHOST),
            asked(25, "users"),
            refused(25, "users"),
            closed(35, JUMPHOST),
        ];
        let v = check(&events, &topology());
        assert_eq!(v.status, Status::Pass);
        let Observed::Access(s) = v.observed else {
            panic!("access verdicts observe sessions");
        };
        assert_eq!((s.asked, s.opened, s.refused), (2, 1, 1));
    }

    /// Proves the check can fail on each rule: a direct session let in, a session opened
    /// after the window, and one still open past the window's end.
    #[test]
    fn each_breach_fails() {
        let first_rule = |events: &[Event]| {
            let v = check(events, &topology());
            assert_eq!(v.status, Status::Fail);
            let Observed::Access(s) = v.observed else {
                panic!("access verdicts observe sessions");
            };
            s.breaches.expect("a breach").first.rule
        };
        let direct = [asked(20, "users"), opened(20, "users"), closed(30, "users")];
        assert_eq!(first_rule(&direct), Broken::NotThroughJumphost);
        let late = [
            asked(45, JUMPHOST),
            opened(45, JUMPHOST),
            closed(50, JUMPHOST),
        ];
        assert_eq!(first_rule(&late), Broken::OutsideWindow);
        let past = [
            asked(30, JUMPHOST),
            opened(30, JUMPHOST),
            closed(55, JUMPHOST),
        ];
        let end = Duration::from_secs(40);
        assert_eq!(first_rule(&past), Broken::PastWindow { end });
        let never_closed = [
            asked(30, JUMPHOST),
            opened(30, JUMPHOST),
            asked(60, "users"),
        ];
        assert_eq!(first_rule(&never_closed), Broken::PastWindow { end });
    }

    /// Proves that a run with no SSH attempt is vacuous, not a pass.
    #[test]
    fn no_attempt_is_vacuous() {
        let v = check(&[], &topology());
        assert_eq!(v.status, Status::Vacuous(Vacuity::NoSshAttempt));
        assert!(!v.passes());
    }
}
