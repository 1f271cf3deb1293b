//! An appliance node's HTTP service.
//!
//! Real component: one VM of the appliance cluster serving the authentication API, the
//! Management Dashboard and the `/testall` monitoring endpoint on 443 (seeds 000 and 003).
//!
//! Modelled:
//! - `GET /testall`: unauthenticated; `200 text/plain OK` when every local service is
//!   healthy, `503` naming the first failing one otherwise. The services checked are the
//!   API itself (healthy whenever it answers) and the database member. **The rule for the
//!   database:** the member is unhealthy once it has been out of touch with a majority
//!   through a primary (as primary: replies from a majority; as secondary: messages from
//!   a primary) for longer than `replica_set.contact_max`, default 15 s. Why: during an
//!   ordinary failover every member lacks a primary for about one election timeout (10 s)
//!   plus the election, and taking healthy nodes out of the load balancer then would turn
//!   a write outage into a full one; a member cut off for longer than that is on the
//!   wrong side of a partition, and its reads grow stale, so it should stop taking
//!   traffic. The answer reads `db: no contact with a primary for 16.2s`. Third, cluster
//!   control: `503 cluster-control: reaches 1 of 3 nodes on 7777 (lost node-2, node-3)`
//!   once the node has lost (no exchange on 7777 for longer than
//!   `cluster_ports.contact_max`) enough peers that it and the peers it still reaches
//!   are not a majority of the cluster ([`super::cluster_ports`]): it can no longer tell
//!   whether the configuration it serves is the cluster's. One lost peer of two is not
//!   enough: the majority still agrees.
//! - `POST /signup` with a JSON body `{"username", "password"}`: a write to the replica
//!   set, through this node's member: on the primary it is appended and acknowledged once
//!   a majority holds it; on a secondary it is forwarded to the primary. `201` when
//!   acknowledged; `400` for a username outside [`check_username`]'s character set and
//!   [`USERNAME_MAX_CHARS`] (it becomes a mail address and an SMTP argument) or a password
//!   over [`PASSWORD_MAX_BYTES`]; `409` when the user exists; `503` without a primary;
//!   `504` when no majority acknowledged it within the write timeout.
//! - `POST /login` with a JSON body `{"username", "password"}`, read from this node's own
//!   member (so a user whose signup has not reached it yet gets `401 unknown user`), or
//!   from the preloaded accounts (`user-<i>` / `password-<i>`): `200` with an access token,
//!   `401` otherwise. The token is an HS256 JWT stamped from this node's wall clock
//!   ([`super::token`]).
//! - `GET /userinfo` with `Authorization: Bearer <token>`: `200` with the subject; `401`
//!   with the reason for a missing, forged, malformed, not-yet-valid or expired token,
//!   times judged by this node's own clock with `token_leeway`.
//! - A modelled service time per endpoint and a bounded worker pool: `workers` requests are
//!   served at once, up to `queue_max` wait, and one more gets `503 overloaded`. `/testall`
//!   waits in the same queue as everything else, as it does on a single-process node, so
//!   a saturated node fails its health checks.
//! - `GET /connector`: the AD/LDAP connector's websocket: 101 and heartbeats, or 426
//!   without the upgrade headers ([`super::connector`]); it holds no worker.
//!
//! - `GET /dashboard`: the Management Dashboard's front page, `200` (what endpoint
//!   filtering keeps from the internet).
//! - In front of HTTP, per the balancer's mode: nothing in `https` mode (the balancer
//!   offloads TLS); in `tcp` mode a PROXY header (either version, refused without one when
//!   the balancer sends one) and TLS with the instance certificate. For every request but
//!   `/testall` the node records the client address it takes the request to come from:
//!   the PROXY header's, else the balancer's `X-Forwarded-For` (believed only from the
//!   balancer's address), else the connection's peer ([`client_of`]); the network requirements warn that
//!   without either, every login appears to come from the balancer.
//!
//! - Versions and planned operations: the node runs a version ([`NodeControl`], the
//!   installed software; [`INSTALLED_VERSION`] until an update installs another). An
//!   operator may ask it to step down ([`NodeControl::ask_step_down`], an admin's
//!   `rs.stepDown()` on the VM): its member, if primary, hands over to its most caught-up
//!   secondary. With `node.retry_writes` a signup the member answered "no primary" is
//!   retried once, after waiting up to [`RETRY_WAIT_MAX`] for another primary (MongoDB's
//!   retryable writes; nothing was written, so the retry cannot write twice).
//!
//! - The authenticated status endpoints (`/status/cpu` .. `/status/replicaset`), only
//!   when the topology enables monitoring: a health service of their own on
//!   [`super::status::PORT`], reading the node's state at each poll ([`Node::readings`]);
//!   what makes each unhealthy in the model is [`super::status`]'s header.
//!
//! Ports: TCP 443 here; 27017 through [`super::database`]; 7777, 8721 and 8701 through
//! [`super::cluster_ports`]; 22 through [`super::ssh`] when the topology deploys remote
//! access; 9110 through [`super::status`] with monitoring on. What each port carries in
//! the model, and why (the seeds
//! name the ports, not their contents; the rest is an assumption, stated where it is
//! modelled):
//! - 443: users' requests and the balancer's `/testall` (seeds 000 and 003).
//! - 27017: the replica set (MongoDB's port): heartbeats, votes, replication, forwarded
//!   writes.
//! - 7777, cluster control: every `cluster_ports.interval` each node tells each peer its
//!   version and the membership it knows, and hears the peer's. A cluster must agree on
//!   its configuration, and this is the port the requirements reserve between nodes
//!   besides the database's. Losing a peer is recorded; losing a majority fails
//!   `/testall` (above).
//! - 8721, webtask logs: each node's webtask runtime ships a batch of log lines per
//!   interval to every peer (so real-time logs watched on any node show every node's);
//!   a peer that cannot take them makes them back up (bounded), and the backlog ships
//!   when it is reached again. Recorded, no effect on 443.
//! - 8701, webtask control: each node's webtask runtime checks its peers' runtimes
//!   answer. Recorded, no effect on 443.
//!
//! The exchanges on 7777, 8721 and 8701 run only with `cluster_ports.exchange` (default
//! false: their traffic would move every other scenario's figures); without it the
//! ports only answer. Faults: crash and restart (applied by the world); a restart
//! starts with an empty queue and keeps the database's data. `pause` (the world stops
//! the host's software, as `SIGSTOP`): requests in progress stop where they are, new
//! connections complete in the kernel and wait, and on resume the backlog is served at
//! once, each request still taking its service time. `slow` multiplies every endpoint's
//! service time (a worker is held that much longer, so the queue fills sooner and
//! `/testall` answers later) by its factor ([`Speed`]); the database's own waits are
//! protocol timeouts, not service times, and keep their length.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde::Deserialize;
use tokio::sync::{Notify, Semaphore};

