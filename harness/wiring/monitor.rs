//! The monitoring host's configuration: every production node, its `/testall` dialled
//! as the balancer's checks dial it, its status endpoints, `[topology.monitoring]`'s
//! timing and key.

use std::net::SocketAddr;

use super::HostTls;
use crate::services::monitor::{MonitorConfig, Watched};
use crate::services::{node, status};
use crate::topology::{Role, Topology};

/// The monitor: each node's 443 (with the PROXY header and TLS the balancer's checks
/// send in `tcp` mode; `tls.checks` verifies nothing) and its status port.
pub fn monitor_config(topology: &Topology, tls: &HostTls) -> MonitorConfig {
    let m = &topology.monitoring;
    MonitorConfig {
        nodes: topology
            .with_role(Role::Node)
            .map(|n| Watched {
                name: n.name.clone(),
                app: SocketAddr::new(n.address, node::PORT),
                status: SocketAddr::new(n.address, status::PORT),
            })
            .collect(),
        testall_path: topology.lb.check_path.clone(),
        // The seed only draws the balancer's check spread, which the dial does not use.
        testall_dial: super::lb_config(topology, tls, 0).check_dial,
        api_key: m.api_key.clone(),
        interval: m.interval,
        timeout: m.timeout,
        raise_after: m.raise_after,
        clear_after: m.clear_after,
    }
}
