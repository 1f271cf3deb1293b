//! The egress: the nodes' only way to the internet.
//!
//! Real component: the NAT gateway or transparent proxy in front of the appliance's LAN
//! (the network requirements: each VM needs outbound access "through NAT or transparent proxy"; the security and access requirements:
//! behind a transparent proxy, "add an exception so that the Appliance instance(s) may
//! get through the proxy unauthenticated").
//!
//! Modelled: nodes route everything off their /24 to this host (the socket layer
//! redirects it to [`INTERCEPT_PORT`] and says where it was going, see
//! [`crate::net::original`]). What happens then depends on the mode:
//! - `proxy` (default): the connection is served as HTTP/1.1. Each request is decided in
//!   order: a client that is not a node with the exception gets `407 Proxy
//!   Authentication Required` (this proxy accepts no credentials: the nodes have none
//!   configured, so only the exception lets them out); a `Host` that is not on the allow
//!   list (the domain itself or a name under it) gets `403`; anything else is forwarded to
//!   the original destination, bounded by `upstream_timeout`, and the upstream's answer is
//!   relayed, or `502` (refused, reset) or `504` (timeout) with the reason.
//! - `nat`: any TCP connection is relayed byte for byte to its original destination, for
//!   at most five minutes. An upstream that cannot be reached closes the node's
//!   connection (a userspace relay has already accepted it; a kernel NAT would pass the
//!   refusal on instead). Reading the redirect header is bounded by `upstream_timeout`.
//! - UDP, in either mode: datagrams to `udp_ports` (NTP's 123) are forwarded from an
//!   ephemeral port of this host and the first reply is relayed back, naming the internet
//!   host it came from; a flow with no reply within `udp_idle` is given up. Datagrams to
//!   other ports are dropped.
//!
//! Every decision is an [`EgressRecord`] in the event log: who asked, for what, and what
//! came of it. A request let through is recorded twice: `Forwarding` before the upstream
//! is called, then how it went, so the checkers can account for every request the
//! internet's hosts served even when the egress crashes or the run ends mid-flight.
//!
//! Left out on purpose: CONNECT and TLS interception (the internet's hosts speak plain
//! HTTP in this model), caching, proxy credentials, connection reuse upstream.
//!
//! Bounds: accepts never fail and at most [`crate::net::MAX_CONNECTIONS_PER_LISTENER`]
//! redirected connections are open at once ([`crate::net`]); a proxied request's body is
//! read as [`crate::services::http::read_body`] allows (`413` over its size, `408` when
//! it stalls).
//!
//! Port: TCP and UDP [`INTERCEPT_PORT`]. Faults it reacts to: crash, restart and
//! firewall rules (`block` from `egress` to the internet's hosts is "egress blocked");
//! and, in proxy mode, an administrator's change during the run (the scenario's `egress =
//! { allow = [...], exception = false }`, read from [`Rules`] at every request): a
//! withdrawn exception gets every node's request `407`, a changed allow-list gets the
//! names off it `403`, from the next request on (UDP forwarding is not the proxy's and is
//! not affected).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::env::Env;
use crate::events::{EgressRecord, EgressVerdict, EventKind};
use crate::faults::service::EgressChange;
use crate::net::original::{self, Transport};
use crate::net::{Datagrams, Net};
use crate::services::http::{self, Body, Failure};
use crate::topology::{EgressMode, EgressSettings};

/// Where the egress receives redirected traffic, TCP and UDP (Squid's conventional
/// intercept port).
pub const INTERCEPT_PORT: u16 = 3129;

/// Longest a NAT relay lives (every exchange in this model lasts milliseconds).
const MAX_RELAY: std::time::Duration = std::time::Duration::from_secs(300);

/// Largest datagram relayed.
const MAX_DATAGRAM: usize = 2048;

