//! Failover: after every primary a step lost, a new primary (of a later term) within the
//! scenario's bound.

use std::time::Duration;

use super::{Expectation, Observed, Vacuity, Verdict};
use crate::events::RsEvent;
use crate::events::{Event, EventKind};

/// A primary the run recorded as lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost {
    pub node: String,
    pub at: Duration,
}

/// What followed a loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failover {
    /// `winner` was elected for `term`, `after` the loss.
    Elected {
        winner: String,
        after: Duration,
        term: u64,
    },
    /// No later term was ever won.
    Never,
}

/// For every lost primary: the next election, and how long after the loss it came.
pub fn check(events: &[Event], max: Duration) -> Vec<Verdict> {
    let losses: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::PrimaryLost {
                node,
                term: lost_term,
                ..
            } => Some((e.at, node, *lost_term)),
            _ => None,
        })
        .collect();
    if losses.is_empty() {
        // "Every time a step loses the primary" is vacuous when no step did; say so.
        let expectation = Expectation::Failover { max, lost: None };
        return vec![Verdict::vacuous(
            expectation,
            Observed::Nothing,
            Vacuity::NoPrimaryLost,
        )];
    }
    losses
        .into_iter()
        .map(|(at, node, lost_term)| {
            let lost = Lost {
                node: node.clone(),
                at,
            };
            let expectation = Expectation::Failover {
                max,
                lost: Some(lost),
            };
            let elected = events
                .iter()
                .filter(|e| e.at >= at)
                .find_map(|e| match &e.kind {
                    // A later term's winner: the lost primary cannot count as its own successor.
                    EventKind::ReplicaSet(RsEvent::Elected { term, .. }) if *term > lost_term => {
                        Some(Failover::Elected {
                            winner: e.host.clone(),
                            after: e.at - at,
                            term: *term,
                        })
                    }
                    _ => None,
                });
            let seen = elected.unwrap_or(Failover::Never);
            let holds = matches!(seen, Failover::Elected { after, .. } if after <= max);
            Verdict::judged(expectation, Observed::Failover(seen), holds)
        })
        .collect()
}