use crate::env::Env;
use crate::events::EventKind;
use crate::net::Net;
use crate::services::cluster_ports::ClusterView;
use crate::services::database::{Database, DbConfig};
use crate::services::dns::Resolver;
use crate::services::http::{self, Body};
use crate::services::outbound::{self, OutboundConfig};
use crate::services::replica_set::Op;
use crate::services::token;
use crate::topology::NodeSettings;

/// Subjects of social logins start with this (`facebook|fb-c-42`).
pub const SOCIAL_PREFIX: &str = "facebook|";

/// The appliance's HTTPS port (plain HTTP here: the load balancer offloads TLS).
pub const PORT: u16 = 443;

/// The version every node runs until an update installs another (one cycle behind the
/// update mirror's [`super::internet::LATEST_VERSION`]).
pub const INSTALLED_VERSION: &str = "2026.10.1";

/// How long a retried write waits for a primary other than the one that answered "no
/// primary": a planned hand-over takes a few round trips on the LAN (a few ms); one
/// second covers it with room, and keeps the first attempt's write timeout (3 s by
/// default), the wait and the retry's own write within the balancer's response timeout
/// only when the first attempt failed at once, as "no primary" does.
pub const RETRY_WAIT_MAX: Duration = Duration::from_secs(1);

/// What an operator holds of a node beside its software (an admin's shell on the VM):
/// the version installed, which survives the software's restarts, and a request to step
/// down. The world keeps one per node; the node's software reads it.
#[derive(Debug)]
pub struct NodeControl {
    version: std::sync::Mutex<String>,
    step_down: Notify,
    /// The node takes step-down requests (the scenario plans an operation).
    operated: bool,
}

