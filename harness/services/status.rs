//! A node's authenticated status endpoints: the appliance's health service.
//!
//! Real component: each appliance node publishes `GET /status/cpu`, `/status/memory`,
//! `/status/disk`, `/status/services`, `/status/network`, `/status/internet`,
//! `/status/email`, `/status/db` and `/status/replicaset`, authenticated with an API key
//! generated in the dashboard (HTTP basic authentication as the user `api_keys_health`),
//! answering `204` when the resource has no issue and an error status otherwise; they
//! return no detail of resource use, only whether there is an issue (the appliance's
//! monitoring documentation). Seed 000: these endpoints "only provide operational
//! information, not user data".
//!
//! Modelled: a service of its own on [`PORT`] (the documentation's plain-HTTP form names
//! a port on the node; 9110 is the model's choice, an assumption), started only when the
//! topology enables monitoring (`[topology.monitoring]`), so runs without it keep every
//! task and every figure they had. `401` without the right key, `404` for an unknown
//! path, `204` healthy, `503` with one line naming the subsystem and why otherwise. What
//! makes each subsystem unhealthy in the model ([`judge`], from [`Readings`] the node
//! takes at the moment of the poll):
//! - `cpu`: the node is slowed (a `slow` step, factor above 1: the model's only CPU
//!   fault, a starved VM), or its request queue holds more than half of `queue_max`;
//! - `memory`, `disk`: the model has no fault that fills memory or a disk, so they answer
//!   204 while the service runs (listed so the monitor polls what the real one polls);
//! - `services`: the appliance's API refuses work: its worker pool and queue are full
//!   (every further request gets `503 overloaded`);
//! - `network`: the node's member has heard from none of its peers through a primary for
//!   longer than `replica_set.contact_max` (the /testall rule), as a node cut off
//!   from the LAN's other nodes is;
//! - `internet`: the node's last call out through the egress (the update check, the
//!   extensions refresh) failed: the egress refused it (407, 403) or the site did not
//!   answer;
//! - `email`: the node's last delivery attempt to the SMTP relay failed (refused,
//!   authentication rejected, silent), told by the relay's reply code alone (a failed
//!   delivery's own reason may name its recipient: user data);
//! - `db`: the node's member knows no primary, or has been out of touch with it for
//!   longer than `replica_set.contact_max`;
//! - `replicaset`: on the primary, a member it reports lagging behind it by more than
//!   `replica_set.lag_threshold` (or not answering); on a secondary, no primary known.
//!
//! Left out: rate limiting (`429`), the HTTPS form through the published names, detail
//! beyond one line. Ports: TCP [`PORT`]. Faults: the node's own (crash, pause, slow,
//! partitions and firewall rules reach this port as they reach 443); a crash takes the
//! service down with the node.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hyper::{Method, Request, Response};

use crate::env::Env;
use crate::events::EventKind;
use crate::net::Net;
use crate::services::http::{self, Body};

/// The status service's port on each node (the model's choice; see the module header).
pub const PORT: u16 = 9110;

/// The user name the API key is sent with (the appliance's documentation).
pub const USER: &str = "api_keys_health";

/// The path prefix of every status endpoint.
pub const PREFIX: &str = "/status/";

/// The subsystems, in the order the monitor polls them.
pub const SUBSYSTEMS: [&str; 9] = [
    "cpu",
    "memory",
    "disk",
    "services",
    "network",
    "internet",
    "email",
    "db",
    "replicaset",
];

/// What the node knows of itself when polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readings {
    /// The slowness factor in thousandths (1000: normal speed).
    pub speed_milli: u64,
    /// Requests admitted (served or waiting), and the node's `workers` and `queue_max`.
    pub admitted: usize,
    pub workers: usize,
    pub queue_max: usize,
    /// Whether the member is in touch with a majority through a primary, else why not
    /// (`Database::health`).
    pub contact: Result<(), String>,
    /// The primary the member knows, if any, and whether it is that primary.
    pub primary: Option<String>,
    pub is_primary: bool,
    /// The members the primary reports lagging (empty on a secondary).
    pub lagging: Vec<String>,
    /// The last call out's failure and the last delivery's failure (`None`: it went
    /// through, or there was none yet).
    pub internet: Option<String>,
    pub email: Option<String>,
}

/// A speed factor of 1, in [`Readings::speed_milli`]'s unit.
const SPEED_ONE_MILLI: u64 = 1000;

