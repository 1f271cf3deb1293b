//! The users: an open-loop load generator standing in for end users' browsers and apps.
//!
//! Real component: people on the internet (198.51.100.0/24) logging in to the App Tenant
//! at `login.<domain>` through the load balancer, each in a browser.
//!
//! Modelled:
//! - Arrivals from a Poisson process at the configured rate ([`super::arrivals`]), seeded
//!   from the run's seed; each arrival is one request, never waiting for earlier ones.
//! - Browsers: each request belongs to one of a population of browsers (chosen uniformly,
//!   from a stream of the seed of its own), [`CLICK_GAP_MEAN`] times the rate of them, so
//!   each browser sends a Poisson stream of requests, one every [`CLICK_GAP_MEAN`] on
//!   average, whatever the rate. A browser ([`super::browser`]) keeps its connections to
//!   the balancer open between requests (HTTP/1.1 keep-alive, up to
//!   [`super::browser::MAX_CONNECTIONS_PER_HOST`] per name when requests overlap) and
//!   resumes TLS with a session ticket when it connects again. After [`SESSION_REQUESTS`]
//!   requests its session ends: the browser closes its connections and forgets its
//!   tickets, and its next request comes from a new browser (a new user), whose first
//!   handshake is a full one. The balancer closes a connection idle for its keep-alive
//!   timeout (`load_balancer::CLIENT_KEEP_ALIVE_TIMEOUT` in `https` mode,
//!   `lb.response_timeout` in `tcp` mode); the browser then reconnects for its next
//!   request, resuming its TLS session. Every request records the connection it went on
//!   ([`ConnectionUse`]): kept, or new with a full or resumed handshake, or none.
//! - Each arrival is a `POST /signup` of a new user (`signup-<arrival>`) with probability
//!   `signup_share`; a `GET /userinfo` with a token from an earlier login with probability
//!   `userinfo_share` once a token exists; otherwise a `POST /login` as a user whose signup
//!   was acknowledged (at most [`MAX_SIGNED_UP`] kept), or as a random preloaded account
//!   before there is one; or, with probability `social_share`, a `POST /login/social` with
//!   a facebook.com code (one of [`SOCIAL_USERS`]). Tokens from successful logins are kept,
//!   at most [`MAX_TOKENS`], shared by all browsers (the request mix does not follow a
//!   browser's own logins).
//! - Name resolution through the DNS host when a browser opens a connection, cached for
//!   the record's TTL; a lookup waits at most [`DNS_TIMEOUT`], or half the request timeout
//!   when that is shorter, so a silent DNS server shows as a `dns` failure, not a
//!   `timeout`. A request on a kept connection resolves nothing.
//! - Each request carries `X-Request-Id: <arrival number>`, which the load balancer logs,
//!   so the report can tie its routing to the request.
//! - TLS to the load balancer when the topology has it on: the request dials the name it
//!   is for (`login.<domain>`, or `manage.<domain>` for the dashboard); a full handshake
//!   checks the certificate against the users' trust and clock, a resumed one checks
//!   nothing (see [`crate::tls`]).
//! - Every request is bounded by the users' timeout, end to end (waiting for a connection
//!   included), and its outcome (ok, HTTP status, refused, reset, timeout, dns) and latency
//!   are recorded in simulated time. A request that fails or times out closes its
//!   connection.
//!
//! - A request that got no response at all on a kept connection (the balancer closed it
//!   as the request left) is sent again on another, once ([`STALE_RESENDS_MAX`]), as
//!   browsers do; its record names the connection it was sent again on.
//!
//! Left out on purpose: retries by the user (users do not retry; the outcome of each
//! request is what the report counts), HTTP/2.
//!
//! Port: none; connects to the load balancer on 443 and DNS on 53. Faults it reacts to:
//! none of its own; `dns` answers are felt when a browser's cached answer expires (a
//! `dns` failure: SERVFAIL, NXDOMAIN, silence; a wrong address sends the connection
//! elsewhere), the balancer's crash, pause, drain and allow-list as the requests'
//! outcomes, link faults on the users' link as latency or late retransmissions.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::env::Env;
use crate::events::{ConnectionUse, EventKind, RequestOutcome, RequestRecord};
use crate::net::Net;
use crate::seed::{self, Component};
use crate::services::arrivals::Arrivals;
use crate::services::browser::{Browser, Checkout, Lease};
use crate::services::dns;
use crate::services::http::{self, Body, Failure, REQUEST_ID, SendError};