impl NodeControl {
    /// A node running `version`; `operated`: it takes step-down requests (only then
    /// does its software run a task waiting for them).
    pub fn new(version: &str, operated: bool) -> Self {
        Self {
            version: std::sync::Mutex::new(version.to_string()),
            step_down: Notify::new(),
            operated,
        }
    }

    /// The version installed.
    pub fn version(&self) -> String {
        self.version
            .lock()
            .expect("no code panics while holding the version")
            .clone()
    }

    /// Installs `version` (while the node is stopped).
    pub fn install(&self, version: &str) {
        *self
            .version
            .lock()
            .expect("no code panics while holding the version") = version.to_string();
    }

    /// Asks the node's member to step down if it is primary (kept until the node's
    /// software takes it).
    pub fn ask_step_down(&self) {
        self.step_down.notify_one();
    }
}

/// A node's configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The operator's handle on the node: version and step-down requests.
    pub control: Arc<NodeControl>,
    pub name: String,
    pub settings: NodeSettings,
    pub db: DbConfig,
    pub mail: super::mail::MailConfig,
    /// What the node reaches on the internet, through the egress ([`outbound`]).
    pub outbound: OutboundConfig,
    /// Seed of the node's own randomness (its DNS query ids): its host's stream of the
    /// run's seed ([`crate::seed::Component::Host`]).
    pub seed: u64,
    /// What comes before HTTP on 443: in the balancer's `tcp` mode a PROXY header (when
    /// the balancer sends one) and TLS; nothing in `https` mode (the balancer offloads).
    pub front: http::Front,
    /// The balancer's address, whose `X-Forwarded-For` the node believes (`https` mode);
    /// `None`: the node believes no header.
    pub trusted_proxy: Option<std::net::IpAddr>,
    /// How much slower than its settings the node works: 1 unless a scenario's `slow`
    /// step set it (the world holds the other end).
    pub speed: Speed,
    /// The SSH service on port 22 and its access rules, when the topology deploys
    /// remote access ([`super::ssh`]); `None`: nothing listens on 22.
    pub ssh: Option<super::ssh::SshdConfig>,
    /// What the node exchanges with its peers on 7777, 8721 and 8701.
    pub cluster: super::cluster_ports::ClusterPortsConfig,
    /// The authenticated status endpoints: `None` (no such service) unless the topology
    /// enables monitoring.
    pub status: Option<super::status::StatusConfig>,
}

/// A node's slowness factor, shared between the world (a `slow` step sets it) and the
/// node (every modelled service time is multiplied by it when slept). Kept in
/// thousandths, so a service time scales by integer arithmetic, the same on every
/// machine.
#[derive(Debug, Clone)]
pub struct Speed(Arc<AtomicU64>);

/// [`Speed`]'s unit: a factor of 1 is this many thousandths.
const SPEED_ONE_MILLI: u64 = 1000;

impl Default for Speed {
    fn default() -> Self {
        Self(Arc::new(AtomicU64::new(SPEED_ONE_MILLI)))
    }
}

impl Speed {
    /// From now on every service time takes `factor` times as long (to a thousandth;
    /// the loader keeps it within 1 to `faults::SLOW_FACTOR_MAX`).
    pub fn set(&self, factor: f64) {
        let milli = (factor * SPEED_ONE_MILLI as f64).round() as u64;
        self.0.store(milli.max(1), Ordering::Relaxed);
    }

