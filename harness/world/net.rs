//! [`Net`] inside the simulation: turmoil's sockets for one host.
//!
//! Every socket a service opens goes through here, so this is where the world's faults
//! meet the services without the services knowing: the world writes the [`FaultTable`],
//! every host's `SimNet` reads it. (The firewall of a later issue lands here too.)
//!
//! The table holds two kinds of fault. Hosts whose processes crashed: turmoil queues the
//! segments addressed to a host whose software is stopped and never answers them, so a
//! crashed host would be *silent*, but a machine whose kernel is up refuses connections
//! at once; `connect` refuses them before any segment is sent. And firewall rules
//! (scenario `block` steps and partitions), REJECT or DROP, for TCP and UDP.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;

use crate::net::original::{self, Transport};
use crate::net::{Datagrams, Listener, Net};

/// What a firewall rule does to what it matches.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Refuse at once: a TCP connect fails with "connection refused", a UDP send errors
    /// (the ICMP port-unreachable a real host would send back).
    Reject,
    /// Silence: a TCP connect never completes and a datagram vanishes, until the caller's
    /// own timeout.
    Drop,
}

/// Which traffic a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Any,
}

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
    pub action: Action,
}

impl Rule {
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
    pub fn verdict(&self, from: IpAddr, to: SocketAddr, protocol: Protocol) -> Option<Action> {
        if protocol == Protocol::Tcp && self.lock().refusing.contains(&to.ip()) {
            return Some(Action::Reject);
        }
        self.rule_verdict(from, to, protocol)
    }

    /// What the firewall rules alone do to traffic from `from` to `to`.
    pub fn rule_verdict(&self, from: IpAddr, to: SocketAddr, protocol: Protocol) -> Option<Action> {
        self.lock()
            .rules
            .iter()
            .find(|r| r.matches(from, to, protocol))
            .map(|r| r.action)
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
}

impl SimNet {
    pub fn new(ip: IpAddr, faults: FaultTable) -> Self {
        Self {
            ip,
            faults,
            gateway: None,
        }
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
        (!on_link).then_some(SocketAddr::new(gateway, INTERCEPT_PORT))
    }

    /// The firewall's verdict on traffic to `to` and, when it is redirected, on the hop to
    /// the gateway too (a rule against either stops it).
    ///
    /// A crashed destination refuses only what reaches it: a redirected connection is
    /// answered by the gateway, which meets the refusal itself (and says so).
    fn verdict(&self, to: SocketAddr, protocol: Protocol) -> Option<Action> {
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
        match self.verdict(to, Protocol::Tcp) {
            Some(Action::Reject) => {
                let why = format!("{to} refused the connection");
                Err(io::Error::new(io::ErrorKind::ConnectionRefused, why))
            }
            Some(Action::Drop) => std::future::pending().await,
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
        match self.net.verdict(to, Protocol::Udp) {
            Some(Action::Reject) => Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("{to} is unreachable"),
            )),
            Some(Action::Drop) => Ok(buf.len()),
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
                action: Action::Drop,
            },
            Rule {
                id: "all".into(),
                from: vec![ip(11)],
                to: vec![ip(12)],
                ports: vec![],
                protocol: Protocol::Any,
                action: Action::Reject,
            },
        ]);
        assert_eq!(table.verdict(ip(11), db, Protocol::Tcp), Some(Action::Drop));
        assert_eq!(
            table.verdict(ip(11), db, Protocol::Udp),
            Some(Action::Reject)
        );
        assert_eq!(
            table.verdict(ip(11), web, Protocol::Tcp),
            Some(Action::Reject)
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
            Some(Action::Reject)
        );
        assert_eq!(
            table.verdict(ip(11), SocketAddr::new(ip(13), 53), Protocol::Udp),
            None
        );
    }
}
