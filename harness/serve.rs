//! `harness serve`: one service's own code on real sockets, outside the simulation.
//!
//! The services are written against [`crate::net::Net`]; here they get
//! [`RealNet`] (real tokio sockets) and a [`RealClock`] (the machine's clock, plus an
//! optional offset) instead of turmoil's. Everything else comes from the scenario's
//! topology through the same functions the simulation builds its hosts with
//! ([`crate::wiring`]): the DNS zone, the node's settings and front (TLS and PROXY
//! header in the balancer's `tcp` mode), the balancer's checks, modes and filters, the
//! SMTP relay's credentials. What must differ on one machine is said here:
//!
//! - Addresses: the service listens on `--listen` instead of its topology address.
//!   Service ports it opens besides the one listened on (a node's replica-set port 27017
//!   and its cluster ports 7777/8721/8701) bind any free port of the same address, so two
//!   nodes can share loopback.
//! - `node`: runs as a replica set of one (the primary of itself, as the dev/test
//!   instance does), since a served node has no peers to elect with. It trusts nothing
//!   by default. In `https` mode it believes the `X-Forwarded-For` of `--trust-proxy`
//!   only (the address its balancer connects from); without it, nobody's: a client is the
//!   connection's peer, since on a real socket any local process can claim any address.
//!   It signs and checks tokens with `--token-secret`, or else with a random secret drawn
//!   from the OS and printed on stderr at start (nodes that must accept each other's
//!   tokens are given the same one); never the topology's `token_secret`, whose default
//!   anyone can read (the simulation keeps it). It reaches the outside world only where
//!   told: `--dns` (names for social logins, NTP
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
//!   to the nodes without verifying them, as HAProxy's `check-ssl verify none`. A
//!   served relay's STARTTLS certificate is its own, always generated, for
//!   `smtp.<domain>` and the listen address (`--ca-out` writes its CA too).
//! - Events are not kept (a served service runs as long as its user wants): each one is
//!   handed to the caller as it happens ([`Recorder::streaming`]); `harness serve` prints
//!   them as JSON lines through [`event_output`], a bounded queue to a writer thread, so
//!   that a reader who is slow or has stopped reading never blocks the service: beyond
//!   [`EVENT_QUEUE_LINES`] waiting lines, events are dropped and counted, and the count is
//!   said in the JSON lines where the gap is (`{"dropped_events": N}`) once the reader
//!   catches up, and in all on stderr when the service stops.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use crate::clock::Clock;
use crate::env::Env;
use crate::events::{Event, Recorder};
use crate::net::real::{Bound, RealClock, RealNet};
use crate::services::load_balancer::{self, Backend};
use crate::services::{dns, node, ntp, smtp};
use crate::tls::Identity;
use crate::topology::{LbMode, Role, Topology};
use crate::wiring::{self, HostTls};

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
    /// `node`: whose `X-Forwarded-For` to believe in `https` mode (default: nobody's).
    pub trust_proxy: Option<IpAddr>,
    /// `node`: the secret tokens are signed and checked with (default: random, from the
    /// OS, told in [`Prepared::notices`]).
    pub token_secret: Option<String>,
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
    /// Lines to show after the summary (a node's random token secret).
    pub notices: Vec<String>,
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

/// The most a served host's clock may be set off the machine's, either way: a day.
const CLOCK_OFFSET_MAX_NS: u64 = 86_400 * 1_000_000_000;

/// Checks `options` against the topology and builds the service's configuration, one
/// function per service. Nothing is bound or written yet.
pub fn prepare(
    topology: &Topology,
    seed: u64,
    options: &Options,
) -> Result<(Prepared, RealClock), ServeError> {
    check_options(options)?;
    let clock = RealClock::from_offset_ns(options.clock_offset_ns);
    let time: Arc<dyn Clock> = Arc::new(clock.clone());
    let prepared = match options.service {
        Service::Dns => prepare_dns(topology),
        Service::Ntp => prepare_ntp(options),
        Service::Smtp => prepare_smtp(topology, options, time)?,
        Service::Lb => prepare_lb(topology, seed, options, time)?,
        Service::Node => prepare_node(topology, seed, options, time)?,
    };
    Ok((prepared, clock))
}

