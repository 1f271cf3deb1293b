//! The round-robin layer-7 load balancer in front of the nodes.
//!
//! Real component: the customer's load balancer (NGINX, HAProxy or an appliance; the network requirements)
//! that publishes the four appliance names on 443, spreads requests round robin over the
//! nodes with no stickiness, and monitors each node's `/testall`.
//!
//! Modelled:
//! - A hyper reverse proxy on 443. Each client request goes to the next healthy backend in
//!   round-robin order ([`super::round_robin`]), also a request on a client connection kept
//!   alive from an earlier one (HTTP/1.1 keep-alive, which the users' browsers use): the
//!   balancer balances requests, not connections. A kept client connection silent for
//!   [`CLIENT_KEEP_ALIVE_TIMEOUT`] is closed. TLS sessions are cached for resumption
//!   ([`crate::tls`]: stateful tickets, an empty cache at every start). The proxy adds `X-Forwarded-For` (the
//!   client's address appended to any it received) and `X-Forwarded-Proto: https`, drops
//!   hop-by-hop headers, and forwards everything else, `Host` included.
//! - Websockets (`websockets = true`, the default): a request with `Upgrade: websocket`
//!   and `Connection: upgrade` keeps both, the one exception to dropping hop-by-hop
//!   headers (nginx's `proxy_set_header Upgrade $http_upgrade; Connection "upgrade"`).
//!   When the backend answers `101 Switching Protocols`, the balancer relays the 101 and
//!   then copies bytes both ways between the client's and the backend's connections until
//!   either closes or the tunnel carries nothing for [`TUNNEL_IDLE_TIMEOUT`]. With
//!   `websockets = false` the upgrade headers are dropped like any hop-by-hop header, the
//!   node sees a plain `GET` and answers `426 Upgrade Required`: the AD/LDAP connector
//!   cannot connect (the network requirements: "does not work in HTTPS mode").
//! - A backend that refuses the connection gets the request retried on the next backend
//!   not yet tried, at most `retries` times; nothing was sent, so the retry is safe. A
//!   response timeout or a broken connection is not retried (the request may have reached
//!   the backend): the client gets 504 or 502 naming the backend. A connect timeout is not
//!   retried either, by choice of the model (see `LbSettings::connect_timeout`): 504.
//!   No healthy backend left: 503.
//! - Active health checks, HAProxy's schedule: `GET <check_path>` on each backend, bounded
//!   by `connect_timeout` to connect and `timeout` for the answer (HAProxy's `timeout
//!   connect` / `timeout check`); anything but a 200 fails. Results feed the rise/fall
//!   state machine in [`super::health`]. The next check starts a pause after the last one
//!   *ended* ([`next_check_in`]): `interval` while the backend is fully up, `downinter`
//!   while fully down, `fastinter` while results count towards a change, each varied by
//!   up to `spread_checks_pct` percent either way. The first checks of the N backends are
//!   spread evenly over the interval, as HAProxy spreads them, so they do not all fire on
//!   one tick. HAProxy counts health as one counter that a pass raises and a failure
//!   lowers; the model counts streaks (a pass forgives counted failures): the two differ
//!   only when results alternate.
//!
//! - Two modes (the network requirements, `lb.mode`). `https`: the balancer terminates TLS with the
//!   instance certificate ([`crate::tls`]) and proxies HTTP as above, `X-Forwarded-Proto`
//!   saying `https`. `tcp`: each client connection goes, bytes as they are, to the next
//!   healthy backend (refusals retried the same way), behind a PROXY v1 or v2 header with
//!   the client's address when `lb.proxy_protocol` asks for one
//!   ([`super::proxy_header`]); the nodes terminate TLS. A connection no backend takes is
//!   closed (there is no HTTP to answer 503 with), and a connection idle for
//!   `response_timeout` either way is closed (HAProxy's `timeout server`). The balancer
//!   balances connections, not requests: every request a browser sends on a kept
//!   connection goes to the node that connection was passed to, so the rotation moves on
//!   once per connection, a busy browser stays on one node until its connection closes
//!   (idle for `response_timeout`, or the node gone), and a node back in rotation gets
//!   only new connections. A browser reconnecting lands on the next node, whose TLS
//!   session cache does not know its ticket (each node has its own): it resumes only when
//!   it lands on the node that issued the ticket, else the handshake is a full one. Health checks
//!   in `tcp` mode send a PROXY `LOCAL` header and speak TLS without verifying the
//!   certificate (`check-send-proxy`, `check-ssl verify none`).
//! - An allow-list (`lb.allow`, CIDR): connections from anywhere else are closed at once
//!   (HAProxy's `tcp-request connection reject`). Endpoint filtering
//!   (`lb.filter_endpoints`, `https` mode only): clients outside `lb.admin_networks` get
//!   `403` for any path outside `lb.public_paths` (prefixes on `/` boundaries). Every
//!   denial is an event.
//! - Websockets (`https` mode, `lb.websockets`): an `Upgrade: websocket` request keeps its
//!   `Upgrade` and `Connection: upgrade` headers; on the node's 101 both sides are upgraded
//!   and spliced. With `lb.websockets = false` upgrades are stripped like any hop-by-hop
//!   header, so the node answers 426. `tcp` mode carries them as any bytes.
//!
//! - What an operator reads of it at run time ([`super::lb_admin`], HAProxy's `show
//!   servers state` / `show stat`): the requests in flight on each backend and the checks
//!   it passed in a row (a rolling update waits on both; the drain itself is the
//!   [`Operator`]'s, below).
//!
//! - Bounds on its clients (what keeps one from stopping it when served on a real
//!   socket): accepts never fail, at most [`crate::net::MAX_CONNECTIONS_PER_LISTENER`]
//!   connections are open at once (in both modes), and in `https` mode a request's head
//!   and body are bounded as every HTTP server's here ([`crate::services::http`]: `431`,
//!   `413`, `408`, an idle kept-alive connection closed). The simulated users stay far
//!   inside them.
//!
//! - An operator's drain (the scenario's `lb = { drain = "node-2" }`, HAProxy's `set
//!   server be/node-2 state drain`): the backend gets no new request (https mode) or
//!   connection (tcp mode); what it already has finishes, kept tcp-mode connections
//!   included; its health checks go on and are recorded as before. `lb = { ready =
//!   "node-2" }` puts it back at once (its health state is its own). The drained set is
//!   the [`Operator`]'s, held by the world, so it outlives a crash of the balancer (as
//!   HAProxy's `server-state-file` keeps it over a reload).
//!
//! - An operator's change of the checks (the scenario's `lb = { interval = "1s", rise =
//!   3, fall = 2 }`, a reload with HAProxy's `server-state-file`): each backend keeps its
//!   state and the counts it has, and its next check is judged against the new `rise`
//!   and `fall`; the pause after it is the new interval (and `fastinter` / `downinter`
//!   where the topology left them unset). Like the drained set, the change outlives a
//!   crash of the balancer.
//!
//! Port: TCP 443. Faults it reacts to: everything that happens to its backends (a
//! crashed, partitioned or blocked node fails its checks and is taken out after `fall`
//! of them); an operator's drain and ready, and change of interval, rise and fall; its
//! own crash (power-off: every user's
//! connect times out; process: every connect is refused; nobody reaches a node: every
//! user request fails until it restarts, and its health state starts afresh then, every
//! backend up).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response};
use ipnet::Ipv4Net;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::env::Env;
use crate::events::EventKind;
use crate::faults::service::CheckChange;
use crate::net::Net;
use crate::services::health::{Health, Phase};
use crate::services::http::{self, Body, Failure};
use crate::services::proxy_header;
use crate::services::round_robin::RoundRobin;
use crate::topology::{LbMode, LbSettings};

