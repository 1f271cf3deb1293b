//! HTTP/1.1 plumbing shared by the node, the load balancer, its health checker and the
//! users: a server loop and a bounded client exchange, both real hyper over a [`Net`].
//!
//! hyper runs on the simulated timer (`TokioTimer`, driven by the simulation's clock) with
//! `auto_date_header(false)`, so no real time leaks into responses (DESIGN.md section 4).
//! Every connection a client opens carries one request: the users are independent
//! browsers, and the load balancer talks to backends the way nginx does by default
//! (no upstream keep-alive), which keeps a dead backend from hiding behind a pooled
//! connection.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};

use crate::net::{Listener, Net};

/// The body type every service sends.
pub type Body = Full<Bytes>;

/// Bodies larger than this are refused (413 on a server, an error on a client). Every
/// message in this model is a small JSON document or a one-line text.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Serves HTTP/1.1 on every connection `listener` accepts, one task per connection.
///
/// `handler` gets the request and the peer's address. Returns only when accepting fails.
pub async fn serve<L, H, Fut>(mut listener: L, handler: H) -> io::Result<()>
where
    L: Listener,
    L::Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    loop {
        let (stream, peer) = listener.accept().await?;
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let reply = handler(req, peer);
                async move { Ok::<_, Infallible>(reply.await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .auto_date_header(false)
                .serve_connection(TokioIo::new(stream), service);
            // A connection error is the peer going away (a reset, a crash, a timeout on its
            // side); the server has nothing to do about it but to drop the connection.
            if let Err(gone) = connection.await {
                drop(gone);
            }
        });
    }
}

/// Reads a whole request body, refusing more than [`MAX_BODY_BYTES`].
pub async fn read_body(body: Incoming) -> Result<Bytes, String> {
    Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| format!("could not read the request body: {e}"))
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
            Failure::Broken(why) => why.clone(),
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
    let stream = match tokio::time::timeout(connect_timeout, net.connect(to)).await {
        Err(_elapsed) => return Err(Failure::ConnectTimeout),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => return Err(Failure::Refused),
        Ok(Err(e)) => return Err(Failure::Broken(format!("connect failed: {e}"))),
        Ok(Ok(stream)) => stream,
    };
    match tokio::time::timeout(response_timeout, send(stream, request)).await {
        Err(_elapsed) => Err(Failure::ResponseTimeout),
        Ok(result) => result.map_err(Failure::Broken),
    }
}

async fn send<S>(stream: S, request: Request<Body>) -> Result<Response<Bytes>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake failed: {e}"))?;
    // The connection task ends when `sender` is dropped after the response, or when the
    // peer goes away; either way the response future below reports what matters.
    tokio::spawn(async move {
        if let Err(gone) = connection.await {
            drop(gone);
        }
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| describe_hyper(&e))?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| format!("response body failed: {e}"))?
        .to_bytes();
    Ok(Response::from_parts(parts, body))
}

fn describe_hyper(e: &hyper::Error) -> String {
    if e.is_incomplete_message() {
        "connection closed before the response".to_string()
    } else {
        format!("request failed: {e}")
    }
}