/// At most this many acknowledged signups are kept to log in as (newest replace oldest).
pub const MAX_SIGNED_UP: usize = 256;

/// At most this many tokens are kept for `/userinfo` calls (newest replace oldest).
pub const MAX_TOKENS: usize = 256;

/// How long a DNS lookup may take before the request fails with a `dns` outcome (at most
/// half the request timeout).
pub const DNS_TIMEOUT: Duration = Duration::from_secs(2);

/// The mean time between two requests of one browser (a user's pause between clicks):
/// the population of browsers is the rate times this, so a browser's requests come at the
/// same pace at any rate. 2 s: an assumption of the model, not a measured figure.
pub const CLICK_GAP_MEAN: Duration = Duration::from_secs(2);

/// Requests in one browser session: after this many, the browser leaves (its connections
/// closed, its tickets forgotten) and a new one takes its place. 10: an assumption of the
/// model (a sign-in and a few calls of the application behind it).
pub const SESSION_REQUESTS: u32 = 10;

/// At most this many browsers, whatever the rate (20,000 requests a second at
/// [`CLICK_GAP_MEAN`]); each holds at most a few connections and a few tickets.
pub const MAX_BROWSERS: usize = 40_000;

/// How many times a request that got no response at all on a kept connection (closed by
/// the server as the request left: the balancer's idle timeout, or broken) is sent again
/// on another connection. 1: browsers do this once (Chromium resends a request that
/// failed on a reused connection before any response arrived), whatever the method;
/// nothing of such a request reached a node unless a node failed while it was in flight.
pub const STALE_RESENDS_MAX: u32 = 1;

/// A status line's reason is cut to this many characters in the event log.
const MAX_REASON_CHARS: usize = 80;

/// The load generator's configuration.
#[derive(Debug, Clone)]
pub struct UsersConfig {
    /// Arrivals per second.
    pub rate_per_s: f64,
    /// Share of arrivals that call `/userinfo` (once a token exists), in 0..=1.
    pub userinfo_share: f64,
    /// Share of arrivals that sign up, in 0..=1.
    pub signup_share: f64,
    /// Share of arrivals that log in with facebook.com, in 0..=1.
    pub social_share: f64,
    /// Share of arrivals that open the Management Dashboard, in 0..=1.
    pub dashboard_share: f64,
    /// The dashboard's name (`manage.<domain>`): its `Host` and the TLS name dialed.
    pub dashboard_name: String,
    /// End-to-end bound on one request, name resolution included.
    pub timeout: Duration,
    /// No arrivals at or after this time since the users started.
    pub until: Duration,
    /// The name the users dial (`login.<domain>`).
    pub name: String,
    pub dns_server: SocketAddr,
    pub port: u16,
    /// Accounts to log in as: `user-0` .. `user-{accounts-1}`.
    pub accounts: u32,
    /// The run's seed: the arrivals and the choices are two of its streams
    /// ([`Component::UserArrivals`], [`Component::UserChoices`]).
    pub seed: u64,
    /// TLS towards the published name: the users' trust and clock. `None`: plain HTTP.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

#[derive(Default)]
struct Shared {
    tokens: VecDeque<String>,
    /// Users whose signup was acknowledged (name, password), newest last.
    signed_up: VecDeque<(String, String)>,
    /// The resolved address and the simulated time it expires.
    resolved: Option<(dns::Answer, Duration)>,
}

/// What one arrival does.
#[derive(Debug, Clone)]
enum Call {
    Signup {
        user: String,
        password: String,
    },
    Login {
        user: String,
        password: String,
    },
    Social {
        code: String,
    },
    UserInfo {
        token: String,
    },
    /// The Management Dashboard, at `manage.<domain>`.
    Dashboard,
}

/// Social logins use this many distinct facebook.com users (`c-0` .. `c-499`).
pub const SOCIAL_USERS: u64 = 500;

/// The browsers the requests come from: a fixed number of places, each held by one
/// browser session at a time.
struct Population {
    sessions: Vec<Option<Session>>,
    /// Which place each request comes from ([`Component::UserBrowsers`]).
    pick: ChaCha8Rng,
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// One browser and how many requests its session has sent.
struct Session {
    browser: Arc<Browser>,
    requests: u32,
}

impl Population {
    /// [`CLICK_GAP_MEAN`] times `config.rate_per_s` places (at least one, at most
    /// [`MAX_BROWSERS`]), none holding a browser yet.
    fn new(config: &UsersConfig) -> Self {
        let wanted = (config.rate_per_s * CLICK_GAP_MEAN.as_secs_f64()).round();
        // The rate is positive and finite (checked with the scenario); `as` saturates.
        let places = (wanted as usize).clamp(1, MAX_BROWSERS);
        Population {
            sessions: (0..places).map(|_| None).collect(),
            pick: ChaCha8Rng::seed_from_u64(seed::stream(config.seed, Component::UserBrowsers)),
            tls: config.tls.clone(),
        }
    }