/// The egress's configuration.
#[derive(Debug, Clone)]
pub struct EgressConfig {
    pub settings: EgressSettings,
    /// The nodes: the clients the proxy's exception covers.
    pub nodes: Vec<IpAddr>,
    /// Names for the log, by address (hosts of the topology).
    pub names: BTreeMap<IpAddr, String>,
    /// An administrator's changes of the allow-list and the exception during the run
    /// (none, unless the scenario makes some).
    pub rules: Rules,
}

/// The rules an administrator changed: the scenario's `egress` steps set them (the world
/// holds a clone), the proxy reads them at every request. They outlive a crash of the
/// egress, as a configuration file would.
#[derive(Debug, Clone, Default)]
pub struct Rules(Arc<std::sync::Mutex<EgressChange>>);

impl Rules {
    fn lock(&self) -> std::sync::MutexGuard<'_, EgressChange> {
        self.0
            .lock()
            .expect("no code panics while holding the rules")
    }

    /// Lays `change` over the rules in force.
    pub fn change(&self, change: EgressChange) {
        let mut rules = self.lock();
        *rules = rules.clone().then(change);
    }
}

impl EgressConfig {
    fn name(&self, ip: IpAddr) -> String {
        self.names
            .get(&ip)
            .cloned()
            .unwrap_or_else(|| ip.to_string())
    }

    /// True when `host` is an allowed domain or a name under one (on the allow-list in
    /// force: the topology's, or the one a step set).
    pub fn allows(&self, host: &str) -> bool {
        match &self.rules.lock().allow {
            Some(allow) => allows(allow, host),
            None => allows(&self.settings.allow, host),
        }
    }

    /// True when the nodes' exception is in force (the topology's setting, or a step's).
    fn exception(&self) -> bool {
        self.rules
            .lock()
            .exception
            .unwrap_or(self.settings.node_exception)
    }
}

/// True when `host` is one of `allow` or a name under one of them.
pub fn allows(allow: &[String], host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    allow.iter().any(|domain| {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        host == domain || host.ends_with(&format!(".{domain}"))
    })
}

/// Runs the egress until its listener fails.
pub async fn run<N: Net>(env: Env<N>, config: EgressConfig) -> std::io::Result<()> {
    let config = Arc::new(config);
    let socket = Arc::new(env.net.bind_udp(INTERCEPT_PORT).await?);
    let listener = env.net.listen(INTERCEPT_PORT).await?;
    let mode = match config.settings.mode {
        EgressMode::Proxy => "egress-proxy",
        EgressMode::Nat => "egress-nat",
    };
    env.record(EventKind::ServiceStarted {
        service: mode.to_string(),
        port: INTERCEPT_PORT,
    });
    tokio::spawn(datagrams(env.clone(), config.clone(), socket));
    let mut connections = crate::net::Connections::new(listener);
    loop {
        let (stream, _, slot) = connections.next().await;
        let (env, config) = (env.clone(), config.clone());
        tokio::spawn(async move {
            connection(env, config, stream).await;
            drop(slot);
        });
    }
}

/// Who asked the egress for what: every record of one request shares it.
struct Flow {
    client: String,
    protocol: &'static str,
    target: String,
    destination: SocketAddr,
}

impl Flow {
    fn new(
        config: &EgressConfig,
        source: SocketAddr,
        protocol: &'static str,
        target: String,
        destination: SocketAddr,
    ) -> Self {
        Self {
            client: config.name(source.ip()),
            protocol,
            target,
            destination,
        }
    }

    fn record<N: Net>(&self, env: &Env<N>, verdict: EgressVerdict) {
        env.record(EventKind::Egress(EgressRecord {
            client: self.client.clone(),
            protocol: self.protocol.to_string(),
            target: self.target.clone(),
            destination: self.destination,
            verdict,
        }));
    }
}

