//! The event log's words for the cluster ports (7777, 8721, 8701): a node's exchanges
//! with a peer on one port lost and regained (`services::cluster_ports`), recorded under
//! the node that noticed.

use schemars::JsonSchema;
use serde::Serialize;

/// A change in a node's contact with one peer on one cluster port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ClusterPortEvent {
    /// No exchange with `peer` on `port` succeeded for `silent_ms`, longer than
    /// `cluster_ports.contact_max`; `why` the last one failed; `backlog`: webtask log
    /// batches waiting for the peer (0 on the other ports).
    Lost {
        service: String,
        port: u16,
        peer: String,
        silent_ms: u64,
        why: String,
        backlog: u32,
    },
    /// An exchange with `peer` on `port` succeeded again after `silent_ms`; it shipped
    /// `shipped` waiting log batches, `dropped` were lost to the backlog's bound.
    Regained {
        service: String,
        port: u16,
        peer: String,
        silent_ms: u64,
        shipped: u32,
        dropped: u32,
    },
}
