//! The DNS host's zone: the appliance's four names at the load balancer, and the
//! internet's hosts.

use std::net::{IpAddr, Ipv4Addr};

use crate::services::dns::Zone;
use crate::topology::{Role, Topology};

/// The appliance's four names (the load balancer) and the internet's hosts. `harness
/// check` queries this same zone for the four records the network requirements require.
pub fn zone(topology: &Topology) -> Zone {
    let v4 = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(_) => unreachable!("ha-N addresses are IPv4"),
    };
    let lb = v4(topology.the(Role::LoadBalancer).address);
    let mut records: Vec<(String, Ipv4Addr)> =
        topology.zone_names().into_iter().map(|n| (n, lb)).collect();
    records.extend(
        topology
            .hosts
            .iter()
            .filter(|h| h.role.is_internet_site())
            .map(|h| (h.name.clone(), v4(h.address))),
    );
    let ttl_s = u32::try_from(topology.dns.ttl.as_secs()).expect("TTL checked to fit 32 bits");
    Zone::with_records(&records, ttl_s)
}
