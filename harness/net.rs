//! The network interface every service is written against.
//!
//! Services never name turmoil's or tokio's socket types. They ask a [`Net`] for listeners,
//! streams and datagram sockets, so the same service code runs inside the simulation
//! ([`crate::world::net::SimNet`], turmoil with the harness's fault layer in between) and,
//! in a later issue, on real tokio sockets against real clients.
//!
//! The interface is deliberately small: what an HTTP server, an HTTP client, a DNS server
//! and a DNS client need. Errors are plain `io::Error`s with the kinds real sockets use
//! (`ConnectionRefused`, `ConnectionReset`, ...), because that is what the services must
//! handle in the real world too. Timeouts are the caller's business: a connection to a
//! silent host may never complete, exactly as on a real network.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncRead, AsyncWrite};

/// A host's view of the network.
pub trait Net: Clone + Send + Sync + 'static {
    /// A connected, bidirectional byte stream.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// A bound TCP listener.
    type Listener: Listener<Stream = Self::Stream>;
    /// A bound UDP socket.
    type Socket: Datagrams;

    /// This host's address, as peers see it.
    fn local_ip(&self) -> IpAddr;

    /// Listens for TCP connections on `port` of every local address.
    fn listen(&self, port: u16) -> impl Future<Output = io::Result<Self::Listener>> + Send;

    /// Opens a TCP connection. May never complete when the peer is silent: bound it.
    fn connect(&self, to: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// Binds a UDP socket on `port` (0 picks an ephemeral port).
    fn bind_udp(&self, port: u16) -> impl Future<Output = io::Result<Self::Socket>> + Send;
}

/// A bound TCP listener.
pub trait Listener: Send + 'static {
    type Stream;

    /// Waits for the next connection and the address it came from.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;
}

/// A bound UDP socket.
pub trait Datagrams: Send + Sync + 'static {
    fn send_to(&self, buf: &[u8], to: SocketAddr)
    -> impl Future<Output = io::Result<usize>> + Send;

    fn recv_from(
        &self,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send;
}

pub mod original;
pub mod real;
