//! [`Net`] on real tokio sockets, outside the simulation.
//!
//! The same service code that runs on turmoil runs here against real clients. Service
//! ports map to real ports (`53` to a free port on loopback, say), because tests must not
//! need privileged ports. Real time drives [`RealClock`]: this module is the one place
//! where reading the OS clock is right, since nothing here is simulated.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use crate::env::Clock;
use crate::net::{Datagrams, Listener, Net};

/// Real sockets bound on one local address.
#[derive(Debug, Clone)]
pub struct RealNet {
    ip: IpAddr,
    /// Service port to the real port it binds (unlisted ports bind as they are).
    ports: BTreeMap<u16, u16>,
}

impl RealNet {
    pub fn new(ip: IpAddr) -> Self {
        Self {
            ip,
            ports: BTreeMap::new(),
        }
    }

    /// Binds service port `service` as real port `real` (0 for any free port).
    pub fn with_port(mut self, service: u16, real: u16) -> Self {
        self.ports.insert(service, real);
        self
    }

    fn real_port(&self, port: u16) -> u16 {
        self.ports.get(&port).copied().unwrap_or(port)
    }
}

/// A real TCP listener.
pub struct RealListener(tokio::net::TcpListener);

/// A real UDP socket.
pub struct RealSocket(tokio::net::UdpSocket);

impl Net for RealNet {
    type Stream = tokio::net::TcpStream;
    type Listener = RealListener;
    type Socket = RealSocket;

    fn local_ip(&self) -> IpAddr {
        self.ip
    }

    async fn listen(&self, port: u16) -> io::Result<RealListener> {
        tokio::net::TcpListener::bind((self.ip, self.real_port(port)))
            .await
            .map(RealListener)
    }

    async fn connect(&self, to: SocketAddr) -> io::Result<tokio::net::TcpStream> {
        tokio::net::TcpStream::connect(to).await
    }

    async fn bind_udp(&self, port: u16) -> io::Result<RealSocket> {
        tokio::net::UdpSocket::bind((self.ip, self.real_port(port)))
            .await
            .map(RealSocket)
    }
}

impl Listener for RealListener {
    type Stream = tokio::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(tokio::net::TcpStream, SocketAddr)> {
        self.0.accept().await
    }
}

impl Datagrams for RealSocket {
    async fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.0.send_to(buf, to).await
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.recv_from(buf).await
    }
}

/// The real clock, with an optional wall-clock offset.
#[derive(Debug, Clone)]
pub struct RealClock {
    started: Instant,
    offset_ms: i64,
}

impl RealClock {
    pub fn new(offset_ms: i64) -> Self {
        Self {
            started: Instant::now(),
            offset_ms,
        }
    }
}

impl Clock for RealClock {
    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn wall(&self) -> Duration {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let offset = Duration::from_millis(self.offset_ms.unsigned_abs());
        if self.offset_ms >= 0 {
            now + offset
        } else {
            now.saturating_sub(offset)
        }
    }
}
