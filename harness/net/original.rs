//! The original destination of a redirected connection or datagram.
//!
//! A transparent proxy or NAT gateway learns where intercepted traffic was going from the
//! kernel (`SO_ORIGINAL_DST` after an iptables `REDIRECT`). The simulation has no kernel,
//! so the socket layer that redirects (the node's [`crate::world::net::SimNet`]) puts the
//! original source and destination in front of the bytes, as a real PROXY protocol v2
//! header (encoded and parsed with the `ppp` crate), and the gateway's socket layer reads
//! it off before the gateway's logic sees anything. For UDP the header travels in front of
//! every datagram, both ways: the gateway's replies name the internet host they come from,
//! which the node's socket reports as the sender, as a kernel's reverse NAT would.
//!
//! The header is invisible to the services on both ends: they see a plain connection to
//! `facebook.com:80` on one side, a connection from the node to `facebook.com:80` on the
//! other.

use std::io;
use std::net::SocketAddr;

use ppp::v2::{Builder, Command, Header, Protocol, Version};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The fixed part of a v2 header: 12 signature bytes, version/command, family/protocol
/// and a 16-bit length of what follows.
const FIXED_BYTES: usize = 16;

/// Which transport a header describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Stream,
    Datagram,
}

/// The header naming `source` and `destination`.
pub fn header(transport: Transport, source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let protocol = match transport {
        Transport::Stream => Protocol::Stream,
        Transport::Datagram => Protocol::Datagram,
    };
    Builder::with_addresses(
        Version::Two | Command::Proxy,
        protocol,
        (source, destination),
    )
    .build()
    .expect("a header of two addresses always encodes")
}

/// Reads a header off the front of `bytes`: (source, destination, header length).
pub fn parse(bytes: &[u8]) -> Result<(SocketAddr, SocketAddr, usize), String> {
    let header = Header::try_from(bytes).map_err(|e| format!("bad PROXY v2 header: {e}"))?;
    let (source, destination) = match header.addresses {
        ppp::v2::Addresses::IPv4(a) => (
            SocketAddr::from((a.source_address, a.source_port)),
            SocketAddr::from((a.destination_address, a.destination_port)),
        ),
        ppp::v2::Addresses::IPv6(a) => (
            SocketAddr::from((a.source_address, a.source_port)),
            SocketAddr::from((a.destination_address, a.destination_port)),
        ),
        other => return Err(format!("PROXY v2 header without IP addresses: {other:?}")),
    };
    Ok((source, destination, header.len()))
}

/// Reads the header at the start of a redirected stream: (source, destination).
pub async fn read<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<(SocketAddr, SocketAddr)> {
    let mut bytes = vec![0u8; FIXED_BYTES];
    stream.read_exact(&mut bytes).await?;
    let rest = usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
    bytes.resize(FIXED_BYTES + rest, 0);
    stream.read_exact(&mut bytes[FIXED_BYTES..]).await?;
    parse(&bytes)
        .map(|(s, d, _)| (s, d))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves a header round-trips both addresses and its length, and that a stream reads
    /// exactly the header, leaving the payload behind it.
    #[tokio::test]
    async fn round_trip() {
        let node: SocketAddr = "10.0.1.11:49152".parse().unwrap();
        let site: SocketAddr = "203.0.113.10:80".parse().unwrap();
        let mut bytes = header(Transport::Stream, node, site);
        let len = bytes.len();
        assert_eq!(len, 28, "16 fixed bytes and 12 of IPv4 addresses");
        bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(parse(&bytes), Ok((node, site, len)));
        let mut reader = bytes.as_slice();
        assert_eq!(read(&mut reader).await.unwrap(), (node, site));
        assert_eq!(reader, b"GET / HTTP/1.1\r\n");
        assert!(parse(b"GET / HTTP/1.1\r\n").is_err());
    }
}
