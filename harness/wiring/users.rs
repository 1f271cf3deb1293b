//! The users' host: the load generator's configuration and the AD/LDAP connector's.

use std::net::SocketAddr;
use std::time::Duration;

use super::HostTls;
use crate::services::connector::ConnectorConfig;
use crate::services::users::UsersConfig;
use crate::services::{dns, load_balancer};
use crate::topology::{LoadSettings, Role, Topology};

/// The AD/LDAP connector: it finds the login name through the DNS host and syncs through
/// the balancer, drawing its request ids from the run's `seed`.
pub fn connector_config(topology: &Topology, seed: u64, tls: &HostTls) -> ConnectorConfig {
    ConnectorConfig {
        name: topology.zones().login,
        dns_server: SocketAddr::new(topology.the(Role::Dns).address, dns::PORT),
        port: load_balancer::PORT,
        tls: tls.client.clone(),
        seed,
    }
}

/// The load generator: the scenario's `load` sent `until` the load stops, at the login
/// name (and the dashboard's) through the DNS host and the balancer, its choices drawn
/// from the run's `seed`.
pub fn users_config(
    topology: &Topology,
    load: &LoadSettings,
    until: Duration,
    seed: u64,
    tls: &HostTls,
) -> UsersConfig {
    UsersConfig {
        rate_per_s: load.rate_per_s,
        userinfo_share: load.userinfo_share,
        signup_share: load.signup_share,
        social_share: load.social_share,
        dashboard_share: load.dashboard_share,
        dashboard_name: topology.zones().dashboard,
        timeout: load.timeout,
        until,
        name: topology.zones().login,
        dns_server: SocketAddr::new(topology.the(Role::Dns).address, dns::PORT),
        port: load_balancer::PORT,
        accounts: topology.node.accounts,
        seed,
        tls: tls.client.clone(),
    }
}
