//! The nodes' configuration: the replica set (production's, and the sets of one that
//! `dev-1` and a served node run), each node's database, mail and outside calls, and its
//! front as the balancer's mode wants it.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{HANDSHAKE_TIMEOUT, HostTls, host_seed};
use crate::services::cluster_ports::ClusterPortsConfig;
use crate::services::database::{self, DbConfig, SharedMember};
use crate::services::dev_tester::TesterConfig;
use crate::services::http::Front;
use crate::services::mail::MailConfig;
use crate::services::node::NodeConfig;
use crate::services::outbound::OutboundConfig;
use crate::services::replica_set::{Member, RsConfig};
use crate::services::{dns, smtp};
use crate::topology::{Host, LbMode, ProxyProtocol, Role, Topology};

/// The replica set's configuration for `members` with their `priorities`, its timing
/// from `[topology.replica_set]`.
fn replica_set(topology: &Topology, members: Vec<String>, priorities: Vec<u32>) -> RsConfig {
    let rs = &topology.replica_set;
    RsConfig {
        members,
        priorities,
        heartbeat: rs.heartbeat,
        election_timeout: rs.election_timeout,
        election_jitter: rs.election_jitter,
        lag_threshold: rs.lag_threshold,
    }
}

/// One member per node, as an initialised replica set at time 0.
pub fn members(topology: &Topology, seed: u64) -> BTreeMap<String, SharedMember> {
    let names = topology.node_names();
    let priorities = names
        .iter()
        .map(|n| topology.replica_set.priority.get(n).copied().unwrap_or(1))
        .collect();
    let config = replica_set(topology, names.clone(), priorities);
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                n.clone(),
                Arc::new(Mutex::new(Member::new(config.clone(), i, seed))),
            )
        })
        .collect()
}

/// The member of a replica set of its own, of one member named `name`, primary of
/// itself from the start, drawing from `seed`: a served node's ([`dev_member`] is
/// `dev-1`'s).
pub fn single_member(topology: &Topology, name: &str, seed: u64) -> SharedMember {
    let config = replica_set(topology, vec![name.to_string()], vec![1]);
    Arc::new(Mutex::new(Member::new(config, 0, seed)))
}

/// The dev/test instance's member: a replica set of its own, of one member, primary of
/// itself from the start, drawing from its host's stream of the run's `seed`.
pub fn dev_member(topology: &Topology, host: &Host, seed: u64) -> SharedMember {
    single_member(topology, &host.name, host_seed(seed, host))
}

/// Every node's replica-set address: a production node's peers.
pub fn peers(topology: &Topology) -> Vec<SocketAddr> {
    topology
        .with_role(Role::Node)
        .map(|n| SocketAddr::new(n.address, database::PORT))
        .collect()
}