/// The published HTTPS port.
pub const PORT: u16 = 443;

/// How long an upgraded connection (a websocket tunnel) in `https` mode may carry nothing
/// either way before the balancer closes it (HAProxy's `timeout tunnel`). No scenario
/// setting: three of the connector's heartbeat intervals (6 s), so a live connector (a
/// heartbeat every 2 s) never meets it, and a tunnel to a node that went silent is closed
/// about when the connector gives up on it by itself. The exported configurations use a
/// longer 1 h (`export::haproxy::TUNNEL_TIMEOUT`), which a real connector's heartbeats
/// make as good. (`tcp` mode bounds every connection's silence by `response_timeout`.)
pub const TUNNEL_IDLE_TIMEOUT: Duration =
    Duration::from_secs(2 * crate::services::connector::MISSED_MAX as u64);

/// How long a client connection kept alive in `https` mode may stay silent between
/// requests before the balancer closes it (HAProxy's `timeout http-keep-alive`, nginx's
/// `keepalive_timeout`). The exported HAProxy configuration sets no `timeout
/// http-keep-alive`, so HAProxy applies its `timeout http-request` (10 s) instead; so does
/// the model: hyper runs one timer for a request head and for a kept connection's silence
/// ([`http::HEADER_READ_TIMEOUT`]). A browser whose next request comes later reconnects
/// and resumes its TLS session.
pub const CLIENT_KEEP_ALIVE_TIMEOUT: Duration = http::HEADER_READ_TIMEOUT;