/// Refuses an option given to a service it does not apply to, and a value out of range.
fn check_options(options: &Options) -> Result<(), ServeError> {
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
        options.token_secret.is_some(),
        "--token-secret",
        &[Service::Node],
    )?;
    if options.token_secret.as_deref() == Some("") {
        return Err(invalid("--token-secret", "expected a non-empty secret"));
    }
    only(
        options.ca_out.is_some(),
        "--ca-out",
        &[Service::Lb, Service::Node, Service::Smtp],
    )?;
    if options.clock_offset_ns.unsigned_abs() > CLOCK_OFFSET_MAX_NS {
        return Err(invalid(
            "--clock-offset",
            "expected at most a day either way",
        ));
    }
    Ok(())
}

/// The instance certificate and the host's TLS, when the service serves TLS
/// (`serves_tls`; generating a certificate takes a while): valid from an hour before
/// the real time.
fn certified(
    topology: &Topology,
    serves_tls: bool,
    time: Arc<dyn Clock>,
) -> (Option<Arc<Identity>>, HostTls) {
    let identity = if serves_tls {
        wiring::identity(topology, time.wall())
    } else {
        None
    };
    let tls = wiring::host_tls(identity.as_deref(), time);
    (identity, tls)
}

/// The CA (PEM) `--ca-out` asks for, of the certificate the service serves (`identity`);
/// an error when it serves none, or its files name no CA.
fn ca_pem(
    topology: &Topology,
    options: &Options,
    identity: Option<&Identity>,
) -> Result<Option<String>, ServeError> {
    match (&options.ca_out, identity) {
        (None, _) => Ok(None),
        (Some(_), None) => {
            let why = if !topology.tls.enabled {
                "topology.tls.enabled = false: nothing served is certified".to_string()
            } else if options.service == Service::Lb {
                "topology.lb.mode = \"tcp\": the balancer passes TLS through; serve a node for its certificate".to_string()
            } else {
                "topology.lb.mode = \"https\": the balancer terminates TLS and the nodes speak plain HTTP; serve the lb for its certificate".to_string()
            };
            Err(invalid("--ca-out", why))
        }
        (Some(_), Some(identity)) if identity.trust.is_empty() => Err(invalid(
            "--ca-out",
            "the certificate files name no CA (topology.tls.trust) to write",
        )),
        (Some(_), Some(identity)) => Ok(Some(pem(&identity.trust))),
    }
}

/// A service that needs no notices and writes no CA.
fn plain(task: Task, summary: String) -> Prepared {
    Prepared {
        summary,
        notices: Vec::new(),
        ca_pem: None,
        task,
    }
}

/// A served DNS host: the simulation's zone.
fn prepare_dns(topology: &Topology) -> Prepared {
    let summary = format!(
        "dns: the zone of {} (the four names at the balancer's {}, TTL {})",
        topology.domain,
        topology.the(Role::LoadBalancer).address,
        crate::duration::span(topology.dns.ttl)
    );
    plain(Task::Dns(wiring::zone(topology)), summary)
}

/// A served time server: this machine's clock, off by `--clock-offset`.
fn prepare_ntp(options: &Options) -> Prepared {
    let summary = format!(
        "ntp: time from this machine's clock{}",
        match options.clock_offset_ns {
            0 => String::new(),
            ns => format!(" {}", crate::duration::offset(ns)),
        }
    );
    plain(Task::Ntp, summary)
}

/// A served relay: the topology's, with a STARTTLS certificate of its own for its name
/// and the address it listens on (a client dialing 127.0.0.1 verifies that address).
fn prepare_smtp(
    topology: &Topology,
    options: &Options,
    time: Arc<dyn Clock>,
) -> Result<Prepared, ServeError> {
    let extra: Vec<String> = match options.listen.ip() {
        ip if ip.is_unspecified() => Vec::new(),
        ip => vec![ip.to_string()],
    };
    let relay = wiring::relay_tls(topology, &extra, time.wall(), time)
        .ok_or_else(|| invalid("--listen", "cannot make the relay's certificate"))?;
    let ca_pem = ca_pem(topology, options, Some(&relay.1))?;
    let config = wiring::smtp_config(topology, Some(relay));
    let summary = format!(
        "smtp: relay {} requiring AUTH (user {}), STARTTLS with a certificate of its own",
        config.hostname, config.username
    );
    Ok(Prepared {
        ca_pem,
        ..plain(Task::Smtp(config), summary)
    })
}

