//! The customer's monitoring host: polls every node's status endpoints and `/testall`,
//! and raises and clears alerts.
//!
//! Real component: a monitoring tool (System Center, Tivoli, OpenView, as seed 000
//! names them) attached to the appliance's monitoring endpoints: per node, `/testall`
//! and the authenticated `/status/<subsystem>` endpoints ([`super::status`]), alerting
//! on the status codes they return.
//!
//! Modelled: one task per node. A round of polls starts `monitoring.interval` after the
//! last one ended (the first rounds of the N nodes spread over the interval, as the
//! balancer's checks are): `GET /testall` on the node's 443 (through what the balancer's
//! checks put before HTTP: nothing in `https` mode, the PROXY header and TLS in `tcp`
//! mode), then each subsystem's `GET /status/<subsystem>` on [`super::status::PORT`] with
//! the API key, one after another, each connect and each answer bounded by
//! `monitoring.timeout`. When `/testall` gets no HTTP answer at all the node counts as
//! unreachable for that round and its subsystems are not polled (a dead node would
//! otherwise cost nine more timeouts a round). Each check (`unreachable`, `testall`, a
//! subsystem) has a streak of its own, HAProxy's rise/fall rule ([`super::health`]):
//! an alert is raised after `raise_after` failed polls in a row and cleared after
//! `clear_after` passed ones. Every answer unlike the last one from the same endpoint is
//! recorded whole (`MonitorEvent::Answer`), so the log holds every distinct body the
//! monitor received; the checker that they carry no user data reads them there. It
//! judges nothing itself: alerts are what its rules say, recorded.
//!
//! Left out: notification channels, escalation, a dashboard. Ports: none served; it
//! dials each node's 443 and 9110. Faults: its own crash or pause stops the polls (a
//! restart starts every streak afresh); any fault on the path to a node shows as failed
//! polls, as it would to a real monitor.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::Request;

use crate::env::Env;
use crate::events::monitoring::MonitorEvent;
use crate::events::{CheckEffect, EventKind};
use crate::net::Net;
use crate::services::health::Health;
use crate::services::http::{self, Body, Dial};
use crate::services::status;

/// The check a node fails when `/testall` gets no HTTP answer.
pub const UNREACHABLE: &str = "unreachable";
/// The check of `/testall`'s status.
pub const TESTALL: &str = "testall";

/// One node the monitor watches.
#[derive(Debug, Clone)]
pub struct Watched {
    pub name: String,
    /// Where `/testall` is served (the node's 443).
    pub app: SocketAddr,
    /// Where the status endpoints are served.
    pub status: SocketAddr,
}

/// The monitoring host's configuration.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    pub nodes: Vec<Watched>,
    /// `/testall`'s path (`lb.check_path`).
    pub testall_path: String,
    /// What goes before HTTP on a node's 443 (the balancer's checks' dial).
    pub testall_dial: Dial,
    pub api_key: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub raise_after: u32,
    pub clear_after: u32,
}

/// One poll's result: the HTTP status and body, or why there was none.
type Poll = Result<(u16, String), String>;

/// One node's alert state: a streak per check, and the last answer recorded per
/// endpoint.
#[derive(Debug)]
pub struct Alerts {
    raise_after: u32,
    clear_after: u32,
    streaks: BTreeMap<&'static str, Health>,
    last: BTreeMap<String, (u16, String)>,
}

/// What one poll changed in the alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Raised(String),
    Cleared,
}

impl Alerts {
    pub fn new(raise_after: u32, clear_after: u32) -> Self {
        Self {
            raise_after,
            clear_after,
            streaks: BTreeMap::new(),
            last: BTreeMap::new(),
        }
    }