/// Headers that describe one hop's connection and are never forwarded (RFC 9110 7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// One backend node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
}

/// The backends an operator has drained, by name, and the check settings an operator
/// changed: the scenario's `lb` steps set them (the world holds a clone), the balancer
/// reads the drained set at every pick and the settings at every check.
#[derive(Debug, Clone, Default)]
pub struct Operator(Arc<Mutex<OperatorState>>);

/// What an [`Operator`] holds.
#[derive(Debug, Default)]
struct OperatorState {
    drained: std::collections::BTreeSet<String>,
    checks: CheckChange,
}

impl Operator {
    fn state(&self) -> std::sync::MutexGuard<'_, OperatorState> {
        self.0
            .lock()
            .expect("no code panics while holding the state")
    }

    /// Drains `node` (`drained = true`) or puts it back.
    pub fn set(&self, node: &str, drained: bool) {
        let set = &mut self.state().drained;
        if drained {
            set.insert(node.to_string());
        } else {
            set.remove(node);
        }
    }

    /// True when `node` is drained.
    pub fn drained(&self, node: &str) -> bool {
        self.state().drained.contains(node)
    }

    /// Changes the check settings from each backend's next check on.
    pub fn retune(&self, change: CheckChange) {
        let mut state = self.state();
        state.checks = state.checks.then(change);
    }

    /// The check settings now: `s` with the operator's changes laid over it (`fastinter`
    /// and `downinter` follow a changed interval where `s` left them unset).
    pub fn settings(&self, s: &LbSettings) -> LbSettings {
        let checks = self.state().checks;
        LbSettings {
            interval: checks.interval_ms.map_or(s.interval, Duration::from_millis),
            rise: checks.rise.unwrap_or(s.rise),
            fall: checks.fall.unwrap_or(s.fall),
            ..s.clone()
        }
    }
}

/// The balancer's configuration.
#[derive(Clone)]
pub struct LbConfig {
    pub backends: Vec<Backend>,
    pub settings: LbSettings,
    /// The published side: TLS termination in `https` mode (`tls: None` when the
    /// deployment speaks plain HTTP), nothing in `tcp` mode.
    pub front: http::Front,
    /// What a health check puts before HTTP: in `tcp` mode the PROXY `LOCAL` header the
    /// nodes expect and TLS without verification (HAProxy's `check-send-proxy`,
    /// `check-ssl verify none`); nothing in `https` mode.
    pub check_dial: http::Dial,
    /// `X-Forwarded-Proto`: `"https"` when the balancer terminates TLS, `"http"` otherwise.
    pub forwarded_proto: &'static str,
    /// Seeds the random part of the check intervals (`spread_checks_pct`); backend `i`
    /// draws from `check_seed ^ i`.
    pub check_seed: u64,
    /// The operator's drained backends (none, unless the scenario drains one).
    pub operator: Operator,
    /// What an operator reads of the running balancer ([`super::lb_admin`]): requests in
    /// flight and checks passed in a row, per backend.
    pub admin: Arc<super::lb_admin::LbAdmin>,
}

