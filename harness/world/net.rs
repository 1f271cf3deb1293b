//! [`Net`] inside the simulation: turmoil's sockets for one host.
//!
//! Every socket a service opens goes through here, so this is where the world's faults
//! meet the services without the services knowing: the world writes the [`FaultTable`],
//! every host's `SimNet` reads it, the firewall rules of `block` steps and of
//! `[[topology.firewall]]` included.
//!
//! The table holds two kinds of fault. Hosts whose processes crashed: turmoil queues the
//! segments addressed to a host whose software is stopped and never answers them, so a
//! crashed host would be *silent*, but a machine whose kernel is up refuses connections
//! at once; `connect` refuses them before any segment is sent. And firewall rules
//! (scenario `block` steps and partitions), REJECT or DROP, for TCP and UDP.
//!
//! Beside the table, the [`Boundary`] around the dev/test LAN (when `dev-1` is deployed):
//! a connect or datagram between that LAN and anything outside it is judged before
//! everything else (isolated: no route, silence; routed: on to the firewall) and recorded
//! as an [`EventKind::Boundary`]. Traffic on one side of the line is neither judged nor
//! recorded: two address comparisons, and nothing at all without `dev-1`.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;

use crate::events::{BoundaryRecord, BoundaryVerdict, EventKind, Recorder};
use crate::faults::{Block, Disposition, Protocol};
use crate::net::original::{self, Transport};
use crate::net::{Datagrams, Listener, Net};

/// One firewall rule: traffic from any of `from` to any of `to` on any of `ports` (all
/// ports when empty). Rules apply to new connections and to datagrams; connections already
/// established when a rule is added carry on, as behind a stateful firewall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Rules added by one step share an id; a later step removes them by it.
    pub id: String,
    pub from: Vec<IpAddr>,
    pub to: Vec<IpAddr>,
    pub ports: Vec<u16>,
    pub protocol: Protocol,
    pub disposition: Disposition,
}

impl Rule {
    /// A block's rules, one per direction, with host names resolved by `addresses`.
    pub fn block(block: &Block, addresses: impl Fn(&[String]) -> Vec<IpAddr>) -> Vec<Rule> {
        block
            .directions()
            .into_iter()
            .map(|(from, to)| Rule {
                id: block.id.clone(),
                from: addresses(from),
                to: addresses(to),
                ports: block.ports.clone(),
                protocol: block.protocol,
                disposition: block.disposition,
            })
            .collect()
    }

    fn matches(&self, from: IpAddr, to: SocketAddr, protocol: Protocol) -> bool {
        self.from.contains(&from)
            && self.to.contains(&to.ip())
            && (self.ports.is_empty() || self.ports.contains(&to.port()))
            && (self.protocol == Protocol::Any || self.protocol == protocol)
    }
}

#[derive(Debug, Default)]
struct Faults {
    /// Hosts whose kernel refuses every connection (processes crashed).
    refusing: BTreeSet<IpAddr>,
    /// Firewall and partition rules, first match wins.
    rules: Vec<Rule>,
}

/// Network faults the world has applied, shared by every host's [`SimNet`].
#[derive(Debug, Clone, Default)]
pub struct FaultTable {
    faults: Arc<Mutex<Faults>>,
}

