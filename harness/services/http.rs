//! HTTP/1.1 plumbing shared by the node, the load balancer, its health checker and the
//! users: a server loop and a bounded client exchange, both real hyper over a [`Net`].
//!
//! hyper runs on the simulated timer ([`crate::timers::HyperTimer`], driven by the simulation's clock) with
//! `auto_date_header(false)`, so no real time leaks into responses (docs/ARCHITECTURE.md
//! section 4).
//! Clients: [`exchange`] opens a connection for one request and closes it after the
//! answer: the load balancer talks to backends the way nginx does by default (no upstream
//! keep-alive), which keeps a dead backend from hiding behind a pooled connection, and the
//! health checks do the same. The users' browsers keep theirs instead: [`open`] gives a
//! connection ready for any number of requests, one at a time ([`send_on`]), and says
//! whether its TLS handshake was full or resumed.
//!
//! Servers keep a connection open after each answer (HTTP/1.1 keep-alive) until the client
//! closes it or it stays silent for [`HEADER_READ_TIMEOUT`]; every server start
//! ([`serve_front`]) gets an empty TLS session cache ([`crate::tls::with_fresh_sessions`]).
//!
//! A server bounds what one client can hold ([`serve`], [`serve_front`]), so that no
//! client can stop a service served on a real socket (`harness serve`): accepts never
//! fail ([`crate::net::accept_next`]) and each listener keeps at most
//! [`crate::net::MAX_CONNECTIONS_PER_LISTENER`] connections open; a request head must
//! arrive whole within [`HEADER_READ_TIMEOUT`] (which also bounds a kept-alive
//! connection's silence), be at most [`MAX_HEAD_BYTES`] with at most [`MAX_HEADERS`]
//! headers (`431` otherwise), and its body at most [`MAX_BODY_BYTES`] (`413`), arriving
//! within [`BODY_READ_TIMEOUT`]. The simulated clients stay far inside every bound, so
//! none changes a run.
//!
//! Faults it reacts to: none of its own; the bounds above are what keep a paused, slow or
//! lossy peer from holding a server for ever.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::net::{Connections, Listener, Net};

/// The body type every service sends.
pub type Body = Full<Bytes>;

/// The header that carries a user's arrival number, set by the users
/// ([`super::users`]), to the load balancer's and the node's records.
pub const REQUEST_ID: &str = "x-request-id";

/// Bodies larger than this are refused (413 on a server, an error on a client). Every
/// message in this model is a small JSON document or a one-line text.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long a server waits for a request head (request line and headers) to arrive
/// whole, from when it starts waiting for one: on a new connection, and again after each
/// answer on a kept-alive connection, so this is also how long a kept-alive connection
/// may stay silent (hyper runs one timer for both; HAProxy has `timeout http-request` and
/// `timeout http-keep-alive`). Then the connection is closed without an answer. 10 s,
/// HAProxy's `timeout http-request` in the exported configuration
/// (`export::haproxy::REQUEST_TIMEOUT`); hyper's own default, 30 s, is not relied on.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request head (request line and headers) a server reads, in bytes; a
/// larger one, complete or not, gets `431 Request Header Fields Too Large` and the
/// connection is closed. 16 KiB, HAProxy's default buffer (`tune.bufsize`): the longest
/// head in the model carries one access token, well under 1 KiB.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The most headers a request may have; more get `431 Request Header Fields Too Large`.
/// hyper's own default (100), named here.
pub const MAX_HEADERS: usize = 100;

/// How long a server's handler waits for a request body to arrive whole, once its head
/// has ([`read_body`]); then it answers `408` instead of waiting on. Like [`HEADER_READ_TIMEOUT`], 10 s: a body in this model is under 1 KiB.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// hyper's HTTP/1.1 server, with the bounds above on the simulated timer.
fn server() -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(crate::timers::HyperTimer::new())
        .auto_date_header(false)
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_header_size(MAX_HEAD_BYTES)
        // The read buffer also bounds a head that never completes (hyper checks the size
        // of complete heads only); bodies are read through it in pieces.
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    builder
}

/// `413` for a request whose declared body (`Content-Length`) is over
/// [`MAX_BODY_BYTES`], answered before anything reads it, closing the connection (the
/// body is not read); `None` for any other request.
fn refuse_oversized<B>(req: &Request<B>) -> Option<Response<Body>> {
    let declared: u64 = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    if declared <= MAX_BODY_BYTES as u64 {
        return None;
    }
    let mut response = text(
        413,
        format!("request body of {declared} bytes; at most {MAX_BODY_BYTES}"),
    );
    response.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    Some(response)
}