/// Backend health and the rotation, shared by the proxy and the checkers.
struct Pool {
    health: Vec<Health>,
    rotation: RoundRobin,
}

impl Pool {
    /// The next healthy backend not in `tried`.
    fn pick(&mut self, tried: &[usize]) -> Option<usize> {
        let Pool { health, rotation } = self;
        rotation.pick(health.len(), |i| health[i].is_up() && !tried.contains(&i))
    }
}

type SharedPool = Arc<Mutex<Pool>>;

fn lock(pool: &SharedPool) -> std::sync::MutexGuard<'_, Pool> {
    pool.lock().expect("no code panics while holding the pool")
}

/// Runs the balancer: one checker task per backend and the proxy on [`PORT`].
pub async fn run<N: Net>(env: Env<N>, config: LbConfig) -> std::io::Result<()> {
    let config = Arc::new(config);
    let s = &config.settings;
    let pool: SharedPool = Arc::new(Mutex::new(Pool {
        health: config
            .backends
            .iter()
            .map(|_| Health::new(s.rise, s.fall))
            .collect(),
        rotation: RoundRobin::new(),
    }));
    env.record(EventKind::ChecksStarted {
        backends: config.backends.iter().map(|b| b.name.clone()).collect(),
        interval: s.interval,
        connect_timeout: s.connect_timeout,
        timeout: s.timeout,
        rise: s.rise,
        fall: s.fall,
    });
    for index in 0..config.backends.len() {
        tokio::spawn(check_loop(env.clone(), config.clone(), pool.clone(), index));
    }
    let listener = env.net.listen(PORT).await?;
    env.record(EventKind::ServiceStarted {
        service: "lb".to_string(),
        port: PORT,
    });
    let admit = {
        let (env, config) = (env.clone(), config.clone());
        move |client: SocketAddr| {
            let allow = &config.settings.allow;
            let allowed = allow.is_empty() || within(allow, client.ip());
            if !allowed {
                env.record(EventKind::LbDenied {
                    client: client.ip(),
                    path: None,
                });
            }
            allowed
        }
    };
    match config.settings.mode {
        LbMode::Https => {
            let front = config.front.clone();
            http::serve_front(listener, front, admit, move |req, peer| {
                let (env, config, pool) = (env.clone(), config.clone(), pool.clone());
                async move { proxy(&env, &config, &pool, req, peer.addr).await }
            })
            .await
        }
        LbMode::Tcp => pass_through_loop(env, config, pool, listener, admit).await,
    }
}

/// True when `ip` is in one of `networks` (an IPv6 address is in none of them).
fn within(networks: &[Ipv4Net], ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => networks.iter().any(|n| n.contains(&v4)),
        IpAddr::V6(_) => false,
    }
}

/// True when `path` is one of `prefixes` or below one (`/login` covers `/login/social`,
/// not `/loginx`).
pub fn is_public(path: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| {
        let p = p.trim_end_matches('/');
        path == p || path.starts_with(p) && path[p.len()..].starts_with('/') || p.is_empty()
    })
}

/// `tcp` mode: every accepted connection goes, bytes as they are, to the next healthy
/// backend (a refusal moves it on, as in `https` mode), behind a PROXY header when
/// configured; it is closed when no backend takes it. At most
/// [`crate::net::MAX_CONNECTIONS_PER_LISTENER`] are open at once.
async fn pass_through_loop<N: Net>(
    env: Env<N>,
    config: Arc<LbConfig>,
    pool: SharedPool,
    listener: N::Listener,
    admit: impl Fn(SocketAddr) -> bool,
) -> std::io::Result<()> {
    let local = SocketAddr::new(env.net.local_ip(), PORT);
    let mut connections = crate::net::Connections::new(listener);
    loop {
        let (stream, client, slot) = connections.next().await;
        if !admit(client) {
            continue;
        }
        let (env, config, pool) = (env.clone(), config.clone(), pool.clone());
        tokio::spawn(async move {
            pass_through(&env, &config, &pool, stream, client, local).await;
            drop(slot);
        });
    }
}

