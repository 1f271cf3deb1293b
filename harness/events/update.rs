//! The event log's words for a planned rolling update: each phase the operator carried
//! out on each node (`world::update`), recorded under the host [`OPERATOR`].
//!
//! An update is not a fault, so none of these is a `Crashed` or `Restarted`: the
//! balancer's detection and recovery bounds are about failures, and a node stopped on
//! purpose is judged by the update's own bound (`checkers::update`).

use schemars::JsonSchema;
use serde::Serialize;

/// The host name the operator's phases are recorded under.
pub const OPERATOR: &str = "operator";

/// One phase of a rolling update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum UpdatePhase {
    /// The update begins: the nodes in the order they will be updated, each one's
    /// version now, the version installed, and whether nodes are drained first.
    Began {
        order: Vec<String>,
        from: Vec<(String, String)>,
        version: String,
        drain: bool,
    },
    /// The operator took `node` out of the balancer's rotation (HAProxy's `drain`).
    Drained { node: String },
    /// The balancer had no request in flight on `node` any more, or the wait ran out
    /// with `in_flight` still there.
    Idle { node: String, in_flight: usize },
    /// The primary `node` was asked to step down and hand over to its most caught-up
    /// secondary (MongoDB's `replSetStepDown` with election handoff); the replica set's
    /// own events say who took over.
    StepDownAsked { node: String },
    /// The operator stopped `node` (a clean shutdown: its sockets closed, connections
    /// refused meanwhile) and began installing.
    Stopped { node: String },
    /// `node` started again with `version`.
    Started { node: String, version: String },
    /// `node`'s member held everything the primary had committed.
    CaughtUp { node: String },
    /// The balancer saw `node` pass `/testall` (`rise` times in a row).
    Passing { node: String },
    /// The operator put `node` back in the balancer's rotation.
    Returned { node: String },
    /// The update stopped at `node` before it finished: why. The nodes after it keep
    /// their old version.
    Halted { node: String, why: String },
    /// Every node in the order was updated.
    Finished,
}

impl UpdatePhase {
    /// The node the phase is about (`None` for the update's beginning and end).
    pub fn node(&self) -> Option<&str> {
        match self {
            UpdatePhase::Drained { node }
            | UpdatePhase::Idle { node, .. }
            | UpdatePhase::StepDownAsked { node }
            | UpdatePhase::Stopped { node }
            | UpdatePhase::Started { node, .. }
            | UpdatePhase::CaughtUp { node }
            | UpdatePhase::Passing { node }
            | UpdatePhase::Returned { node }
            | UpdatePhase::Halted { node, .. } => Some(node),
            UpdatePhase::Began { .. } | UpdatePhase::Finished => None,
        }
    }
}
