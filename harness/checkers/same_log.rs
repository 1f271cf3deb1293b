//! The members end with the same log: every member that is up ends at the same entry with
//! the same signups.

use super::{Expectation, Observed, Verdict};
use crate::events::MemberFinal;

/// Where each member that is up ended its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ends {
    /// Every member that is up, in member order.
    pub ends: Vec<LogEnd>,
    /// True when they all end at the same entry with the same signups.
    pub same: bool,
    /// Members down at the end, not checked.
    pub down: Vec<String>,
}

/// The last entry of one member's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEnd {
    pub node: String,
    pub index: u64,
    pub term: u64,
}

/// Every member of `up` ends at the same entry with the same signups.
pub fn check(up: &[&MemberFinal], down: &[String]) -> Verdict {
    let same = up.windows(2).all(|w| {
        (w[0].last_index, w[0].last_term, &w[0].signups)
            == (w[1].last_index, w[1].last_term, &w[1].signups)
    });
    let ends = up
        .iter()
        .map(|f| LogEnd {
            node: f.node.clone(),
            index: f.last_index,
            term: f.last_term,
        })
        .collect();
    let seen = Ends {
        ends,
        same,
        down: down.to_vec(),
    };
    Verdict::judged(
        Expectation::SameLog,
        Observed::SameLog(seen),
        same && !up.is_empty(),
    )
}