/// A served balancer: the topology's, over `--backend`'s nodes when given. It serves
/// the instance certificate in `https` mode; in `tcp` mode its checks speak TLS to the
/// nodes (HAProxy's `check-ssl verify none`), with no certificate of its own.
fn prepare_lb(
    topology: &Topology,
    seed: u64,
    options: &Options,
    time: Arc<dyn Clock>,
) -> Result<Prepared, ServeError> {
    let mode = topology.lb.mode;
    let (identity, mut tls) = certified(topology, mode == LbMode::Https, time.clone());
    if mode == LbMode::Tcp && topology.tls.enabled {
        tls.checks = Some(crate::tls::health_check_client(time));
    }
    let ca_pem = ca_pem(topology, options, identity.as_deref())?;
    let mut config = wiring::lb_config(topology, &tls, seed);
    if let Some(backends) = backends(topology, options)? {
        config.backends = backends;
    }
    let summary = lb_summary(topology, &config);
    Ok(Prepared {
        ca_pem,
        ..plain(Task::Lb(Box::new(config)), summary)
    })
}

/// The backends `--backend` names (`None`: not given), each a node of the topology,
/// once.
fn backends(topology: &Topology, options: &Options) -> Result<Option<Vec<Backend>>, ServeError> {
    if options.backends.is_empty() {
        return Ok(None);
    }
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
    Ok(Some(backends))
}

/// The summary line of a served balancer.
fn lb_summary(topology: &Topology, config: &load_balancer::LbConfig) -> String {
    let list: Vec<String> = config
        .backends
        .iter()
        .map(|b| format!("{}={}", b.name, b.addr))
        .collect();
    format!(
        "lb: {} mode{}, round robin over {}, checks {} every {}",
        match topology.lb.mode {
            LbMode::Https => "https",
            LbMode::Tcp => "tcp",
        },
        match (topology.lb.mode, config.front.tls.is_some()) {
            (LbMode::Https, true) => " (TLS offloaded here)",
            (LbMode::Https, false) => " (plain HTTP: topology.tls.enabled = false)",
            (LbMode::Tcp, _) => "",
        },
        list.join(" "),
        topology.lb.check_path,
        crate::duration::span(topology.lb.interval)
    )
}

/// A served node: its topology node, as a replica set of one, with what the options
/// say. It serves the instance certificate in `tcp` mode.
fn prepare_node(
    topology: &Topology,
    seed: u64,
    options: &Options,
    time: Arc<dyn Clock>,
) -> Result<Prepared, ServeError> {
    let (identity, tls) = certified(topology, topology.lb.mode == LbMode::Tcp, time);
    let ca_pem = ca_pem(topology, options, identity.as_deref())?;
    let listen = options.listen;
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
    let member = wiring::single_member(topology, &name, seed);
    // A set of one never sends to itself: its own entry is never dialed.
    let own = vec![SocketAddr::new(listen.ip(), 0)];
    let mut config = wiring::node_config(topology, member, own, host, seed, &tls);
    let mut notices = Vec::new();
    let tokens = trust(&mut config, options, &mut notices)?;
    match options.dns {
        Some(dns) => config.outbound.dns = dns,
        None => {
            config.outbound.dns = SocketAddr::new(listen.ip(), dns::PORT);
            config.outbound.periodic = false;
            config.outbound.ntp.enabled = false;
        }
    }
    config.mail.relay = options.smtp;
    let summary = node_summary(topology, &config, options, tokens);
    Ok(Prepared {
        summary,
        notices,
        ca_pem,
        task: Task::Node(Box::new(config)),
    })
}

/// The summary line of a served node.
fn node_summary(
    topology: &Topology,
    config: &node::NodeConfig,
    options: &Options,
    tokens: &str,
) -> String {
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
    format!(
        "node: {} ({front}{}), a replica set of one; tokens: {tokens}; outside: {}; mail: {}",
        config.name,
        match (topology.lb.mode, config.trusted_proxy) {
            (LbMode::Https, Some(ip)) => format!("; X-Forwarded-For believed from {ip}"),
            (LbMode::Https, None) => "; X-Forwarded-For believed from nobody (no --trust-proxy): a client is the connection's peer".to_string(),
            (LbMode::Tcp, _) => String::new(),
        },
        match options.dns {
            Some(dns) => format!("names from {dns}"),
            None => "off (no --dns: no NTP polls, no update checks)".to_string(),
        },
        match options.smtp {
            Some(relay) => format!("relayed through {relay}"),
            None => "stays queued (no --smtp)".to_string(),
        },
    )
}

