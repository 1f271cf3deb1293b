//! An appliance node's HTTP service.
//!
//! Real component: one VM of the appliance cluster serving the authentication API, the
//! Management Dashboard and the `/testall` monitoring endpoint on 443 (seeds 000 and 003).
//!
//! Modelled:
//! - `GET /testall`: unauthenticated; `200 text/plain OK` when every local service is
//!   healthy, `503` naming the first failing one otherwise (`"auth-api: stopped"`).
//! - `POST /login` with a JSON body `{"username", "password"}` against the node's account
//!   directory (`user-<i>` / `password-<i>`): `200` with an access token, `401` otherwise.
//! - `GET /userinfo` with `Authorization: Bearer <token>`: `200` with the subject, `401`
//!   for a missing or unreadable token.
//! - A modelled service time per endpoint and a bounded worker pool: `workers` requests are
//!   served at once, up to `queue_max` wait, and one more gets `503 overloaded`. `/testall`
//!   waits in the same queue as everything else, as it does on a single-process node, so
//!   a saturated node fails its health checks.
//!
//! Left out on purpose, for the issues that bring them: the replicated database (the
//! account directory is fixed per node), signup, signed tokens (the token is
//! `v1.<user>.<issuing node>.<issued-at ms>`, unsigned; any node accepts any token of a
//! known user), social login, mail, TLS (the load balancer offloads it).
//!
//! Port: TCP 443. Faults: crash and restart (applied by the world); a restart starts with
//! an empty queue.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::env::Env;
use crate::events::EventKind;
use crate::net::Net;
use crate::services::http::{self, Body};
use crate::topology::NodeSettings;

/// The appliance's HTTPS port (plain HTTP here: the load balancer offloads TLS).
pub const PORT: u16 = 443;

/// A node's configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub name: String,
    pub settings: NodeSettings,
}

/// The health of the services `/testall` reports on, in the order it checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalServices {
    services: Vec<(&'static str, Result<(), String>)>,
}

impl LocalServices {
    /// The services of a freshly started node, all healthy.
    pub fn started() -> Self {
        Self {
            services: vec![("auth-api", Ok(()))],
        }
    }

    /// Marks a service healthy (`Ok`) or failing with a reason.
    pub fn set(&mut self, service: &'static str, status: Result<(), String>) {
        match self.services.iter_mut().find(|(s, _)| *s == service) {
            Some(entry) => entry.1 = status,
            None => self.services.push((service, status)),
        }
    }

    /// What `/testall` answers: `Ok` or the first failing service and its reason.
    pub fn testall(&self) -> Result<(), String> {
        match self.services.iter().find(|(_, status)| status.is_err()) {
            None => Ok(()),
            Some((service, Err(why))) => Err(format!("{service}: {why}")),
            Some((_, Ok(()))) => unreachable!("find only returns failing services"),
        }
    }
}

/// A node's request routing: which endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    TestAll,
    Login,
    UserInfo,
    NotFound,
}

impl Endpoint {
    pub fn route(method: &Method, path: &str) -> Self {
        match (method, path) {
            (&Method::GET, "/testall") => Endpoint::TestAll,
            (&Method::POST, "/login") => Endpoint::Login,
            (&Method::GET, "/userinfo") => Endpoint::UserInfo,
            _ => Endpoint::NotFound,
        }
    }

    /// The worker time the endpoint costs.
    pub fn service_time(self, s: &NodeSettings) -> Duration {
        match self {
            Endpoint::TestAll => s.testall_time,
            Endpoint::Login => s.login_time,
            Endpoint::UserInfo => s.userinfo_time,
            Endpoint::NotFound => Duration::ZERO,
        }
    }
}

/// The account directory: `user-<i>` with password `password-<i>` for `i < accounts`.
pub fn check_password(accounts: u32, username: &str, password: &str) -> bool {
    account_index(accounts, username).is_some_and(|i| password == format!("password-{i}"))
}

fn account_index(accounts: u32, username: &str) -> Option<u32> {
    let i: u32 = username.strip_prefix("user-")?.parse().ok()?;
    (i < accounts && username == format!("user-{i}")).then_some(i)
}

/// The token a login issues.
pub fn issue_token(user: &str, node: &str, issued_at: Duration) -> String {
    format!("v1.{user}.{node}.{}", issued_at.as_millis())
}

/// The subject of a token if it is well formed and names a known account.
pub fn token_subject(accounts: u32, token: &str) -> Option<&str> {
    let mut parts = token.split('.');
    let (version, user, node, iat) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let well_formed = version == "v1" && !node.is_empty() && iat.parse::<u64>().is_ok();
    (well_formed && parts.next().is_none() && account_index(accounts, user).is_some())
        .then_some(user)
}

