//! What is deployed: hosts, addresses, ports and the settings of each component.
//!
//! [`TopologySpec`] is what a scenario may override (every field defaults to the reference
//! deployment `ha-3`, DESIGN.md section 1); [`Topology`] is the resolved deployment with a
//! name and an address for every host, which the world builds the simulation from.

mod deployment;
mod settings;

pub use deployment::{Host, INTERNET_SITES, MAX_NODES, Role, Topology, TopologyError};
pub use settings::{
    DnsSettings, EgressMode, EgressSettings, LbSettings, LoadSettings, NetworkSettings,
    NodeSettings, NtpSettings, ReplicaSetSettings, SmtpSettings, TopologySpec,
};