    /// The factor now, in thousandths.
    pub fn milli(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// `time` at the node's current speed.
    pub fn scale(&self, time: Duration) -> Duration {
        let milli = u128::from(self.0.load(Ordering::Relaxed));
        let nanos = time.as_nanos() * milli / u128::from(SPEED_ONE_MILLI);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// The client address a node takes a request to come from, and where it read it: the
/// PROXY header, else the trusted balancer's `X-Forwarded-For` (its last entry, the one
/// the balancer appended), else the connection's own peer.
pub fn client_of(
    peer: &http::Peer,
    headers: &hyper::HeaderMap,
    trusted_proxy: Option<std::net::IpAddr>,
) -> (std::net::IpAddr, &'static str) {
    use crate::topology::ProxyProtocol;
    if let Some(received) = peer.proxy
        && let Some(client) = received.client
    {
        let via = match received.version {
            ProxyProtocol::V1 => "proxy v1",
            _ => "proxy v2",
        };
        return (client.ip(), via);
    }
    if trusted_proxy == Some(peer.addr.ip())
        && let Some(last) = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .and_then(|a| a.trim().parse().ok())
    {
        return (last, "x-forwarded-for");
    }
    (peer.addr.ip(), "connection")
}

/// What `/testall` answers, given each local service's health in the order it checks
/// them: `Ok`, or the first failing service and why.
pub fn testall(checks: &[(&str, Result<(), String>)]) -> Result<(), String> {
    match checks.iter().find(|(_, status)| status.is_err()) {
        Some((service, Err(why))) => Err(format!("{service}: {why}")),
        _ => Ok(()),
    }
}

/// A node's request routing: which endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    TestAll,
    Signup,
    Login,
    SocialLogin,
    UserInfo,
    /// The Management Dashboard (its front page; the model serves nothing behind it).
    Dashboard,
    /// `GET /connector`: the AD/LDAP connector's websocket ([`super::connector`]).
    Connector,
    NotFound,
}

impl Endpoint {
    pub fn route(method: &Method, path: &str) -> Self {
        match (method, path) {
            (&Method::GET, "/testall") => Endpoint::TestAll,
            (&Method::POST, "/signup") => Endpoint::Signup,
            (&Method::POST, "/login") => Endpoint::Login,
            (&Method::POST, "/login/social") => Endpoint::SocialLogin,
            (&Method::GET, "/userinfo") => Endpoint::UserInfo,
            (&Method::GET, "/dashboard") => Endpoint::Dashboard,
            (&Method::GET, super::connector::PATH) => Endpoint::Connector,
            _ => Endpoint::NotFound,
        }
    }

    /// The worker time the endpoint costs.
    pub fn service_time(self, s: &NodeSettings) -> Duration {
        match self {
            Endpoint::TestAll => s.testall_time,
            Endpoint::Signup => s.signup_time,
            Endpoint::Login | Endpoint::SocialLogin => s.login_time,
            Endpoint::UserInfo | Endpoint::Dashboard => s.userinfo_time,
            // The connector's websocket is I/O: it takes no worker at all.
            Endpoint::Connector | Endpoint::NotFound => Duration::ZERO,
        }
    }
}

/// The longest username a signup may choose, in characters: RFC 5321's limit on an
/// address's local part (section 4.5.3.1.1), since the verification mail goes to
/// `<username>@<domain>`.
pub const USERNAME_MAX_CHARS: usize = 64;
/// The longest password a signup may choose, in bytes (it is stored and replicated).
pub const PASSWORD_MAX_BYTES: usize = 128;

/// Whether a signup's username is one the appliance accepts: 1 to
/// [`USERNAME_MAX_CHARS`] of ASCII letters, digits, `.`, `_` and `-`, not starting or
/// ending with `.` nor holding `..` (an RFC 5321 dot-atom local part, narrowed). The
/// name becomes a mail address and an SMTP command argument, so nothing else may pass:
/// no CR, LF, `<`, `>`, `@`, space or control character.
pub fn check_username(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > USERNAME_MAX_CHARS {
        return Err(format!(
            "a username has 1 to {USERNAME_MAX_CHARS} characters, not {}",
            name.chars().count()
        ));
    }
    if !name.chars().all(allowed) {
        return Err("a username holds only ASCII letters, digits, '.', '_' and '-'".into());
    }
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err("a username neither starts nor ends with '.' nor holds \"..\"".into());
    }
    Ok(())
}

/// Whether a signup's password is acceptable: 1 to [`PASSWORD_MAX_BYTES`] bytes.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.is_empty() || password.len() > PASSWORD_MAX_BYTES {
        return Err(format!(
            "a password has 1 to {PASSWORD_MAX_BYTES} bytes, not {}",
            password.len()
        ));
    }
    Ok(())
}

/// The account directory: `user-<i>` with password `password-<i>` for `i < accounts`.
pub fn check_password(accounts: u32, username: &str, password: &str) -> bool {
    account_index(accounts, username).is_some_and(|i| password == format!("password-{i}"))
}

