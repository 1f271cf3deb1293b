//! The resolved deployment: every host with its name, fixed address and role.
//!
//! Addresses follow DESIGN.md section 1. Hosts the later issues add (egress, smtp, ntp, the
//! internet hosts, dev-1) become new [`Role`]s and new entries in [`Topology::hosts`]; the
//! world builds whatever the list holds.

use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use super::settings::{DnsSettings, LbSettings, NetworkSettings, NodeSettings, TopologySpec};

/// At most this many nodes: a MongoDB-like replica set has at most 7 voting members, and
/// 10.0.1.11-17 stay clear of the addresses other hosts use.
pub const MAX_NODES: usize = 7;

/// What a host does; decides which service the world runs on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    LoadBalancer,
    Node,
    Dns,
    Users,
}

/// One host of the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    pub name: String,
    pub address: IpAddr,
    pub role: Role,
}

/// A deployment ready to be simulated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Topology {
    /// `"ha-3"` for the reference deployment, `"ha-N"` with N nodes.
    pub name: String,
    pub domain: String,
    /// Every host, in the order the world registers them.
    pub hosts: Vec<Host>,
    pub lb: LbSettings,
    pub node: NodeSettings,
    pub dns: DnsSettings,
    pub network: NetworkSettings,
}

/// A setting that makes no sense, with the key it came from (relative to `[topology]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyError {
    /// Dotted key path inside `[topology]`, such as `"lb.fall"`.
    pub key: String,
    pub message: String,
}

const LB: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 10);
const DNS: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const USERS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);

impl Topology {
    /// The reference deployment `ha-3` with no overrides.
    pub fn ha3() -> Self {
        Self::from_spec(&TopologySpec::default()).expect("the defaults are a valid deployment")
    }

    /// Resolves a spec into hosts and addresses, rejecting settings that cannot work.
    pub fn from_spec(spec: &TopologySpec) -> Result<Self, TopologyError> {
        check(spec)?;
        let mut hosts = vec![
            host("dns", DNS, Role::Dns),
            host("lb", LB, Role::LoadBalancer),
        ];
        for i in 1..=spec.nodes {
            let last = 10 + u8::try_from(i).expect("node count checked against MAX_NODES");
            hosts.push(host(
                &format!("node-{i}"),
                Ipv4Addr::new(10, 0, 1, last),
                Role::Node,
            ));
        }
        hosts.push(host("users", USERS, Role::Users));
        Ok(Self {
            name: format!("ha-{}", spec.nodes),
            domain: spec.domain.clone(),
            hosts,
            lb: spec.lb.clone(),
            node: spec.node.clone(),
            dns: spec.dns.clone(),
            network: spec.network.clone(),
        })
    }

    /// The hosts with one role, in order.
    pub fn with_role(&self, role: Role) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(move |h| h.role == role)
    }

    /// The one host with a role that has exactly one host.
    pub fn the(&self, role: Role) -> &Host {
        self.with_role(role)
            .next()
            .expect("every topology has one host of each singular role")
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The names of the nodes, in order.
    pub fn node_names(&self) -> Vec<String> {
        self.with_role(Role::Node).map(|h| h.name.clone()).collect()
    }

    /// The four names of DESIGN.md section 1, all served by the load balancer.
    pub fn zone_names(&self) -> [String; 4] {
        ["manage", "config", "webtask", "login"].map(|n| format!("{n}.{}", self.domain))
    }
}

fn host(name: &str, address: Ipv4Addr, role: Role) -> Host {
    Host {
        name: name.to_string(),
        address: IpAddr::V4(address),
        role,
    }
}

fn check(spec: &TopologySpec) -> Result<(), TopologyError> {
    let err = |key: &str, message: String| {
        Err(TopologyError {
            key: key.to_string(),
            message,
        })
    };
    if spec.nodes == 0 || spec.nodes > MAX_NODES {
        return err(
            "nodes",
            format!("expected 1 to {MAX_NODES} nodes, found {}", spec.nodes),
        );
    }
    if hickory_proto::rr::Name::from_ascii(&spec.domain).is_err() || !spec.domain.contains('.') {
        return err(
            "domain",
            format!(
                "expected a DNS domain such as \"example.com\", found {:?}",
                spec.domain
            ),
        );
    }
    let lb = &spec.lb;
    if lb.interval.is_zero() {
        return err("lb.interval", "expected a positive interval".to_string());
    }
    if lb.timeout.is_zero() || lb.timeout > lb.interval {
        return err(
            "lb.timeout",
            "expected a positive timeout no longer than lb.interval".to_string(),
        );
    }
    if lb.rise == 0 {
        return err("lb.rise", "expected at least 1 passed check".to_string());
    }
    if lb.fall == 0 {
        return err("lb.fall", "expected at least 1 failed check".to_string());
    }
    if !lb.check_path.starts_with('/') {
        return err(
            "lb.check_path",
            format!(
                "expected a path starting with '/', found {:?}",
                lb.check_path
            ),
        );
    }
    if lb.connect_timeout.is_zero() || lb.response_timeout.is_zero() {
        let key = if lb.connect_timeout.is_zero() {
            "lb.connect_timeout"
        } else {
            "lb.response_timeout"
        };
        return err(key, "expected a positive timeout".to_string());
    }
    if spec.node.workers == 0 {
        return err("node.workers", "expected at least 1 worker".to_string());
    }
    if spec.node.accounts == 0 {
        return err("node.accounts", "expected at least 1 account".to_string());
    }
    if spec.dns.ttl.as_secs() > u64::from(u32::MAX) {
        return err(
            "dns.ttl",
            "expected a TTL that fits DNS's 32-bit seconds".to_string(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves ha-3 has the fixed addresses of DESIGN.md section 1.
    #[test]
    fn ha3_addresses() {
        let t = Topology::ha3();
        let names: Vec<_> = t
            .hosts
            .iter()
            .map(|h| format!("{}={}", h.name, h.address))
            .collect();
        assert_eq!(
            names,
            [
                "dns=10.0.1.2",
                "lb=10.0.1.10",
                "node-1=10.0.1.11",
                "node-2=10.0.1.12",
                "node-3=10.0.1.13",
                "users=198.51.100.10"
            ]
        );
        assert_eq!(t.zone_names()[3], "login.example.com");
    }

    /// Proves impossible settings are refused with the key that holds them.
    #[test]
    fn rejects_bad_settings() {
        let mut spec = TopologySpec {
            nodes: 8,
            ..Default::default()
        };
        assert_eq!(Topology::from_spec(&spec).unwrap_err().key, "nodes");
        spec.nodes = 3;
        spec.lb.timeout = spec.lb.interval * 2;
        assert_eq!(Topology::from_spec(&spec).unwrap_err().key, "lb.timeout");
    }
}