async fn pass_through<N: Net>(
    env: &Env<N>,
    config: &LbConfig,
    pool: &SharedPool,
    stream: N::Stream,
    client: SocketAddr,
    local: SocketAddr,
) {
    use tokio::io::AsyncWriteExt;
    let s = &config.settings;
    let header = proxy_header::encode(s.proxy_header(), Some((client, local)));
    let tried = try_backends(config, pool, |backend| {
        http::connect(&env.net, backend.addr, s.connect_timeout)
    })
    .await;
    // A connect that failed otherwise than by refusal (a timeout) closes the client's.
    let Some((backend, Ok(mut upstream))) = tried.ended else {
        env.record(EventKind::Relayed {
            client: client.ip(),
            backend: None,
            refused_by: tried.refused_by,
        });
        return;
    };
    env.record(EventKind::Relayed {
        client: client.ip(),
        backend: Some(backend.name.clone()),
        refused_by: tried.refused_by,
    });
    if upstream.write_all(&header).await.is_ok() {
        http::splice(stream, upstream, s.response_timeout).await;
    }
}

/// How a request or a connection fared on the backends: the first that did not refuse it,
/// with what it gave, and the ones that refused it before.
struct Tried<'a, T> {
    /// The backend whose attempt ended otherwise than by refusal, and how it ended;
    /// `None` when every backend tried refused or none was left in rotation.
    ended: Option<(&'a Backend, Result<T, Failure>)>,
    /// The backends that refused the connection, in the order tried.
    refused_by: Vec<String>,
}

/// The balancer's retry rule, the same in both modes: `attempt` on the next backend in
/// rotation ([`Pool::pick`]), each backend at most once and at most `lb.retries + 1` in
/// all, moving on only when a backend refuses the connection (nothing was sent, so
/// another may take it).
async fn try_backends<'a, T, F>(
    config: &'a LbConfig,
    pool: &SharedPool,
    mut attempt: impl FnMut(&'a Backend) -> F,
) -> Tried<'a, T>
where
    F: Future<Output = Result<T, Failure>>,
{
    let retries = config.settings.retries;
    let max_attempts = usize::try_from(retries).map_or(usize::MAX, |r| r.saturating_add(1));
    let mut tried = Vec::new();
    let mut refused_by = Vec::new();
    while tried.len() < max_attempts {
        // A drained backend is passed over as if this request had tried it already.
        let skip: Vec<usize> = (0..config.backends.len())
            .filter(|i| tried.contains(i) || config.operator.drained(&config.backends[*i].name))
            .collect();
        let Some(index) = lock(pool).pick(&skip) else {
            break;
        };
        tried.push(index);
        let backend = &config.backends[index];
        let in_flight = config.admin.begin(index);
        let attempted = attempt(backend).await;
        drop(in_flight);
        match attempted {
            Err(Failure::Refused) => refused_by.push(backend.name.clone()),
            ended => {
                return Tried {
                    ended: Some((backend, ended)),
                    refused_by,
                };
            }
        }
    }
    Tried {
        ended: None,
        refused_by,
    }
}