/// Serves HTTP/1.1 on every connection `listener` accepts, one task per connection,
/// within the bounds of the module header.
///
/// `handler` gets the request and the peer's address. Never returns: accepts do not fail.
pub async fn serve<L, H, Fut>(listener: L, handler: H) -> io::Result<()>
where
    L: Listener,
    L::Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let mut connections = Connections::new(listener);
    loop {
        let (stream, peer, slot) = connections.next().await;
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let handler = handler.clone();
                async move {
                    let reply = match refuse_oversized(&req) {
                        Some(refused) => refused,
                        None => handler(req, peer).await,
                    };
                    Ok::<_, Infallible>(reply)
                }
            });
            let connection = server().serve_connection(TokioIo::new(stream), service);
            // A connection error is the peer going away (a reset, a crash, a timeout on its
            // side); the server has nothing to do about it but to drop the connection.
            if let Err(gone) = connection.await {
                drop(gone);
            }
            drop(slot);
        });
    }
}

/// Why a request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Over [`MAX_BODY_BYTES`].
    TooLarge,
    /// Not whole within [`BODY_READ_TIMEOUT`].
    TooSlow,
    /// The connection failed or the framing was bad: the reason.
    Broken(String),
}

impl BodyError {
    /// The status a server answers with: `413`, `408` or `400`.
    pub fn status(&self) -> u16 {
        match self {
            BodyError::TooLarge => 413,
            BodyError::TooSlow => 408,
            BodyError::Broken(_) => 400,
        }
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge => write!(
                f,
                "could not read the request body: over {MAX_BODY_BYTES} bytes"
            ),
            BodyError::TooSlow => write!(
                f,
                "could not read the request body: not whole within {}",
                crate::duration::span(BODY_READ_TIMEOUT)
            ),
            BodyError::Broken(why) => write!(f, "could not read the request body: {why}"),
        }
    }
}

/// The reason as response text (`http::text(400, why)`).
impl From<BodyError> for String {
    fn from(e: BodyError) -> Self {
        e.to_string()
    }
}

/// Reads a whole request body, refusing more than [`MAX_BODY_BYTES`] and waiting at most
/// [`BODY_READ_TIMEOUT`].
pub async fn read_body(body: Incoming) -> Result<Bytes, BodyError> {
    let read = Limited::new(body, MAX_BODY_BYTES).collect();
    match crate::timers::timeout(BODY_READ_TIMEOUT, read).await {
        Err(_elapsed) => Err(BodyError::TooSlow),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Ok(Err(e)) => Err(BodyError::Broken(e.to_string())),
    }
}

/// A plain-text response.
pub fn text(status: u16, body: impl Into<String>) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.into())));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).expect("services only use valid status codes");
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        "text/plain".parse().expect("static header"),
    );
    response
}

/// A JSON response.
pub fn json(status: u16, value: &serde_json::Value) -> Response<Body> {
    let mut response = text(status, value.to_string());
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        "application/json".parse().expect("static header"),
    );
    response
}

/// True when the headers ask to upgrade to a websocket: `Upgrade: websocket` and a
/// `Connection` header listing `upgrade` (both case-insensitive).
pub fn wants_websocket(headers: &hyper::HeaderMap) -> bool {
    let upgrade = headers
        .get_all(hyper::header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("websocket"))
        });
    upgrade && has_token(headers, hyper::header::CONNECTION, "upgrade")
}

/// True when a comma-separated header `name` lists `token` (case-insensitive).
pub fn has_token(headers: &hyper::HeaderMap, name: hyper::header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(token))
}

/// Why a client exchange produced no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The peer refused the connection (nothing listens, or a firewall rejects it).
    Refused,
    /// The connection was not accepted within the connect timeout.
    ConnectTimeout,
    /// Connected, but no complete response within the response timeout.
    ResponseTimeout,
    /// Connected, but the connection failed before a complete response: the reason.
    Broken(String),
    /// The TLS handshake failed for a reason of TLS's own (a certificate this client does
    /// not accept, a protocol error): the reason, in rustls's words.
    Tls(String),
}