impl FaultTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults
            .lock()
            .expect("no code panics while holding the fault table")
    }

    /// Makes connections to `ip` refused (`true`) or normal again (`false`).
    pub fn set_refusing(&self, ip: IpAddr, refusing: bool) {
        let mut faults = self.lock();
        if refusing {
            faults.refusing.insert(ip);
        } else {
            faults.refusing.remove(&ip);
        }
    }

    /// Adds rules after the existing ones.
    pub fn add_rules(&self, rules: impl IntoIterator<Item = Rule>) {
        self.lock().rules.extend(rules);
    }

    /// Removes every rule with this id; returns how many there were.
    pub fn remove_rules(&self, id: &str) -> usize {
        let mut faults = self.lock();
        let before = faults.rules.len();
        faults.rules.retain(|r| r.id != id);
        before - faults.rules.len()
    }

    /// What happens to traffic from `from` to `to`: `None` passes.
    pub fn verdict(&self, from: IpAddr, to: SocketAddr, protocol: Protocol) -> Option<Disposition> {
        if protocol == Protocol::Tcp && self.lock().refusing.contains(&to.ip()) {
            return Some(Disposition::Reject);
        }
        self.rule_verdict(from, to, protocol)
    }

    /// What the firewall rules alone do to traffic from `from` to `to`.
    pub fn rule_verdict(
        &self,
        from: IpAddr,
        to: SocketAddr,
        protocol: Protocol,
    ) -> Option<Disposition> {
        self.lock()
            .rules
            .iter()
            .find(|r| r.matches(from, to, protocol))
            .map(|r| r.disposition)
    }
}

/// The line around the dev/test LAN (the network requirements: "Production and non-Production
/// (test/development) must be on completely isolated networks").
///
/// The dev/test LAN has no route to anywhere but itself: not to production's LAN, not to
/// the users, not to the internet (it has no gateway). A deployment that routes it to
/// production (`dev.network = "routed"`) lets traffic between the two LANs through; the
/// rest stays unrouted. Every attempt across the line, in either direction, is recorded.
#[derive(Debug, Clone)]
pub struct Boundary {
    /// The dev/test LAN.
    dev: ipnet::Ipv4Net,
    /// The LAN routed to it: production's when routed, none when isolated.
    routed: Option<ipnet::Ipv4Net>,
    recorder: Recorder,
}

impl Boundary {
    pub fn new(dev: ipnet::Ipv4Net, routed: Option<ipnet::Ipv4Net>, recorder: Recorder) -> Self {
        Self {
            dev,
            routed,
            recorder,
        }
    }

    /// Whether traffic from `from` to `to` crosses the line: `None` when both are on one
    /// side (loopback counts as the sender's side), else whether a route carries it.
    pub fn crossing(&self, from: IpAddr, to: IpAddr) -> Option<bool> {
        let on = |net: &ipnet::Ipv4Net, ip: IpAddr| match ip {
            IpAddr::V4(v4) => net.contains(&v4),
            IpAddr::V6(_) => false,
        };
        let inside = on(&self.dev, from);
        if to.is_loopback() || inside == on(&self.dev, to) {
            return None;
        }
        let outside = if inside { to } else { from };
        Some(self.routed.is_some_and(|net| on(&net, outside)))
    }
}

/// The port the egress intercepts redirected traffic on, TCP and UDP (Squid's
/// conventional intercept port).
pub const INTERCEPT_PORT: u16 = 3129;

/// One host's network in the simulation.
#[derive(Debug, Clone)]
pub struct SimNet {
    ip: IpAddr,
    faults: FaultTable,
    /// The default gateway, for hosts whose route off the LAN goes through the egress.
    gateway: Option<IpAddr>,
    /// The dev/test boundary and this host's name for its records, when `dev-1` is
    /// deployed.
    boundary: Option<(Arc<Boundary>, Arc<str>)>,
}

impl SimNet {
    pub fn new(ip: IpAddr, faults: FaultTable) -> Self {
        Self {
            ip,
            faults,
            gateway: None,
            boundary: None,
        }
    }

    /// Puts this host (named `host` in the records) behind the dev/test boundary's rules.
    pub fn guarded(mut self, boundary: Arc<Boundary>, host: &str) -> Self {
        self.boundary = Some((boundary, host.into()));
        self
    }

