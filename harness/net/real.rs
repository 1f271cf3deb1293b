//! [`Net`] on real tokio sockets, outside the simulation.
//!
//! The same service code that runs on turmoil runs here against real clients. Service
//! ports map to real ports (`53` to a free port on loopback, say), because tests must not
//! need privileged ports. Real time drives [`RealClock`]: this module is the one place
//! where reading the OS clock is right, since nothing here is simulated.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use crate::clock::Clock;
use crate::net::{Datagrams, Listener, Net};

/// Real sockets bound on one local address.
#[derive(Debug, Clone)]
pub struct RealNet {
    ip: IpAddr,
    /// Service port to the real port it binds.
    ports: BTreeMap<u16, u16>,
    /// Whether a service port not in `ports` binds any free port (true) or itself.
    unlisted_any: bool,
    /// Told of every service port bound (not of a client's ephemeral socket).
    on_bind: Option<BindReport>,
    /// The real port a service port asked as any (0) got, so its other protocol binds the
    /// same one: DNS serves UDP and TCP 53 on one port.
    picked: std::sync::Arc<std::sync::Mutex<BTreeMap<u16, u16>>>,
    /// Service ports served on UDP and TCP alike (DNS's 53); see [`RealNet::paired`].
    paired: BTreeSet<u16>,
    /// The sockets of a paired service port picked as any, bound together and waiting
    /// for the service's `bind_udp` and `listen` to take them.
    reserved: std::sync::Arc<std::sync::Mutex<BTreeMap<u16, Reserved>>>,
}

/// How many free UDP ports [`RealNet`] tries before giving up on finding one whose TCP
/// twin is free too (a client's ephemeral TCP socket may hold it).
pub const PAIRED_PORT_ATTEMPTS: usize = 64;

/// A paired service port's two sockets, bound on one real port, not yet taken.
#[derive(Debug, Default)]
struct Reserved {
    udp: Option<std::net::UdpSocket>,
    tcp: Option<std::net::TcpListener>,
}

/// A service port bound to a real address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// `"tcp"` or `"udp"`.
    pub protocol: &'static str,
    /// The port the service asked for (`443`).
    pub service_port: u16,
    /// Where it was bound (`127.0.0.1:40211`).
    pub addr: SocketAddr,
}

#[derive(Clone)]
struct BindReport(std::sync::Arc<dyn Fn(Bound) + Send + Sync>);

impl std::fmt::Debug for BindReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BindReport")
    }
}

impl RealNet {
    pub fn new(ip: IpAddr) -> Self {
        Self {
            ip,
            ports: BTreeMap::new(),
            unlisted_any: false,
            on_bind: None,
            picked: Default::default(),
            paired: BTreeSet::new(),
            reserved: Default::default(),
        }
    }

    /// Binds service port `service` as real port `real` (0 for any free port).
    pub fn with_port(mut self, service: u16, real: u16) -> Self {
        self.ports.insert(service, real);
        self
    }

    /// Binds every service port not given by [`RealNet::with_port`] to any free port,
    /// instead of to itself: two nodes on one address then do not fight over 7777.
    pub fn unlisted_any_port(mut self) -> Self {
        self.unlisted_any = true;
        self
    }

    /// Serves `service` on UDP and TCP on one real port. When that port is any (0), the
    /// first bind of either protocol picks a port free for both and holds both sockets,
    /// instead of binding the second protocol later on a port that may by then (or
    /// already) be a client's ephemeral TCP port.
    pub fn paired(mut self, service: u16) -> Self {
        self.paired.insert(service);
        self
    }

    /// Calls `report` with every service port bound, once bound.
    pub fn reporting_binds(mut self, report: impl Fn(Bound) + Send + Sync + 'static) -> Self {
        self.on_bind = Some(BindReport(std::sync::Arc::new(report)));
        self
    }

    fn real_port(&self, port: u16) -> u16 {
        let real = match self.ports.get(&port) {
            Some(real) => *real,
            None if self.unlisted_any => 0,
            None => port,
        };
        let picked = self.picked.lock().expect("no code panics holding it");
        match picked.get(&port) {
            Some(earlier) if real == 0 && port != 0 => *earlier,
            _ => real,
        }
    }

