//! The egress's configuration: the nodes it forwards for, and every host's name for its
//! books.

use crate::services::egress::EgressConfig;
use crate::topology::{Role, Topology};

/// The egress: its settings, the nodes whose outbound traffic it carries, and each
/// address's host name.
pub fn egress_config(topology: &Topology) -> EgressConfig {
    EgressConfig {
        settings: topology.egress.clone(),
        nodes: topology.with_role(Role::Node).map(|h| h.address).collect(),
        names: topology
            .hosts
            .iter()
            .map(|h| (h.address, h.name.clone()))
            .collect(),
        rules: crate::services::egress::Rules::default(),
    }
}