    /// Judges an attempt from this host to `to` at the dev/test boundary and records it
    /// if it crosses; `false` when there is no route (the caller stays silent). A routed
    /// attempt a firewall rule stops is recorded as stopped, and the rule then acts.
    fn cross(&self, to: SocketAddr, protocol: Protocol) -> bool {
        let Some((boundary, host)) = &self.boundary else {
            return true;
        };
        let Some(routed) = boundary.crossing(self.ip, to.ip()) else {
            return true;
        };
        let verdict = if !routed {
            BoundaryVerdict::NoRoute
        } else if self.faults.rule_verdict(self.ip, to, protocol).is_some() {
            BoundaryVerdict::Firewall
        } else {
            BoundaryVerdict::Crossed
        };
        let at = turmoil::sim_elapsed().expect("sockets are used only while their host runs");
        let record = BoundaryRecord {
            from: self.ip,
            to,
            protocol: if protocol == Protocol::Udp {
                "udp"
            } else {
                "tcp"
            },
            verdict,
        };
        boundary
            .recorder
            .record_at(at, host, EventKind::Boundary(record));
        routed
    }

    /// Routes everything off this host's /24 through `egress`: connections and datagrams
    /// to the internet are redirected to its intercept port, with the original
    /// destination in front ([`crate::net::original`]).
    pub fn via(mut self, egress: IpAddr) -> Self {
        self.gateway = Some(egress);
        self
    }

    /// The intercept address traffic to `to` is redirected to, if it leaves the LAN.
    fn redirect(&self, to: SocketAddr) -> Option<SocketAddr> {
        let gateway = self.gateway?;
        let on_link = match (self.ip, to.ip()) {
            (IpAddr::V4(a), IpAddr::V4(b)) => a.octets()[..3] == b.octets()[..3],
            _ => false,
        };
        // A LAN routed to this one is reached directly, not through the gateway.
        let routed = self
            .boundary
            .as_ref()
            .is_some_and(|(b, _)| b.crossing(self.ip, to.ip()) == Some(true));
        (!on_link && !routed).then_some(SocketAddr::new(gateway, INTERCEPT_PORT))
    }

    /// The firewall's verdict on traffic to `to` and, when it is redirected, on the hop to
    /// the gateway too (a rule against either stops it).
    ///
    /// A crashed destination refuses only what reaches it: a redirected connection is
    /// answered by the gateway, which meets the refusal itself (and says so).
    fn verdict(&self, to: SocketAddr, protocol: Protocol) -> Option<Disposition> {
        match self.redirect(to) {
            None => self.faults.verdict(self.ip, to, protocol),
            Some(via) => {
                let direct = self.faults.rule_verdict(self.ip, to, protocol);
                direct.max(self.faults.verdict(self.ip, via, protocol))
            }
        }
    }
}

/// A turmoil listener.
pub struct SimListener(turmoil::net::TcpListener);

/// A turmoil UDP socket behind the fault table.
pub struct SimSocket {
    socket: turmoil::net::UdpSocket,
    net: SimNet,
}

impl Net for SimNet {
    type Stream = turmoil::net::TcpStream;
    type Listener = SimListener;
    type Socket = SimSocket;

    fn local_ip(&self) -> IpAddr {
        self.ip
    }

    async fn listen(&self, port: u16) -> io::Result<SimListener> {
        turmoil::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))
            .await
            .map(SimListener)
    }

    async fn connect(&self, to: SocketAddr) -> io::Result<turmoil::net::TcpStream> {
        if !self.cross(to, Protocol::Tcp) {
            return std::future::pending().await;
        }
        match self.verdict(to, Protocol::Tcp) {
            Some(Disposition::Reject) => {
                let why = format!("{to} refused the connection");
                Err(io::Error::new(io::ErrorKind::ConnectionRefused, why))
            }
            Some(Disposition::Drop) => std::future::pending().await,
            None => match self.redirect(to) {
                None => turmoil::net::TcpStream::connect(to).await,
                Some(via) => {
                    let mut stream = turmoil::net::TcpStream::connect(via).await?;
                    let from = stream.local_addr()?;
                    let header = original::header(Transport::Stream, from, to);
                    stream.write_all(&header).await?;
                    Ok(stream)
                }
            },
        }
    }

    async fn bind_udp(&self, port: u16) -> io::Result<SimSocket> {
        let socket = turmoil::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).await?;
        Ok(SimSocket {
            socket,
            net: self.clone(),
        })
    }
}