fn account_index(accounts: u32, username: &str) -> Option<u32> {
    let i: u32 = username.strip_prefix("user-")?.parse().ok()?;
    (i < accounts && username == format!("user-{i}")).then_some(i)
}

struct Node<N: Net> {
    config: NodeConfig,
    workers: Semaphore,
    /// Requests admitted: being served or waiting for a worker.
    admitted: AtomicUsize,
    db: Database<N>,
    resolver: Arc<Resolver>,
    /// Tokens issued by this run of the software, and when it started (in ms): token
    /// ids are `<node>-<started>-<n>`, unique across restarts.
    issued: AtomicU64,
    started_ms: u128,
    /// Its view of its peers on the cluster ports (`/testall` reads 7777's).
    cluster: ClusterView,
    /// What the mail queue and the calls out last saw, for the status endpoints.
    vitals: super::status::Vitals,
}

impl<N: Net> Node<N> {
    /// What the status endpoints judge by, now.
    fn readings(&self) -> super::status::Readings {
        let (internet, email) = self.vitals.failures();
        let s = &self.config.settings;
        super::status::Readings {
            speed_milli: self.config.speed.milli(),
            admitted: self.admitted.load(Ordering::Relaxed),
            workers: s.workers,
            queue_max: s.queue_max,
            contact: self.db.health(),
            primary: self.db.primary(),
            is_primary: self.db.is_primary(),
            lagging: self.db.lagging(),
            internet,
            email,
        }
    }
}

/// Releases an admission slot when a request ends, however it ends (hyper drops the
/// handler future when the client goes away).
struct Admission<'a>(&'a AtomicUsize);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs the node's HTTP service until its listener fails.
pub async fn run<N: Net>(env: Env<N>, config: NodeConfig) -> std::io::Result<()> {
    let db = Database::start(env.clone(), config.db.clone()).await?;
    // Only when the scenario plans an operation: one more task would change the order
    // in which the runtime polls the others, and so every run's figures.
    if config.control.operated {
        tokio::spawn(step_down_when_asked(db.clone(), config.control.clone()));
    }
    let cluster = start_cluster_ports(&env, &config);
    if let Some(ssh) = config.ssh.clone() {
        tokio::spawn(super::ssh::serve(env.clone(), ssh));
    }
    let vitals = super::status::Vitals::default();
    start_mail(&env, &db, &config, &vitals);
    let resolver = Arc::new(Resolver::new(
        config.outbound.dns,
        outbound::DNS_TIMEOUT,
        config.seed,
    ));
    start_calls_out(&env, &config, &resolver, &vitals);
    let node = Arc::new(Node {
        workers: Semaphore::new(config.settings.workers),
        admitted: AtomicUsize::new(0),
        db,
        resolver,
        issued: AtomicU64::new(0),
        started_ms: env.clock.elapsed().as_millis(),
        cluster,
        config,
        vitals,
    });
    serve_status(&env, &node);
    let listener = env.net.listen(PORT).await?;
    env.record(EventKind::ServiceStarted {
        service: "appliance".to_string(),
        port: PORT,
    });
    let front = node.config.front.clone();
    http::serve_front(
        listener,
        front,
        |_| true,
        move |req, peer| {
            let node = node.clone();
            let env = env.clone();
            async move {
                if Endpoint::route(req.method(), req.uri().path()) != Endpoint::TestAll {
                    let (client, via) = client_of(&peer, req.headers(), node.config.trusted_proxy);
                    env.record(EventKind::ClientSeen {
                        request_id: req
                            .headers()
                            .get(http::REQUEST_ID)
                            .and_then(|v| v.to_str().ok()?.parse().ok()),
                        client,
                        via,
                    });
                }
                handle(&env, &node, req).await
            }
        },
    )
    .await
}

/// The node's calls out: the update check and extensions refresh, and NTP.
fn start_calls_out<N: Net>(
    env: &Env<N>,
    config: &NodeConfig,
    resolver: &Arc<Resolver>,
    vitals: &super::status::Vitals,
) {
    // A planned update turns on the update check's comparison of versions.
    let mut outside = config.outbound.clone();
    outside.notify_updates |= config.control.operated;
    let control = config.control.clone();
    tokio::spawn(outbound::periodic_checks(
        env.clone(),
        resolver.clone(),
        outside,
        move || control.version(),
        vitals.clone(),
    ));
    tokio::spawn(outbound::keep_time(
        env.clone(),
        resolver.clone(),
        config.outbound.ntp.clone(),
    ));
}