/// What a served node trusts: the `X-Forwarded-For` of `--trust-proxy` only (`https`
/// mode), and tokens signed with `--token-secret` or a random secret (told in
/// `notices`). Returns how its tokens are signed, for the summary.
fn trust(
    config: &mut node::NodeConfig,
    options: &Options,
    notices: &mut Vec<String>,
) -> Result<&'static str, ServeError> {
    if config.trusted_proxy.is_some() {
        config.trusted_proxy = options.trust_proxy;
    } else if options.trust_proxy.is_some() {
        return Err(invalid(
            "--trust-proxy",
            "topology.lb.mode = \"tcp\": the node believes the PROXY header, not X-Forwarded-For",
        ));
    }
    let (secret, tokens) = match &options.token_secret {
        Some(secret) => (secret.clone(), "signed with --token-secret"),
        None => {
            let secret = random_secret()?;
            notices.push(format!(
                "token secret: {secret} (random: nodes that must accept each other's tokens are given one --token-secret)"
            ));
            (secret, "signed with a random secret")
        }
    };
    config.settings.token_secret = secret;
    Ok(tokens)
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
        .paired(dns::PORT)
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

/// The most event lines waiting for stdout; beyond it new events are dropped and counted
/// ([`event_output`]). About 150 KB of JSON: enough for a reader that falls behind for a
/// moment (a burst of a thousand requests), small enough to bound what a reader that
/// stopped costs.
pub const EVENT_QUEUE_LINES: usize = 1024;

/// How long a stopping `harness serve` waits for the event lines still queued to be
/// written: a reader that still reads gets them all; one that stopped costs this much
/// delay, no more.
pub const EVENT_DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// What the writer thread is handed.
enum Line {
    Event(String),
    /// This many events were dropped here.
    Dropped(u64),
}

/// The writer side of [`event_output`], for its caller to finish with.
pub struct EventOutput {
    /// Events dropped so far, in all.
    dropped: Arc<AtomicU64>,
    /// Told when the writer has written everything queued and every recorder is gone.
    done: mpsc::Receiver<()>,
}

/// How [`EventOutput::finish`] found the event output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    /// Events dropped in all: not written because the queue was full, or because `out`
    /// failed (a closed pipe).
    pub dropped: u64,
    /// Whether every queued line was written in time.
    pub flushed: bool,
}

/// A recorder for a served service that writes each event to `out` as one JSON line
/// (`{"at_ms", "host", "kind", ...fields}`: the shape and time unit of the JSON report's
/// timeline events, without their `text`), without ever blocking the service: lines go through a
/// queue of at most [`EVENT_QUEUE_LINES`] to a thread that writes them. When the queue is
/// full (the reader of `out` is slow, or has stopped), an event is dropped and counted;
/// the next line queued after a gap, or the writer once it has caught up with the queue,
/// says how many with `{"dropped_events": N}`, where the gap is.
pub fn event_output<W: Write + Send + 'static>(out: W) -> (Recorder, EventOutput) {
    event_output_bounded(out, EVENT_QUEUE_LINES)
}

/// [`event_output`] with a queue of `capacity` lines.
fn event_output_bounded<W: Write + Send + 'static>(
    out: W,
    capacity: usize,
) -> (Recorder, EventOutput) {
    let (lines, queue) = mpsc::sync_channel::<Line>(capacity);
    let (done_tx, done) = mpsc::channel();
    // Dropped since the last `dropped_events` line, and in all.
    let pending = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicU64::new(0));
    let writer = Writer {
        out,
        pending: pending.clone(),
        dropped: dropped.clone(),
    };
    std::thread::spawn(move || {
        writer.run(&queue);
        // The caller may have stopped waiting: then nobody is told.
        done_tx.send(()).ok();
    });
    let counted = dropped.clone();
    let recorder = Recorder::streaming(move |event| {
        let drop_one = || {
            pending.fetch_add(1, Ordering::Relaxed);
            counted.fetch_add(1, Ordering::Relaxed);
        };
        let gap = pending.swap(0, Ordering::Relaxed);
        if gap > 0 && lines.try_send(Line::Dropped(gap)).is_err() {
            pending.fetch_add(gap, Ordering::Relaxed);
            drop_one();
            return;
        }
        if lines.try_send(Line::Event(json_line(event))).is_err() {
            drop_one();
        }
    });
    (recorder, EventOutput { dropped, done })
}