struct Node {
    config: NodeConfig,
    workers: Semaphore,
    /// Requests admitted: being served or waiting for a worker.
    admitted: AtomicUsize,
    local: Mutex<LocalServices>,
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
    let node = Arc::new(Node {
        workers: Semaphore::new(config.settings.workers),
        admitted: AtomicUsize::new(0),
        local: Mutex::new(LocalServices::started()),
        config,
    });
    let listener = env.net.listen(PORT).await?;
    env.record(EventKind::ServiceStarted {
        service: "appliance".to_string(),
        port: PORT,
    });
    http::serve(listener, move |req, _peer| {
        let node = node.clone();
        let env = env.clone();
        async move { handle(&env, &node, req).await }
    })
    .await
}

async fn handle<N: Net>(env: &Env<N>, node: &Node, req: Request<Incoming>) -> Response<Body> {
    let endpoint = Endpoint::route(req.method(), req.uri().path());
    if endpoint == Endpoint::NotFound {
        return http::text(404, "not found");
    }
    let s = &node.config.settings;
    let capacity = s.workers + s.queue_max;
    if node.admitted.fetch_add(1, Ordering::Relaxed) >= capacity {
        node.admitted.fetch_sub(1, Ordering::Relaxed);
        return http::text(503, format!("overloaded: {} requests waiting", s.queue_max));
    }
    let _admission = Admission(&node.admitted);
    let _worker = node
        .workers
        .acquire()
        .await
        .expect("the worker semaphore is never closed");
    tokio::time::sleep(endpoint.service_time(s)).await;
    match endpoint {
        Endpoint::TestAll => testall(node),
        Endpoint::Login => login(env, node, req).await,
        Endpoint::UserInfo => userinfo(node, &req),
        Endpoint::NotFound => unreachable!("answered before admission"),
    }
}

fn testall(node: &Node) -> Response<Body> {
    let local = node
        .local
        .lock()
        .expect("no code panics while holding the service table");
    match local.testall() {
        Ok(()) => http::text(200, "OK"),
        Err(failing) => http::text(503, failing),
    }
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn login<N: Net>(env: &Env<N>, node: &Node, req: Request<Incoming>) -> Response<Body> {
    let body = match http::read_body(req.into_body()).await {
        Ok(body) => body,
        Err(why) => return http::text(400, why),
    };
    let Ok(creds) = serde_json::from_slice::<Credentials>(&body) else {
        return http::text(400, "expected a JSON body {\"username\", \"password\"}");
    };
    if !check_password(
        node.config.settings.accounts,
        &creds.username,
        &creds.password,
    ) {
        return http::text(401, "wrong username or password");
    }
    let token = issue_token(&creds.username, &node.config.name, env.clock.wall());
    http::json(
        200,
        &serde_json::json!({ "access_token": token, "token_type": "Bearer", "expires_in": 3600 }),
    )
}

fn userinfo(node: &Node, req: &Request<Incoming>) -> Response<Body> {
    let token = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token.and_then(|t| token_subject(node.config.settings.accounts, t)) {
        Some(sub) => http::json(200, &serde_json::json!({ "sub": sub })),
        None => http::text(401, "missing or invalid bearer token"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves /testall names the first failing local service and is OK otherwise.
    #[test]
    fn testall_names_failing_service() {
        let mut local = LocalServices::started();
        assert_eq!(local.testall(), Ok(()));
        local.set("db", Err("no primary for 12s".to_string()));
        local.set("auth-api", Err("stopped".to_string()));
        assert_eq!(local.testall(), Err("auth-api: stopped".to_string()));
        local.set("auth-api", Ok(()));
        assert_eq!(local.testall(), Err("db: no primary for 12s".to_string()));
    }

    /// Proves the account directory accepts exactly its accounts and their passwords, and
    /// tokens round-trip to their subject.
    #[test]
    fn accounts_and_tokens() {
        assert!(check_password(10, "user-9", "password-9"));
        assert!(!check_password(10, "user-10", "password-10"));
        assert!(!check_password(10, "user-09", "password-9"));
        assert!(!check_password(10, "user-1", "password-2"));
        let token = issue_token("user-3", "node-2", Duration::from_millis(1_700_000_000_123));
        assert_eq!(token, "v1.user-3.node-2.1700000000123");
        assert_eq!(token_subject(10, &token), Some("user-3"));
        assert_eq!(token_subject(3, &token), None);
        assert_eq!(token_subject(10, "v1.user-3.node-2"), None);
        assert_eq!(token_subject(10, "v2.user-3.node-2.1"), None);
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
