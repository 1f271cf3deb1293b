//! The AD/LDAP connector: a websocket held open from the customer's network to the
//! appliance, through the load balancer, and the nodes' side of it.
//!
//! Real component: the Auth0 AD/LDAP Connector, an agent installed next to the customer's
//! directory that keeps a websocket open to the App Tenant so the cluster can send it
//! authentication requests. The network requirements: the balancer must be aware of websockets for it,
//! and "the Auth0 AD/LDAP Connector does not work in HTTPS mode" when the balancer does
//! not pass `Connection: Upgrade`.
//!
//! Modelled:
//! - The nodes' side ([`answer`], [`accept`]): `GET /connector` with `Connection: Upgrade`,
//!   `Upgrade: websocket`, `Sec-WebSocket-Version: 13` and a valid `Sec-WebSocket-Key`
//!   answers `101 Switching Protocols` with the matching `Sec-WebSocket-Accept` (RFC 6455
//!   4.2.2), then speaks websocket frames (tokio-tungstenite) on the upgraded connection.
//!   Without the upgrade headers: `426 Upgrade Required` (what a node behind a balancer
//!   that strips them answers). The node sends a heartbeat text message every
//!   [`HEARTBEAT_INTERVAL`], the first at once (`{"type":"ping","node":"node-2","n":0}`),
//!   and expects `{"type":"pong","n":N}`; a connector that leaves [`MISSED_MAX`]
//!   heartbeats unanswered is dropped. The connection holds no worker: it is I/O.
//! - The connector ([`run`]), on the users' host when `load.connector` is true: it
//!   resolves `login.<domain>` through the DNS host as the users do, dials the balancer on
//!   443 (TLS with the users' trust and SNI when the deployment has TLS), sends the upgrade
//!   to `/connector`, and answers every heartbeat. When the connection breaks (closed,
//!   reset, [`MISSED_MAX`] heartbeats missed) or an attempt fails (DNS, refused, timed out,
//!   TLS, the handshake answered with a status other than 101), it records why and tries
//!   again [`RECONNECT_DELAY`] later, until the run ends.
//! - Events: the connector records `ConnectorConnected` (the node named by the first
//!   heartbeat), `ConnectorBroken` and `ConnectorRefused`; a node records
//!   `ConnectorOpened` and `ConnectorClosed`.
//!
//! Left out on purpose: the authentication requests the cluster sends over the socket (the
//! heartbeats stand for them), several connectors, the connector's own directory.
//!
//! Determinism: the DNS query ids come from the run's seed; the only other randomness is
//! tungstenite's (the `Sec-WebSocket-Key` and the frames' masking keys), which changes
//! bytes, never their number, so it cannot move an outcome.
//!
//! Port: none of its own (the nodes serve `/connector` on 443). Faults: whatever happens
//! to the balancer, the node it is on, DNS and the users' link.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::env::Env;
use crate::events::EventKind;
use crate::net::Net;
use crate::seed::{self, Component};
use crate::services::dns;
use crate::services::http::{self, Body};

/// The path the connector opens its websocket on.
pub const PATH: &str = "/connector";

/// Time between two heartbeats a node sends; the first goes at once.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);

/// Heartbeats a node lets go unanswered before it drops the connector; the connector
/// likewise gives up after this many intervals without one (6 s).
pub const MISSED_MAX: u32 = 3;

/// How long the connector waits after a break or a failed attempt before trying again.
pub const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Bound on the TCP connect to the balancer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Bound on the TLS handshake and the websocket upgrade together.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Bound on writing one message (a heartbeat, its answer, the close): a peer whose
/// buffers stay full this long is as good as gone.
pub const SEND_TIMEOUT: Duration = HEARTBEAT_INTERVAL;

/// Bound on a DNS lookup (the users' bound).
pub const DNS_TIMEOUT: Duration = crate::services::users::DNS_TIMEOUT;

/// Largest websocket message or frame either side accepts: heartbeats are tens of bytes.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;

/// A refusal's or a close's reason is cut to this many characters in the event log.
const MAX_REASON_CHARS: usize = 80;

/// How long a silent connection is given before the connector gives up on it.
pub fn silence_max() -> Duration {
    HEARTBEAT_INTERVAL * MISSED_MAX
}