/// One event as `harness serve` prints it: `{"at_ms", "host", "kind", ...fields}`, its
/// time in whole milliseconds since the service started (the event's own serialization,
/// the same as the JSON report's timeline events; `docs/serve-events.schema.json`).
fn json_line(event: &Event) -> String {
    serde_json::to_string(event).unwrap_or_else(|e| {
        // Plain data always serializes; a failure is said in the stream, not a panic.
        format!("{{\"error\": \"an event could not be serialized: {e}\"}}")
    })
}

/// The JSON Schema of one line of `harness serve`'s stdout (an event, or a
/// `{"dropped_events": N}` line), as committed in `docs/serve-events.schema.json`.
pub fn event_schema() -> String {
    let mut schema = schemars::schema_for!(Event);
    let dropped = serde_json::json!({
        "type": "object",
        "required": ["dropped_events"],
        "properties": { "dropped_events": { "type": "integer", "minimum": 0 } }
    });
    let event = schema.as_object().cloned().unwrap_or_default();
    let defs = event.get("$defs").cloned();
    let mut line = serde_json::Map::new();
    for key in ["$schema", "title"] {
        if let Some(v) = event.get(key) {
            line.insert(key.to_string(), v.clone());
        }
    }
    let mut one = event.clone();
    one.remove("$schema");
    one.remove("title");
    one.remove("$defs");
    line.insert("anyOf".to_string(), serde_json::json!([one, dropped]));
    if let Some(defs) = defs {
        line.insert("$defs".to_string(), defs);
    }
    schema = schemars::Schema::from(line);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

/// The thread that writes the queued lines.
struct Writer<W> {
    out: W,
    pending: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
}

impl<W: Write> Writer<W> {
    /// Writes every line queued until every sender is gone.
    fn run(mut self, queue: &mpsc::Receiver<Line>) {
        loop {
            let line = match queue.try_recv() {
                Ok(line) => line,
                Err(caught_up) => {
                    // Nothing queued: a gap no later event has reported yet is said now.
                    self.say_gap();
                    if caught_up == mpsc::TryRecvError::Disconnected {
                        return;
                    }
                    match queue.recv() {
                        Ok(line) => line,
                        Err(mpsc::RecvError) => return,
                    }
                }
            };
            self.write(&line);
        }
    }

    /// Writes `{"dropped_events": N}` for the events dropped since the last such line.
    fn say_gap(&mut self) {
        let gap = self.pending.swap(0, Ordering::Relaxed);
        if gap > 0 {
            self.write(&Line::Dropped(gap));
        }
    }

    /// Writes one line; a line that cannot be written (a closed pipe) is dropped and
    /// counted.
    fn write(&mut self, line: &Line) {
        let written = match line {
            Line::Event(text) => writeln!(self.out, "{text}"),
            Line::Dropped(count) => writeln!(self.out, "{{\"dropped_events\":{count}}}"),
        };
        if written.and_then(|()| self.out.flush()).is_err() && matches!(line, Line::Event(_)) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl EventOutput {
    /// Once every recorder is gone (the service stopped), waits up to `within` for the
    /// queued lines to be written, and says how it went. A writer still blocked after
    /// that (nobody reads) is left behind: the process exits without it.
    pub fn finish(self, within: Duration) -> Finished {
        let flushed = self.done.recv_timeout(within).is_ok();
        Finished {
            dropped: self.dropped.load(Ordering::Relaxed),
            flushed,
        }
    }
}

/// Bytes of OS randomness in a served node's default token secret: 256 bits, HS256's
/// own strength.
const TOKEN_SECRET_BYTES: usize = 32;

/// A token secret drawn from the OS's randomness (through rustls's provider), as hex.
fn random_secret() -> Result<String, ServeError> {
    let mut bytes = [0u8; TOKEN_SECRET_BYTES];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|e| {
            invalid(
                "--token-secret",
                format!("cannot draw a random secret from the OS ({e:?}): give one"),
            )
        })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;
    use std::sync::Mutex;

    /// Output whose first write waits until `open` is told (a reader that stopped
    /// reading, then came back), and that collects what was written.
    struct Gated {
        open: Option<mpsc::Receiver<()>>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Gated {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Some(open) = self.open.take() {
                open.recv().expect("the test opens the gate");
            }
            self.written
                .lock()
                .expect("not poisoned")
                .extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn record(recorder: &Recorder, n: u64) {
        recorder.record_at(
            Duration::from_secs(n),
            "node-1",
            EventKind::NtpFailed {
                server: format!("event {n}"),
                reason: String::new(),
            },
        );
    }

    /// Proves events recorded while the output is blocked never block the recorder:
    /// beyond the queue they are dropped, and once the output takes lines again it gets
    /// every queued event and `{"dropped_events": N}` exactly where the gap is (the event
    /// after it is the N+1th after the one before it); every event is either written or
    /// counted. (Whether event 11, recorded as the gate opens, finds room is a race;
    /// either way it is written or counted in place.)
    #[test]
    fn a_blocked_output_drops_and_counts_then_says_so() {
        let (open, gate) = mpsc::channel();
        let written = Arc::new(Mutex::new(Vec::new()));
        let out = Gated {
            open: Some(gate),
            written: written.clone(),
        };
        let (recorder, output) = event_output_bounded(out, 4);
        for n in 1..=10 {
            record(&recorder, n);
        }
        open.send(()).expect("the writer waits at the gate");
        record(&recorder, 11);
        drop(recorder);
        let finished = output.finish(Duration::from_secs(10));
        let text = String::from_utf8(written.lock().expect("not poisoned").clone())
            .expect("JSON lines are UTF-8");
        let (mut next, mut dropped, mut gaps) = (1, 0, 0);
        for line in text.lines() {
            let line: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            if let Some(count) = line["dropped_events"].as_u64() {
                (next, dropped, gaps) = (next + count, dropped + count, gaps + 1);
            } else {
                let expected = format!("event {next}");
                assert_eq!(line["kind"], "ntp_failed", "{text}");
                assert_eq!(line["server"], expected, "{text}");
                next += 1;
            }
        }
        assert_eq!(next, 12, "every event written or counted: {text}");
        assert_eq!(schema_failures(&text), Vec::<String>::new());
        assert!(gaps >= 1 && dropped >= 5, "{text}");
        assert_eq!(
            finished,
            Finished {
                dropped,
                flushed: true
            }
        );
    }

    /// Where the committed schema of serve's stdout lines lives.
    const EVENT_SCHEMA: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/docs/serve-events.schema.json");

    /// Proves the committed `docs/serve-events.schema.json` is the one the types generate.
    #[test]
    fn committed_event_schema_is_generated() {
        let committed = std::fs::read_to_string(EVENT_SCHEMA).unwrap_or_default();
        assert!(
            committed == event_schema(),
            "docs/serve-events.schema.json differs: run `cargo run -- schema serve-events > docs/serve-events.schema.json`"
        );
        // The validator the tests rely on rejects the shape serve printed before.
        let old = r#"{"at_s": 1.5, "host": "node-1", "event": {"NtpFailed": {}}}"#;
        assert_eq!(schema_failures(old).len(), 1);
    }

    /// Every line of `text` that fails the committed event schema, with why.
    fn schema_failures(text: &str) -> Vec<String> {
        let schema: serde_json::Value =
            serde_json::from_str(&event_schema()).expect("the generated schema is JSON");
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler
            .add_resource("mem:serve-events.schema.json", schema)
            .expect("the schema loads");
        let index = compiler
            .compile("mem:serve-events.schema.json", &mut schemas)
            .expect("the schema compiles");
        text.lines()
            .filter_map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).ok()?;
                let failed = schemas.validate(&value, index).err()?;
                Some(format!("{line}: {failed}"))
            })
            .collect()
    }

    /// Output that always fails, as a closed pipe does.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
    }

    /// Proves events written to a closed output are dropped and counted, and the writer
    /// still finishes.
    #[test]
    fn a_closed_output_counts_every_event_dropped() {
        let (recorder, output) = event_output_bounded(Closed, 4);
        for n in 1..=3 {
            record(&recorder, n);
        }
        drop(recorder);
        assert_eq!(
            output.finish(Duration::from_secs(10)),
            Finished {
                dropped: 3,
                flushed: true
            }
        );
    }
}