    /// The paired service port's reserved sockets, bound now if the port is any and not
    /// yet picked; `None` for a port that is not paired or was given.
    fn reserve(
        &self,
        port: u16,
    ) -> io::Result<Option<std::sync::MutexGuard<'_, BTreeMap<u16, Reserved>>>> {
        if !self.paired.contains(&port) || self.real_port(port) != 0 {
            return Ok(self.reserved_if_any(port));
        }
        let mut reserved = self.reserved.lock().expect("no code panics holding it");
        if let std::collections::btree_map::Entry::Vacant(slot) = reserved.entry(port) {
            slot.insert(self.bind_pair(port)?);
        }
        Ok(Some(reserved))
    }

    fn reserved_if_any(
        &self,
        port: u16,
    ) -> Option<std::sync::MutexGuard<'_, BTreeMap<u16, Reserved>>> {
        let reserved = self.reserved.lock().expect("no code panics holding it");
        reserved.contains_key(&port).then_some(reserved)
    }

    /// A free UDP port whose TCP twin is free too, both bound; at most
    /// [`PAIRED_PORT_ATTEMPTS`] tries.
    fn bind_pair(&self, port: u16) -> io::Result<Reserved> {
        let mut last = None;
        for _ in 0..PAIRED_PORT_ATTEMPTS {
            let udp = std::net::UdpSocket::bind((self.ip, 0))?;
            let real = udp.local_addr()?.port();
            match std::net::TcpListener::bind((self.ip, real)) {
                Ok(tcp) => {
                    self.picked
                        .lock()
                        .expect("no code panics holding it")
                        .insert(port, real);
                    return Ok(Reserved {
                        udp: Some(udp),
                        tcp: Some(tcp),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        let why = last.map_or_else(String::new, |e| format!(": {e}"));
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "no port of {} free on both UDP and TCP for service port {port} in {PAIRED_PORT_ATTEMPTS} tries{why}",
                self.ip
            ),
        ))
    }

    fn report(&self, protocol: &'static str, service_port: u16, addr: io::Result<SocketAddr>) {
        if let Ok(addr) = &addr
            && service_port != 0
        {
            let mut picked = self.picked.lock().expect("no code panics holding it");
            picked.entry(service_port).or_insert(addr.port());
        }
        if let (Some(BindReport(report)), Ok(addr)) = (&self.on_bind, addr)
            && service_port != 0
        {
            report(Bound {
                protocol,
                service_port,
                addr,
            });
        }
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
        let held = self
            .reserve(port)?
            .and_then(|mut r| r.get_mut(&port)?.tcp.take());
        let listener = match held {
            Some(tcp) => {
                tcp.set_nonblocking(true)?;
                tokio::net::TcpListener::from_std(tcp)?
            }
            None => tokio::net::TcpListener::bind((self.ip, self.real_port(port))).await?,
        };
        self.report("tcp", port, listener.local_addr());
        Ok(RealListener(listener))
    }

    async fn connect(&self, to: SocketAddr) -> io::Result<tokio::net::TcpStream> {
        tokio::net::TcpStream::connect(to).await
    }

    async fn bind_udp(&self, port: u16) -> io::Result<RealSocket> {
        let held = self
            .reserve(port)?
            .and_then(|mut r| r.get_mut(&port)?.udp.take());
        let socket = match held {
            Some(udp) => {
                udp.set_nonblocking(true)?;
                tokio::net::UdpSocket::from_std(udp)?
            }
            None => tokio::net::UdpSocket::bind((self.ip, self.real_port(port))).await?,
        };
        self.report("udp", port, socket.local_addr());
        Ok(RealSocket(socket))
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
    offset_ns: i64,
}

impl RealClock {
    /// The machine's clock, `offset_ms` milliseconds ahead (behind when negative).
    pub fn new(offset_ms: i64) -> Self {
        Self::from_offset_ns(offset_ms.saturating_mul(1_000_000))
    }

    /// The machine's clock, `offset_ns` nanoseconds ahead (behind when negative).
    pub fn from_offset_ns(offset_ns: i64) -> Self {
        Self {
            started: Instant::now(),
            offset_ns,
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
        let offset = Duration::from_nanos(self.offset_ns.unsigned_abs());
        if self.offset_ns >= 0 {
            now + offset
        } else {
            now.saturating_sub(offset)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const DNS_PORT: u16 = 53;

    fn loopback() -> RealNet {
        RealNet::new(IpAddr::V4(Ipv4Addr::LOCALHOST)).with_port(DNS_PORT, 0)
    }

    /// Proves a paired port asked as any gets one real port for UDP and TCP, whichever
    /// protocol binds first, and that each socket is taken once.
    #[tokio::test]
    async fn a_paired_port_binds_udp_and_tcp_on_one_real_port() {
        for udp_first in [true, false] {
            let net = loopback().paired(DNS_PORT);
            let (udp, tcp) = if udp_first {
                let udp = net.bind_udp(DNS_PORT).await.expect("udp binds");
                (udp, net.listen(DNS_PORT).await.expect("tcp binds"))
            } else {
                let tcp = net.listen(DNS_PORT).await.expect("tcp binds");
                (net.bind_udp(DNS_PORT).await.expect("udp binds"), tcp)
            };
            let (udp, tcp) = (udp.0.local_addr().unwrap(), tcp.0.local_addr().unwrap());
            assert_ne!(udp.port(), 0);
            assert_eq!(udp.port(), tcp.port(), "udp first: {udp_first}");
            let again = net.listen(DNS_PORT).await;
            assert!(again.is_err(), "a second listen on {tcp} must not succeed");
        }
    }

    /// Proves the hazard pairing removes: an unpaired net binds UDP on any port, then
    /// fails to listen when that port's TCP twin is already someone else's (as a
    /// client's ephemeral port may be), which is how `serve dns` once failed in CI.
    #[tokio::test]
    async fn an_unpaired_port_fails_when_its_tcp_twin_is_taken() {
        let net = loopback();
        let udp = net.bind_udp(DNS_PORT).await.expect("udp binds");
        let taken = udp.0.local_addr().unwrap().port();
        drop(udp);
        // Taken here, or (bind failing) already taken by someone else: either way taken.
        let squatter = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, taken)).ok();
        let unpaired = net.listen(DNS_PORT).await;
        assert!(
            unpaired.is_err(),
            "tcp/{taken} is taken, yet listen bound it"
        );
        drop(squatter);
    }
}
