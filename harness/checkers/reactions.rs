//! The balancer's reactions: after every crash, how long until it took the node out
//! (detection); after every restart, how long until it put the node back (recovery).

use std::time::Duration;

use super::{Expectation, Observed, Vacuity, Verdict};
use crate::events::{CheckEffect, Event, EventKind};

/// Which reaction is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// From a crash to the balancer taking the node out.
    Detection,
    /// From a restart to the balancer putting the node back.
    Recovery,
}

/// The node a step crashed (for a detection) or restarted (for a recovery), and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub node: String,
    pub at: Duration,
}

/// What the balancer did after the cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// It reacted this long after the cause.
    After(Duration),
    /// The node was restarted (for a detection) or crashed (for a recovery) at `at`,
    /// before the balancer reacted.
    Undone { at: Duration },
    /// It never reacted, by the end of the run.
    Never,
}

/// One verdict per crash (detection) or restart (recovery), each within `max`; one
/// vacuous verdict when no step crashed (restarted) a node, so that a stated expectation
/// never silently vanishes from the report.
pub fn check(events: &[Event], max: Duration, kind: Kind) -> Vec<Verdict> {
    let expectation = |cause: Option<Cause>| match kind {
        Kind::Detection => Expectation::Detection { max, crash: cause },
        Kind::Recovery => Expectation::Recovery {
            max,
            restart: cause,
        },
    };
    let verdicts: Vec<Verdict> = events
        .iter()
        .filter_map(|e| match (&e.kind, kind) {
            (EventKind::Crashed { node, .. }, Kind::Detection)
            | (EventKind::Restarted { node }, Kind::Recovery) => Some((e.at, node)),
            _ => None,
        })
        .map(|(at, node)| {
            let seen = reaction(events, at, node, kind);
            let cause = Cause {
                node: node.clone(),
                at,
            };
            let holds = matches!(seen, Reaction::After(after) if after <= max);
            Verdict::judged(expectation(Some(cause)), Observed::Reaction(seen), holds)
        })
        .collect();
    if !verdicts.is_empty() {
        return verdicts;
    }
    let why = match kind {
        Kind::Detection => Vacuity::NoCrash,
        Kind::Recovery => Vacuity::NoRestart,
    };
    vec![Verdict::vacuous(expectation(None), Observed::Nothing, why)]
}

/// The balancer's first reaction to `node`'s crash or restart at `at`, or what undid it.
fn reaction(events: &[Event], at: Duration, node: &str, kind: Kind) -> Reaction {
    let effect = events
        .iter()
        .filter(|e| e.at >= at)
        .find_map(|e| match (&e.kind, kind) {
            (
                EventKind::Check {
                    backend,
                    effect: CheckEffect::WentDown { .. },
                    ..
                },
                Kind::Detection,
            )
            | (
                EventKind::Check {
                    backend,
                    effect: CheckEffect::WentUp { .. },
                    ..
                },
                Kind::Recovery,
            ) if backend == node => Some(Reaction::After(e.at - at)),
            (EventKind::Restarted { node: n }, Kind::Detection)
            | (EventKind::Crashed { node: n, .. }, Kind::Recovery)
                if n == node =>
            {
                Some(Reaction::Undone { at: e.at })
            }
            _ => None,
        });
    effect.unwrap_or(Reaction::Never)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let max = Duration::from_secs(6);
        let v = check(&[crash.clone(), down], max, Kind::Detection);
        assert!(v[0].holds());
        assert_eq!(
            v[0].observed,
            Observed::Reaction(Reaction::After(Duration::from_millis(5_500)))
        );
        let v = check(&[crash], max, Kind::Detection);
        assert!(!v[0].holds());
        assert_eq!(v[0].observed, Observed::Reaction(Reaction::Never));
    }

    /// Proves a recovery bound with no restart in the run yields one vacuous verdict
    /// (not none, and not a pass).
    #[test]
    fn recovery_without_restart_is_vacuous() {
        let v = check(&[], Duration::from_secs(6), Kind::Recovery);
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0].status,
            crate::checkers::Status::Vacuous(Vacuity::NoRestart)
        );
        assert!(v[0].holds() && !v[0].passes());
    }
}
