//! How the timeline tells the faults a scenario injected: crash modes, partitions, heals
//! and firewall rules, phrased from the structured events the world recorded.

use crate::events::{NetworkChange, PrimaryLoss};
use crate::faults::link::TCP_RTO_MIN;
use crate::faults::{
    Block, CrashMode, Disposition, HostFault, LinkFault, Partition, PartitionShape, Protocol,
};

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
        PrimaryLoss::Paused => "it is paused".to_string(),
        PrimaryLoss::Cut { reaches, members } => {
            format!("it reaches {reaches} of {members} members on 27017")
        }
    }
}

/// The timeline's line for a crash; for the load balancer (the host named `lb` in every
/// topology) it says plainly what follows: the balancer is the only way in.
pub fn crash_line(node: &str, mode: CrashMode) -> String {
    let line = format!("{node} crashed ({})", crash_mode(mode));
    if node == "lb" {
        format!(
            "{line}; the lb is the users' only way in: no user request reaches a node until it restarts"
        )
    } else {
        line
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
        ServiceStep::Smtp(answer) => smtp_line(*answer),
        ServiceStep::Drain { node } => format!(
            "operator drains {node} on the lb: no new requests to it, those in flight finish"
        ),
        ServiceStep::Ready { node } => format!("operator puts {node} back in the lb's rotation"),
        ServiceStep::Egress(change) => egress_line(change),
        ServiceStep::Checks(change) => format!(
            "operator changes the lb's health checks: {}, from each backend's next check",
            change.words()
        ),
    }
}

/// The timeline's line for a change of the egress proxy's rules.
fn egress_line(change: &crate::faults::service::EgressChange) -> String {
    let allow = change.allow.as_ref().map(|a| {
        if a.is_empty() {
            "the egress's allow-list emptied: every request out gets 403".to_string()
        } else {
            format!(
                "the egress's allow-list is now [{}]; other names get 403",
                a.join(", ")
            )
        }
    });
    let exception = change.exception.map(|granted| {
        if granted {
            "the nodes' exception at the egress granted again".to_string()
        } else {
            "the nodes' exception at the egress withdrawn: every request out gets 407".to_string()
        }
    });
    let parts: Vec<String> = [allow, exception].into_iter().flatten().collect();
    parts.join("; ")
}

/// The timeline's line for an SMTP fault: what the relay answers the nodes' mail queue.
fn smtp_line(answer: crate::faults::service::SmtpAnswer) -> String {
    use crate::faults::service::SmtpAnswer;
    match answer {
        SmtpAnswer::Normal => "smtp relay answers as configured again".to_string(),
        SmtpAnswer::AuthRejected => {
            "smtp relay rejects the nodes' credentials (535 to every AUTH); mail waits queued and is retried".to_string()
        }
        SmtpAnswer::Temporary => {
            "smtp relay answers 451 (try again later) to every MAIL FROM; mail waits queued and is retried".to_string()
        }
        SmtpAnswer::Slow { .. } => format!(
            "smtp relay sends every reply {} late",
            crate::duration::span(answer.delay())
        ),
    }
}

/// The timeline's line for a pause, resume or slowing of a host.
pub fn host_line(fault: &HostFault) -> String {
    match fault {
        HostFault::Pause { node } => {
            format!("{node} paused (SIGSTOP: runs nothing, its kernel still accepts connections)")
        }
        HostFault::Resume { node } => {
            format!("{node} resumed: due timers fire and its backlog is served at once")
        }
        HostFault::Slow { node, factor } if *factor == 1.0 => {
            format!("{node} back to normal speed")
        }
        HostFault::Slow { node, factor } => {
            format!("{node} slowed: service times x{factor}")
        }
    }
}

/// The timeline's line for a link change: what the links got, and what a loss does.
pub fn link_line(fault: &LinkFault) -> String {
    let Some(i) = fault.impairment else {
        return format!("links {} restored", fault.ends());
    };
    let mut parts = Vec::new();
    if i.latency_ms > 0 {
        parts.push(format!("+{}ms latency", i.latency_ms));
    }
    if i.jitter_ms > 0 {
        parts.push(format!("±{}ms jitter", i.jitter_ms));
    }
    if i.loss > 0.0 {
        parts.push(format!(
            "{}% loss (TCP retransmits after {}ms, doubling; UDP lost)",
            // To 4 decimals of a percent: 0.05 prints 5, not 5.000000000000001.
            (i.loss * 1_000_000.0).round() / 10_000.0,
            TCP_RTO_MIN.as_millis()
        ));
    }
    if let Some(kb) = i.bandwidth_kb_per_s {
        parts.push(format!("{kb} KB/s each way"));
    }
    if parts.is_empty() {
        parts.push("nothing added".to_string());
    }
    format!("links {} impaired: {}", fault.ends(), parts.join(", "))
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

    /// Proves a link change reads as what the links got (a loss of 0.05 as 5%, not
    /// 5.000000000000001%) and a clear as restored.
    #[test]
    fn link_changes_read_plainly() {
        let mut fault = LinkFault {
            between: vec!["node-1".into(), "node-2".into()],
            and: vec![],
            impairment: Some(crate::faults::LinkImpairment {
                latency_ms: 100,
                jitter_ms: 0,
                loss: 0.05,
                bandwidth_kb_per_s: Some(100),
            }),
        };
        assert_eq!(
            link_line(&fault),
            "links among node-1, node-2 impaired: +100ms latency, 5% loss (TCP retransmits after 200ms, doubling; UDP lost), 100 KB/s each way"
        );
        fault.and = vec!["lb".into()];
        assert_eq!(
            link_line(&fault.cleared()),
            "links between node-1, node-2 and lb restored"
        );
    }
}