impl Failure {
    pub fn describe(&self, connect_timeout: Duration, response_timeout: Duration) -> String {
        match self {
            Failure::Refused => "connection refused".to_string(),
            Failure::ConnectTimeout => {
                format!(
                    "connect timed out after {}",
                    crate::duration::span(connect_timeout)
                )
            }
            Failure::ResponseTimeout => {
                format!(
                    "no response within {}",
                    crate::duration::span(response_timeout)
                )
            }
            Failure::Broken(why) | Failure::Tls(why) => why.clone(),
        }
    }
}

/// Connects to `to`, sends one request and reads the whole response, each phase bounded.
pub async fn exchange<N: Net>(
    net: &N,
    to: SocketAddr,
    request: Request<Body>,
    connect_timeout: Duration,
    response_timeout: Duration,
) -> Result<Response<Bytes>, Failure> {
    exchange_via(
        net,
        to,
        &Dial::default(),
        request,
        connect_timeout,
        response_timeout,
    )
    .await
}

/// What a client puts between its TCP connection and HTTP: a PROXY header to send first
/// (a TCP-mode balancer's health check), then TLS with the name it dials.
#[derive(Debug, Clone, Default)]
pub struct Dial {
    /// Bytes written before anything else (a PROXY protocol header).
    pub preface: Vec<u8>,
    /// TLS: the client configuration and the server name to verify.
    pub tls: Option<(
        Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
}

/// [`exchange`] with a [`Dial`]: the preface and the TLS handshake count against
/// `response_timeout`, with the request.
pub async fn exchange_via<N: Net>(
    net: &N,
    to: SocketAddr,
    dial: &Dial,
    request: Request<Body>,
    connect_timeout: Duration,
    response_timeout: Duration,
) -> Result<Response<Bytes>, Failure> {
    let stream = connect(net, to, connect_timeout).await?;
    let exchange = async {
        let stream = prepare(stream, dial).await?;
        send(stream, request).await.map_err(Failure::Broken)
    };
    match crate::timers::timeout(response_timeout, exchange).await {
        Err(_elapsed) => Err(Failure::ResponseTimeout),
        Ok(result) => result,
    }
}

/// A TCP connection bounded by `connect_timeout`, with refusals told apart.
pub async fn connect<N: Net>(
    net: &N,
    to: SocketAddr,
    connect_timeout: Duration,
) -> Result<N::Stream, Failure> {
    match crate::timers::timeout(connect_timeout, net.connect(to)).await {
        Err(_elapsed) => Err(Failure::ConnectTimeout),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => Err(Failure::Refused),
        Ok(Err(e)) => Err(Failure::Broken(format!("connect failed: {e}"))),
        Ok(Ok(stream)) => Ok(stream),
    }
}

/// Any byte stream a connection may end up as (plain, or TLS over plain).
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Io for T {}

/// Writes the preface and runs the TLS handshake a [`Dial`] asks for.
pub async fn prepare<S: Io>(stream: S, dial: &Dial) -> Result<Box<dyn Io>, Failure> {
    prepare_telling(stream, dial)
        .await
        .map(|(stream, _kind)| stream)
}

/// [`prepare`], also telling what kind of TLS handshake it made (`None`: no TLS).
async fn prepare_telling<S: Io>(
    mut stream: S,
    dial: &Dial,
) -> Result<(Box<dyn Io>, Option<rustls::HandshakeKind>), Failure> {
    use tokio::io::AsyncWriteExt;
    if !dial.preface.is_empty() {
        stream
            .write_all(&dial.preface)
            .await
            .map_err(|e| Failure::Broken(format!("connection failed: {e}")))?;
    }
    let Some((config, name)) = &dial.tls else {
        return Ok((Box::new(stream), None));
    };
    let connector = tokio_rustls::TlsConnector::from(config.clone());
    match connector.connect(name.clone(), stream).await {
        Ok(tls) => {
            let kind = tls.get_ref().1.handshake_kind();
            Ok((Box::new(tls), kind))
        }
        Err(e) if is_tls_error(&e) => Err(Failure::Tls(crate::tls::describe(&e))),
        Err(e) => Err(Failure::Broken(format!(
            "connection closed during the TLS handshake: {e}"
        ))),
    }
}

/// True when a handshake failed for a reason of TLS's own, not because the connection
/// went away.
fn is_tls_error(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

/// What a server does with a connection before HTTP: read a PROXY header, then TLS.
#[derive(Debug, Clone, Default)]
pub struct Front {
    /// Expect a PROXY protocol header (either version) first; refuse connections without.
    pub accept_proxy: bool,
    /// Terminate TLS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Bound on the PROXY header and the TLS handshake together; a client that stalls
    /// longer loses the connection (HAProxy's `timeout client` during the handshake).
    pub handshake_timeout: Duration,
}

/// Who a connection came from, as a server saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The TCP peer: a balancer's address when one is in between.
    pub addr: SocketAddr,
    /// What a PROXY header said, when one was expected.
    pub proxy: Option<crate::services::proxy_header::Received>,
}

/// Serves HTTP/1.1 behind a [`Front`] on every connection `listener` accepts, within the
/// bounds of the module header; `admit` decides, from the TCP peer alone, whether to keep
/// a connection at all (an allow-list); `handler` gets each request and the [`Peer`].
/// Never returns: accepts do not fail.
pub async fn serve_front<L, A, H, Fut>(
    listener: L,
    front: Front,
    admit: A,
    handler: H,
) -> io::Result<()>
where
    L: Listener,
    L::Stream: Io,
    A: Fn(SocketAddr) -> bool + Send + Sync + 'static,
    H: Fn(Request<Incoming>, Peer) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let mut front = front;
    front.tls = front.tls.as_ref().map(crate::tls::with_fresh_sessions);
    let front = Arc::new(front);
    let mut connections = Connections::new(listener);
    loop {
        let (stream, addr, slot) = connections.next().await;
        if !admit(addr) {
            drop(stream);
            continue;
        }
        let (handler, front) = (handler.clone(), front.clone());
        tokio::spawn(async move {
            let Ok(Ok((stream, peer))) =
                crate::timers::timeout(front.handshake_timeout, accept(&front, stream, addr)).await
            else {
                // A missing or bad PROXY header, a failed handshake or a stalled client:
                // the connection is dropped, as HAProxy and nginx do.
                return;
            };
            let service = service_fn(move |req| {
                let handler = handler.clone();
                async move {
                    let reply = match refuse_oversized(&req) {
                        Some(refused) => refused,
                        None => handler(req, peer).await,
                    };
                    Ok::<_, Infallible>(reply)
                }
            });
            let connection = server()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(gone) = connection.await {
                drop(gone);
            }
            drop(slot);
        });
    }
}

