//! Remote maintenance access: `[topology.access]` turned into the nodes' SSH service
//! configuration and the SSH clients' (the jumphost's, and a host a direct attempt comes
//! from).

use std::collections::BTreeMap;

use crate::services::ssh::{ClientConfig, SshRequests, SshdConfig};
use crate::topology::{Host, Role, Topology};

/// A node's SSH service and firewall rule for port 22, when the topology deploys remote
/// access (`access.jumphost`); `None` otherwise, and on anything but a production node.
pub fn sshd_config(topology: &Topology, host: &Host) -> Option<SshdConfig> {
    let access = &topology.access;
    if !access.jumphost || host.role != Role::Node {
        return None;
    }
    let admitted = access
        .ssh_from
        .iter()
        .filter_map(|name| topology.host(name).map(|h| h.address))
        .collect();
    let names = topology
        .hosts
        .iter()
        .map(|h| (h.address, h.name.clone()))
        .collect();
    Some(SshdConfig {
        windows: access.windows.clone(),
        closed_outside_windows: access.closed_outside_windows,
        admitted,
        names,
    })
}

/// An SSH client taking its sessions from `requests`, reaching the topology's nodes.
pub fn ssh_client_config(topology: &Topology, requests: SshRequests) -> ClientConfig {
    let nodes: BTreeMap<String, std::net::IpAddr> = topology
        .with_role(Role::Node)
        .map(|h| (h.name.clone(), h.address))
        .collect();
    ClientConfig { requests, nodes }
}