/// The websocket settings of both sides: small buffers, small messages.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(MAX_MESSAGE_BYTES)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES))
}

// ---------------------------------------------------------------------------------------
// The nodes' side.

/// Why a node refuses a `GET /connector`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Upgrade: websocket` with `Connection: upgrade` (a balancer stripped them): 426.
    NoUpgrade,
    /// A `Sec-WebSocket-Version` other than 13: 426 naming 13.
    Version,
    /// No `Sec-WebSocket-Key`, or not 16 bytes in base64: 400.
    Key,
}

impl Refusal {
    pub fn status(self) -> u16 {
        match self {
            Refusal::NoUpgrade | Refusal::Version => 426,
            Refusal::Key => 400,
        }
    }

    /// The response a node sends (RFC 6455 4.2.2 and RFC 9110 15.5.22: a 426 names the
    /// protocol to upgrade to).
    pub fn response(self) -> Response<Body> {
        let text = match self {
            Refusal::NoUpgrade => "upgrade required: this endpoint speaks websocket",
            Refusal::Version => "unsupported websocket version: expected 13",
            Refusal::Key => "expected a Sec-WebSocket-Key of 16 bytes in base64",
        };
        let mut response = http::text(self.status(), text);
        let h = response.headers_mut();
        match self {
            Refusal::NoUpgrade => {
                h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            }
            Refusal::Version => {
                h.insert(
                    header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static("13"),
                );
            }
            Refusal::Key => {}
        }
        response
    }
}

/// What a node answers to a `GET /connector` with these headers: the
/// `Sec-WebSocket-Accept` value of its 101, or why it refuses.
pub fn answer(headers: &HeaderMap) -> Result<String, Refusal> {
    use base64::Engine as _;
    if !http::wants_websocket(headers) {
        return Err(Refusal::NoUpgrade);
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err(Refusal::Version);
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|k| {
            base64::engine::general_purpose::STANDARD
                .decode(k.as_bytes())
                .is_ok_and(|raw| raw.len() == 16)
        })
        .ok_or(Refusal::Key)?;
    Ok(tungstenite::handshake::derive_accept_key(key.as_bytes()))
}

/// A node's `GET /connector`: the 101 (and, once hyper hands over the connection, the
/// heartbeat session on a task of the node), or the refusal from [`answer`].
pub fn accept<N: Net>(env: &Env<N>, req: Request<Incoming>) -> Response<Body> {
    let accept = match answer(req.headers()) {
        Ok(accept) => accept,
        Err(refusal) => return refusal.response(),
    };
    let env = env.clone();
    tokio::spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => {
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(ws_config()),
                )
                .await;
                env.record(EventKind::ConnectorOpened);
                let reason = heartbeats(&env.host, ws).await;
                env.record(EventKind::ConnectorClosed { reason });
            }
            Err(e) => env.record(EventKind::ConnectorClosed {
                reason: format!("upgrade failed: {e}"),
            }),
        }
    });
    let mut response = Response::new(Body::default());
    *response.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).expect("base64 is valid header text"),
    );
    response
}

/// The heartbeat text a node sends.
pub fn ping(node: &str, n: u64) -> String {
    serde_json::json!({ "type": "ping", "node": node, "n": n }).to_string()
}

/// The answer the connector sends to heartbeat `n`.
pub fn pong(n: u64) -> String {
    serde_json::json!({ "type": "pong", "n": n }).to_string()
}

/// A heartbeat or its answer, read back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Beat {
    Ping { node: String, n: u64 },
    Pong { n: u64 },
}

fn beat(message: &Message) -> Option<Beat> {
    match message {
        Message::Text(text) => serde_json::from_str(text.as_str()).ok(),
        _ => None,
    }
}