impl Default for Readings {
    /// A node at full speed, idle, in touch, with nothing failed (and no primary known).
    fn default() -> Self {
        Self {
            speed_milli: SPEED_ONE_MILLI,
            admitted: 0,
            workers: 0,
            queue_max: 0,
            contact: Ok(()),
            primary: None,
            is_primary: false,
            lagging: Vec::new(),
            internet: None,
            email: None,
        }
    }
}

/// Whether `subsystem` is healthy given `r`: `Ok`, or why not (without the subsystem's
/// name). Unknown subsystems are the caller's 404.
pub fn judge(subsystem: &str, r: &Readings) -> Result<(), String> {
    match subsystem {
        "cpu" if r.speed_milli > SPEED_ONE_MILLI => Err(format!(
            "service times x{:.1}: starved",
            r.speed_milli as f64 / SPEED_ONE_MILLI as f64
        )),
        "cpu" if r.admitted.saturating_sub(r.workers) * 2 > r.queue_max => Err(format!(
            "{} requests waiting for a worker",
            r.admitted.saturating_sub(r.workers)
        )),
        "services" if r.admitted >= r.workers + r.queue_max => {
            Err("auth-api overloaded: its queue is full".to_string())
        }
        "network" => r.contact.clone(),
        "internet" => r.internet.clone().map_or(Ok(()), Err),
        "email" => r.email.clone().map_or(Ok(()), Err),
        "db" => match (&r.primary, &r.contact) {
            (None, _) => Err("no primary known".to_string()),
            (Some(_), Err(why)) => Err(why.clone()),
            (Some(_), Ok(())) => Ok(()),
        },
        "replicaset" if r.is_primary && !r.lagging.is_empty() => Err(format!(
            "{} lagging behind the primary",
            r.lagging.join(", ")
        )),
        "replicaset" if r.primary.is_none() => Err("no primary known".to_string()),
        _ => Ok(()),
    }
}

/// What the node's mail queue and its calls out last saw, shared between them and the
/// status service. Writing it changes nothing else the node does.
#[derive(Debug, Clone, Default)]
pub struct Vitals(Arc<Mutex<Latest>>);

#[derive(Debug, Default)]
struct Latest {
    internet: Option<String>,
    email: Option<String>,
}

impl Vitals {
    fn latest(&self) -> std::sync::MutexGuard<'_, Latest> {
        self.0
            .lock()
            .expect("no code panics while holding the vitals")
    }

    /// The last call out through the egress: `Ok`, or why it failed.
    pub fn called_out(&self, result: Result<(), &str>) {
        self.latest().internet = result.err().map(str::to_string);
    }

    /// The last delivery attempt to the relay: `Ok`, or why it failed. Only operational
    /// words are kept ([`delivery_failure`]): a delivery's reason may name its recipient.
    pub fn delivered(&self, result: Result<(), &str>) {
        self.latest().email = result.err().map(delivery_failure);
    }

    /// The last failures, if any: (internet, email).
    pub fn failures(&self) -> (Option<String>, Option<String>) {
        let latest = self.latest();
        (latest.internet.clone(), latest.email.clone())
    }
}

/// A failed delivery in operational words: the relay's reply code when the reason
/// carries one (`the relay answered 535, expected 235`), nothing else of it, since a
/// reason may name the recipient's address (`refusing to send to "..."`).
pub fn delivery_failure(reason: &str) -> String {
    let code = reason
        .strip_prefix("the relay answered ")
        .and_then(|rest| rest.get(..3))
        .filter(|c| c.chars().all(|d| d.is_ascii_digit()));
    match code {
        Some(code) => format!("the relay answered {code} to the last delivery"),
        None => "the last delivery to the relay failed".to_string(),
    }
}

/// The status service's configuration.
#[derive(Debug, Clone)]
pub struct StatusConfig {
    /// The API key (`monitoring.api_key`).
    pub api_key: String,
}

