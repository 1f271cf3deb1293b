//! `harness serve`: one service's own code on real sockets, outside the simulation.
//!
//! The services are written against [`crate::net::Net`]; here they get
//! [`RealNet`] (real tokio sockets) and a [`RealClock`] (the machine's clock, plus an
//! optional offset) instead of turmoil's. Everything else comes from the scenario's
//! topology through the same functions the simulation builds its hosts with
//! ([`crate::world::sim`]): the DNS zone, the node's settings and front (TLS and PROXY
//! header in the balancer's `tcp` mode), the balancer's checks, modes and filters, the
//! SMTP relay's credentials. What must differ on one machine is said here:
//!
//! - Addresses: the service listens on `--listen` instead of its topology address.
//!   Service ports it opens besides the one listened on (a node's replica-set port 27017
//!   and its cluster ports 7777/8721/8701) bind any free port of the same address, so two
//!   nodes can share loopback.
//! - `node`: runs as a replica set of one (the primary of itself, as the dev/test
//!   instance does), since a served node has no peers to elect with. Its balancer is the
//!   one whose `X-Forwarded-For` it believes (`https` mode): `--trust-proxy`, default the
//!   listen address's IP (where a balancer on the same loopback connects from; a node
//!   listening on every address, 0.0.0.0 or [::], must be told). It
//!   reaches the outside world only where told: `--dns` (names for social logins, NTP
//!   polls and update checks; without it those polls and checks are off and names are
//!   looked up at the listen IP's port 53) and `--smtp` (the relay; without it mail
//!   stays queued). Nothing is sent to the topology's 10.0.x.x addresses, which on a real
//!   machine could be somebody's network.
//! - `lb`: its backends are `--backend NAME=ADDR` (each NAME a node of the topology),
//!   default the topology's nodes at their addresses, port 443.
//! - Certificates: a generated certificate (the default) is valid from an hour before
//!   the real time the service starts, for `topology.tls.expires`; `--ca-out` writes the
//!   CA it is signed by (PEM), for a real client to verify it with. Each served process
//!   generates its own, so tcp-mode nodes that a client must verify with one CA are given
//!   the scenario's certificate files (`[topology.tls] certificate`, as
//!   `tests/fixtures/serve/tcp.toml` does). A served tcp-mode balancer's checks speak TLS
//!   to the nodes without verifying them, as HAProxy's `check-ssl verify none`.
//! - Events are not kept (a served service runs as long as its user wants): each one is
//!   handed to the caller as it happens ([`Recorder::streaming`]); `harness serve` prints
//!   them as JSON lines.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::env::{Clock, Env};
use crate::events::Recorder;
use crate::net::real::{Bound, RealClock, RealNet};
use crate::services::load_balancer::{self, Backend};
use crate::services::replica_set::{Member, RsConfig};
use crate::services::{dns, node, ntp, smtp};
use crate::topology::{LbMode, Role, Topology};
use crate::world::sim;

/// The services `harness serve` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Dns,
    Node,
    Lb,
    Smtp,
    Ntp,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Dns => "dns",
            Service::Node => "node",
            Service::Lb => "lb",
            Service::Smtp => "smtp",
            Service::Ntp => "ntp",
        }
    }

    /// The port the service listens on, in the topology.
    fn port(self) -> u16 {
        match self {
            Service::Dns => dns::PORT,
            Service::Node => node::PORT,
            Service::Lb => load_balancer::PORT,
            Service::Smtp => smtp::PORT,
            Service::Ntp => ntp::PORT,
        }
    }
}

/// What `harness serve` was asked for, besides the scenario.
#[derive(Debug, Clone)]
pub struct Options {
    pub service: Service,
    /// Where the service listens.
    pub listen: SocketAddr,
    /// `node`: which of the topology's nodes to be (default: the first, `node-1`).
    pub node: Option<String>,
    /// `lb`: the backends, by node name (default: the topology's nodes on port 443).
    pub backends: Vec<(String, SocketAddr)>,
    /// `node`: the DNS server for names outside (default: none, see the module).
    pub dns: Option<SocketAddr>,
    /// `node`: the SMTP relay (default: none; mail stays queued).
    pub smtp: Option<SocketAddr>,
    /// `node`: whose `X-Forwarded-For` to believe in `https` mode (default: the listen
    /// address's IP).
    pub trust_proxy: Option<IpAddr>,
    /// The host's wall clock against the machine's, in nanoseconds (default 0).
    pub clock_offset_ns: i64,
    /// Write the CA the served certificate is signed by here (PEM).
    pub ca_out: Option<PathBuf>,
}

