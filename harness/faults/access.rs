//! Remote maintenance access as plain data: a maintenance session a scenario step asks
//! for, and why a node's SSH service refused one.
//!
//! The security and access requirements: the vendor's engineers reach the appliance over
//! SSH through a jumphost (or a VPN), and the customer enables that connection for the
//! agreed time frames and disables it after. The loader builds an [`SshSession`] from an
//! `ssh = { from, to, duration }` step, the world hands it to the SSH client on `from`,
//! the event log records it and the report phrases it. Not a fault: an operation, which
//! the access checker judges (`checkers::access`).

use serde::Serialize;

/// The port the nodes' SSH service listens on.
pub const SSH_PORT: u16 = 22;

/// `ssh = { from = "jumphost", to = "node-2", duration = "30s" }`: `from` opens an SSH
/// session to `to` and keeps it `duration_ms`, then logs out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SshSession {
    /// The host the session starts from: the jumphost, or another host trying directly.
    pub from: String,
    /// The node it is for.
    pub to: String,
    /// How long the session lasts once accepted, in milliseconds.
    pub duration_ms: u64,
}

/// Why a node's SSH service refused a connection, in the order it looks: first who asks,
/// then when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SshRefusal {
    /// The connection did not come from a host the nodes' firewall admits SSH from (by
    /// default the jumphost alone): a direct attempt.
    NotThroughJumphost,
    /// The topology declares no maintenance window: no remote access at all.
    NoWindow,
    /// Outside every declared maintenance window: access is disabled.
    OutsideWindow,
}