/// The `Authorization` header value that carries `api_key`.
pub fn authorization(api_key: &str) -> String {
    use base64::Engine;
    let pair = format!("{USER}:{api_key}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// The answer to one request, given the node's readings (taken only for an
/// authenticated request for a known subsystem).
pub fn answer(
    req: &Request<impl Sized>,
    api_key: &str,
    read: impl FnOnce() -> Readings,
) -> Response<Body> {
    let subsystem = req.uri().path().strip_prefix(PREFIX);
    let known = subsystem.filter(|s| SUBSYSTEMS.contains(s));
    let Some(subsystem) = known.filter(|_| req.method() == Method::GET) else {
        return http::text(404, "not found");
    };
    let authorized = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == authorization(api_key).as_bytes());
    if !authorized {
        return http::text(401, "expected the API key");
    }
    match judge(subsystem, &read()) {
        Ok(()) => Response::builder()
            .status(204)
            .body(Body::default())
            .expect("a bare 204 is valid"),
        Err(why) => http::text(503, format!("{subsystem}: {why}")),
    }
}

/// Serves the status endpoints on [`PORT`] until the node stops; `read` takes the node's
/// readings at each poll.
pub async fn run<N: Net>(
    env: Env<N>,
    config: StatusConfig,
    read: impl Fn() -> Readings + Clone + Send + Sync + 'static,
) -> std::io::Result<()> {
    let listener = env.net.listen(PORT).await?;
    env.record(EventKind::ServiceStarted {
        service: "status".to_string(),
        port: PORT,
    });
    let key = Arc::new(config.api_key);
    http::serve(listener, move |req, _peer: SocketAddr| {
        let (key, read) = (key.clone(), read.clone());
        async move { answer(&req, &key, read) }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Readings {
        Readings {
            workers: 8,
            queue_max: 128,
            primary: Some("node-1".into()),
            ..Readings::default()
        }
    }

    /// Proves every subsystem answers healthy on a healthy node, and each fails on the
    /// condition the module header names, with words that say why.
    #[test]
    fn each_subsystem_fails_on_its_condition() {
        let ok = healthy();
        assert!(SUBSYSTEMS.iter().all(|s| judge(s, &ok).is_ok()));
        let slowed = Readings {
            speed_milli: 4000,
            ..healthy()
        };
        assert_eq!(
            judge("cpu", &slowed),
            Err("service times x4.0: starved".into())
        );
        let full = Readings {
            admitted: 8 + 128,
            ..healthy()
        };
        assert!(judge("cpu", &full).is_err() && judge("services", &full).is_err());
        let cut = Readings {
            contact: Err("no contact with a primary for 16s".into()),
            ..healthy()
        };
        assert!(judge("network", &cut).is_err() && judge("db", &cut).is_err());
        let lost = Readings {
            primary: None,
            ..healthy()
        };
        assert!(judge("db", &lost).is_err() && judge("replicaset", &lost).is_err());
        let lagging = Readings {
            is_primary: true,
            lagging: vec!["node-2".into()],
            ..healthy()
        };
        assert_eq!(
            judge("replicaset", &lagging),
            Err("node-2 lagging behind the primary".into())
        );
        let refused = Readings {
            internet: Some("egress: 407".into()),
            email: Some("535 authentication failed".into()),
            ..healthy()
        };
        assert!(judge("internet", &refused).is_err() && judge("email", &refused).is_err());
        assert!(judge("memory", &refused).is_ok());
    }

    /// Proves a failed delivery is kept in operational words only: the reply code, never
    /// the recipient a reason may name.
    #[test]
    fn delivery_failures_keep_no_address() {
        let vitals = Vitals::default();
        vitals.delivered(Err("refusing to send to \"a@example.com\": too long"));
        assert_eq!(
            vitals.failures().1.as_deref(),
            Some("the last delivery to the relay failed")
        );
        vitals.delivered(Err("the relay answered 535, expected 235"));
        assert_eq!(
            vitals.failures().1.as_deref(),
            Some("the relay answered 535 to the last delivery")
        );
        vitals.delivered(Ok(()));
        assert_eq!(vitals.failures().1, None);
    }

    /// Proves the endpoint answers 401 without the key, 404 off its paths, 204 healthy
    /// and 503 naming the subsystem otherwise.
    #[test]
    fn answers_by_key_and_path() {
        let get = |path: &str, auth: Option<String>| {
            let mut req = Request::get(path);
            if let Some(a) = auth {
                req = req.header(hyper::header::AUTHORIZATION, a);
            }
            req.body(()).expect("valid")
        };
        let key = Some(authorization("k"));
        assert_eq!(answer(&get("/status/db", None), "k", healthy).status(), 401);
        let wrong = Some(authorization("other"));
        assert_eq!(
            answer(&get("/status/db", wrong), "k", healthy).status(),
            401
        );
        assert_eq!(
            answer(&get("/status/x", key.clone()), "k", healthy).status(),
            404
        );
        assert_eq!(
            answer(&get("/status/db", key.clone()), "k", healthy).status(),
            204
        );
        let lost = || Readings {
            primary: None,
            ..healthy()
        };
        let response = answer(&get("/status/db", key), "k", lost);
        assert_eq!(response.status(), 503);
    }
}