/// Starts the cluster ports ([`super::cluster_ports`]) with the version installed;
/// returns the node's view of its peers, which `/testall` reads.
fn start_cluster_ports<N: Net>(env: &Env<N>, config: &NodeConfig) -> ClusterView {
    let view = ClusterView::new(&config.cluster.peers, env.clock.elapsed());
    tokio::spawn(super::cluster_ports::run(
        env.clone(),
        config.cluster.clone(),
        view.clone(),
        config.control.version(),
    ));
    view
}

/// The mail queue, telling `vitals` how each delivery went.
fn start_mail<N: Net>(
    env: &Env<N>,
    db: &Database<N>,
    config: &NodeConfig,
    vitals: &super::status::Vitals,
) {
    let (env, db, mail) = (env.clone(), db.clone(), config.mail.clone());
    tokio::spawn(super::mail::run(env, db, mail, vitals.clone()));
}

/// The status endpoints, when the topology enables monitoring.
fn serve_status<N: Net>(env: &Env<N>, node: &Arc<Node<N>>) {
    if let Some(status) = node.config.status.clone() {
        let node = node.clone();
        tokio::spawn(super::status::run(env.clone(), status, move || {
            node.readings()
        }));
    }
}

/// How long a primary asked to step down waits for a secondary to hold all of its log
/// before it steps down naming no successor: MongoDB's `secondaryCatchUpPeriodSecs`
/// default for `replSetStepDown`.
const HAND_OVER_CATCH_UP_MAX: Duration = Duration::from_secs(10);

/// Hands the primary's role over each time the operator asks.
async fn step_down_when_asked<N: Net>(db: Database<N>, control: Arc<NodeControl>) {
    loop {
        control.step_down.notified().await;
        // The replica set records the step-down and the successor's election.
        db.hand_over(HAND_OVER_CATCH_UP_MAX).await;
    }
}

/// A write through the node's member, retried once on "no primary" when the driver
/// retries writes (`node.retry_writes`), after a primary other than the one that said
/// no is known (at most [`RETRY_WAIT_MAX`]).
async fn write<N: Net>(
    node: &Node<N>,
    op: Op,
) -> Result<(), crate::services::database::WriteError> {
    use crate::services::database::WriteError;
    let asked = node.db.primary();
    match node.db.write(op.clone()).await {
        Err(WriteError::NoPrimary) if node.config.settings.retry_writes => {
            if node
                .db
                .await_primary_other_than(asked.as_deref(), RETRY_WAIT_MAX)
                .await
            {
                node.db.write(op).await
            } else {
                Err(WriteError::NoPrimary)
            }
        }
        other => other,
    }
}

