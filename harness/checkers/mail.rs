//! Mail: no queued verification mail lost, and (when the scenario asks for exactly once)
//! none delivered twice.
//!
//! Every signup in the final log queued one verification mail: the relay must have
//! accepted each (and nothing never queued), and each once; and every delivery a node
//! recorded must be one the relay accepted. Delivery is at least once by design (see
//! `services::mail`): a primary that fails over between the relay's 250 and its
//! `MailSent` commit makes the next primary send again, and the second verdict says so.

use std::collections::{BTreeMap, BTreeSet};

use super::{Expectation, Observed, Offenders, Vacuity, Verdict};
use crate::events::{EventKind, Log, MemberFinal};

/// The queue against the relay's acceptances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// Messages the final log queued.
    pub queued: usize,
    /// Production's failed delivery attempts (retried).
    pub retries: usize,
    /// Queued messages the relay never accepted.
    pub never_delivered: Option<Offenders<String>>,
    /// Messages the relay accepted that were never queued.
    pub never_queued: Option<Offenders<String>>,
    /// Deliveries a node recorded that no relay accepted.
    pub never_accepted: Option<Offenders<String>>,
}

impl Queue {
    /// True when every queued message was delivered and every delivery accounted for.
    pub fn balanced(&self) -> bool {
        self.never_delivered.is_none()
            && self.never_queued.is_none()
            && self.never_accepted.is_none()
    }
}

/// The relay's acceptances, counted per message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Twice {
    /// Messages the relay accepted.
    pub messages: usize,
    /// Messages it accepted more than once.
    pub twice: Option<Offenders<String>>,
}

/// The two mail verdicts: none lost, none twice. The dev/test hosts' failed attempts
/// (`dev`) are not counted: they are not production's queue (mail of theirs a production
/// relay accepted is, as never queued).
pub fn check(events: &Log, up: &[&MemberFinal], dev: &[&str]) -> [Verdict; 2] {
    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    let mut sent: BTreeSet<String> = BTreeSet::new();
    let mut retries = 0;
    for e in events.tokens_and_mail() {
        match e.kind {
            EventKind::MailAccepted { message_id, .. } => {
                *accepted.entry(message_id).or_default() += 1;
            }
            EventKind::MailSent { message_id, .. } => {
                sent.insert(message_id);
            }
            EventKind::MailFailed { .. } => retries += usize::from(!dev.contains(&e.host.as_str())),
            _ => {}
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
    let ids = |ids: Vec<&str>| Offenders::of(ids.into_iter().map(str::to_string).collect());
    let never_delivered = ids(queued
        .iter()
        .map(String::as_str)
        .filter(|id| !accepted.contains_key(*id))
        .collect());
    let never_queued = ids(accepted
        .keys()
        .map(String::as_str)
        .filter(|id| !queued.contains(*id))
        .collect());
    let twice = ids(accepted
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id.as_str())
        .collect());
    // A node records a delivery when the relay answered 250 to its DATA; the relay records
    // its acceptance before it answers. A delivery no relay accepted means the node's
    // session was answered for another message (what SMTP command injection did).
    let unaccepted: Vec<&str> = sent
        .iter()
        .map(String::as_str)
        .filter(|id| !accepted.contains_key(*id))
        .collect();
    let queue = Queue {
        queued: queued.len(),
        retries,
        never_delivered,
        never_queued,
        never_accepted: ids(unaccepted),
    };
    let seen = Twice {
        messages: accepted.len(),
        twice,
    };
    verdicts(queue, seen)
}

/// The two verdicts over what was counted: each vacuous when there was nothing to count
/// (nothing queued and nothing unexplained; nothing accepted by the relay).
fn verdicts(queue: Queue, seen: Twice) -> [Verdict; 2] {
    let lost = if queue.queued == 0 && queue.balanced() {
        Verdict::vacuous(
            Expectation::NoMailLost,
            Observed::MailLost(queue),
            Vacuity::NoMailQueued,
        )
    } else {
        let balanced = queue.balanced();
        Verdict::judged(Expectation::NoMailLost, Observed::MailLost(queue), balanced)
    };
    let twice = if seen.messages == 0 {
        Verdict::vacuous(
            Expectation::NoMailTwice,
            Observed::MailTwice(seen),
            Vacuity::NoMailAccepted,
        )
    } else {
        let holds = seen.twice.is_none();
        Verdict::judged(Expectation::NoMailTwice, Observed::MailTwice(seen), holds)
    };
    [lost, twice]
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::events::Event;

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
        let [lost, _] = check(&Log::from(honest.to_vec()), &[&member], &[]);
        assert!(lost.holds(), "{:?}", lost.observed);
        // The relay accepted alice's mail once (say, an earlier attempt), but the node also
        // claims a delivery of bob's, which no relay ever saw.
        let bob = crate::services::mail::message_id("bob", "example.com");
        let forged = [
            honest[0].clone(),
            honest[1].clone(),
            at(3, "node-1", sent(&bob)),
        ];
        let [lost, _] = check(&Log::from(forged.to_vec()), &[&member], &[]);
        assert!(!lost.holds(), "{:?}", lost.observed);
        let Observed::MailLost(queue) = &lost.observed else {
            panic!("{:?}", lost.observed);
        };
        assert_eq!(
            queue.never_accepted,
            Some(Offenders {
                count: 1,
                first: bob
            })
        );
    }
}