/// A node's side of an open connector: a heartbeat every [`HEARTBEAT_INTERVAL`], until
/// the connector closes, fails, or leaves [`MISSED_MAX`] unanswered. Returns why it ended.
async fn heartbeats<S>(node: &str, mut ws: WebSocketStream<S>) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut ticker = crate::timers::Interval::delay(HEARTBEAT_INTERVAL);
    // Heartbeats sent, and one past the highest answered.
    let (mut sent, mut answered) = (0u64, 0u64);
    loop {
        tokio::select! {
            biased;
            _ = ticker.tick() => {
                if sent - answered >= u64::from(MISSED_MAX) {
                    // Best effort: the connector is silent, maybe gone.
                    drop(crate::timers::timeout(SEND_TIMEOUT, ws.close(None)).await);
                    return format!("connector silent for {MISSED_MAX} heartbeats");
                }
                match crate::timers::timeout(SEND_TIMEOUT, ws.send(Message::text(ping(node, sent)))).await {
                    Err(_elapsed) => return "the connector takes no more data".to_string(),
                    Ok(Err(e)) => return format!("sending a heartbeat failed: {e}"),
                    Ok(Ok(())) => {}
                }
                sent += 1;
            }
            message = ws.next() => match message {
                Some(Ok(Message::Close(_))) | None => return "closed by the connector".to_string(),
                Some(Ok(message)) => {
                    if let Some(Beat::Pong { n }) = beat(&message) {
                        answered = answered.max(n.saturating_add(1)).min(sent);
                    }
                }
                Some(Err(e)) => return format!("connection failed: {e}"),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// The connector.

/// The connector's configuration.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// The name it dials (`login.<domain>`).
    pub name: String,
    pub dns_server: SocketAddr,
    /// The balancer's port (443).
    pub port: u16,
    /// TLS towards the published name (the users' trust and clock); `None`: plain.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The run's seed: its DNS query ids are the [`Component::ConnectorIds`] stream of it.
    pub seed: u64,
}

/// How one attempt ended.
enum End {
    /// The websocket never opened: the HTTP status when one was answered, and why.
    Refused(Option<u16>, String),
    /// The websocket opened and then broke: the node it was on, if a heartbeat named it.
    Broken(Option<String>, String),
}

/// Runs the connector forever: connect, answer heartbeats, and after any end wait
/// [`RECONNECT_DELAY`] and connect again.
pub async fn run<N: Net>(env: Env<N>, config: ConnectorConfig) -> std::io::Result<()> {
    use rand::Rng as _;
    let mut ids = ChaCha8Rng::seed_from_u64(seed::stream(config.seed, Component::ConnectorIds));
    loop {
        let end = attempt(&env, &config, ids.random()).await;
        env.record(match end {
            End::Refused(status, reason) => EventKind::ConnectorRefused { status, reason },
            End::Broken(node, reason) => EventKind::ConnectorBroken { node, reason },
        });
        crate::timers::sleep(RECONNECT_DELAY).await;
    }
}

async fn attempt<N: Net>(env: &Env<N>, config: &ConnectorConfig, query_id: u16) -> End {
    let refused = |why: String| End::Refused(None, why);
    let address = match dns::resolve(
        &env.net,
        config.dns_server,
        &config.name,
        query_id,
        DNS_TIMEOUT,
    )
    .await
    {
        Ok(answer) => answer.address,
        Err(why) => return refused(format!("name resolution failed: {why}")),
    };
    let to = SocketAddr::new(address, config.port);
    let stream = match http::connect(&env.net, to, CONNECT_TIMEOUT).await {
        Ok(stream) => stream,
        Err(failure) => return refused(failure.describe(CONNECT_TIMEOUT, HANDSHAKE_TIMEOUT)),
    };
    let dial = http::Dial {
        preface: Vec::new(),
        tls: config.tls.as_ref().map(|tls| {
            let name = rustls::pki_types::ServerName::try_from(config.name.clone())
                .expect("the published name is a valid DNS name (checked with the topology)");
            (tls.clone(), name)
        }),
    };
    let scheme = if dial.tls.is_some() { "wss" } else { "ws" };
    let url = format!("{scheme}://{}{PATH}", config.name);
    let handshake = async {
        let stream = http::prepare(stream, &dial).await.map_err(|failure| {
            End::Refused(None, failure.describe(CONNECT_TIMEOUT, HANDSHAKE_TIMEOUT))
        })?;
        tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config()))
            .await
            .map(|(ws, _response)| ws)
            .map_err(refusal)
    };
    let ws = match crate::timers::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Err(_elapsed) => {
            return refused(format!(
                "no upgrade within {}",
                crate::duration::span(HANDSHAKE_TIMEOUT)
            ));
        }
        Ok(Err(end)) => return end,
        Ok(Ok(ws)) => ws,
    };
    answer_heartbeats(env, ws).await
}