async fn check_loop<N: Net>(env: Env<N>, config: Arc<LbConfig>, pool: SharedPool, index: usize) {
    let s = &config.settings;
    let count = u32::try_from(config.backends.len()).expect("at most MAX_NODES backends");
    let slot = u32::try_from(index).expect("at most MAX_NODES backends");
    let mut rng = ChaCha8Rng::seed_from_u64(config.check_seed ^ u64::from(slot));
    // HAProxy spreads the first checks of a backend's servers over the interval.
    crate::timers::sleep(s.interval * slot / count).await;
    let backend = &config.backends[index];
    loop {
        let result = check(&env, s, &config.check_dial, backend).await;
        // An operator's change of interval, rise or fall counts from this check on.
        let now = config.operator.settings(s);
        let (effect, phase) = {
            let mut pool = lock(&pool);
            pool.health[index].retune(now.rise, now.fall);
            config.admin.checked(index, result.is_ok());
            let effect = pool.health[index].observe(result.is_ok());
            (effect, pool.health[index].phase())
        };
        if let Some(effect) = effect {
            let detail = result.err().unwrap_or_else(|| "200 OK".to_string());
            env.record(EventKind::Check {
                backend: backend.name.clone(),
                effect,
                detail,
            });
        }
        crate::timers::sleep(next_check_in(&now, phase, &mut rng)).await;
    }
}

/// The pause between the end of one check and the start of the next, HAProxy's rule
/// (`src/check.c`): `inter` while the backend is fully up, `downinter` while fully down,
/// `fastinter` in between (each `interval` when unset), plus or minus a uniform share
/// of up to `spread_checks_pct` percent of it (`spread-checks`).
pub fn next_check_in(s: &LbSettings, phase: Phase, rng: &mut impl Rng) -> Duration {
    let inter = match phase {
        Phase::Up => s.interval,
        Phase::Transition => s.fastinter.unwrap_or(s.interval),
        Phase::Down => s.downinter.unwrap_or(s.interval),
    };
    if s.spread_checks_pct == 0 {
        return inter;
    }
    let inter_ms = inter.as_millis() as u64;
    let spread_ms = inter_ms * u64::from(s.spread_checks_pct) / 100;
    Duration::from_millis(rng.random_range(inter_ms - spread_ms..=inter_ms + spread_ms))
}

/// One health check: `Ok` on a 200, otherwise why it failed.
async fn check<N: Net>(
    env: &Env<N>,
    s: &crate::topology::LbSettings,
    check_dial: &http::Dial,
    backend: &Backend,
) -> Result<(), String> {
    let request = Request::get(s.check_path.as_str())
        .header(hyper::header::HOST, backend.addr.ip().to_string())
        .body(Body::default())
        .expect("a static request is valid");
    match http::exchange_via(
        &env.net,
        backend.addr,
        check_dial,
        request,
        s.connect_timeout,
        s.timeout,
    )
    .await
    {
        Ok(response) if response.status() == 200 => Ok(()),
        Ok(response) => Err(format!(
            "{} {}",
            response.status().as_u16(),
            String::from_utf8_lossy(response.body())
                .lines()
                .next()
                .unwrap_or("")
        )),
        Err(failure) => Err(failure.describe(s.connect_timeout, s.timeout)),
    }
}

/// Answers one client request in `https` mode: endpoint filtering, then the request on
/// the backends in rotation ([`try_backends`]), the outcome recorded as `Forwarded`.
async fn proxy<N: Net>(
    env: &Env<N>,
    config: &LbConfig,
    pool: &SharedPool,
    mut req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    // The client's side of a websocket upgrade, taken before the request is split up.
    let upgrade = (config.settings.websockets && http::wants_websocket(req.headers()))
        .then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let body = match http::read_body(body).await {
        Ok(body) => body,
        Err(why) => return http::text(why.status(), why),
    };
    let s = &config.settings;
    let request_id = parts
        .headers
        .get(http::REQUEST_ID)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    if let Some(denied) = filter_endpoint(env, s, parts.uri.path(), peer) {
        return denied;
    }
    let upgrading = upgrade.is_some();
    let tried = try_backends(config, pool, |backend| {
        let mut request = forward(&parts, body.clone(), peer, config.forwarded_proto);
        if upgrading {
            keep_upgrade(&parts.headers, request.headers_mut());
        }
        exchange_with(env, s, backend, request, upgrading)
    })
    .await;
    let refused_by = tried.refused_by;
    let Some((backend, exchanged)) = tried.ended else {
        return no_backend(env, request_id, refused_by);
    };
    let (status, response) = answer(s, backend, exchanged, upgrade);
    env.record(EventKind::Forwarded {
        request_id,
        backend: Some(backend.name.clone()),
        status,
        refused_by,
    });
    response
}

