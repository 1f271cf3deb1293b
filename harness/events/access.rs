//! The event log's words for remote maintenance access: every SSH attempt a step asked
//! for, and what became of it (accepted or refused, and why; how the session ended).
//!
//! The step is recorded under the scenario ([`super::EXECUTOR`]); a node's SSH service
//! records what it decided under the node's name; the client records only what failed
//! on its side (no connection, no banner), under the host it runs on.

use schemars::JsonSchema;
use serde::Serialize;

use crate::faults::access::{SshRefusal, SshSession};

/// One thing that happened to a maintenance session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "ssh", rename_all = "snake_case")]
pub enum SshEvent {
    /// A step asked `from` to open a session to `to` (recorded by the scenario).
    Asked(SshSession),
    /// The node's SSH service refused the connection from `from` (a host name, or the
    /// address of a host the topology does not name), before its banner.
    Refused {
        from: String,
        to: String,
        reason: SshRefusal,
    },
    /// The node accepted a session from `from` in maintenance window `window` (from 1);
    /// `None`: outside every window, with access left enabled after them.
    Opened {
        from: String,
        to: String,
        window: Option<usize>,
    },
    /// The session from `from` ended after `after_ms`, for `why`.
    Closed {
        from: String,
        to: String,
        after_ms: u64,
        why: SshClose,
    },
    /// The client on the recording host could not open a session to `to`: `error`.
    Failed { to: String, error: String },
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SshClose {
    /// The client logged out when its step's duration was over.
    Logout,
    /// Its maintenance window ended: access was disabled and the session closed.
    WindowEnded,
    /// The connection broke (the client went away).
    Lost,
}
