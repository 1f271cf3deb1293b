//! Liveness: after the last fault, the members that are up must come to agree within the
//! scenario's bound (the executor records the moment as `EventKind::Converged`).

use std::time::Duration;

use super::{Expectation, Observed, Verdict};
use crate::events::{EXECUTOR, Event, EventKind};

/// The replica set healthy within `bound` of the last fault the scenario injected.
pub fn check(events: &[Event], bound: Duration) -> Verdict {
    let last_fault = events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Crashed { .. }
                    | EventKind::Restarted { .. }
                    | EventKind::Network(_)
                    | EventKind::ClockChanged { .. }
            ) && e.host == EXECUTOR
        })
        .map(|e| e.at)
        .max()
        .unwrap_or(Duration::ZERO);
    let after = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Converged))
        .map(|e| e.at.saturating_sub(last_fault));
    let expectation = Expectation::Liveness {
        within: bound,
        last_fault,
    };
    let holds = after.is_some_and(|after| after <= bound);
    Verdict::judged(expectation, Observed::Liveness(after), holds)
}