/// An option that does not fit the service or the topology: which option, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{option}: {message}")]
pub struct ServeError {
    pub option: String,
    pub message: String,
}

fn invalid(option: &str, message: impl Into<String>) -> ServeError {
    ServeError {
        option: option.to_string(),
        message: message.into(),
    }
}

/// A service ready to run: its options checked, its configuration built.
pub struct Prepared {
    /// One line saying what will run and how it differs from the topology.
    pub summary: String,
    /// The CA (PEM) for `--ca-out`, when asked for.
    pub ca_pem: Option<String>,
    task: Task,
}

enum Task {
    Dns(dns::Zone),
    Node(Box<node::NodeConfig>),
    Lb(Box<load_balancer::LbConfig>),
    Smtp(smtp::SmtpConfig),
    Ntp,
}

/// Checks `options` against the topology and builds the service's configuration.
/// Nothing is bound or written yet.
pub fn prepare(
    topology: &Topology,
    seed: u64,
    options: &Options,
) -> Result<(Prepared, RealClock), ServeError> {
    let service = options.service;
    let only = |set: bool, option: &str, services: &[Service]| {
        if set && !services.contains(&service) {
            let names: Vec<_> = services.iter().map(|s| s.name()).collect();
            return Err(invalid(
                option,
                format!(
                    "applies to `harness serve {}` only, not `{}`",
                    names.join("` or `harness serve "),
                    service.name()
                ),
            ));
        }
        Ok(())
    };
    only(options.node.is_some(), "--node", &[Service::Node])?;
    only(!options.backends.is_empty(), "--backend", &[Service::Lb])?;
    only(options.dns.is_some(), "--dns", &[Service::Node])?;
    only(options.smtp.is_some(), "--smtp", &[Service::Node])?;
    only(
        options.trust_proxy.is_some(),
        "--trust-proxy",
        &[Service::Node],
    )?;
    only(
        options.ca_out.is_some(),
        "--ca-out",
        &[Service::Lb, Service::Node, Service::Smtp],
    )?;
    if options.clock_offset_ns.unsigned_abs() > 86_400 * 1_000_000_000 {
        return Err(invalid(
            "--clock-offset",
            "expected at most a day either way",
        ));
    }

    let clock = RealClock::from_offset_ns(options.clock_offset_ns);
    let time: Arc<dyn Clock> = Arc::new(clock.clone());
    // Only the services that serve TLS need a certificate (generating one takes a while).
    let serves_tls = match service {
        Service::Lb => topology.lb.mode == LbMode::Https,
        Service::Node => topology.lb.mode == LbMode::Tcp,
        _ => false,
    };
    // The relay's own certificate for STARTTLS, for its name and the address it listens
    // on (a client dialing 127.0.0.1 verifies that address).
    let relay = if service == Service::Smtp {
        let extra: Vec<String> = match options.listen.ip() {
            ip if ip.is_unspecified() => Vec::new(),
            ip => vec![ip.to_string()],
        };
        let made = sim::relay_tls(topology, &extra, time.wall(), time.clone());
        Some(made.ok_or_else(|| invalid("--listen", "cannot make the relay's certificate"))?)
    } else {
        None
    };
    let identity = match &relay {
        Some((_, relay)) => Some(relay.clone()),
        None if serves_tls => sim::identity(topology, time.wall()),
        None => None,
    };
    let mut tls = sim::host_tls(identity.as_deref().filter(|_| serves_tls), time.clone());
    if service == Service::Lb && topology.lb.mode == LbMode::Tcp && topology.tls.enabled {
        // The nodes behind a tcp-mode balancer speak TLS, checks included (HAProxy's
        // `check-ssl verify none`); the balancer needs no certificate of its own for that.
        tls.checks = Some(crate::tls::health_check_client(time));
    }
    let ca_pem = match (&options.ca_out, &identity) {
        (None, _) => None,
        (Some(_), None) => {
            let why = if !topology.tls.enabled {
                "topology.tls.enabled = false: nothing served is certified".to_string()
            } else if service == Service::Lb {
                "topology.lb.mode = \"tcp\": the balancer passes TLS through; serve a node for its certificate".to_string()
            } else {
                "topology.lb.mode = \"https\": the balancer terminates TLS and the nodes speak plain HTTP; serve the lb for its certificate".to_string()
            };
            return Err(invalid("--ca-out", why));
        }
        (Some(_), Some(identity)) if identity.trust.is_empty() => {
            return Err(invalid(
                "--ca-out",
                "the certificate files name no CA (topology.tls.trust) to write",
            ));
        }
        (Some(_), Some(identity)) => Some(pem(&identity.trust)),
    };

    let listen = options.listen;
    let (task, summary) = match service {
        Service::Dns => (
            Task::Dns(sim::zone(topology)),
            format!(
                "dns: the zone of {} (the four names at the balancer's {}, TTL {})",
                topology.domain,
                topology.the(Role::LoadBalancer).address,
                crate::duration::span(topology.dns.ttl)
            ),
        ),
        Service::Ntp => (
            Task::Ntp,
            format!(
                "ntp: time from this machine's clock{}",
                match options.clock_offset_ns {
                    0 => String::new(),
                    ns => format!(" {}", crate::duration::offset(ns)),
                }
            ),
        ),
        Service::Smtp => {
            let config = sim::smtp_config(topology, relay);
            let summary = format!(
                "smtp: relay {} requiring AUTH (user {}), STARTTLS with a certificate of its own",
                config.hostname, config.username
            );
            (Task::Smtp(config), summary)
        }
        Service::Lb => {
            let mut config = sim::lb_config(topology, &tls);
            if !options.backends.is_empty() {
                let nodes = topology.node_names();
                let mut backends: Vec<Backend> = Vec::new();
                for (name, addr) in &options.backends {
                    if !nodes.contains(name) {
                        return Err(invalid(
                            "--backend",
                            format!(
                                "`{name}` is not a node of the topology; expected one of {}",
                                nodes.join(", ")
                            ),
                        ));
                    }
                    if backends.iter().any(|b| &b.name == name) {
                        return Err(invalid("--backend", format!("`{name}` is given twice")));
                    }
                    backends.push(Backend {
                        name: name.clone(),
                        addr: *addr,
                    });
                }
                config.backends = backends;
            }
            let list: Vec<String> = config
                .backends
                .iter()
                .map(|b| format!("{}={}", b.name, b.addr))
                .collect();
            let summary = format!(
                "lb: {} mode{}, round robin over {}, checks {} every {}",
                match topology.lb.mode {
                    LbMode::Https => "https",
                    LbMode::Tcp => "tcp",
                },
                match (topology.lb.mode, tls.server.is_some()) {
                    (LbMode::Https, true) => " (TLS offloaded here)",
                    (LbMode::Https, false) => " (plain HTTP: topology.tls.enabled = false)",
                    (LbMode::Tcp, _) => "",
                },
                list.join(" "),
                topology.lb.check_path,
                crate::duration::span(topology.lb.interval)
            );
            (Task::Lb(Box::new(config)), summary)
        }
        Service::Node => {
            let nodes = topology.node_names();
            let name = options.node.clone().unwrap_or_else(|| nodes[0].clone());
            let Some(host) = topology.host(&name).filter(|h| h.role == Role::Node) else {
                return Err(invalid(
                    "--node",
                    format!(
                        "`{name}` is not a node of the topology; expected one of {}",
                        nodes.join(", ")
                    ),
                ));
            };
            let rs = &topology.replica_set;
            let member = Member::new(
                RsConfig {
                    members: vec![name.clone()],
                    priorities: vec![1],
                    heartbeat: rs.heartbeat,
                    election_timeout: rs.election_timeout,
                    lag_threshold: rs.lag_threshold,
                },
                0,
                seed,
            );
            // A set of one never sends to itself: its own entry is never dialed.
            let own = vec![SocketAddr::new(listen.ip(), 0)];
            let mut config = sim::node_config(
                topology,
                Arc::new(Mutex::new(member)),
                own,
                host,
                seed,
                &tls,
            );
            if config.trusted_proxy.is_some() {
                let trusted = match options.trust_proxy {
                    Some(ip) => ip,
                    None if listen.ip().is_unspecified() => {
                        return Err(invalid(
                            "--trust-proxy",
                            format!(
                                "expected the address the balancer connects from: the node listens on every address ({}), so it cannot be guessed",
                                listen.ip()
                            ),
                        ));
                    }
                    None => listen.ip(),
                };
                config.trusted_proxy = Some(trusted);
            } else if options.trust_proxy.is_some() {
                return Err(invalid(
                    "--trust-proxy",
                    "topology.lb.mode = \"tcp\": the node believes the PROXY header, not X-Forwarded-For",
                ));
            }
            match options.dns {
                Some(dns) => config.outside.dns = dns,
                None => {
                    config.outside.dns = SocketAddr::new(listen.ip(), dns::PORT);
                    config.outside.periodic = false;
                    config.outside.ntp.enabled = false;
                }
            }
            config.mail.relay = options.smtp;
            let front = match (topology.lb.mode, config.front.tls.is_some()) {
                (LbMode::Https, _) => "plain HTTP behind the balancer".to_string(),
                (LbMode::Tcp, tls) => format!(
                    "{}{}",
                    if config.front.accept_proxy {
                        "PROXY header then "
                    } else {
                        ""
                    },
                    if tls { "TLS" } else { "plain HTTP" }
                ),
            };
            let summary = format!(
                "node: {name} ({front}{}), a replica set of one; outside: {}; mail: {}",
                match config.trusted_proxy {
                    Some(ip) => format!("; X-Forwarded-For believed from {ip}"),
                    None => String::new(),
                },
                match options.dns {
                    Some(dns) => format!("names from {dns}"),
                    None => "off (no --dns: no NTP polls, no update checks)".to_string(),
                },
                match options.smtp {
                    Some(relay) => format!("relayed through {relay}"),
                    None => "stays queued (no --smtp)".to_string(),
                },
            );
            (Task::Node(Box::new(config)), summary)
        }
    };
    Ok((
        Prepared {
            summary,
            ca_pem,
            task,
        },
        clock,
    ))
}