    /// The browser the next request comes from: a place chosen uniformly, and its
    /// browser, or a new one when the place is empty or its session has sent
    /// [`SESSION_REQUESTS`].
    fn next_browser(&mut self) -> Arc<Browser> {
        let place = self.pick.random_range(0..self.sessions.len());
        let session = &mut self.sessions[place];
        if session
            .as_ref()
            .is_none_or(|s| s.requests >= SESSION_REQUESTS)
        {
            *session = Some(Session {
                browser: Arc::new(Browser::new(self.tls.as_ref())),
                requests: 0,
            });
        }
        let session = session.as_mut().expect("filled just above");
        session.requests += 1;
        session.browser.clone()
    }
}

/// Runs the load until the last arrival before `until` has been sent.
pub async fn run<N: Net>(env: Env<N>, config: UsersConfig) -> std::io::Result<()> {
    let config = Arc::new(config);
    let shared = Arc::new(Mutex::new(Shared::default()));
    // Arrival times, choices and browsers come from separate streams of the same seed, so
    // changing the mix does not move the arrivals.
    let arrivals = Arrivals::new(
        seed::stream(config.seed, Component::UserArrivals),
        config.rate_per_s,
        config.until,
    );
    let mut choices = ChaCha8Rng::seed_from_u64(seed::stream(config.seed, Component::UserChoices));
    let mut population = Population::new(&config);
    let start = tokio::time::Instant::now();
    // In-flight requests are tasks of this host: the host must outlive them, or the
    // simulation would stop running them when this function returns.
    let mut in_flight = tokio::task::JoinSet::new();
    for (id, offset) in (0u64..).zip(arrivals) {
        while in_flight.try_join_next().is_some() {}
        crate::timers::sleep_until(start + offset).await;
        let call = {
            let shared = shared
                .lock()
                .expect("no code panics while holding the users' state");
            choose(&config, &shared, &mut choices, id)
        };
        let query_id: u16 = choices.random();
        let browser = population.next_browser();
        in_flight.spawn(one_request(
            env.clone(),
            config.clone(),
            shared.clone(),
            browser,
            Arrival { id, call, query_id },
        ));
    }
    while in_flight.join_next().await.is_some() {}
    Ok(())
}

/// One arrival: its number, what it does, and the DNS query id it uses if it resolves.
struct Arrival {
    id: u64,
    call: Call,
    query_id: u16,
}

/// What arrival `id` does: a signup with probability `signup_share`, a `/userinfo` with a
/// kept token with probability `userinfo_share` (once there is one), else a login as an
/// acknowledged signup (or a preloaded account before there is one).
fn choose(config: &UsersConfig, shared: &Shared, choices: &mut ChaCha8Rng, id: u64) -> Call {
    let draw: f64 = choices.random();
    if draw < config.signup_share {
        return Call::Signup {
            user: format!("signup-{id}"),
            password: format!("pw-{id}"),
        };
    }
    let tokens = shared.tokens.len();
    let userinfo_to = config.signup_share + config.userinfo_share;
    if draw < userinfo_to && tokens > 0 {
        return Call::UserInfo {
            token: shared.tokens[choices.random_range(0..tokens)].clone(),
        };
    }
    if draw >= userinfo_to && draw < userinfo_to + config.social_share {
        return Call::Social {
            code: format!("c-{}", id % SOCIAL_USERS),
        };
    }
    let dashboard_from = userinfo_to + config.social_share;
    if draw >= dashboard_from && draw < dashboard_from + config.dashboard_share {
        return Call::Dashboard;
    }
    match shared.signed_up.len() {
        0 => {
            let account = choices.random_range(0..config.accounts);
            Call::Login {
                user: format!("user-{account}"),
                password: format!("password-{account}"),
            }
        }
        n => {
            let (user, password) = shared.signed_up[choices.random_range(0..n)].clone();
            Call::Login { user, password }
        }
    }
}

async fn one_request<N: Net>(
    env: Env<N>,
    config: Arc<UsersConfig>,
    shared: Arc<Mutex<Shared>>,
    browser: Arc<Browser>,
    arrival: Arrival,
) {
    let started = env.clock.elapsed();
    let id = arrival.id;
    let (endpoint, user) = match &arrival.call {
        Call::Signup { user, .. } => ("POST /signup", Some(user.clone())),
        Call::Login { .. } => ("POST /login", None),
        Call::Social { .. } => ("POST /login/social", None),
        Call::UserInfo { .. } => ("GET /userinfo", None),
        Call::Dashboard => ("GET /dashboard", None),
    };
    let mut connection = ConnectionUse::None;
    let attempt = attempt(&env, &config, &shared, &browser, arrival, &mut connection);
    let outcome = crate::timers::timeout(config.timeout, attempt)
        .await
        .unwrap_or(RequestOutcome::Timeout);
    let latency = env.clock.elapsed().saturating_sub(started);
    env.record(EventKind::Request(RequestRecord {
        id,
        endpoint,
        user,
        started,
        latency,
        outcome,
        connection,
    }));
}

/// One request, from getting a connection of its browser to its outcome; keeps the
/// token or signup a success brings, and the connection after any response. `connection`
/// tells, as soon as it is known, which connection the request went on. A request that
/// got no response at all on a kept connection is sent again, once, on another
/// ([`STALE_RESENDS_MAX`]).
async fn attempt<N: Net>(
    env: &Env<N>,
    config: &UsersConfig,
    shared: &Mutex<Shared>,
    browser: &Browser,
    arrival: Arrival,
    connection: &mut ConnectionUse,
) -> RequestOutcome {
    let Arrival { id, call, query_id } = arrival;
    let dialed = dialed(config, &call);
    let mut resends = 0;
    loop {
        let mut lease = match browser.checkout(dialed).await {
            Checkout::Kept(lease) => lease,
            Checkout::Room(slot) => {
                match open(env, config, shared, browser, dialed, query_id).await {
                    Ok((sender, kind)) => Lease::opened(slot, sender, kind),
                    Err(failed) => return failed,
                }
            }
        };
        *connection = lease.used;
        let exchanged = http::send_on(&mut lease.sender, request(config, &call, id)).await;
        match exchanged {
            Err(SendError::NoResponse(_))
                if lease.used == ConnectionUse::Reused && resends < STALE_RESENDS_MAX =>
            {
                resends += 1;
            }
            Ok(response) => {
                if !http::has_token(response.headers(), hyper::header::CONNECTION, "close") {
                    browser.keep(lease);
                }
                return outcome(shared, call, Ok(response));
            }
            Err(error) => return outcome(shared, call, Err(Failure::Broken(error.reason()))),
        }
    }
}

/// A new connection of `browser` to `dialed`: the name resolved, TCP, TLS as the browser
/// speaks it; the handshake's kind (`None`: no TLS), or the request's outcome when it
/// failed.
async fn open<N: Net>(
    env: &Env<N>,
    config: &UsersConfig,
    shared: &Mutex<Shared>,
    browser: &Browser,
    dialed: &str,
    query_id: u16,
) -> Result<(http::Sender, Option<rustls::HandshakeKind>), RequestOutcome> {
    let address = resolve(env, config, shared, query_id)
        .await
        .map_err(|reason| RequestOutcome::Dns { reason })?;
    let to = SocketAddr::new(address, config.port);
    // The end-to-end timeout around the request is the real bound; these only have to be
    // no shorter than it.
    http::open(
        &env.net,
        to,
        &dial(browser, dialed),
        config.timeout,
        config.timeout,
    )
    .await
    .map_err(failed)
}

/// The HTTP request for `call`, carrying `X-Request-Id: <id>`.
fn request(config: &UsersConfig, call: &Call, id: u64) -> hyper::Request<Body> {
    let request = match call {
        Call::Signup { user, password } | Call::Login { user, password } => {
            let path = if matches!(call, Call::Signup { .. }) {
                "/signup"
            } else {
                "/login"
            };
            hyper::Request::post(path)
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .header(hyper::header::HOST, config.name.as_str())
                .body(Body::from(
                    serde_json::json!({ "username": user, "password": password }).to_string(),
                ))
        }
        Call::Social { code } => hyper::Request::post("/login/social")
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::HOST, config.name.as_str())
            .body(Body::from(
                serde_json::json!({ "provider": "facebook", "code": code }).to_string(),
            )),
        Call::UserInfo { token } => hyper::Request::get("/userinfo")
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
            .header(hyper::header::HOST, config.name.as_str())
            .body(Body::default()),
        Call::Dashboard => hyper::Request::get("/dashboard")
            .header(hyper::header::HOST, config.dashboard_name.as_str())
            .body(Body::default()),
    }
    .expect("requests built from valid parts");
    let mut request = request;
    request.headers_mut().insert(REQUEST_ID, id.into());
    request
}

/// The name `call` dials: `manage.<domain>` for the dashboard, `login.<domain>`
/// otherwise (its `Host`, and the TLS name verified).
fn dialed<'a>(config: &'a UsersConfig, call: &Call) -> &'a str {
    match call {
        Call::Dashboard => &config.dashboard_name,
        _ => &config.name,
    }
}

