//! What the network requirements (docs/ARCHITECTURE.md section 1) ask: one NIC, one
//! segment, the inter-node ports open, dev/test apart from production.

use std::net::IpAddr;

use super::Finding;
use crate::faults::Protocol;
use crate::topology::{DevNetwork, FirewallRule, Role, Topology, TopologySpec};

/// The ports every node must reach every other node on (the network requirements).
pub const NODE_PORTS: [u16; 4] = [7777, 27017, 8721, 8701];
/// The port every node must reach the balancer on (the network requirements).
pub const LB_PORT: u16 = 443;

const ONE_NIC: &str = "network requirements: the appliance can only be deployed in 1 NIC";
const SAME_SEGMENT: &str = "network requirements: all virtual machines must be on the same segment of the internal network";
const DEV_SUBNET: &str =
    "network requirements: no other appliance cluster (dev/test) should be running on this subnet";
const ISOLATED: &str = "network requirements: production and non-production (test/development) must be on completely isolated networks";
const NODE_TO_NODE: &str = "network requirements: nodes must communicate with each other via ports 7777, 27017, 8721 and 8701";
const NODE_TO_LB: &str =
    "network requirements: nodes must be able to reach the load balancer via port 443";

/// Hosts listed with more than one address: a finding each, and the spec keeps the first
/// address so the rest of the file can be judged (a run refuses the second address).
pub fn nics(spec: &mut TopologySpec) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (host, list) in spec.addresses.iter_mut() {
        if list.len() > 1 {
            let all: Vec<String> = list.iter().map(ToString::to_string).collect();
            findings.push(Finding::new(
                format!("topology.addresses.{host}"),
                format!(
                    "{host} has {} addresses ({}); one network interface each",
                    list.len(),
                    all.join(", ")
                ),
                ONE_NIC,
            ));
            list.truncate(1);
        }
    }
    findings
}

/// Segments, dev/test isolation and the standing firewall rules.
pub fn check(topology: &Topology, checked: &mut Vec<String>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let lb = topology.the(Role::LoadBalancer);
    let IpAddr::V4(lb_v4) = lb.address else {
        unreachable!("deployment addresses are IPv4")
    };
    let segment = ipnet::Ipv4Net::new(lb_v4, 24)
        .expect("24 is a valid prefix")
        .trunc();
    let nodes: Vec<_> = topology.with_role(Role::Node).collect();
    for node in &nodes {
        if !in_segment(node.address, segment) {
            findings.push(Finding::new(
                format!("topology.addresses.{}", node.name),
                format!(
                    "{} ({}) is not on the balancer's segment {segment}",
                    node.name, node.address
                ),
                SAME_SEGMENT,
            ));
        }
    }
    checked.push(format!(
        "{} nodes with one NIC each on {segment}",
        nodes.len()
    ));
    if topology.dev.enabled {
        let dev = topology.host("dev-1").expect("dev.enabled deploys dev-1");
        if in_segment(dev.address, segment) {
            findings.push(Finding::new(
                "topology.addresses.dev-1",
                format!(
                    "dev-1 ({}) is on production's segment {segment}",
                    dev.address
                ),
                DEV_SUBNET,
            ));
        }
        if topology.dev.network == DevNetwork::Routed {
            findings.push(Finding::new(
                "topology.dev.network",
                "the dev/test LAN is routed to production's",
                ISOLATED,
            ));
        }
        checked.push("dev-1 apart from production".to_string());
    }
    findings.extend(ports(topology));
    checked.push(format!(
        "ports 7777, 27017, 8721, 8701 between nodes and 443 to lb open under {} standing firewall rules",
        topology.firewall.len()
    ));
    findings
}

fn in_segment(address: IpAddr, segment: ipnet::Ipv4Net) -> bool {
    matches!(address, IpAddr::V4(v4) if segment.contains(&v4))
}

/// One finding per rule and direction that closes a required port, naming the ports.
fn ports(topology: &Topology) -> Vec<Finding> {
    let nodes = topology.node_names();
    let lb = topology.the(Role::LoadBalancer).name.clone();
    let mut findings = Vec::new();
    for (i, rule) in topology.firewall.iter().enumerate() {
        let key = format!("topology.firewall[{i}]");
        for from in &nodes {
            for to in &nodes {
                if from == to {
                    continue;
                }
                let closed: Vec<String> = NODE_PORTS
                    .iter()
                    .filter(|p| closes(rule, from, to, **p))
                    .map(ToString::to_string)
                    .collect();
                if !closed.is_empty() {
                    findings.push(Finding::new(
                        key.clone(),
                        format!(
                            "{} closes {from} -> {to} on port {}",
                            action(rule),
                            closed.join(", ")
                        ),
                        NODE_TO_NODE,
                    ));
                }
            }
            if closes(rule, from, &lb, LB_PORT) {
                findings.push(Finding::new(
                    key.clone(),
                    format!("{} closes {from} -> {lb} on port {LB_PORT}", action(rule)),
                    NODE_TO_LB,
                ));
            }
        }
    }
    findings
}

fn action(rule: &FirewallRule) -> &'static str {
    match rule.action {
        crate::faults::Disposition::Drop => "a drop rule",
        crate::faults::Disposition::Reject => "a reject rule",
    }
}

/// True when `rule` stops a TCP connection from `from` to `to` on `port`.
pub fn closes(rule: &FirewallRule, from: &str, to: &str, port: u16) -> bool {
    let has = |list: &[String], name: &str| list.iter().any(|n| n == name);
    let forward = has(&rule.from, from) && has(&rule.to, to);
    let backward = rule.both_ways && has(&rule.from, to) && has(&rule.to, from);
    let tcp = matches!(rule.protocol, Protocol::Tcp | Protocol::Any);
    tcp && (forward || backward) && (rule.ports.is_empty() || rule.ports.contains(&port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Disposition;

    fn rule(from: &str, to: &str, ports: &[u16], both_ways: bool) -> FirewallRule {
        FirewallRule {
            from: vec![from.into()],
            to: vec![to.into()],
            ports: ports.to_vec(),
            protocol: Protocol::Tcp,
            action: Disposition::Drop,
            both_ways,
        }
    }

    /// Proves a rule closes its direction, the reverse only with both_ways, only its
    /// ports (all when empty), and never TCP when it is a UDP rule.
    #[test]
    fn rule_matching() {
        let r = rule("node-1", "node-2", &[27017], false);
        assert!(closes(&r, "node-1", "node-2", 27017));
        assert!(!closes(&r, "node-2", "node-1", 27017));
        assert!(!closes(&r, "node-1", "node-2", 7777));
        let r = rule("node-1", "node-2", &[], true);
        assert!(closes(&r, "node-2", "node-1", 8701));
        let r = FirewallRule {
            protocol: Protocol::Udp,
            ..rule("node-1", "node-2", &[], true)
        };
        assert!(!closes(&r, "node-1", "node-2", 27017));
    }
}