async fn accept<S: Io>(
    front: &Front,
    mut stream: S,
    addr: SocketAddr,
) -> io::Result<(Box<dyn Io>, Peer)> {
    let proxy = if front.accept_proxy {
        Some(crate::services::proxy_header::read(&mut stream).await?)
    } else {
        None
    };
    let stream: Box<dyn Io> = match &front.tls {
        Some(config) => Box::new(
            tokio_rustls::TlsAcceptor::from(config.clone())
                .accept(stream)
                .await?,
        ),
        None => Box::new(stream),
    };
    Ok((stream, Peer { addr, proxy }))
}

/// Copies bytes both ways between `a` and `b` until both sides have closed, or until
/// nothing has moved either way for `idle` (HAProxy's `timeout tunnel`/`timeout server`),
/// whichever comes first. Returns the bytes moved a->b and b->a.
pub async fn splice<A: Io, B: Io>(a: A, b: B, idle: Duration) -> (u64, u64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut ar, mut aw) = tokio::io::split(a);
    let (mut br, mut bw) = tokio::io::split(b);
    let (mut abuf, mut bbuf) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    let (mut a_open, mut b_open) = (true, true);
    let (mut a_to_b, mut b_to_a) = (0u64, 0u64);
    while a_open || b_open {
        tokio::select! {
            read = ar.read(&mut abuf), if a_open => match read {
                Ok(n) if n > 0 && bw.write_all(&abuf[..n]).await.is_ok() => {
                    a_to_b += n as u64;
                }
                _ => {
                    a_open = false;
                    let _ = bw.shutdown().await;
                }
            },
            read = br.read(&mut bbuf), if b_open => match read {
                Ok(n) if n > 0 && aw.write_all(&bbuf[..n]).await.is_ok() => {
                    b_to_a += n as u64;
                }
                _ => {
                    b_open = false;
                    let _ = aw.shutdown().await;
                }
            },
            () = crate::timers::sleep(idle) => break,
        }
    }
    (a_to_b, b_to_a)
}

async fn send<S>(stream: S, request: Request<Body>) -> Result<Response<Bytes>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut sender = client_over(stream).await?;
    send_on(&mut sender, request)
        .await
        .map_err(SendError::reason)
}