/// How a browser reaches `dialed` at the balancer: over TLS with its own tickets when the
/// topology has TLS on.
fn dial(browser: &Browser, dialed: &str) -> http::Dial {
    http::Dial {
        preface: Vec::new(),
        tls: browser.tls.as_ref().map(|tls| {
            let name = rustls::pki_types::ServerName::try_from(dialed.to_string())
                .expect("the published name is a valid DNS name (checked with the topology)");
            (tls.clone(), name)
        }),
    }
}

/// The outcome of `call` from how its exchange ended; a success keeps the token a login
/// brings or the signup to log in as.
fn outcome(
    shared: &Mutex<Shared>,
    call: Call,
    exchanged: Result<hyper::Response<bytes::Bytes>, Failure>,
) -> RequestOutcome {
    match exchanged {
        Ok(response) if response.status().is_success() => {
            match call {
                Call::Login { .. } | Call::Social { .. } => keep_token(shared, response.body()),
                Call::Signup { user, password } => keep_signup(shared, user, password),
                Call::UserInfo { .. } | Call::Dashboard => {}
            }
            RequestOutcome::Ok
        }
        Ok(response) => {
            let text = String::from_utf8_lossy(response.body());
            let reason: String = text
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(MAX_REASON_CHARS)
                .collect();
            RequestOutcome::Status {
                code: response.status().as_u16(),
                reason,
            }
        }
        Err(failure) => failed(failure),
    }
}

