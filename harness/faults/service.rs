//! Faults injected into a service rather than the network: the DNS server's answers and
//! the load balancer's operator actions. Plain data, like the rest of [`super`]: the
//! loader builds a [`ServiceStep`], the world hands it to the service's switch, the event
//! log records it (`EventKind::Service`), and the report phrases it.
//!
//! Each fault has the step that undoes it (`dns = { answer = "normal" }`, `lb = { ready =
//! "node-2" }`), so a `for` can close it and the checkers can tell when it was in force.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// How the DNS server answers queries for the appliance's own names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "answer", rename_all = "kebab-case")]
pub enum DnsAnswer {
    /// As configured: the zone's A records (the fault undone).
    Normal,
    /// SERVFAIL (RCODE 2) to every query: the server is up but cannot answer (a broken
    /// backend, an expired zone).
    Servfail,
    /// NXDOMAIN to the appliance's names: the records were deleted.
    Nxdomain,
    /// No answer at all: queries vanish, clients wait out their timeout.
    Silence,
    /// The appliance's names point at `address` instead of the load balancer (a stale or
    /// mistyped record).
    WrongAddress { address: Ipv4Addr },
}

impl DnsAnswer {
    /// The answer as a scenario names it: `servfail`, `wrong-address`.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Servfail => "servfail",
            Self::Nxdomain => "nxdomain",
            Self::Silence => "silence",
            Self::WrongAddress { .. } => "wrong-address",
        }
    }
}

/// The kinds of [`DnsAnswer`] as a scenario names them (`answer = "servfail"`), in
/// declaration order: the loader's error lists them so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DnsAnswerKind {
    Normal,
    Servfail,
    Nxdomain,
    Silence,
    WrongAddress,
}

/// One step on a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "service", rename_all = "snake_case")]
pub enum ServiceStep {
    /// The DNS server answers so from now on.
    Dns(DnsAnswer),
    /// The load balancer's operator drains `node`: no new requests or connections go to
    /// it; those in flight finish (HAProxy's `set server ... state drain`, then `maint`
    /// once empty is the operator's business). Its health checks go on.
    Drain { node: String },
    /// The operator puts a drained `node` back in rotation (`state ready`).
    Ready { node: String },
}

impl ServiceStep {
    /// The key of the fault this step puts in force (`dns`, `drain node-2`); `None` for a
    /// step that undoes one.
    pub fn opens(&self) -> Option<String> {
        match self {
            Self::Dns(DnsAnswer::Normal) | Self::Ready { .. } => None,
            Self::Dns(_) => Some("dns".to_string()),
            Self::Drain { node } => Some(format!("drain {node}")),
        }
    }

    /// The key of the fault this step undoes; `None` for a step that injects one.
    pub fn undoes(&self) -> Option<String> {
        match self {
            Self::Dns(DnsAnswer::Normal) => Some("dns".to_string()),
            Self::Ready { node } => Some(format!("drain {node}")),
            Self::Dns(_) | Self::Drain { .. } => None,
        }
    }

    /// The step in a few words: `dns servfail`, `drain node-2`.
    pub fn name(&self) -> String {
        match self {
            Self::Dns(answer) => format!("dns {}", answer.word()),
            Self::Drain { node } => format!("drain {node}"),
            Self::Ready { node } => format!("ready {node}"),
        }
    }

    /// The step that undoes this one, for a `for`.
    pub fn closing(&self) -> Option<Self> {
        match self {
            Self::Dns(DnsAnswer::Normal) | Self::Ready { .. } => None,
            Self::Dns(_) => Some(Self::Dns(DnsAnswer::Normal)),
            Self::Drain { node } => Some(Self::Ready { node: node.clone() }),
        }
    }
}
