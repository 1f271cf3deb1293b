//! The fault vocabulary, as plain data: what a scenario can do to the deployment.
//!
//! The scenario loader produces these values (`scenario::spec`), the world applies them
//! (`world::sim`), the event log records them (`events`) and the report phrases them
//! (`report::faults`); none of those imports another for them. This module imports
//! nothing of the crate (nor links to it, so that no tool counts a link as an import).
//!
//! The serde names are the scenario format's (`"power-off"`, `"drop"`, `"tcp"`): the
//! loader deserializes them, and its error messages list the variants in declaration
//! order, so that order is part of the format.

use serde::{Deserialize, Serialize};

pub mod access;
pub mod link;
pub mod service;
pub use link::{LinkFault, LinkImpairment};

/// How a host crashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CrashMode {
    /// The machine loses power: nothing answers, not even a refusal, until it restarts.
    /// Connections to it hang until the caller's timeout; packets sent meanwhile are lost.
    PowerOff,
    /// The appliance's processes die but the machine stays up: its kernel refuses new
    /// connections at once and closes the open ones.
    Process,
}

/// What a firewall rule or a partition does to the traffic it matches. Ordered from the
/// mildest: where two apply, the later one (`Drop`) wins.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Disposition {
    /// Refuse at once: a TCP connect fails with "connection refused", a UDP send errors
    /// (the ICMP port-unreachable a real host would send back).
    Reject,
    /// Silence: a TCP connect never completes and a datagram vanishes, until the caller's
    /// own timeout.
    Drop,
}

/// Which traffic a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Any,
}

/// The rule id partitions use; `heal` removes them all (a block may not take it).
pub const PARTITION: &str = "partition";

/// One cut of a partition: traffic from `from` to `to` (and back, unless `one_way`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub one_way: bool,
    pub disposition: Disposition,
}

/// A partition as a step declares it: its shape, with the host names it was given or
/// resolved to, and what the cut traffic meets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Partition {
    pub shape: PartitionShape,
    pub disposition: Disposition,
}

/// The four partition verbs of the scenario format, with their host groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub enum PartitionShape {
    /// `isolate`: one node cut off from the other nodes (`rest`, in topology order).
    Isolate { node: String, rest: Vec<String> },
    /// `split`: every group cut off from every other.
    Split { groups: Vec<Vec<String>> },
    /// `one_way`: traffic from `from` to `to` cut, the way back open.
    OneWay { from: Vec<String>, to: Vec<String> },
    /// `bridge`: the other nodes in two halves, `left` and `right`, cut off from each
    /// other; only `node` still reaches both.
    Bridge {
        node: String,
        left: Vec<String>,
        right: Vec<String>,
    },
}

impl Partition {
    /// The cuts that make this partition, in the order they are applied.
    pub fn cuts(&self) -> Vec<Cut> {
        let cut = |from: &[String], to: &[String], one_way| Cut {
            from: from.to_vec(),
            to: to.to_vec(),
            one_way,
            disposition: self.disposition,
        };
        match &self.shape {
            PartitionShape::Isolate { node, rest } => {
                vec![cut(std::slice::from_ref(node), rest, false)]
            }
            PartitionShape::Split { groups } => groups
                .iter()
                .enumerate()
                .flat_map(|(k, a)| groups[k + 1..].iter().map(move |b| (a, b)))
                .map(|(a, b)| cut(a, b, false))
                .collect(),
            PartitionShape::OneWay { from, to } => vec![cut(from, to, true)],
            PartitionShape::Bridge { left, right, .. } => vec![cut(left, right, false)],
        }
    }
}

/// Firewall rules a `block` step adds under `id`: traffic from `from` to `to` (and back,
/// when `both_ways`) on `ports` (all when empty). They apply to new connections and
/// datagrams only, as behind a stateful firewall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Block {
    /// Names the rules so an `unblock` can remove them.
    pub id: String,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub both_ways: bool,
    pub ports: Vec<u16>,
    pub protocol: Protocol,
    pub disposition: Disposition,
}

impl Block {
    /// The (from, to) host groups blocked, one per direction.
    pub fn directions(&self) -> Vec<(&[String], &[String])> {
        let mut directions = vec![(self.from.as_slice(), self.to.as_slice())];
        if self.both_ways {
            directions.push((self.to.as_slice(), self.from.as_slice()));
        }
        directions
    }
}

/// What a clock step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockStep {
    /// Set the offset from true time, in nanoseconds.
    Offset(i64),
    /// Move the offset by this many nanoseconds.
    Jump(i64),
    /// Set the frequency error, in parts per billion.
    Drift(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_string()).collect()
    }

    /// Proves a split cuts every pair of groups once, in group order, both ways, and a
    /// one-way partition cuts its one direction.
    #[test]
    fn partitions_as_cuts() {
        let split = Partition {
            shape: PartitionShape::Split {
                groups: vec![names(&["a"]), names(&["b"]), names(&["c", "d"])],
            },
            disposition: Disposition::Drop,
        };
        let pairs: Vec<_> = split
            .cuts()
            .into_iter()
            .map(|c| (c.from.join(","), c.to.join(","), c.one_way))
            .collect();
        let want = [("a", "b"), ("a", "c,d"), ("b", "c,d")]
            .map(|(f, t)| (f.to_string(), t.to_string(), false));
        assert_eq!(pairs, want);
        let one_way = Partition {
            shape: PartitionShape::OneWay {
                from: names(&["a"]),
                to: names(&["b"]),
            },
            disposition: Disposition::Reject,
        };
        assert_eq!(
            one_way.cuts(),
            [Cut {
                from: names(&["a"]),
                to: names(&["b"]),
                one_way: true,
                disposition: Disposition::Reject,
            }]
        );
    }
}

/// Slowest a `slow` step may make a node: a thousand times its service times (a host
/// swapping hard); 1 restores it.
pub const SLOW_FACTOR_MAX: f64 = 1000.0;

/// A fault that acts on one host's software rather than on the network: it is stopped
/// and let go again, or made slower. Recorded in the event log as it was applied.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum HostFault {
    /// The host's software is stopped, as by `SIGSTOP` or a stalled VM: nothing it runs
    /// makes progress and its timers do not fire, while its kernel still receives and
    /// completes TCP handshakes; its clock keeps running.
    Pause { node: String },
    /// The paused host runs again: timers that fell due fire at once, and it serves what
    /// queued meanwhile, believing what it believed when it stopped.
    Resume { node: String },
    /// The node's modelled service times are multiplied by `factor` from now on (1 to
    /// [`SLOW_FACTOR_MAX`]; 1 restores it): a CPU-starved or swapping VM.
    Slow { node: String, factor: f64 },
}

impl HostFault {
    /// The host it acts on, as written (a node's name, or a role until resolved).
    pub fn node(&self) -> &str {
        match self {
            Self::Pause { node } | Self::Resume { node } | Self::Slow { node, .. } => node,
        }
    }

    /// The same fault on another host (a role resolved to a node).
    pub fn on(&self, node: &str) -> Self {
        let node = node.to_string();
        match self {
            Self::Pause { .. } => Self::Pause { node },
            Self::Resume { .. } => Self::Resume { node },
            Self::Slow { factor, .. } => Self::Slow {
                node,
                factor: *factor,
            },
        }
    }

    /// The step key a scenario writes it with.
    pub fn verb(&self) -> &'static str {
        match self {
            Self::Pause { .. } => "pause",
            Self::Resume { .. } => "resume",
            Self::Slow { .. } => "slow",
        }
    }
}
