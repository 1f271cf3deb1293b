//! The PROXY protocol (HAProxy's, versions 1 and 2) between a TCP-mode load balancer and
//! the nodes.
//!
//! Real component: what HAProxy's `send-proxy` (v1, a text line) and `send-proxy-v2`
//! (binary) put in front of every connection to a backend, and what a backend with
//! `accept-proxy` reads off before anything else: the client's address and port, and the
//! address it dialed. Health checks send a `LOCAL` header (v2) or `PROXY UNKNOWN` (v1):
//! the connection is the balancer's own. Encoding and parsing are the `ppp` crate's.
//!
//! A reader accepts either version, as HAProxy's `accept-proxy` does, and reads exactly
//! the header, leaving the bytes behind it (the TLS handshake) in the stream. A connection
//! that does not start with a header is refused: a node that expects one cannot tell a
//! client's address from a forged one otherwise.
//!
//! Faults it reacts to: none; plain code over the bytes a connection carries (a link
//! fault delays them, the reader waits).

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::topology::ProxyProtocol;

/// The 12 bytes every v2 header starts with.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// A v1 header is one line of at most 107 bytes, CRLF included (the specification's bound).
const V1_MAX: usize = 107;
/// A v2 header's fixed part: signature, version/command, family/protocol, length.
const V2_FIXED: usize = 16;

/// The header for a client connection from `client` to `local` (the balancer's published
/// address), or a `LOCAL` one for the balancer's own connections (`None`).
pub fn encode(version: ProxyProtocol, addresses: Option<(SocketAddr, SocketAddr)>) -> Vec<u8> {
    match (version, addresses) {
        (ProxyProtocol::None, _) => Vec::new(),
        (ProxyProtocol::V1, Some((client, local))) => ppp::v1::Addresses::from((client, local))
            .to_string()
            .into_bytes(),
        (ProxyProtocol::V1, None) => b"PROXY UNKNOWN\r\n".to_vec(),
        (ProxyProtocol::V2, Some((client, local))) => ppp::v2::Builder::with_addresses(
            ppp::v2::Version::Two | ppp::v2::Command::Proxy,
            ppp::v2::Protocol::Stream,
            (client, local),
        )
        .build()
        .expect("a header of two addresses always encodes"),
        (ProxyProtocol::V2, None) => ppp::v2::Builder::new(
            ppp::v2::Version::Two | ppp::v2::Command::Local,
            ppp::v2::AddressFamily::Unspecified | ppp::v2::Protocol::Unspecified,
        )
        .build()
        .expect("a LOCAL header always encodes"),
    }
}

/// What a header said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub version: ProxyProtocol,
    /// The client's address; `None` for a `LOCAL` / `UNKNOWN` header (a health check).
    pub client: Option<SocketAddr>,
}

fn invalid(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

/// Reads one header of either version off the front of `stream`, and nothing more.
pub async fn read<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Received> {
    let mut first = [0u8; 5];
    stream.read_exact(&mut first).await?;
    if &first == b"PROXY" {
        let mut line = first.to_vec();
        while !line.ends_with(b"\r\n") {
            if line.len() >= V1_MAX {
                return Err(invalid("PROXY v1 header longer than 107 bytes"));
            }
            line.push(stream.read_u8().await?);
        }
        let text = std::str::from_utf8(&line).map_err(|_| invalid("PROXY v1 header not text"))?;
        let header = ppp::v1::Header::try_from(text)
            .map_err(|e| invalid(format!("bad PROXY v1 header: {e}")))?;
        let client = match header.addresses {
            ppp::v1::Addresses::Tcp4(a) => {
                Some(SocketAddr::from((a.source_address, a.source_port)))
            }
            ppp::v1::Addresses::Tcp6(a) => {
                Some(SocketAddr::from((a.source_address, a.source_port)))
            }
            ppp::v1::Addresses::Unknown => None,
        };
        return Ok(Received {
            version: ProxyProtocol::V1,
            client,
        });
    }
    if first[..] != V2_SIGNATURE[..5] {
        return Err(invalid("expected a PROXY protocol header"));
    }
    let mut bytes = first.to_vec();
    bytes.resize(V2_FIXED, 0);
    stream.read_exact(&mut bytes[5..]).await?;
    let rest = usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
    bytes.resize(V2_FIXED + rest, 0);
    stream.read_exact(&mut bytes[V2_FIXED..]).await?;
    let header = ppp::v2::Header::try_from(bytes.as_slice())
        .map_err(|e| invalid(format!("bad PROXY v2 header: {e}")))?;
    let client = match (header.command, header.addresses) {
        (ppp::v2::Command::Local, _) => None,
        (_, ppp::v2::Addresses::IPv4(a)) => {
            Some(SocketAddr::from((a.source_address, a.source_port)))
        }
        (_, ppp::v2::Addresses::IPv6(a)) => {
            Some(SocketAddr::from((a.source_address, a.source_port)))
        }
        (_, other) => {
            return Err(invalid(format!(
                "PROXY v2 header without IP addresses: {other:?}"
            )));
        }
    };
    Ok(Received {
        version: ProxyProtocol::V2,
        client,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves both versions round-trip the client's address, LOCAL/UNKNOWN headers carry
    /// none, the reader leaves the payload behind the header, and a stream without a header
    /// is refused.
    #[tokio::test]
    async fn both_versions_round_trip() {
        let client: SocketAddr = "198.51.100.10:49152".parse().unwrap();
        let local: SocketAddr = "10.0.1.10:443".parse().unwrap();
        for version in [ProxyProtocol::V1, ProxyProtocol::V2] {
            let mut bytes = encode(version, Some((client, local)));
            bytes.extend_from_slice(b"\x16\x03\x01");
            let mut reader = bytes.as_slice();
            let got = read(&mut reader).await.unwrap();
            assert_eq!(
                got,
                Received {
                    version,
                    client: Some(client)
                }
            );
            assert_eq!(reader, b"\x16\x03\x01");

            let bytes = encode(version, None);
            let got = read(&mut bytes.as_slice()).await.unwrap();
            assert_eq!(
                got,
                Received {
                    version,
                    client: None
                }
            );
        }
        assert_eq!(
            encode(ProxyProtocol::V1, Some((client, local))),
            b"PROXY TCP4 198.51.100.10 10.0.1.10 49152 443\r\n"
        );
        assert!(encode(ProxyProtocol::None, Some((client, local))).is_empty());
        let err = read(&mut b"GET / HTTP/1.1\r\n".as_slice())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let long = format!("PROXY TCP4 {}\r\n", "1".repeat(120));
        assert!(read(&mut long.as_bytes()).await.is_err());
    }
}
