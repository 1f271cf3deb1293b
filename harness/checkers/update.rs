//! A planned rolling update's checks, from the operator's events and the requests.
//!
//! - Downtime: for every node the update stopped, from its stop until the balancer saw
//!   it pass `/testall` again, within the update's `downtime_max` (the appliance's
//!   documentation: at most 30 s per node). A node that never passed again by the end of
//!   the run fails, with no figure. Nodes the update never reached get no verdict; the
//!   report lists them as not updated.
//! - With `drain = true`: no user request that started while the update went on (from
//!   its beginning to its end, or to the end of the run if it never ended) failed.
//!   Vacuous when no request started then.
//!
//! No acknowledged write lost is judged on every run, an update's included.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Expectation, Observed, Vacuity, Verdict};
use crate::events::update::{OPERATOR, UpdatePhase};
use crate::events::{Event, EventKind, RequestRecord};
use crate::scenario::update::Update;

/// What the users saw while the update went on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub sent: usize,
    pub failed: usize,
}

/// The operator's phases, in order, with their times.
pub fn phases(events: &[Event]) -> impl Iterator<Item = (Duration, &UpdatePhase)> {
    events.iter().filter_map(|e| match &e.kind {
        EventKind::Update(p) if e.host == OPERATOR => Some((e.at, p)),
        _ => None,
    })
}

/// When the update began and ended (`None`: it had not ended by the end of the run).
pub fn span(events: &[Event]) -> Option<(Duration, Option<Duration>)> {
    let mut began = None;
    let mut ended = None;
    for (at, p) in phases(events) {
        match p {
            UpdatePhase::Began { .. } => began = Some(at),
            UpdatePhase::Finished | UpdatePhase::Halted { .. } => ended = Some(at),
            _ => {}
        }
    }
    began.map(|b| (b, ended))
}

/// Each stopped node's downtime, in the order stopped: `None` when it never passed
/// `/testall` again.
pub fn downtimes(events: &[Event]) -> Vec<(String, Option<Duration>)> {
    let mut stopped: BTreeMap<String, Duration> = BTreeMap::new();
    let mut out: Vec<(String, Option<Duration>)> = Vec::new();
    for (at, p) in phases(events) {
        match p {
            UpdatePhase::Stopped { node } => {
                stopped.insert(node.clone(), at);
                out.push((node.clone(), None));
            }
            UpdatePhase::Passing { node } => {
                if let (Some(from), Some(entry)) =
                    (stopped.get(node), out.iter_mut().find(|(n, _)| n == node))
                {
                    entry.1 = Some(at.saturating_sub(*from));
                }
            }
            _ => {}
        }
    }
    out
}

/// Requests that started while the update went on, and how many failed.
pub fn seen(events: &[Event], requests: &[RequestRecord]) -> Option<Seen> {
    let (from, to) = span(events)?;
    let during: Vec<&RequestRecord> = requests
        .iter()
        .filter(|r| r.started >= from && to.is_none_or(|t| r.started <= t))
        .collect();
    Some(Seen {
        sent: during.len(),
        failed: during.iter().filter(|r| !r.outcome.is_ok()).count(),
    })
}

/// The update's verdicts (none without an update).
pub fn check(
    update: Option<&Update>,
    events: &[Event],
    requests: &[RequestRecord],
) -> Vec<Verdict> {
    let Some(update) = update else {
        return Vec::new();
    };
    let mut verdicts: Vec<Verdict> = downtimes(events)
        .into_iter()
        .map(|(node, took)| {
            let holds = took.is_some_and(|t| t <= update.downtime_max);
            let expectation = Expectation::UpdateDowntime {
                max: update.downtime_max,
                node,
            };
            Verdict::judged(expectation, Observed::Downtime(took), holds)
        })
        .collect();
    if update.drain {
        let seen = seen(events, requests).unwrap_or(Seen { sent: 0, failed: 0 });
        let observed = Observed::UpdateRequests(seen);
        verdicts.push(if seen.sent == 0 {
            Verdict::vacuous(Expectation::UpdateNoFailure, observed, Vacuity::NoRequest)
        } else {
            Verdict::judged(Expectation::UpdateNoFailure, observed, seen.failed == 0)
        });
    }
    verdicts
}