async fn handle<N: Net>(env: &Env<N>, node: &Node<N>, req: Request<Incoming>) -> Response<Body> {
    let endpoint = Endpoint::route(req.method(), req.uri().path());
    match endpoint {
        Endpoint::NotFound => return http::text(404, "not found"),
        // Held open for hours and idle between heartbeats: no worker, no queue slot.
        Endpoint::Connector => return super::connector::accept(env, req),
        _ => {}
    }
    let s = &node.config.settings;
    let capacity = s.workers + s.queue_max;
    if node.admitted.fetch_add(1, Ordering::Relaxed) >= capacity {
        node.admitted.fetch_sub(1, Ordering::Relaxed);
        return http::text(503, format!("overloaded: {} requests waiting", s.queue_max));
    }
    let admission = Admission(&node.admitted);
    let worker = node
        .workers
        .acquire()
        .await
        .expect("the worker semaphore is never closed");
    crate::timers::sleep(node.config.speed.scale(endpoint.service_time(s))).await;
    match endpoint {
        Endpoint::TestAll => {
            let checks = [
                ("auth-api", Ok(())),
                ("db", node.db.health()),
                ("cluster-control", node.cluster.control_health()),
            ];
            match testall(&checks) {
                Ok(()) => http::text(200, "OK"),
                Err(failing) => http::text(503, failing),
            }
        }
        Endpoint::Signup => {
            // The wait for the replica set is I/O: it holds no worker.
            drop((worker, admission));
            signup(node, req).await
        }
        Endpoint::Login => login(env, node, req).await,
        Endpoint::SocialLogin => {
            // The call to the identity provider is I/O: it holds no worker.
            drop((worker, admission));
            social_login(env, node, req).await
        }
        Endpoint::UserInfo => userinfo(env, node, &req),
        Endpoint::Dashboard => http::text(200, "Management Dashboard"),
        Endpoint::Connector | Endpoint::NotFound => unreachable!("answered before admission"),
    }
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn credentials(req: Request<Incoming>) -> Result<Credentials, Response<Body>> {
    let body = http::read_body(req.into_body())
        .await
        .map_err(|why| http::text(why.status(), why.to_string()))?;
    serde_json::from_slice::<Credentials>(&body)
        .map_err(|_| http::text(400, "expected a JSON body {\"username\", \"password\"}"))
}

async fn signup<N: Net>(node: &Node<N>, req: Request<Incoming>) -> Response<Body> {
    let creds = match credentials(req).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    if let Err(why) =
        check_username(&creds.username).and_then(|()| check_new_password(&creds.password))
    {
        return http::text(400, why);
    }
    let preloaded = account_index(node.config.settings.accounts, &creds.username).is_some();
    if preloaded || node.db.password(&creds.username).is_some() {
        return http::text(409, "user exists");
    }
    let op = Op::Signup {
        user: creds.username,
        password: creds.password,
    };
    match write(node, op).await {
        Ok(()) => http::text(201, "created"),
        Err(e) => http::text(e.status(), e.describe()),
    }
}

async fn login<N: Net>(env: &Env<N>, node: &Node<N>, req: Request<Incoming>) -> Response<Body> {
    let creds = match credentials(req).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let accounts = node.config.settings.accounts;
    let matches = match node.db.password(&creds.username) {
        Some(password) => password == creds.password,
        None if account_index(accounts, &creds.username).is_some() => {
            check_password(accounts, &creds.username, &creds.password)
        }
        None => return http::text(401, "unknown user"),
    };
    if !matches {
        return http::text(401, "wrong password");
    }
    grant(env, node, &creds.username)
}

/// A 200 with a new access token for `user`, stamped from this node's clock.
fn grant<N: Net>(env: &Env<N>, node: &Node<N>, user: &str) -> Response<Body> {
    let s = &node.config.settings;
    let n = node.issued.fetch_add(1, Ordering::Relaxed);
    let jti = format!("{}-{}-{n}", node.config.name, node.started_ms);
    let now = env.clock.wall();
    let token = token::issue(
        s.token_secret.as_bytes(),
        user,
        &node.config.name,
        &jti,
        now,
        s.token_lifetime,
    );
    env.record(EventKind::TokenIssued {
        jti,
        iat: now.as_secs(),
    });
    http::json(
        200,
        &serde_json::json!({ "access_token": token, "token_type": "Bearer", "expires_in": s.token_lifetime.as_secs() }),
    )
}

#[derive(Deserialize)]
struct SocialCode {
    provider: String,
    code: String,
}

/// `POST /login/social` with `{"provider": "facebook", "code"}`: the code is exchanged
/// with the identity provider (through the egress); `200` with a token for
/// `facebook|<user id>`, `502` with the reason when the exchange fails.
async fn social_login<N: Net>(
    env: &Env<N>,
    node: &Node<N>,
    req: Request<Incoming>,
) -> Response<Body> {
    let body = match http::read_body(req.into_body()).await {
        Ok(body) => body,
        Err(why) => return http::text(why.status(), why.to_string()),
    };
    let Ok(social) = serde_json::from_slice::<SocialCode>(&body) else {
        return http::text(400, "expected a JSON body {\"provider\", \"code\"}");
    };
    if social.provider != "facebook" {
        return http::text(
            400,
            format!(
                "unknown provider {:?}; expected \"facebook\"",
                social.provider
            ),
        );
    }
    let code_ok = !social.code.is_empty()
        && social
            .code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !code_ok {
        return http::text(400, "expected a code of letters, digits and dashes");
    }
    let outside = &node.config.outbound;
    match outbound::exchange_code(env, &node.resolver, outside, &social.code).await {
        Ok(user_id) => grant(env, node, &format!("{SOCIAL_PREFIX}{user_id}")),
        Err(why) => http::text(502, format!("social login: {why}")),
    }
}

fn userinfo<N: Net>(env: &Env<N>, node: &Node<N>, req: &Request<Incoming>) -> Response<Body> {
    let bearer = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(bearer) = bearer else {
        return http::text(401, "missing bearer token");
    };
    let s = &node.config.settings;
    let claims = match token::decode(s.token_secret.as_bytes(), bearer) {
        Ok(claims) => claims,
        Err(rejection) => {
            env.record(EventKind::TokenRefused {
                reason: rejection.describe(),
            });
            return http::text(401, rejection.describe());
        }
    };
    let now_s = env.clock.wall().as_secs();
    let times = token::check_times(&claims, now_s, s.token_leeway.as_secs());
    env.record(EventKind::TokenChecked {
        jti: claims.jti.clone(),
        issuer: claims.iss.clone(),
        iat: claims.iat,
        exp: claims.exp,
        now_s,
        rejected: times.as_ref().err().map(token::Rejection::describe),
    });
    match times.map(|()| claims) {
        Err(rejection) => http::text(401, rejection.describe()),
        Ok(claims)
            if !claims.sub.starts_with(SOCIAL_PREFIX)
                && account_index(s.accounts, &claims.sub).is_none()
                && node.db.password(&claims.sub).is_none() =>
        {
            http::text(401, "unknown user")
        }
        Ok(claims) => http::json(
            200,
            &serde_json::json!({ "sub": claims.sub, "issued_by": claims.iss }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves /testall names the first failing local service and is OK otherwise.
    #[test]
    fn testall_names_failing_service() {
        assert_eq!(testall(&[("auth-api", Ok(())), ("db", Ok(()))]), Ok(()));
        let checks = [
            ("auth-api", Ok(())),
            ("db", Err("no contact with a primary for 16s".to_string())),
        ];
        assert_eq!(
            testall(&checks),
            Err("db: no contact with a primary for 16s".to_string())
        );
    }

    /// Proves the account directory accepts exactly its accounts and their passwords.
    #[test]
    fn accounts() {
        assert!(check_password(10, "user-9", "password-9"));
        assert!(!check_password(10, "user-10", "password-10"));
        assert!(!check_password(10, "user-09", "password-9"));
        assert!(!check_password(10, "user-1", "password-2"));
    }

    /// Proves the usernames a signup may choose: the load generator's and the dev
    /// tester's names and the edges of the length pass; anything that could leave a mail
    /// address or an SMTP command (CR, LF, `<`, `>`, `@`, space, NUL, non-ASCII) and the
    /// dot rules fail, as does one character past the length.
    #[test]
    fn usernames() {
        let longest = "a".repeat(USERNAME_MAX_CHARS);
        for ok in [
            "signup-12",
            "dev-tester-3",
            "a",
            "a.b_c-d",
            longest.as_str(),
        ] {
            assert_eq!(check_username(ok), Ok(()), "{ok}");
        }
        let too_long = "a".repeat(USERNAME_MAX_CHARS + 1);
        for bad in [
            "",
            too_long.as_str(),
            "u\r\nDATA",
            "u\n",
            "u>",
            "<u",
            "u@x",
            "a b",
            "u\0",
            "\u{e9}",
            ".u",
            "u.",
            "a..b",
        ] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
        assert!(check_new_password("").is_err());
        assert!(check_new_password(&"p".repeat(PASSWORD_MAX_BYTES)).is_ok());
        assert!(check_new_password(&"p".repeat(PASSWORD_MAX_BYTES + 1)).is_err());
    }

    /// Proves routing and the per-endpoint service times.
    #[test]
    fn routes() {
        let s = NodeSettings::default();
        assert_eq!(Endpoint::route(&Method::GET, "/testall"), Endpoint::TestAll);
        assert_eq!(
            Endpoint::route(&Method::POST, "/testall"),
            Endpoint::NotFound
        );
        assert_eq!(
            Endpoint::route(&Method::POST, "/login").service_time(&s),
            s.login_time
        );
    }
}
