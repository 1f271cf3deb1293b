//! Real load-balancer configurations generated from a scenario's topology.
//!
//! The simulated balancer ([`crate::services::load_balancer`]) is a model of what the
//! customer runs in front of the nodes (the network requirements: NGINX, HAProxy or an appliance). This
//! module writes that real configuration from the same typed settings ([`LbSettings`]),
//! so what a scenario proved about detection times, retries, PROXY headers and endpoint
//! filtering can be deployed as is:
//!
//! - [`haproxy`]: a complete `haproxy.cfg` (HAProxy 2.6), active `GET <check_path>`
//!   checks with the scenario's interval, rise and fall.
//! - [`nginx`]: a complete `nginx.conf` (nginx 1.22). Open-source nginx has no active
//!   health checks, so by default it gets passive ones (`max_fails`, `fail_timeout`) and
//!   a header saying so; [`Options::nginx_plus`] emits NGINX Plus's `health_check`.
//!
//! Contract: generation is pure string building from a [`Topology`], with no clock, file
//! or environment read, so the same topology and options give the same bytes. Every
//! directive taken from a setting names it (`# topology.lb.interval`) in the generated
//! file; directives with no setting behind them say why they are there. What a target
//! cannot express is an [`ExportError`] naming the setting, never a silent substitute.
//! Writing the text to a file without leaving half of it behind is [`file::write`].
//!
//! [`LbSettings`]: crate::topology::LbSettings

pub mod conf;
pub mod file;
pub mod haproxy;
pub mod nginx;

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::topology::{Role, Topology};

/// The balancer software a configuration is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Haproxy,
    Nginx,
}

/// Choices the topology does not make.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// The PEM file (certificate chain and private key) the balancer serves in `https`
    /// mode. Default: [`default_cert`] for the target.
    pub cert: Option<PathBuf>,
    /// nginx only: emit NGINX Plus's active `health_check` instead of open-source nginx's
    /// passive checks. Default false.
    pub nginx_plus: bool,
    /// What the configuration was generated from, named in its header (a scenario path).
    /// Default: nothing named.
    pub source: Option<String>,
    /// Where the balancer listens (`--listen`). Default: port 443 on every address.
    pub listen: Option<SocketAddr>,
    /// Nodes at another address and port than their topology address on 443
    /// (`--server NAME=ADDR:PORT`), by node name. Default: none.
    pub servers: Vec<(String, SocketAddr)>,
}

/// The balancer's listening address as HAProxy's `bind` and nginx's `listen` write it:
/// `:443` or `443` by default, `127.0.0.1:8443` when given.
fn listen(options: &Options, all_addresses: &str) -> String {
    match options.listen {
        Some(addr) => addr.to_string(),
        None => format!("{all_addresses}443"),
    }
}

/// Each node with the address and port the balancer dials, in topology order, and the
/// setting it comes from.
fn servers(
    topology: &Topology,
    options: &Options,
) -> Result<Vec<(String, SocketAddr, &'static str)>, ExportError> {
    let nodes = topology.node_names();
    for (i, (name, _)) in options.servers.iter().enumerate() {
        let error = |message: String| ExportError {
            key: "--server".to_string(),
            message,
        };
        if !nodes.contains(name) {
            return Err(error(format!(
                "`{name}` is not a node of the topology; expected one of {}",
                nodes.join(", ")
            )));
        }
        if options.servers[..i].iter().any(|(n, _)| n == name) {
            return Err(error(format!("`{name}` is given twice")));
        }
    }
    Ok(topology
        .with_role(Role::Node)
        .map(
            |node| match options.servers.iter().find(|(n, _)| *n == node.name) {
                Some((_, addr)) => (node.name.clone(), *addr, "--server"),
                None => (
                    node.name.clone(),
                    SocketAddr::new(node.address, crate::services::node::PORT),
                    "a node",
                ),
            },
        )
        .collect())
}

/// A setting the target cannot express, with the setting's key (`topology.lb.…`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ExportError {
    pub key: String,
    pub message: String,
}

/// The configuration text for `target`.
pub fn render(
    topology: &Topology,
    target: Target,
    options: &Options,
) -> Result<String, ExportError> {
    match target {
        Target::Haproxy => haproxy::render(topology, options),
        Target::Nginx => nginx::render(topology, options),
    }
}

/// Where the certificate is looked for when `--cert` is not given: the target's usual
/// directory and the deployment's domain, `/etc/haproxy/certs/example.com.pem` or
/// `/etc/nginx/certs/example.com.pem`. A placeholder: put the PEM there or pass `--cert`.
pub fn default_cert(target: Target, domain: &str) -> PathBuf {
    let dir = match target {
        Target::Haproxy => "/etc/haproxy/certs",
        Target::Nginx => "/etc/nginx/certs",
    };
    PathBuf::from(format!("{dir}/{domain}.pem"))
}