/// Runs a prepared service on real sockets until it fails (or its caller stops waiting).
/// `on_bind` hears of every service port bound; `recorder` gets every event.
pub async fn run(
    prepared: Prepared,
    options: &Options,
    clock: RealClock,
    recorder: Recorder,
    on_bind: impl Fn(Bound) + Send + Sync + 'static,
) -> std::io::Result<()> {
    let service = options.service;
    let net = RealNet::new(options.listen.ip())
        .with_port(service.port(), options.listen.port())
        .unlisted_any_port()
        .reporting_binds(on_bind);
    let host = match &prepared.task {
        Task::Node(config) => config.name.clone(),
        _ => service.name().to_string(),
    };
    let env = Env::new(&host, net, Arc::new(clock), recorder);
    match prepared.task {
        Task::Dns(zone) => dns::run(env, zone).await,
        Task::Node(config) => node::run(env, *config).await,
        Task::Lb(config) => load_balancer::run(env, *config).await,
        Task::Smtp(config) => smtp::run(env, config).await,
        Task::Ntp => ntp::run(env).await,
    }
}

/// Certificates in PEM.
fn pem(certificates: &[rustls::pki_types::CertificateDer<'static>]) -> String {
    use base64::Engine as _;
    let mut text = String::new();
    for der in certificates {
        let encoded = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        text.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in encoded.as_bytes().chunks(64) {
            text.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            text.push('\n');
        }
        text.push_str("-----END CERTIFICATE-----\n");
    }
    text
}

/// A signed duration for `--clock-offset` ("10m", "-2s", "+500ms"; at most a day), in
/// nanoseconds.
pub fn parse_offset(text: &str) -> Result<i64, String> {
    crate::scenario::steps::signed_ns(text)
}

/// A `--backend` value, `NAME=ADDR` (`node-1=127.0.0.1:8443`).
pub fn parse_backend(text: &str) -> Result<(String, SocketAddr), String> {
    let (name, addr) = text.split_once('=').ok_or_else(|| {
        format!("expected NAME=ADDRESS:PORT (node-1=127.0.0.1:8443), got `{text}`")
    })?;
    let addr = addr
        .parse()
        .map_err(|_| format!("expected an address and port after `{name}=`, got `{addr}`"))?;
    Ok((name.to_string(), addr))
}
