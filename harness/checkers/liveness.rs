//! Liveness: after the last fault (or the start, when the scenario injected none), the
//! members that are up must come to agree within the scenario's `converge_within`, and
//! the primary's mail must flow again within the same bound. The executor records the
//! moments: `EventKind::Converged` (healthy again after a step broke the set) or
//! `EventKind::HealthyUnbroken` (healthy, and no step broke it), and
//! `EventKind::MailFlowing`. The two are apart so that a relay's fault (a wrong
//! `smtp.node_password`) is the mail's verdict, never the replica set's.

use std::time::Duration;

use super::{Expectation, LastFault, Observed, Vacuity, Verdict};
use crate::events::update::OPERATOR;
use crate::events::{EXECUTOR, Event, EventKind, Log};

/// The two liveness verdicts: the replica set healthy, then its mail flowing, each within
/// `bound` of the last fault the scenario injected. The mail verdict is vacuous when no
/// production node ever tried to send mail (`dev`: the dev/test hosts, not counted).
pub fn check(events: &Log, bound: Duration, dev: &[&str]) -> [Verdict; 2] {
    let last_fault = last_fault(events);
    let from = last_fault.unwrap_or(Duration::ZERO);
    let after = |pick: fn(&EventKind) -> bool| {
        events
            .iter()
            .find(|e| pick(&e.kind))
            .map(|e| e.at.saturating_sub(from))
    };
    let healthy = after(|k| matches!(k, EventKind::Converged | EventKind::HealthyUnbroken));
    let set = Verdict::judged(
        Expectation::Liveness {
            within: bound,
            last_fault,
        },
        Observed::Liveness(healthy),
        healthy.is_some_and(|after| after <= bound),
    );
    let flowing = after(|k| matches!(k, EventKind::MailFlowing));
    let expectation = Expectation::MailFlowing {
        within: bound,
        last_fault,
    };
    let mailed = events.tokens_and_mail().any(|e| {
        matches!(
            e.kind,
            EventKind::MailSent { .. } | EventKind::MailFailed { .. }
        ) && !dev.contains(&e.host.as_str())
    });
    let mail = if mailed {
        Verdict::judged(
            expectation,
            Observed::MailFlowing(flowing),
            flowing.is_some_and(|after| after <= bound),
        )
    } else {
        Verdict::vacuous(
            expectation,
            Observed::MailFlowing(flowing),
            Vacuity::NoMailQueued,
        )
    };
    [set, mail]
}

/// When the scenario last injected a fault, if it did.
fn last_fault(events: &[Event]) -> LastFault {
    events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Crashed { .. }
                    | EventKind::Restarted { .. }
                    | EventKind::Network(_)
                    | EventKind::ClockChanged { .. }
                    | EventKind::Service(_)
                    | EventKind::Host(_)
                    | EventKind::Link(_)
            ) && e.host == EXECUTOR
                // A planned update disturbs the set as a fault does.
                || matches!(e.kind, EventKind::Update(_)) && e.host == OPERATOR
        })
        .map(|e| e.at)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::{Status, event_at};

    fn failed(attempt: u32) -> EventKind {
        EventKind::MailFailed {
            message_id: "<a@example.com>".into(),
            attempt,
            reason: "535 authentication failed".into(),
            retry_in_ms: 1_000,
        }
    }

    /// Proves a relay that refuses the nodes' password (mail failing, never flowing)
    /// fails the mail verdict and not the replica set's, and that with no fault the set's
    /// verdict is measured from the start, naming no fault.
    #[test]
    fn wrong_smtp_password_fails_the_mail_not_the_replica_set() {
        let events = [
            event_at("replica-set", 2, EventKind::HealthyUnbroken),
            event_at("node-1", 3, failed(1)),
            event_at("node-1", 4, failed(2)),
        ];
        let [set, mail] = check(&Log::from(events.to_vec()), Duration::from_secs(30), &[]);
        assert_eq!(set.status, Status::Pass);
        assert_eq!(
            set.expectation,
            Expectation::Liveness {
                within: Duration::from_secs(30),
                last_fault: None
            }
        );
        assert_eq!(
            set.observed,
            Observed::Liveness(Some(Duration::from_secs(2)))
        );
        assert_eq!(mail.status, Status::Fail);
        assert_eq!(mail.observed, Observed::MailFlowing(None));
    }

    /// Proves the mail verdict passes when the mail flows within the bound of the last
    /// fault, and is vacuous (not a pass) when no node ever tried to send mail.
    #[test]
    fn mail_flowing_after_the_fault_passes_and_no_mail_is_vacuous() {
        let crash = EventKind::Crashed {
            node: "node-1".into(),
            mode: crate::faults::CrashMode::PowerOff,
        };
        let events = [
            event_at(EXECUTOR, 10, crash),
            event_at("node-2", 12, failed(1)),
            event_at("replica-set", 15, EventKind::Converged),
            event_at("replica-set", 16, EventKind::MailFlowing),
        ];
        let [set, mail] = check(&Log::from(events.to_vec()), Duration::from_secs(30), &[]);
        assert_eq!(
            set.observed,
            Observed::Liveness(Some(Duration::from_secs(5)))
        );
        assert_eq!(mail.status, Status::Pass);
        assert_eq!(
            mail.observed,
            Observed::MailFlowing(Some(Duration::from_secs(6)))
        );
        let [_, mail] = check(
            &Log::from(events.to_vec()),
            Duration::from_secs(30),
            &["node-2"],
        );
        assert_eq!(mail.status, Status::Vacuous(Vacuity::NoMailQueued));
    }
}
