//! [`Net`] inside the simulation: turmoil's sockets for one host.
//!
//! Every socket a service opens goes through here, which is where the firewall and traffic
//! recording of later issues sit; for now the layer passes straight through to turmoil.
//! Node crashes are applied by the world on turmoil's links ([`super::sim`]), not here.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::net::{Datagrams, Listener, Net};

/// One host's network in the simulation.
#[derive(Debug, Clone)]
pub struct SimNet {
    ip: IpAddr,
}

impl SimNet {
    pub fn new(ip: IpAddr) -> Self {
        Self { ip }
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