/// One intercepted TCP connection.
async fn connection<N: Net>(env: Env<N>, config: Arc<EgressConfig>, mut stream: N::Stream) {
    // Whatever was not redirected to us (no header, or none within the upstream bound)
    // is not ours to relay.
    let bound = config.settings.upstream_timeout;
    let Ok(Ok((source, destination))) =
        crate::timers::timeout(bound, original::read(&mut stream)).await
    else {
        return;
    };
    match config.settings.mode {
        EgressMode::Nat => nat(&env, &config, stream, source, destination).await,
        EgressMode::Proxy => {
            let service = service_fn(move |req| {
                let (env, config) = (env.clone(), config.clone());
                async move {
                    Ok::<_, std::convert::Infallible>(
                        proxy(&env, &config, source, destination, req).await,
                    )
                }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(crate::timers::HyperTimer::new())
                .auto_date_header(false)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            // A connection error is the client going away; nothing to do but drop it.
            drop(served);
        }
    }
}

async fn nat<N: Net>(
    env: &Env<N>,
    config: &EgressConfig,
    mut stream: N::Stream,
    source: SocketAddr,
    destination: SocketAddr,
) {
    let bound = config.settings.upstream_timeout;
    let flow = Flow::new(
        config,
        source,
        "tcp",
        config.name(destination.ip()),
        destination,
    );
    flow.record(env, EgressVerdict::Forwarding);
    let upstream = match crate::timers::timeout(bound, env.net.connect(destination)).await {
        Ok(Ok(upstream)) => upstream,
        failed => {
            let reason = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => format!("no connection within {}", crate::duration::span(bound)),
            };
            let verdict = EgressVerdict::UpstreamFailed { reason };
            flow.record(env, verdict);
            return;
        }
    };
    let verdict = EgressVerdict::Delivered { status: None };
    flow.record(env, verdict);
    let mut upstream = upstream;
    // The relay ends when either side closes or fails (the bytes are not ours to judge),
    // or after MAX_RELAY: an upstream silenced by a DROP rule never closes.
    let relay = tokio::io::copy_bidirectional(&mut stream, &mut upstream);
    let relayed = crate::timers::timeout(MAX_RELAY, relay).await;
    drop(relayed);
}

/// One request through the transparent proxy.
async fn proxy<N: Net>(
    env: &Env<N>,
    config: &EgressConfig,
    source: SocketAddr,
    destination: SocketAddr,
    req: Request<Incoming>,
) -> Response<Body> {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.split(':').next().unwrap_or(h).to_ascii_lowercase())
        .unwrap_or_else(|| destination.ip().to_string());
    let flow = Flow::new(config, source, "http", host.clone(), destination);
    let deny = |status: u16, reason: String| {
        let verdict = EgressVerdict::Denied {
            status: Some(status),
            reason: reason.clone(),
        };
        flow.record(env, verdict);
        let mut response = http::text(status, format!("egress: {reason}"));
        if status == 407 {
            response.headers_mut().insert(
                hyper::header::PROXY_AUTHENTICATE,
                "Basic realm=\"egress\"".parse().expect("static header"),
            );
        }
        response
    };
    if !(config.exception() && config.nodes.contains(&source.ip())) {
        let who = &flow.client;
        return deny(
            407,
            format!("{who} has no exception and this proxy takes no credentials"),
        );
    }
    if !config.allows(&host) {
        return deny(403, format!("{host} is not on the allow-list"));
    }
    let (parts, body) = req.into_parts();
    let body = match http::read_body(body).await {
        Ok(body) => body,
        Err(why) => return http::text(why.status(), why),
    };
    let mut upstream = Request::new(Body::new(body));
    *upstream.method_mut() = parts.method;
    *upstream.uri_mut() = parts.uri.path_and_query().map_or_else(
        || "/".parse().expect("static uri"),
        |p| p.as_str().parse().expect("a path parses"),
    );
    *upstream.headers_mut() = parts.headers;
    let bound = config.settings.upstream_timeout;
    flow.record(env, EgressVerdict::Forwarding);
    match http::exchange(&env.net, destination, upstream, bound, bound).await {
        Ok(answer) => {
            let status = answer.status().as_u16();
            let verdict = EgressVerdict::Delivered {
                status: Some(status),
            };
            flow.record(env, verdict);
            let (parts, body) = answer.into_parts();
            Response::from_parts(parts, Body::new(body))
        }
        Err(failure) => {
            let reason = failure.describe(bound, bound);
            let status = match failure {
                Failure::ConnectTimeout | Failure::ResponseTimeout => 504,
                Failure::Refused | Failure::Broken(_) | Failure::Tls(_) => 502,
            };
            let text = format!("egress: upstream {host}: {reason}");
            let verdict = EgressVerdict::UpstreamFailed { reason };
            flow.record(env, verdict);
            http::text(status, text)
        }
    }
}

