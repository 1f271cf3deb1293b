//! The wiring: a topology turned into each service's configuration.
//!
//! One function per service builds what that service runs with from the topology (its
//! peers' addresses, its settings, its TLS, its stream of randomness), and the
//! simulation ([`crate::world::sim`]), `harness serve` ([`crate::serve`]) and `harness
//! check` ([`crate::check`]) all take their configuration from here, so a served service
//! or a preflight check sees exactly what the simulated one runs with. Only what must
//! differ is changed by the caller (`serve` says what and why).
//!
//! By service: [`zone`] (DNS); the nodes' replica set ([`members`], [`dev_member`],
//! [`single_member`]) and configuration ([`peers`], [`node_config`], [`dev_config`] for
//! `dev-1`); [`lb_config`]; the relay ([`smtp_config`], [`relay_tls`]);
//! [`egress_config`]; the users' load and connector ([`users_config`],
//! [`connector_config`]); the monitoring host ([`monitor_config`]). Shared by them: the instance
//! certificate ([`identity`]), each host's TLS ([`host_tls`]) and each host's stream of
//! randomness (`host_seed`).

mod access;
mod dns;
mod egress;
mod lb;
mod monitor;
mod node;
mod smtp;
mod users;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::seed;
use crate::tls::{self, Identity};
use crate::topology::{Host, Topology};

pub use access::{ssh_client_config, sshd_config};
pub use dns::zone;
pub use egress::egress_config;
pub use lb::lb_config;
pub use monitor::monitor_config;
pub use node::{dev_config, dev_member, members, node_config, peers, single_member};
pub use smtp::{relay_tls, smtp_config};
pub use users::{connector_config, users_config};

/// How long a client may take over the PROXY header and the TLS handshake (HAProxy's
/// `timeout client` applies there; 5s is its usual value).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The certificate the published names are served with: `None` when TLS is off. A
/// generated one is valid from an hour before `epoch` (time since the Unix epoch: the
/// run's [`crate::clock::EPOCH_UNIX_S`] in a simulation, the real time on real sockets).
pub fn identity(topology: &Topology, epoch: Duration) -> Option<Arc<Identity>> {
    let tls = &topology.tls;
    if !tls.enabled {
        return None;
    }
    if let Some(m) = &topology.tls_material {
        return Some(Arc::new(Identity {
            chain: m.chain.clone(),
            key: m.key.clone_key(),
            trust: m.trust.clone(),
        }));
    }
    let names = tls
        .names
        .clone()
        .unwrap_or_else(|| topology.zone_names().to_vec());
    let identity = Identity::generate(&names, epoch, tls.expires)
        .expect("rcgen signs any names and validity the topology checked");
    Some(Arc::new(identity))
}

/// One host's TLS configurations, with its own clock as their time.
pub struct HostTls {
    /// What it serves TLS with: the instance certificate.
    pub server: Option<Arc<rustls::ServerConfig>>,
    /// What it dials the appliance with: trusting the instance certificate's CA.
    pub client: Option<Arc<rustls::ClientConfig>>,
    /// What a balancer's health checks dial with: verifying nothing (`verify none`).
    pub checks: Option<Arc<rustls::ClientConfig>>,
}

/// A host's TLS from the instance certificate ([`identity`]; `None`: none at all), judged
/// by the host's clock `time`.
pub fn host_tls(identity: Option<&Identity>, time: Arc<dyn crate::clock::Clock>) -> HostTls {
    let Some(identity) = identity else {
        return HostTls {
            server: None,
            client: None,
            checks: None,
        };
    };
    HostTls {
        server: Some(
            tls::server(identity, time.clone()).expect("a generated key matches its certificate"),
        ),
        client: Some(
            tls::client(identity, time.clone()).expect("a generated CA is a usable trust anchor"),
        ),
        checks: Some(tls::health_check_client(time)),
    }
}

/// A host's own stream: [`seed::Component::Host`] of its address.
fn host_seed(seed: u64, host: &Host) -> u64 {
    let IpAddr::V4(v4) = host.address else {
        unreachable!("ha-N addresses are IPv4")
    };
    seed::stream(seed, seed::Component::Host(v4))
}
