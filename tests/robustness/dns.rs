//! `harness serve dns` against what a careless or hostile client sends; after each, a
//! proper query over UDP and over TCP still gets the zone's answer, byte for byte.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use crate::common::{Served, send_from_port_zero, serve};

/// How long a proper query may wait for its answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// A query for login.example.com's A record (id 0x1234, RD), on the wire.
const LOGIN_QUERY: &[u8] = &[
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    5, b'l', b'o', b'g', b'i', b'n', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', //
    3, b'c', b'o', b'm', 0, 0x00, 0x01, 0x00, 0x01,
];

/// The served zone's answer to [`LOGIN_QUERY`]: QR, AA, RD; one A record, TTL 60,
/// 10.0.1.10 (the balancer of tests/fixtures/serve/https.toml).
const LOGIN_REPLY: &[u8] = &[
    0x12, 0x34, 0x85, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, //
    5, b'l', b'o', b'g', b'i', b'n', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', //
    3, b'c', b'o', b'm', 0, 0x00, 0x01, 0x00, 0x01, //
    0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 10, 0, 1, 10,
];

/// `harness serve dns` on any free port, UDP and TCP.
fn serve_dns() -> Served {
    serve("dns", 53, &["udp", "tcp"])
}

fn udp(served: &Served) -> SocketAddr {
    served.udp.expect("dns serves UDP")
}

fn tcp(served: &Served) -> SocketAddr {
    served.tcp.expect("dns serves TCP")
}

/// The answer to `query` over UDP, or why there is none within [`ANSWER_WITHIN`].
fn ask_udp(server: SocketAddr, query: &[u8]) -> Result<Vec<u8>, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(ANSWER_WITHIN))
        .map_err(|e| e.to_string())?;
    socket.send_to(query, server).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 2048];
    let (len, _) = socket
        .recv_from(&mut buf)
        .map_err(|e| format!("no answer: {e}"))?;
    Ok(buf[..len].to_vec())
}

/// `message` behind its two-byte length.
fn framed(message: &[u8]) -> Vec<u8> {
    let len = u16::try_from(message.len()).expect("short");
    [&len.to_be_bytes()[..], message].concat()
}

/// The answer to `query` over a new TCP connection, or why there is none.
fn ask_tcp(server: SocketAddr, query: &[u8]) -> Result<Vec<u8>, String> {
    let mut stream =
        TcpStream::connect_timeout(&server, ANSWER_WITHIN).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(ANSWER_WITHIN))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(&framed(query))
        .map_err(|e| e.to_string())?;
    let mut length = [0u8; 2];
    stream
        .read_exact(&mut length)
        .map_err(|e| format!("no answer: {e}"))?;
    let mut reply = vec![0; usize::from(u16::from_be_bytes(length))];
    stream
        .read_exact(&mut reply)
        .map_err(|e| format!("a cut answer: {e}"))?;
    Ok(reply)
}

/// The service is still up and answers [`LOGIN_QUERY`] over UDP and TCP, byte for byte.
fn assert_still_answers(served: &mut Served, after: &str) {
    let by_udp = ask_udp(udp(served), LOGIN_QUERY);
    let by_tcp = ask_tcp(tcp(served), LOGIN_QUERY);
    served.proc.assert_running();
    let output = served.proc.output();
    assert_eq!(
        by_udp.as_deref(),
        Ok(LOGIN_REPLY),
        "UDP after {after}:\n{output}"
    );
    assert_eq!(
        by_tcp.as_deref(),
        Ok(LOGIN_REPLY),
        "TCP after {after}:\n{output}"
    );
}

/// A query from source port 0 (its answer cannot be sent: Linux's sendto says EINVAL)
/// does not stop the service: it had ended on the first failed send.
#[test]
fn a_query_from_port_zero_does_not_stop_it() {
    let mut dns = serve_dns();
    send_from_port_zero(udp(&dns), LOGIN_QUERY);
    // Let the service read it and fail to answer before the next query is sent.
    std::thread::sleep(Duration::from_millis(200));
    assert_still_answers(&mut dns, "a query from port 0");
}