/// Node `host`'s configuration: its `member` of the set whose members listen at `peers`,
/// its mail through the relay, its calls outside through the DNS host, its own stream of
/// the run's `seed`, and the front the balancer's mode wants (`tcp`: the PROXY header
/// and TLS with `tls.server`; `https`: plain HTTP, believing the balancer's
/// `X-Forwarded-For`).
pub fn node_config(
    topology: &Topology,
    member: SharedMember,
    peers: Vec<SocketAddr>,
    host: &Host,
    seed: u64,
    tls: &HostTls,
) -> NodeConfig {
    let rs = &topology.replica_set;
    let peers_count = peers.len();
    let db = DbConfig {
        member,
        peers,
        write_timeout: rs.write_timeout,
        contact_max: rs.contact_max,
    };
    let node = &topology.node;
    let outbound = OutboundConfig {
        dns: SocketAddr::new(topology.the(Role::Dns).address, dns::PORT),
        idp: topology.the(Role::IdentityProvider).name.clone(),
        cdn: topology.the(Role::Cdn).name.clone(),
        updates: topology.the(Role::UpdateMirror).name.clone(),
        social_timeout: node.social_timeout,
        update_interval: node.update_interval,
        periodic: true,
        notify_updates: topology.updates.notify,
        ntp: topology.ntp.clone(),
    };
    NodeConfig {
        control: std::sync::Arc::new(crate::services::node::NodeControl::new(
            crate::services::node::INSTALLED_VERSION,
            false,
        )),
        db,
        mail: mail_config(topology),
        name: host.name.clone(),
        settings: topology.node.clone(),
        outbound,
        // Each node's own stream: the run's seed mixed with the node's address.
        seed: host_seed(seed, host),
        front: match topology.lb.mode {
            LbMode::Https => Front::default(),
            LbMode::Tcp => Front {
                accept_proxy: topology.lb.proxy_header() != ProxyProtocol::None,
                tls: tls.server.clone(),
                handshake_timeout: HANDSHAKE_TIMEOUT,
            },
        },
        trusted_proxy: (topology.lb.mode == LbMode::Https)
            .then(|| topology.the(Role::LoadBalancer).address),
        speed: Default::default(),
        ssh: super::sshd_config(topology, host),
        cluster: cluster_ports(topology, host, peers_count),
        status: topology
            .monitoring
            .enabled
            .then(|| crate::services::status::StatusConfig {
                api_key: topology.monitoring.api_key.clone(),
            }),
    }
}

/// Node `host`'s cluster ports: `[topology.cluster_ports]` and every other node of the
/// topology as its peers, when it is a member of a set of `members` (more than one);
/// a set of one (`dev-1`, a served node) has no peers to exchange with.
fn cluster_ports(topology: &Topology, host: &Host, members: usize) -> ClusterPortsConfig {
    let settings = &topology.cluster_ports;
    let peers = topology
        .with_role(Role::Node)
        .filter(|n| members > 1 && n.name != host.name)
        .map(|n| (n.name.clone(), n.address))
        .collect();
    ClusterPortsConfig {
        peers,
        exchange: settings.exchange,
        interval: settings.interval,
        contact_max: settings.contact_max,
    }
}

/// A node's outbound mail: through the topology's relay, with `[topology.smtp]`'s
/// credentials (the node's own password when it has one) and retry timing.
fn mail_config(topology: &Topology) -> MailConfig {
    let s = &topology.smtp;
    MailConfig {
        relay: Some(SocketAddr::new(
            topology.the(Role::Smtp).address,
            smtp::PORT,
        )),
        username: s.username.clone(),
        password: s
            .node_password
            .clone()
            .unwrap_or_else(|| s.password.clone()),
        domain: topology.domain.clone(),
        retry_initial: s.retry_initial,
        retry_max: s.retry_max,
        timeout: s.timeout,
    }
}

/// `dev-1`: the node service as production's nodes run it, in a set of its own, with
/// what its LAN cannot reach turned off (NTP and the periodic checks: no egress, no time
/// server; its clock runs free from true time), its relay `dev.smtp_relay` (none: mail
/// stays queued), and the tester beside it, signing up `until` the load stops.
pub fn dev_config(
    topology: &Topology,
    member: SharedMember,
    host: &Host,
    until: Duration,
    seed: u64,
    tls: &HostTls,
) -> (NodeConfig, TesterConfig) {
    let own = vec![SocketAddr::new(host.address, database::PORT)];
    let mut node = node_config(topology, member, own, host, seed, tls);
    // Its tester dials it directly, in plain HTTP: no balancer, no PROXY header, no TLS.
    node.front = Front::default();
    node.trusted_proxy = None;
    node.outbound.ntp.enabled = false;
    node.outbound.periodic = false;
    // The monitoring host watches production's nodes only.
    node.status = None;
    node.mail.relay = topology
        .dev
        .smtp_relay
        .map(|ip| SocketAddr::new(IpAddr::V4(ip), smtp::PORT));
    let tester = TesterConfig {
        signups_per_s: topology.dev.signups_per_s,
        until,
        seed,
    };
    (node, tester)
}