/// The outcome of a request that got no response.
fn failed(failure: Failure) -> RequestOutcome {
    match failure {
        Failure::Refused => RequestOutcome::Refused,
        Failure::ConnectTimeout | Failure::ResponseTimeout => RequestOutcome::Timeout,
        Failure::Broken(_) => RequestOutcome::Reset,
        Failure::Tls(reason) => RequestOutcome::Tls { reason },
    }
}

async fn resolve<N: Net>(
    env: &Env<N>,
    config: &UsersConfig,
    shared: &Mutex<Shared>,
    query_id: u16,
) -> Result<std::net::IpAddr, String> {
    let now = env.clock.elapsed();
    let cached = shared
        .lock()
        .expect("no code panics while holding the users' state")
        .resolved;
    if let Some((answer, expires)) = cached
        && now < expires
    {
        return Ok(answer.address);
    }
    let answer = dns::resolve(
        &env.net,
        config.dns_server,
        &config.name,
        query_id,
        DNS_TIMEOUT.min(config.timeout / 2),
    )
    .await?;
    let expires = env.clock.elapsed() + answer.ttl;
    shared
        .lock()
        .expect("no code panics while holding the users' state")
        .resolved = Some((answer, expires));
    Ok(answer.address)
}

fn keep_signup(shared: &Mutex<Shared>, user: String, password: String) {
    let mut shared = shared
        .lock()
        .expect("no code panics while holding the users' state");
    if shared.signed_up.len() == MAX_SIGNED_UP {
        shared.signed_up.pop_front();
    }
    shared.signed_up.push_back((user, password));
}

fn keep_token(shared: &Mutex<Shared>, body: &[u8]) {
    let token = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("access_token")?.as_str().map(str::to_string));
    if let Some(token) = token {
        let mut shared = shared
            .lock()
            .expect("no code panics while holding the users' state");
        if shared.tokens.len() == MAX_TOKENS {
            shared.tokens.pop_front();
        }
        shared.tokens.push_back(token);
    }
}
