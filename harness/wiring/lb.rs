//! The load balancer's configuration: the nodes as backends, and its front and checks as
//! the balancer's mode wants them.

use std::net::SocketAddr;

use super::{HANDSHAKE_TIMEOUT, HostTls, host_seed};
use crate::services::http::{Dial, Front};
use crate::services::load_balancer::{Backend, LbConfig};
use crate::services::{node, proxy_header};
use crate::topology::{LbMode, Role, Topology};

/// The balancer: every node on its HTTP port as a backend; in `https` mode it terminates
/// TLS with `tls.server`, in `tcp` mode it passes connections through and its checks
/// send the PROXY header and speak TLS (`tls.checks`) as the nodes expect. The random
/// part of its check intervals draws from the balancer host's own stream of `seed`.
pub fn lb_config(topology: &Topology, tls: &HostTls, seed: u64) -> LbConfig {
    let backends: Vec<Backend> = topology
        .with_role(Role::Node)
        .map(|n| Backend {
            name: n.name.clone(),
            addr: SocketAddr::new(n.address, node::PORT),
        })
        .collect();
    let lb = &topology.lb;
    let (front, check_dial) = match lb.mode {
        LbMode::Https => (
            Front {
                accept_proxy: false,
                tls: tls.server.clone(),
                handshake_timeout: HANDSHAKE_TIMEOUT,
            },
            Dial::default(),
        ),
        LbMode::Tcp => (
            Front::default(),
            Dial {
                preface: proxy_header::encode(lb.proxy_header(), None),
                tls: tls.checks.clone().map(|c| {
                    // `verify none`: the name is not checked; any will do.
                    (
                        c,
                        rustls::pki_types::ServerName::try_from("backend").expect("valid"),
                    )
                }),
            },
        ),
    };
    LbConfig {
        admin: std::sync::Arc::new(crate::services::lb_admin::LbAdmin::new(backends.len())),
        backends,
        settings: lb.clone(),
        front,
        check_dial,
        forwarded_proto: if tls.server.is_some() {
            "https"
        } else {
            "http"
        },
        check_seed: topology
            .with_role(Role::LoadBalancer)
            .next()
            .map_or(seed, |lb| host_seed(seed, lb)),
        operator: crate::services::load_balancer::Operator::default(),
    }
}