/// Endpoint filtering (`lb.filter_endpoints`): a 403, recorded as a denial, when `peer`
/// is outside `lb.admin_networks` and `path` is not public; `None` lets the request on.
fn filter_endpoint<N: Net>(
    env: &Env<N>,
    s: &LbSettings,
    path: &str,
    peer: SocketAddr,
) -> Option<Response<Body>> {
    if s.filter_endpoints
        && !within(&s.admin_networks, peer.ip())
        && !is_public(path, &s.public_paths)
    {
        env.record(EventKind::LbDenied {
            client: peer.ip(),
            path: Some(path.to_string()),
        });
        return Some(http::text(403, "forbidden: not a public endpoint"));
    }
    None
}

/// Sends `request` to `backend`: as a websocket upgrade when `upgrading` (the backend's
/// upgraded connection comes back with its 101), else as a plain exchange.
async fn exchange_with<N: Net>(
    env: &Env<N>,
    s: &LbSettings,
    backend: &Backend,
    request: Request<Body>,
    upgrading: bool,
) -> Result<(Response<Bytes>, Option<hyper::upgrade::Upgraded>), Failure> {
    if upgrading {
        http::exchange_upgrade(
            &env.net,
            backend.addr,
            request,
            s.connect_timeout,
            s.response_timeout,
        )
        .await
    } else {
        http::exchange(
            &env.net,
            backend.addr,
            request,
            s.connect_timeout,
            s.response_timeout,
        )
        .await
        .map(|response| (response, None))
    }
}

/// The 503 for a request no backend took (every one tried refused, or none was in
/// rotation), recorded as `Forwarded` to no backend.
fn no_backend<N: Net>(
    env: &Env<N>,
    request_id: Option<u64>,
    refused_by: Vec<String>,
) -> Response<Body> {
    let why = if refused_by.is_empty() {
        "no backend in rotation".to_string()
    } else {
        format!("refused by {}", refused_by.join(", "))
    };
    env.record(EventKind::Forwarded {
        request_id,
        backend: None,
        status: 503,
        refused_by,
    });
    http::text(503, why)
}

/// The client's status and response from `backend`'s exchange: a 101 spliced to the
/// client's `upgrade`, the backend's response relayed, or 502 (broken) / 504 (timed out)
/// naming the backend.
fn answer(
    s: &LbSettings,
    backend: &Backend,
    exchanged: Result<(Response<Bytes>, Option<hyper::upgrade::Upgraded>), Failure>,
    upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> (u16, Response<Body>) {
    match exchanged {
        Ok((response, Some(backend_io))) => {
            let client = upgrade.expect("only an upgrade request is upgraded");
            (101, tunnel(response, client, backend_io))
        }
        Ok((response, None)) => (response.status().as_u16(), relay(response)),
        Err(failure) => {
            let status = if matches!(failure, Failure::Broken(_)) {
                502
            } else {
                504
            };
            let why = failure.describe(s.connect_timeout, s.response_timeout);
            (
                status,
                http::text(status, format!("{}: {why}", backend.name)),
            )
        }
    }
}

/// The request as sent to a backend: same method, path and headers, minus hop-by-hop
/// headers, plus `X-Forwarded-For` and `X-Forwarded-Proto`.
pub fn forward(
    parts: &hyper::http::request::Parts,
    body: Bytes,
    peer: SocketAddr,
    proto: &'static str,
) -> Request<Body> {
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.path_and_query().map_or_else(
        || "/".parse().expect("static uri"),
        |pq| pq.as_str().parse().expect("a path taken from a valid uri"),
    );
    let headers = request.headers_mut();
    copy_end_to_end(&parts.headers, headers);
    let forwarded_for = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(earlier) => format!("{earlier}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    headers.insert(
        HeaderName::from_static("x-forwarded-for"),
        HeaderValue::from_str(&forwarded_for).expect("addresses are valid header text"),
    );
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(proto),
    );
    request
}