/// How a failed websocket handshake is told: the status and the first line of the body
/// when the server answered something other than 101.
fn refusal(e: tungstenite::Error) -> End {
    match e {
        tungstenite::Error::Http(response) => {
            let body = response.body().as_deref().unwrap_or_default();
            let line: String = String::from_utf8_lossy(body)
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(MAX_REASON_CHARS)
                .collect();
            End::Refused(Some(response.status().as_u16()), line)
        }
        other => End::Refused(None, format!("websocket handshake failed: {other}")),
    }
}

/// The connector's side of an open websocket: answers every heartbeat; ends when the
/// connection closes or fails, or when no heartbeat came for [`silence_max`].
async fn answer_heartbeats<N: Net, S>(env: &Env<N>, mut ws: WebSocketStream<S>) -> End
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut node: Option<String> = None;
    loop {
        let message = match crate::timers::timeout(silence_max(), ws.next()).await {
            Err(_elapsed) => {
                return End::Broken(
                    node,
                    format!("no heartbeat for {}", crate::duration::span(silence_max())),
                );
            }
            Ok(None | Some(Ok(Message::Close(_)))) => {
                return End::Broken(node, "closed by the server".to_string());
            }
            Ok(Some(Err(e))) => return End::Broken(node, format!("connection failed: {e}")),
            Ok(Some(Ok(message))) => message,
        };
        let Some(Beat::Ping { node: from, n }) = beat(&message) else {
            continue;
        };
        if node.is_none() {
            env.record(EventKind::ConnectorConnected { node: from.clone() });
            node = Some(from);
        }
        match crate::timers::timeout(SEND_TIMEOUT, ws.send(Message::text(pong(n)))).await {
            Err(_elapsed) => return End::Broken(node, "the server takes no more data".to_string()),
            Ok(Err(e)) => return End::Broken(node, format!("answering a heartbeat failed: {e}")),
            Ok(Ok(())) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    const UPGRADE: [(&str, &str); 4] = [
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        // RFC 6455 section 1.3's example key and its accept value.
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    /// Proves a node accepts a proper upgrade with RFC 6455's own example accept value.
    #[test]
    fn accepts_upgrade() {
        assert_eq!(
            answer(&headers(&UPGRADE)).unwrap(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    /// Proves a node answers 426 without the upgrade headers (what a balancer that strips
    /// hop-by-hop headers delivers), 426 for another version, 400 for a bad key.
    #[test]
    fn refuses_without_upgrade() {
        let status = |h: &[(&str, &str)]| answer(&headers(h)).unwrap_err().response().status();
        assert_eq!(status(&UPGRADE[2..]), 426);
        assert_eq!(status(&[UPGRADE[1], UPGRADE[2], UPGRADE[3]]), 426);
        assert_eq!(status(&[UPGRADE[0], UPGRADE[2], UPGRADE[3]]), 426);
        let old = [
            UPGRADE[0],
            UPGRADE[1],
            ("sec-websocket-version", "8"),
            UPGRADE[3],
        ];
        assert_eq!(status(&old), 426);
        let short = [
            UPGRADE[0],
            UPGRADE[1],
            UPGRADE[2],
            ("sec-websocket-key", "c2hvcnQ="),
        ];
        assert_eq!(status(&short), 400);
        assert_eq!(status(&UPGRADE[..3]), 400);
    }

    /// A node's `/connector` served by real hyper on one end of an in-memory pipe, as
    /// `node-2`; returns the other end and the node's event log.
    fn serve_node() -> (tokio::io::DuplexStream, crate::events::Recorder) {
        use crate::net::real::{RealClock, RealNet};
        let recorder = crate::events::Recorder::new();
        let env = Env::new(
            "node-2",
            RealNet::new(std::net::Ipv4Addr::LOCALHOST.into()),
            Arc::new(RealClock::new(0)),
            recorder.clone(),
        );
        let (client, server) = tokio::io::duplex(64 * 1024);
        let service = hyper::service::service_fn(move |req| {
            let response = accept(&env, req);
            async move { Ok::<_, std::convert::Infallible>(response) }
        });
        tokio::spawn(
            hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(TokioIo::new(server), service)
                .with_upgrades(),
        );
        (client, recorder)
    }

    fn closed(recorder: &crate::events::Recorder) -> Vec<String> {
        recorder
            .snapshot()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::ConnectorClosed { reason } => Some(reason),
                _ => None,
            })
            .collect()
    }

    /// Proves, over real hyper and websocket frames, that a node answers the upgrade with
    /// a 101 the client's handshake accepts (tungstenite checks `Sec-WebSocket-Accept`),
    /// sends a first heartbeat at once naming itself, and records the connector's close.
    #[tokio::test(start_paused = true)]
    async fn node_upgrades_and_beats() {
        let (pipe, recorder) = serve_node();
        let (mut ws, response) = tokio_tungstenite::client_async("ws://login/connector", pipe)
            .await
            .unwrap();
        assert_eq!(response.status(), 101);
        let first = ws.next().await.unwrap().unwrap();
        let expected = Beat::Ping {
            node: "node-2".to_string(),
            n: 0,
        };
        assert_eq!(beat(&first), Some(expected));
        ws.send(Message::text(pong(0))).await.unwrap();
        let second = ws.next().await.unwrap().unwrap();
        assert!(matches!(beat(&second), Some(Beat::Ping { n: 1, .. })));
        ws.close(None).await.unwrap();
        while ws.next().await.is_some() {}
        tokio::time::sleep(Duration::from_millis(10)).await;
        let events = recorder.snapshot();
        assert!(matches!(events[0].kind, EventKind::ConnectorOpened));
        assert_eq!(closed(&recorder), ["closed by the connector"]);
    }

    /// Proves a node drops a connector that answers no heartbeat: after three unanswered
    /// ones (at 0, 2 and 4 s) it closes at 6 s and records why.
    #[tokio::test(start_paused = true)]
    async fn node_drops_silent_connector() {
        let (pipe, recorder) = serve_node();
        let (mut ws, _) = tokio_tungstenite::client_async("ws://login/connector", pipe)
            .await
            .unwrap();
        let started = tokio::time::Instant::now();
        let mut pings = 0;
        while let Some(Ok(message)) = ws.next().await {
            pings += usize::from(matches!(beat(&message), Some(Beat::Ping { .. })));
        }
        assert_eq!(pings, 3);
        assert_eq!(started.elapsed().as_secs(), 6);
        assert_eq!(closed(&recorder), ["connector silent for 3 heartbeats"]);
    }

    /// Proves a plain `GET /connector` (the upgrade headers stripped) gets 426 through
    /// real hyper and opens nothing, and that the connector reads a 426 as a refusal with
    /// that status and the node's reason.
    #[tokio::test]
    async fn node_refuses_plain_get() {
        let (pipe, recorder) = serve_node();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(pipe))
            .await
            .unwrap();
        tokio::spawn(connection);
        let request = Request::get(PATH)
            .header(header::HOST, "login.example.com")
            .body(Body::default())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 426);
        assert_eq!(response.headers()[header::UPGRADE], "websocket");
        assert!(recorder.snapshot().is_empty());
        // A version the node does not speak: the refusal as the connector reads it.
        let mut request =
            tungstenite::client::IntoClientRequest::into_client_request("ws://login/connector")
                .unwrap();
        request
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("8"));
        let (pipe, _) = serve_node();
        let err = tokio_tungstenite::client_async(request, pipe)
            .await
            .unwrap_err();
        match refusal(err) {
            End::Refused(Some(426), reason) => {
                assert_eq!(reason, "unsupported websocket version: expected 13");
            }
            _ => panic!("expected a refusal with status 426"),
        }
    }

    /// Proves the heartbeat texts read back as what was sent.
    #[test]
    fn beats_round_trip() {
        let ping = Message::text(ping("node-2", 7));
        assert_eq!(
            beat(&ping),
            Some(Beat::Ping {
                node: "node-2".to_string(),
                n: 7
            })
        );
        assert_eq!(beat(&Message::text(pong(7))), Some(Beat::Pong { n: 7 }));
        assert_eq!(beat(&Message::text("{}")), None);
    }
}
