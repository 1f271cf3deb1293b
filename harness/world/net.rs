//! [`Net`] inside the simulation: turmoil's sockets for one host.
//!
//! Every socket a service opens goes through here, so this is where the world's faults
//! meet the services without the services knowing: the world writes the [`FaultTable`],
//! every host's `SimNet` reads it. (The firewall of a later issue lands here too.)
//!
//! Why a table at all: turmoil queues the segments addressed to a host whose software is
//! stopped and never answers them, so a crashed host is *silent*. A machine whose
//! processes died but whose kernel is up is not silent: it refuses connections at once.
//! The table lists such hosts, and `connect` refuses them before any segment is sent.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use crate::net::{Datagrams, Listener, Net};

/// Network faults the world has applied, shared by every host's [`SimNet`].
#[derive(Debug, Clone, Default)]
pub struct FaultTable {
    refusing: Arc<Mutex<BTreeSet<IpAddr>>>,
}

impl FaultTable {
    /// Makes connections to `ip` refused (`true`) or normal again (`false`).
    pub fn set_refusing(&self, ip: IpAddr, refusing: bool) {
        let mut set = self
            .refusing
            .lock()
            .expect("no code panics while holding the fault table");
        if refusing {
            set.insert(ip);
        } else {
            set.remove(&ip);
        }
    }

    fn refuses(&self, ip: IpAddr) -> bool {
        self.refusing
            .lock()
            .expect("no code panics while holding the fault table")
            .contains(&ip)
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

/// A turmoil UDP socket.
pub struct SimSocket(turmoil::net::UdpSocket);

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
        if self.faults.refuses(to.ip()) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("{to} refused the connection"),
            ));
        }
        turmoil::net::TcpStream::connect(to).await
    }

    async fn bind_udp(&self, port: u16) -> io::Result<SimSocket> {
        turmoil::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port))
            .await
            .map(SimSocket)
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
        self.0.send_to(buf, to).await
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.recv_from(buf).await
    }
}
