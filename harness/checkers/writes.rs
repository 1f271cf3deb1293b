//! No acknowledged write lost: every signup a user got 201 for is on every member that is
//! up at the end.

use std::collections::BTreeSet;

use super::{Expectation, Observed, Vacuity, Verdict};
use crate::events::{MemberFinal, RequestRecord};

/// The acknowledged signups, and the members that lack some.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writes {
    /// Signups a user got 201 for.
    pub acked: usize,
    /// Each member that is up and lacks acknowledged signups, in member order.
    pub lacking: Vec<Lacking>,
    /// Members down at the end, not checked.
    pub down: Vec<String>,
}

/// A member that lacks acknowledged signups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lacking {
    pub node: String,
    pub count: usize,
    /// The first user (in acknowledgement order) it lacks.
    pub first: String,
}

/// Every signup a user got 201 for is on every member of `up` (`down` are not checked);
/// vacuous when no signup was acknowledged.
pub fn check(requests: &[RequestRecord], up: &[&MemberFinal], down: &[String]) -> Verdict {
    let acked: Vec<&str> = requests
        .iter()
        .filter(|r| r.outcome.is_ok())
        .filter_map(|r| r.user.as_deref())
        .collect();
    let mut lacking: Vec<Lacking> = Vec::new();
    for f in up {
        let held: BTreeSet<&str> = f.signups.iter().map(String::as_str).collect();
        let lost: Vec<&str> = acked
            .iter()
            .copied()
            .filter(|u| !held.contains(u))
            .collect();
        if let Some(first) = lost.first() {
            lacking.push(Lacking {
                node: f.node.clone(),
                count: lost.len(),
                first: (*first).to_string(),
            });
        }
    }
    let holds = lacking.is_empty() && !up.is_empty();
    let seen = Writes {
        acked: acked.len(),
        lacking,
        down: down.to_vec(),
    };
    if seen.acked == 0 && seen.lacking.is_empty() && !up.is_empty() {
        return Verdict::vacuous(
            Expectation::NoWriteLost,
            Observed::Writes(seen),
            Vacuity::NoAckedWrite,
        );
    }
    Verdict::judged(Expectation::NoWriteLost, Observed::Writes(seen), holds)
}