    /// Takes one result of `check`: `Ok`, or the failure's words. Returns the alert
    /// raised (with those words) or cleared, if this poll did either.
    pub fn observe(&mut self, check: &'static str, result: Result<(), String>) -> Option<Change> {
        let (rise, fall) = (self.clear_after, self.raise_after);
        let streak = self
            .streaks
            .entry(check)
            .or_insert_with(|| Health::new(rise, fall));
        match (streak.observe(result.is_ok()), result) {
            (Some(CheckEffect::WentDown { .. }), Err(why)) => Some(Change::Raised(why)),
            (Some(CheckEffect::WentUp { .. }), _) => Some(Change::Cleared),
            _ => None,
        }
    }

    /// True when `(status, body)` differs from the last answer from `endpoint`, which it
    /// then becomes.
    pub fn is_new_answer(&mut self, endpoint: &str, status: u16, body: &str) -> bool {
        let answer = (status, body.to_string());
        if self.last.get(endpoint) == Some(&answer) {
            return false;
        }
        self.last.insert(endpoint.to_string(), answer);
        true
    }
}

/// Runs the monitor: one polling task per node, until the host stops.
pub async fn run<N: Net>(env: Env<N>, config: MonitorConfig) -> std::io::Result<()> {
    env.record(EventKind::Monitoring(MonitorEvent::Started {
        nodes: config.nodes.iter().map(|n| n.name.clone()).collect(),
        endpoints: status::SUBSYSTEMS
            .iter()
            .map(|s| format!("{}{s}", status::PREFIX))
            .collect(),
        interval: config.interval,
        raise_after: config.raise_after,
        clear_after: config.clear_after,
    }));
    let config = std::sync::Arc::new(config);
    let count = u32::try_from(config.nodes.len()).expect("at most MAX_NODES nodes");
    let mut tasks = Vec::new();
    for (i, _) in config.nodes.iter().enumerate() {
        let slot = u32::try_from(i).expect("at most MAX_NODES nodes");
        let first = config.interval * slot / count;
        tasks.push(tokio::spawn(watch(env.clone(), config.clone(), i, first)));
    }
    for task in tasks {
        task.await.expect("a polling task never panics");
    }
    Ok(())
}

/// Polls node `index` forever, the first round after `first`.
async fn watch<N: Net>(
    env: Env<N>,
    config: std::sync::Arc<MonitorConfig>,
    index: usize,
    first: Duration,
) {
    let node = &config.nodes[index];
    let mut alerts = Alerts::new(config.raise_after, config.clear_after);
    crate::timers::sleep(first).await;
    loop {
        round(&env, &config, node, &mut alerts).await;
        crate::timers::sleep(config.interval).await;
    }
}

/// One round of polls of `node`.
async fn round<N: Net>(env: &Env<N>, config: &MonitorConfig, node: &Watched, alerts: &mut Alerts) {
    let testall = get(
        env,
        config,
        node.app,
        &config.testall_dial,
        &config.testall_path,
        None,
    )
    .await;
    let reached = testall.as_ref().map(|_| ()).map_err(Clone::clone);
    judge(env, node, alerts, UNREACHABLE, reached);
    let Ok(answer) = testall else { return };
    note_answer(env, node, alerts, &config.testall_path, &answer);
    let passed = (answer.0 == 200)
        .then_some(())
        .ok_or_else(|| words(&answer));
    judge(env, node, alerts, TESTALL, passed);
    let key = status::authorization(&config.api_key);
    for subsystem in status::SUBSYSTEMS {
        let path = format!("{}{subsystem}", status::PREFIX);
        let poll = get(
            env,
            config,
            node.status,
            &Dial::default(),
            &path,
            Some(&key),
        )
        .await;
        let result = match poll {
            Ok(answer) => {
                note_answer(env, node, alerts, &path, &answer);
                let (status, body) = &answer;
                // The body names the subsystem first; the alert names it already.
                let body = body.strip_prefix(&format!("{subsystem}: ")).unwrap_or(body);
                (*status == 204)
                    .then_some(())
                    .ok_or_else(|| words(&(*status, body.to_string())))
            }
            Err(why) => Err(format!("no answer: {why}")),
        };
        judge(env, node, alerts, subsystem, result);
    }
}

