//! Link faults (issue 18 item 3): latency, jitter, loss and a bandwidth limit set on the
//! links between hosts during a run, and their removal, in Toxiproxy's vocabulary (its
//! `latency` toxic's latency and jitter, its `bandwidth` toxic's rate) with netem's loss.
//!
//! The world hands them to turmoil (vendored patch 0005, vendor/README.md), which applies
//! them to every message on the link, both ways. What a lost segment does: a UDP
//! datagram is gone; a TCP segment is never silently missing, it is retransmitted after a
//! retransmission timeout from [`TCP_RTO_MIN`] that doubles with each further loss in a
//! row (a SYN's from 1 s), so its bytes arrive in order, late, and the ones behind it
//! wait for it (head-of-line blocking).

use std::time::Duration;

use serde::Serialize;

/// The first retransmission timeout of a lost TCP segment: Linux's `TCP_RTO_MIN`. A real
/// RTO is at least this, and more on a link whose round trips are long or vary; the
/// simulation keeps the minimum (its ACK-less TCP measures no round trip).
pub const TCP_RTO_MIN: Duration = Duration::from_millis(200);

/// Most latency or jitter a `link` step may add: a minute (a satellite hop is 0.3 s; a
/// minute is beyond any network a user would mean).
pub const LINK_DELAY_MAX: Duration = Duration::from_secs(60);

/// Highest bandwidth limit a `link` step may set, in kilobytes (1000 bytes) a second:
/// 10 GB/s, beyond any LAN the appliance runs on.
pub const BANDWIDTH_KB_PER_S_MAX: u64 = 10_000_000;

/// A change to the links between two groups of hosts (or among one group), as the world
/// applied it: set to `impairment`, or restored to the topology's latency when it is
/// `None`. A later change to the same link replaces the earlier one.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct LinkFault {
    /// Host names: one end of every link changed.
    pub between: Vec<String>,
    /// Host names: the other end; empty for the links among `between`'s hosts.
    pub and: Vec<String>,
    /// What the links get; `None` restores them.
    pub impairment: Option<LinkImpairment>,
}

/// What a link gets, both ways.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, schemars::JsonSchema)]
pub struct LinkImpairment {
    /// Latency added to the link's own (the topology's LAN or internet latency), each way,
    /// in milliseconds.
    pub latency_ms: u64,
    /// Each message's latency moves by a draw uniform in `[-jitter_ms, +jitter_ms]`,
    /// never below zero, in milliseconds.
    pub jitter_ms: u64,
    /// The probability that each TCP segment or UDP datagram is lost, 0 to 1.
    pub loss: f64,
    /// Each direction's limit in kilobytes (1000 bytes) a second; `None`: no limit.
    pub bandwidth_kb_per_s: Option<u64>,
}

impl LinkFault {
    /// The same links, restored (the step a `for` adds).
    pub fn cleared(&self) -> Self {
        Self {
            impairment: None,
            ..self.clone()
        }
    }

    /// Every pair of distinct hosts whose link the change acts on, each pair once, in
    /// the order the groups list them.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let others = if self.and.is_empty() {
            &self.between
        } else {
            &self.and
        };
        for a in &self.between {
            for b in others {
                let seen = pairs
                    .iter()
                    .any(|(x, y)| (x == a && y == b) || (x == b && y == a));
                if a != b && !seen {
                    pairs.push((a.clone(), b.clone()));
                }
            }
        }
        pairs
    }

    /// The links' ends as the timeline names them: `node-1 and node-2, node-3`, or
    /// `among node-1, node-2, node-3`.
    pub fn ends(&self) -> String {
        if self.and.is_empty() {
            format!("among {}", self.between.join(", "))
        } else {
            format!(
                "between {} and {}",
                self.between.join(", "),
                self.and.join(", ")
            )
        }
    }
}
