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
        let faults = self.lock();
        if protocol == Protocol::Tcp && faults.refusing.contains(&to.ip()) {
            return Some(Action::Reject);
        }
        faults
            .rules
            .iter()
            .find(|r| r.matches(from, to, protocol))
            .map(|r| r.action)
    }
}

/// One host's network in the simulation.
#[derive(Debug, Clone)]
pub struct SimNet {
    ip: IpAddr,
    faults: FaultTable,
}

impl SimNet {
    pub fn new(ip: IpAddr, faults: FaultTable) -> Self {
        Self { ip, faults }
    }
}

/// A turmoil listener.
pub struct SimListener(turmoil::net::TcpListener);

/// A turmoil UDP socket behind the fault table.
pub struct SimSocket {
    socket: turmoil::net::UdpSocket,
    ip: IpAddr,
    faults: FaultTable,
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
        match self.faults.verdict(self.ip, to, Protocol::Tcp) {
            Some(Action::Reject) => {
                let why = format!("{to} refused the connection");
                Err(io::Error::new(io::ErrorKind::ConnectionRefused, why))
            }
            Some(Action::Drop) => std::future::pending().await,
            None => turmoil::net::TcpStream::connect(to).await,
        }
    }

    async fn bind_udp(&self, port: u16) -> io::Result<SimSocket> {
        let socket = turmoil::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).await?;
        Ok(SimSocket {
            socket,
            ip: self.ip,
            faults: self.faults.clone(),
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
        match self.faults.verdict(self.ip, to, Protocol::Udp) {
            Some(Action::Reject) => Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("{to} is unreachable"),
            )),
            Some(Action::Drop) => Ok(buf.len()),
            None => self.socket.send_to(buf, to).await,
        }
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.socket.recv_from(buf).await
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