impl Listener for SimListener {
    type Stream = turmoil::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(turmoil::net::TcpStream, SocketAddr)> {
        self.0.accept().await
    }
}

impl Datagrams for SimSocket {
    async fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        if !self.net.cross(to, Protocol::Udp) {
            return Ok(buf.len());
        }
        match self.net.verdict(to, Protocol::Udp) {
            Some(Disposition::Reject) => Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("{to} is unreachable"),
            )),
            Some(Disposition::Drop) => Ok(buf.len()),
            None => match self.net.redirect(to) {
                None => self.socket.send_to(buf, to).await,
                Some(via) => {
                    // Bound on 0.0.0.0: the source is this host's address and the port.
                    let from = SocketAddr::new(self.net.ip, self.socket.local_addr()?.port());
                    let mut datagram = original::header(Transport::Datagram, from, to);
                    datagram.extend_from_slice(buf);
                    self.socket.send_to(&datagram, via).await?;
                    Ok(buf.len())
                }
            },
        }
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        loop {
            let (len, from) = self.socket.recv_from(buf).await?;
            if self.net.gateway.map(|g| SocketAddr::new(g, INTERCEPT_PORT)) != Some(from) {
                return Ok((len, from));
            }
            // A reply the gateway relays: it names the internet host it comes from, which
            // is who this socket reports as the sender. Anything else from it is dropped.
            if let Ok((source, _, header)) = original::parse(&buf[..len]) {
                buf.copy_within(header..len, 0);
                return Ok((len - header, source));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 1, last))
    }

    /// Proves rules match on source, destination, port and protocol, the first match
    /// wins, removal is by id, and a process crash refuses TCP only.
    #[test]
    fn verdicts() {
        let table = FaultTable::default();
        let db = SocketAddr::new(ip(12), 27017);
        let web = SocketAddr::new(ip(12), 443);
        table.add_rules([
            Rule {
                id: "db".into(),
                from: vec![ip(11)],
                to: vec![ip(12)],
                ports: vec![27017],
                protocol: Protocol::Tcp,
                disposition: Disposition::Drop,
            },
            Rule {
                id: "all".into(),
                from: vec![ip(11)],
                to: vec![ip(12)],
                ports: vec![],
                protocol: Protocol::Any,
                disposition: Disposition::Reject,
            },
        ]);
        assert_eq!(
            table.verdict(ip(11), db, Protocol::Tcp),
            Some(Disposition::Drop)
        );
        assert_eq!(
            table.verdict(ip(11), db, Protocol::Udp),
            Some(Disposition::Reject)
        );
        assert_eq!(
            table.verdict(ip(11), web, Protocol::Tcp),
            Some(Disposition::Reject)
        );
        assert_eq!(
            table.verdict(ip(12), SocketAddr::new(ip(11), 27017), Protocol::Tcp),
            None
        );
        assert_eq!(table.remove_rules("all"), 1);
        assert_eq!(table.verdict(ip(11), web, Protocol::Tcp), None);
        table.set_refusing(ip(13), true);
        assert_eq!(
            table.verdict(ip(11), SocketAddr::new(ip(13), 443), Protocol::Tcp),
            Some(Disposition::Reject)
        );
        assert_eq!(
            table.verdict(ip(11), SocketAddr::new(ip(13), 53), Protocol::Udp),
            None
        );
    }

    /// Proves the boundary leaves traffic within either side alone, stops everything
    /// across it when isolated, and when routed carries only what goes between the two
    /// LANs (the users and the internet stay unreachable from dev/test).
    #[test]
    fn boundary_crossings() {
        use crate::topology::{DEV_LAN, PROD_LAN};
        let dev: IpAddr = "10.0.2.11".parse().unwrap();
        let users: IpAddr = "198.51.100.10".parse().unwrap();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let isolated = Boundary::new(DEV_LAN, None, Recorder::new());
        assert_eq!(isolated.crossing(ip(11), ip(25)), None);
        assert_eq!(isolated.crossing(dev, dev), None);
        assert_eq!(isolated.crossing(dev, loopback), None);
        assert_eq!(isolated.crossing(dev, ip(25)), Some(false));
        assert_eq!(isolated.crossing(ip(11), dev), Some(false));
        assert_eq!(isolated.crossing(dev, users), Some(false));
        let routed = Boundary::new(DEV_LAN, Some(PROD_LAN), Recorder::new());
        assert_eq!(routed.crossing(dev, ip(25)), Some(true));
        assert_eq!(routed.crossing(ip(11), dev), Some(true));
        assert_eq!(routed.crossing(users, dev), Some(false));
        assert_eq!(routed.crossing(ip(11), ip(12)), None);
    }

    /// Runs node-1 (production, behind its gateway) connecting to dev-1 on 27017 and to
    /// node-2 on 443, with the boundary isolated or routed; returns whether the dev
    /// connect completed within 2s, and the boundary records.
    fn production_to_dev(routed: bool) -> (bool, Vec<crate::events::Event>) {
        use crate::topology::{DEV_LAN, PROD_LAN};
        let recorder = Recorder::new();
        let boundary = Arc::new(Boundary::new(
            DEV_LAN,
            routed.then_some(PROD_LAN),
            recorder.clone(),
        ));
        let dev: IpAddr = "10.0.2.11".parse().unwrap();
        let mut sim = turmoil::Builder::new().rng_seed(1).build();
        for (host, addr, port) in [("dev-1", dev, 27017), ("node-2", ip(12), 443)] {
            let net = SimNet::new(addr, FaultTable::default()).guarded(boundary.clone(), host);
            sim.host(addr, move || {
                let net = net.clone();
                async move {
                    let mut listener = net.listen(port).await?;
                    loop {
                        let (stream, _) = crate::net::accept_next(&mut listener).await;
                        drop(stream);
                    }
                }
            });
        }
        // node-1 routes off its LAN through an egress (none listens here): a routed dev
        // LAN must be reached directly, not through it.
        let net = SimNet::new(ip(11), FaultTable::default())
            .via(ip(1))
            .guarded(boundary, "node-1");
        let connected = Arc::new(Mutex::new(false));
        let done = connected.clone();
        sim.client(ip(11), async move {
            net.connect(SocketAddr::new(ip(12), 443)).await?;
            let to_dev = net.connect(SocketAddr::new(dev, 27017));
            let ok = tokio::time::timeout(std::time::Duration::from_secs(2), to_dev).await;
            *done.lock().unwrap() = matches!(ok, Ok(Ok(_)));
            Ok(())
        });
        sim.run().unwrap();
        let completed = *connected.lock().unwrap();
        (completed, recorder.snapshot())
    }

    /// Proves, through real simulated sockets, that a production host's connect to dev-1
    /// meets silence and is recorded (host, addresses, verdict) when isolated, completes
    /// and is recorded as crossed when routed, and that same-LAN traffic is not recorded.
    #[test]
    fn production_to_dev_is_silenced_and_recorded() {
        for routed in [false, true] {
            let (completed, events) = production_to_dev(routed);
            assert_eq!(completed, routed);
            let [event] = events.as_slice() else {
                panic!("expected one boundary record, found {events:?}");
            };
            assert_eq!(event.host, "node-1");
            let EventKind::Boundary(r) = &event.kind else {
                panic!("expected a boundary record, found {event:?}");
            };
            assert_eq!(
                (r.from, r.to.to_string(), r.protocol),
                (ip(11), "10.0.2.11:27017".to_string(), "tcp")
            );
            let want = if routed {
                BoundaryVerdict::Crossed
            } else {
                BoundaryVerdict::NoRoute
            };
            assert_eq!(r.verdict, want);
        }
    }
}