/// Keeps a websocket upgrade on a forwarded request: the client's `Upgrade` and
/// `Connection: upgrade`, the only hop-by-hop headers that pass.
fn keep_upgrade(from: &HeaderMap, to: &mut HeaderMap) {
    for value in from.get_all(hyper::header::UPGRADE) {
        to.append(hyper::header::UPGRADE, value.clone());
    }
    to.insert(
        hyper::header::CONNECTION,
        HeaderValue::from_static("upgrade"),
    );
}

/// The backend's 101 as relayed to the client (its `Upgrade` kept, `Connection: upgrade`),
/// and a task that splices the two upgraded connections once hyper hands the client's
/// over, until either side closes or [`TUNNEL_IDLE_TIMEOUT`] passes in silence.
fn tunnel(
    response: Response<Bytes>,
    client: hyper::upgrade::OnUpgrade,
    backend: hyper::upgrade::Upgraded,
) -> Response<Body> {
    let head = response.headers().clone();
    let mut out = relay(response);
    keep_upgrade(&head, out.headers_mut());
    tokio::spawn(async move {
        // A client that went away before the switch leaves nothing to carry.
        if let Ok(client) = client.await {
            let io = hyper_util::rt::TokioIo::new;
            http::splice(io(client), io(backend), TUNNEL_IDLE_TIMEOUT).await;
        }
    });
    out
}

fn relay(response: Response<Bytes>) -> Response<Body> {
    let (parts, body) = response.into_parts();
    let mut out = Response::new(Full::new(body));
    *out.status_mut() = parts.status;
    copy_end_to_end(&parts.headers, out.headers_mut());
    out
}

fn copy_end_to_end(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !HOP_BY_HOP.contains(&name.as_str()) && name != "x-forwarded-for" {
            to.append(name.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves the forwarded request keeps method, path, Host and end-to-end headers, drops
    /// hop-by-hop ones, appends the client to X-Forwarded-For and sets X-Forwarded-Proto.
    #[test]
    fn forwarded_headers() {
        let incoming = Request::post("/login?x=1")
            .header("host", "login.example.com")
            .header("connection", "keep-alive")
            .header("x-forwarded-for", "192.0.2.7")
            .header("content-type", "application/json")
            .body(())
            .unwrap();
        let (parts, ()) = incoming.into_parts();
        let peer: SocketAddr = "198.51.100.10:49152".parse().unwrap();
        let out = forward(&parts, Bytes::from_static(b"{}"), peer, "https");
        assert_eq!(out.method(), hyper::Method::POST);
        assert_eq!(out.uri(), "/login?x=1");
        let h = out.headers();
        assert_eq!(h["host"], "login.example.com");
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["x-forwarded-for"], "192.0.2.7, 198.51.100.10");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert!(h.get("connection").is_none());
    }

    /// Proves an upgrade request loses its upgrade headers like any hop-by-hop header
    /// (`websockets = false`), and keeps `Upgrade` with `Connection: upgrade` when the
    /// balancer passes websockets.
    #[test]
    fn upgrade_headers() {
        let incoming = Request::get("/connector")
            .header("connection", "keep-alive, Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(())
            .unwrap();
        let (parts, ()) = incoming.into_parts();
        assert!(http::wants_websocket(&parts.headers));
        let peer: SocketAddr = "198.51.100.10:49152".parse().unwrap();
        let mut out = forward(&parts, Bytes::new(), peer, "https");
        assert!(!http::wants_websocket(out.headers()));
        assert_eq!(
            out.headers()["sec-websocket-key"],
            "dGhlIHNhbXBsZSBub25jZQ=="
        );
        keep_upgrade(&parts.headers, out.headers_mut());
        assert_eq!(out.headers()["upgrade"], "websocket");
        assert_eq!(out.headers()["connection"], "upgrade");
        assert!(http::wants_websocket(out.headers()));
    }
}

/// Over simulated connections (a file named `tests.rs`: test code may reach the world).
#[cfg(test)]
#[path = "load_balancer/tests.rs"]
mod keep_alive;