/// The UDP side: every redirected datagram, decided and forwarded.
async fn datagrams<N: Net>(
    env: Env<N>,
    config: Arc<EgressConfig>,
    socket: Arc<N::Socket>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        let Ok((source, destination, header)) = original::parse(&buf[..len]) else {
            continue;
        };
        if source.ip() != from.ip() {
            continue;
        }
        let payload = buf[header..len].to_vec();
        if !config.settings.udp_ports.contains(&destination.port()) {
            let flow = Flow::new(
                &config,
                source,
                "udp",
                config.name(destination.ip()),
                destination,
            );
            let reason = format!("UDP port {} is not forwarded", destination.port());
            let verdict = EgressVerdict::Denied {
                status: None,
                reason,
            };
            flow.record(&env, verdict);
            continue;
        }
        let flow = datagram_flow(
            env.clone(),
            config.clone(),
            socket.clone(),
            source,
            destination,
            payload,
        );
        tokio::spawn(flow);
    }
}

/// Forwards one datagram and relays the first reply back to `source`.
async fn datagram_flow<N: Net>(
    env: Env<N>,
    config: Arc<EgressConfig>,
    intercept: Arc<N::Socket>,
    source: SocketAddr,
    destination: SocketAddr,
    payload: Vec<u8>,
) {
    let idle = config.settings.udp_idle;
    let flow = Flow::new(
        &config,
        source,
        "udp",
        config.name(destination.ip()),
        destination,
    );
    flow.record(&env, EgressVerdict::Forwarding);
    let relayed = async {
        let upstream = env.net.bind_udp(0).await.map_err(|e| e.to_string())?;
        upstream
            .send_to(&payload, destination)
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let wait = async {
            loop {
                let (len, from) = upstream.recv_from(&mut buf).await?;
                if from == destination {
                    return Ok::<usize, std::io::Error>(len);
                }
            }
        };
        let len = match crate::timers::timeout(idle, wait).await {
            Ok(received) => received.map_err(|e| e.to_string())?,
            Err(_) => return Err(format!("no reply within {}", crate::duration::span(idle))),
        };
        let mut reply = original::header(Transport::Datagram, destination, source);
        reply.extend_from_slice(&buf[..len]);
        intercept
            .send_to(&reply, source)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    };
    let verdict = match relayed.await {
        Ok(()) => EgressVerdict::Delivered { status: None },
        Err(reason) => EgressVerdict::UpstreamFailed { reason },
    };
    flow.record(&env, verdict);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves the allow-list matches a domain and the names under it, case-insensitively,
    /// and nothing that merely ends with the same letters.
    #[test]
    fn allow_list() {
        let allow = vec!["facebook.com".to_string(), "auth0.com.".to_string()];
        assert!(allows(&allow, "facebook.com"));
        assert!(allows(&allow, "graph.Facebook.com"));
        assert!(allows(&allow, "cdn.auth0.com"));
        assert!(!allows(&allow, "notfacebook.com"));
        assert!(!allows(&allow, "facebook.com.evil.net"));
        assert!(!allows(&[], "facebook.com"));
    }
}