/// hyper's HTTP/1.1 client over `stream`, its connection driven by a task of its own.
async fn client_over<S: Io>(stream: S) -> Result<Sender, String> {
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake failed: {e}"))?;
    // The connection task ends when `sender` is dropped (after the response, or when a
    // browser lets the connection go), or when the peer goes away; either way the
    // response future of [`send_on`] reports what matters.
    tokio::spawn(async move {
        if let Err(gone) = connection.await {
            drop(gone);
        }
    });
    Ok(sender)
}

/// The sending half of a client connection: one request at a time, as many as the server
/// keeps the connection open for.
pub type Sender = hyper::client::conn::http1::SendRequest<Body>;

/// A connection to `to`, through what `dial` asks for, ready for requests ([`send_on`]):
/// connecting bounded by `connect_timeout`, the preface and TLS handshake by
/// `handshake_timeout`. Also tells the TLS handshake's kind (`None`: no TLS).
pub async fn open<N: Net>(
    net: &N,
    to: SocketAddr,
    dial: &Dial,
    connect_timeout: Duration,
    handshake_timeout: Duration,
) -> Result<(Sender, Option<rustls::HandshakeKind>), Failure> {
    let stream = connect(net, to, connect_timeout).await?;
    let opening = async {
        let (stream, kind) = prepare_telling(stream, dial).await?;
        let sender = client_over(stream).await.map_err(Failure::Broken)?;
        Ok((sender, kind))
    };
    match crate::timers::timeout(handshake_timeout, opening).await {
        Err(_elapsed) => Err(Failure::ResponseTimeout),
        Ok(result) => result,
    }
}

/// Sends `request` on an open connection and reads the whole response (at most
/// [`MAX_BODY_BYTES`]); unbounded in time: the caller bounds it. The connection stays open
/// for another request unless the server closes it.
pub async fn send_on(
    sender: &mut Sender,
    request: Request<Body>,
) -> Result<Response<Bytes>, SendError> {
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| SendError::NoResponse(describe_hyper(&e)))?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| SendError::Body(format!("response body failed: {e}")))?
        .to_bytes();
    Ok(Response::from_parts(parts, body))
}

/// Why a request on an open connection ([`send_on`]) got no whole response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// No response began: the connection closed or failed first (on a kept connection,
    /// the server may have closed it as the request left, an idle timeout).
    NoResponse(String),
    /// The response began but did not arrive whole.
    Body(String),
}

impl SendError {
    pub fn reason(self) -> String {
        match self {
            SendError::NoResponse(why) | SendError::Body(why) => why,
        }
    }
}

/// [`exchange`] for a request that asks to switch protocols (a websocket upgrade): the
/// client connection allows upgrades, and when the server answers `101 Switching
/// Protocols` the connection comes back with the response (whose body is empty) for the
/// caller to carry on; any other answer is read whole, as [`exchange`] does. The upgrade
/// counts against `response_timeout`; what follows it is the caller's to bound.
pub async fn exchange_upgrade<N: Net>(
    net: &N,
    to: SocketAddr,
    request: Request<Body>,
    connect_timeout: Duration,
    response_timeout: Duration,
) -> Result<(Response<Bytes>, Option<hyper::upgrade::Upgraded>), Failure> {
    let stream = connect(net, to, connect_timeout).await?;
    let exchange = async {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::Broken(format!("handshake failed: {e}")))?;
        // The connection task ends when the upgrade takes the connection over, or when
        // the peer goes away; the response future reports what matters.
        tokio::spawn(async move {
            if let Err(gone) = connection.with_upgrades().await {
                drop(gone);
            }
        });
        let mut response = sender
            .send_request(request)
            .await
            .map_err(|e| Failure::Broken(describe_hyper(&e)))?;
        if response.status() != hyper::StatusCode::SWITCHING_PROTOCOLS {
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| Failure::Broken(format!("response body failed: {e}")))?
                .to_bytes();
            return Ok((Response::from_parts(parts, body), None));
        }
        let upgraded = hyper::upgrade::on(&mut response)
            .await
            .map_err(|e| Failure::Broken(format!("upgrade failed: {e}")))?;
        let (parts, _empty) = response.into_parts();
        Ok((Response::from_parts(parts, Bytes::new()), Some(upgraded)))
    };
    match crate::timers::timeout(response_timeout, exchange).await {
        Err(_elapsed) => Err(Failure::ResponseTimeout),
        Ok(result) => result,
    }
}

fn describe_hyper(e: &hyper::Error) -> String {
    if e.is_incomplete_message() {
        "connection closed before the response".to_string()
    } else {
        format!("request failed: {e}")
    }
}
