//! How the timeline tells the faults a scenario injected: crash modes, partitions, heals
//! and firewall rules, phrased from the structured events the world recorded.

use crate::events::{NetworkChange, PrimaryLoss};
use crate::faults::{Block, CrashMode, Disposition, Partition, PartitionShape, Protocol};

/// How the timeline explains a crash mode.
pub fn crash_mode(mode: CrashMode) -> &'static str {
    match mode {
        CrashMode::PowerOff => "power off: silence until restart",
        CrashMode::Process => "process killed: connections refused until restart",
    }
}

/// The timeline's line for a change to the network.
pub fn network_line(change: &NetworkChange) -> String {
    match change {
        NetworkChange::Partitioned(partition) => partition_line(partition),
        NetworkChange::Healed => "partitions healed".to_string(),
        NetworkChange::Blocked(block) => block_line(block),
        NetworkChange::Unblocked { id, removed } => {
            format!("firewall rules {id:?} removed ({removed} rules)")
        }
    }
}

/// What cut traffic meets, in a partition's line.
fn mode(disposition: Disposition) -> &'static str {
    match disposition {
        Disposition::Drop => "drop: silence",
        Disposition::Reject => "reject: refused at once",
    }
}

fn partition_line(partition: &Partition) -> String {
    let mode = mode(partition.disposition);
    match &partition.shape {
        PartitionShape::Isolate { node, rest } => {
            format!("partition ({mode}): {node} | {}", rest.join(", "))
        }
        PartitionShape::Split { groups } => {
            let groups: Vec<String> = groups.iter().map(|g| g.join(", ")).collect();
            format!("partition ({mode}): {}", groups.join(" | "))
        }
        PartitionShape::OneWay { from, to } => format!(
            "one-way partition ({mode}): {} -> {}",
            from.join(", "),
            to.join(", ")
        ),
        PartitionShape::Bridge { node, left, right } => format!(
            "bridge partition ({mode}): {} | {}, only {node} joins them",
            left.join(", "),
            right.join(", ")
        ),
    }
}

fn block_line(block: &Block) -> String {
    let ports = if block.ports.is_empty() {
        "all ports".to_string()
    } else {
        let ports: Vec<String> = block.ports.iter().map(u16::to_string).collect();
        format!("port {}", ports.join(", "))
    };
    let protocol = match block.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Any => "tcp and udp",
    };
    let arrow = if block.both_ways { "<->" } else { "->" };
    let verb = match block.disposition {
        Disposition::Drop => "DROP",
        Disposition::Reject => "REJECT",
    };
    format!(
        "firewall {:?}: {verb} {protocol} {ports}, {} {arrow} {}",
        block.id,
        block.from.join(", "),
        block.to.join(", ")
    )
}

/// Why a step's primary counts as lost, for the timeline.
pub fn primary_loss(why: PrimaryLoss) -> String {
    match why {
        PrimaryLoss::Down => "it is down".to_string(),
        PrimaryLoss::Cut { reaches, members } => {
            format!("it reaches {reaches} of {members} members on 27017")
        }
    }
}

/// The timeline's line for a fault injected into a service, or its undoing: what the
/// service does from now on and who feels it when.
pub fn service_line(step: &crate::faults::service::ServiceStep) -> String {
    use crate::faults::service::{DnsAnswer, ServiceStep};
    match step {
        ServiceStep::Dns(answer) => {
            let what = match answer {
                DnsAnswer::Normal => "answers from its zone again".to_string(),
                DnsAnswer::Servfail => "answers SERVFAIL to every query".to_string(),
                DnsAnswer::Nxdomain => "answers NXDOMAIN for the appliance's names".to_string(),
                DnsAnswer::Silence => "answers nothing (queries time out)".to_string(),
                DnsAnswer::WrongAddress { address } => {
                    format!("answers {address} for the appliance's names")
                }
            };
            let felt = if *answer == DnsAnswer::Normal {
                "clients get it at their next lookup"
            } else {
                "clients feel it once their cached answer's TTL runs out"
            };
            format!("dns {what}; {felt}")
        }
        ServiceStep::Drain { node } => format!(
            "operator drains {node} on the lb: no new requests to it, those in flight finish"
        ),
        ServiceStep::Ready { node } => format!("operator puts {node} back in the lb's rotation"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_string()).collect()
    }

    /// Proves each partition shape and a block read as the timeline has always told them.
    #[test]
    fn lines() {
        let partition = |shape| {
            network_line(&NetworkChange::Partitioned(Partition {
                shape,
                disposition: Disposition::Drop,
            }))
        };
        assert_eq!(
            partition(PartitionShape::Isolate {
                node: "node-1".into(),
                rest: names(&["node-2", "node-3"]),
            }),
            "partition (drop: silence): node-1 | node-2, node-3"
        );
        assert_eq!(
            partition(PartitionShape::Split {
                groups: vec![
                    names(&["lb"]),
                    names(&["node-1", "node-2"]),
                    names(&["dns"])
                ],
            }),
            "partition (drop: silence): lb | node-1, node-2 | dns"
        );
        assert_eq!(
            partition(PartitionShape::OneWay {
                from: names(&["node-1"]),
                to: names(&["node-2"]),
            }),
            "one-way partition (drop: silence): node-1 -> node-2"
        );
        assert_eq!(
            partition(PartitionShape::Bridge {
                node: "node-2".into(),
                left: names(&["node-1"]),
                right: names(&["node-3"]),
            }),
            "bridge partition (drop: silence): node-1 | node-3, only node-2 joins them"
        );
        let block = Block {
            id: "db".into(),
            from: names(&["node-1"]),
            to: names(&["node-2", "node-3"]),
            both_ways: false,
            ports: vec![27017, 8701],
            protocol: Protocol::Any,
            disposition: Disposition::Reject,
        };
        assert_eq!(
            network_line(&NetworkChange::Blocked(block)),
            "firewall \"db\": REJECT tcp and udp port 27017, 8701, node-1 -> node-2, node-3"
        );
    }
}
