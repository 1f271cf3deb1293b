//! What is deployed: hosts, addresses, ports and the settings of each component.
//!
//! [`TopologySpec`] is what a scenario may override (every field defaults to the reference
//! deployment `ha-3`, docs/ARCHITECTURE.md section 1); [`Topology`] is the resolved
//! deployment with a name and an address for every host, which `wiring` turns into each service's
//! configuration and the world into the simulation's hosts.
//! [`certs`] reads the certificate files `[topology.tls]` names.

mod access;
pub mod certs;
mod deployment;
mod networks;
mod settings;
mod zones;

pub use deployment::{
    DEV_LAN, Host, INTERNET_SITES, MAX_NODES, PROD_LAN, Role, Topology, TopologyError,
};
pub use settings::JUMPHOST;
pub use settings::{
    ACCESS_WINDOW_END_MAX, ACCESS_WINDOWS_MAX, AccessSettings, AccessWindow, ClusterPortsSettings,
    ConsentSettings, DevNetwork, DevSettings, DnsSettings, EgressMode, EgressSettings,
    FirewallRule, LbMode, LbSettings, LoadSettings, MonitoringSettings, NetworkSettings,
    NodeSettings, NtpSettings, ProxyProtocol, Purpose, ReplicaSetSettings, SmtpSettings,
    TlsSettings, TopologySpec, UpdateCheckSettings,
};
pub use zones::Zones;
