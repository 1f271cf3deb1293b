//! At most one primary per term: no term has two winners.

use std::collections::{BTreeMap, BTreeSet};

use super::{Expectation, Observed, Verdict};
use crate::events::RsEvent;
use crate::events::{Event, EventKind};

/// The elections of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    /// Terms someone won.
    pub elections: usize,
    /// Every term with more than one winner, and its winners (by name), in term order.
    pub doubled: Vec<(u64, Vec<String>)>,
}

/// No term has two winners.
pub fn check(events: &[Event]) -> Verdict {
    let mut winners: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    for e in events {
        if let EventKind::ReplicaSet(RsEvent::Elected { term, .. }) = &e.kind {
            winners.entry(*term).or_default().insert(e.host.as_str());
        }
    }
    let doubled: Vec<(u64, Vec<String>)> = winners
        .iter()
        .filter(|(_, w)| w.len() > 1)
        .map(|(t, w)| (*t, w.iter().map(|s| (*s).to_string()).collect()))
        .collect();
    let holds = doubled.is_empty();
    let seen = Terms {
        elections: winners.len(),
        doubled,
    };
    Verdict::judged(Expectation::OnePrimaryPerTerm, Observed::Terms(seen), holds)
}