/// An answer's words for an alert: its status and first line.
fn words((status, body): &(u16, String)) -> String {
    match body.lines().next() {
        Some(line) if !line.is_empty() => format!("{status} {line}"),
        _ => status.to_string(),
    }
}

/// Records `answer` from `endpoint` when it differs from the last one recorded.
fn note_answer<N: Net>(
    env: &Env<N>,
    node: &Watched,
    alerts: &mut Alerts,
    endpoint: &str,
    (status, body): &(u16, String),
) {
    if alerts.is_new_answer(endpoint, *status, body) {
        env.record(EventKind::Monitoring(MonitorEvent::Answer {
            node: node.name.clone(),
            endpoint: endpoint.to_string(),
            status: *status,
            body: body.clone(),
        }));
    }
}

/// Feeds one result to `check`'s streak and records the alert it raised or cleared.
fn judge<N: Net>(
    env: &Env<N>,
    node: &Watched,
    alerts: &mut Alerts,
    check: &'static str,
    result: Result<(), String>,
) {
    let event = match alerts.observe(check, result) {
        Some(Change::Raised(detail)) => MonitorEvent::Raised {
            node: node.name.clone(),
            check: check.to_string(),
            detail,
        },
        Some(Change::Cleared) => MonitorEvent::Cleared {
            node: node.name.clone(),
            check: check.to_string(),
        },
        None => return,
    };
    env.record(EventKind::Monitoring(event));
}

/// `GET path` on `to`, each phase bounded by the monitor's timeout.
async fn get<N: Net>(
    env: &Env<N>,
    config: &MonitorConfig,
    to: SocketAddr,
    dial: &Dial,
    path: &str,
    authorization: Option<&str>,
) -> Poll {
    let mut request = Request::get(path).header(hyper::header::HOST, to.ip().to_string());
    if let Some(value) = authorization {
        request = request.header(hyper::header::AUTHORIZATION, value);
    }
    let request = request
        .body(Body::default())
        .expect("requests built from valid parts");
    let t = config.timeout;
    match http::exchange_via(&env.net, to, dial, request, t, t).await {
        Ok(response) => Ok((
            response.status().as_u16(),
            String::from_utf8_lossy(response.body()).into_owned(),
        )),
        Err(failure) => Err(failure.describe(t, t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves an alert is raised after `raise_after` failures in a row (with the last
    /// failure's words), a pass in between resets the count, and it clears after
    /// `clear_after` passes in a row.
    #[test]
    fn raises_and_clears_on_streaks() {
        let mut a = Alerts::new(2, 2);
        let fail = || Err::<(), _>("503 db: no primary known".to_string());
        assert_eq!(a.observe("db", fail()), None);
        assert_eq!(a.observe("db", Ok(())), None);
        assert_eq!(a.observe("db", fail()), None);
        assert_eq!(
            a.observe("db", fail()),
            Some(Change::Raised("503 db: no primary known".into()))
        );
        assert_eq!(a.observe("db", fail()), None);
        assert_eq!(a.observe("cpu", Ok(())), None);
        assert_eq!(a.observe("db", Ok(())), None);
        assert_eq!(a.observe("db", Ok(())), Some(Change::Cleared));
    }

    /// Proves only answers unlike the last one from the same endpoint are new.
    #[test]
    fn records_each_distinct_answer() {
        let mut a = Alerts::new(1, 1);
        assert!(a.is_new_answer("/status/db", 204, ""));
        assert!(!a.is_new_answer("/status/db", 204, ""));
        assert!(a.is_new_answer("/status/cpu", 204, ""));
        assert!(a.is_new_answer("/status/db", 503, "db: no primary known"));
        assert!(a.is_new_answer("/status/db", 204, ""));
    }
}
