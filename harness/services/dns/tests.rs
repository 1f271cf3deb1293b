//! The zone's answers and the client half, on the wire format.

use super::*;

fn zone() -> Zone {
    let names = ["manage", "config", "webtask", "login"].map(|n| format!("{n}.example.com"));
    Zone::new(&names, Ipv4Addr::new(10, 0, 1, 10), 60)
}

/// Proves a query for a zone name gets an authoritative A record with the zone's TTL,
/// encoded in the real wire format and decoded by the client half.
#[test]
fn answers_zone_records() {
    let q = query(0x1234, "login.example.com").unwrap();
    let reply = zone().answer(&q).unwrap();
    let msg = Message::from_vec(&reply).unwrap();
    assert_eq!(msg.id(), 0x1234);
    assert!(msg.authoritative());
    assert_eq!(msg.answers().len(), 1);
    let answer = parse_answer(0x1234, &reply).unwrap();
    assert_eq!(answer.address, IpAddr::V4(Ipv4Addr::new(10, 0, 1, 10)));
    assert_eq!(answer.ttl, Duration::from_secs(60));
    // Names are case-insensitive.
    let upper = zone()
        .answer(&query(7, "LOGIN.Example.COM").unwrap())
        .unwrap();
    assert!(parse_answer(7, &upper).is_ok());
}

/// Proves unknown names get NXDOMAIN and known names without A data get an empty
/// NOERROR, as an authoritative server answers.
#[test]
fn nxdomain_and_nodata() {
    let reply = zone()
        .answer(&query(9, "nope.example.com").unwrap())
        .unwrap();
    assert_eq!(
        Message::from_vec(&reply).unwrap().response_code(),
        ResponseCode::NXDomain
    );
    assert_eq!(parse_answer(9, &reply), Err("NXDOMAIN".to_string()));

    let mut aaaa = Message::new();
    aaaa.set_id(3).add_query(Query::query(
        fqdn("login.example.com").unwrap(),
        RecordType::AAAA,
    ));
    let reply = zone().answer(&aaaa.to_vec().unwrap()).unwrap();
    let msg = Message::from_vec(&reply).unwrap();
    assert_eq!(msg.response_code(), ResponseCode::NoError);
    assert!(msg.answers().is_empty());
}

/// Proves malformed input is dropped or refused, never answered as if it were valid.
#[test]
fn malformed_input() {
    assert_eq!(zone().answer(b"\x00\x01garbage"), None);
    let mut empty = Message::new();
    empty.set_id(5);
    let reply = zone().answer(&empty.to_vec().unwrap()).unwrap();
    assert_eq!(
        Message::from_vec(&reply).unwrap().response_code(),
        ResponseCode::FormErr
    );
    assert!(
        parse_answer(6, &reply)
            .unwrap_err()
            .contains("does not match")
    );
}

/// `query(0x1234, "login.example.com")` on the wire (RFC 1035 4.1): id, flags with RD,
/// one question, then `login.example.com.` as labels, type A, class IN.
const LOGIN_QUERY: &[u8] = &[
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    5, b'l', b'o', b'g', b'i', b'n', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', //
    3, b'c', b'o', b'm', 0, 0x00, 0x01, 0x00, 0x01,
];

/// The zone's answer to [`LOGIN_QUERY`]: QR, AA and RD set, NOERROR, the question echoed
/// and one A record whose name points back at it (0xc00c), TTL 60, 10.0.1.10.
const LOGIN_REPLY: &[u8] = &[
    0x12, 0x34, 0x85, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, //
    5, b'l', b'o', b'g', b'i', b'n', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', //
    3, b'c', b'o', b'm', 0, 0x00, 0x01, 0x00, 0x01, //
    0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 10, 0, 1, 10,
];

/// `message` behind its two-byte big-endian length, as DNS over TCP frames it.
fn framed(message: &[u8]) -> Vec<u8> {
    let len = u16::try_from(message.len()).expect("a DNS message fits 64 KiB");
    [&len.to_be_bytes()[..], message].concat()
}

/// Proves the client half's query and the zone's UDP answer, byte for byte.
#[test]
fn query_and_answer_byte_for_byte() {
    assert_eq!(query(0x1234, "login.example.com").unwrap(), LOGIN_QUERY);
    assert_eq!(zone().answer(LOGIN_QUERY).unwrap(), LOGIN_REPLY);
}

/// Proves the served zone answers DNS over TCP on the port of its UDP service (RFC 1035
/// 4.2.2, RFC 7766): on a real loopback socket, a query behind its two-byte length gets
/// the UDP answer behind its own, byte for byte, and a second query on the same
/// connection gets its answer too.
#[test]
fn answers_over_tcp_on_the_udp_port() {
    use crate::net::real::{RealClock, RealNet};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let port = std::net::UdpSocket::bind((loopback, 0))
            .and_then(|s| s.local_addr())
            .unwrap()
            .port();
        let net = RealNet::new(loopback).with_port(PORT, port);
        let env = Env::new(
            "dns",
            net,
            std::sync::Arc::new(RealClock::new(0)),
            crate::events::Recorder::new(),
        );
        tokio::spawn(run(env, zone()));
        // The server binds as soon as it runs; give it a moment on a loaded machine.
        let mut stream = None;
        for _ in 0..50 {
            match tokio::net::TcpStream::connect((loopback, port)).await {
                Ok(s) => stream = Some(s),
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
            if stream.is_some() {
                break;
            }
        }
        let mut stream = stream.expect("the DNS server accepts TCP on its UDP port");
        for _ in 0..2 {
            stream.write_all(&framed(LOGIN_QUERY)).await.unwrap();
            let mut reply = vec![0; 2 + LOGIN_REPLY.len()];
            tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut reply))
                .await
                .expect("an answer within 5 s")
                .unwrap();
            assert_eq!(reply, framed(LOGIN_REPLY));
        }
    });
}

/// `login.example.com`'s neighbour in the zone, on the wire: [`LOGIN_QUERY`] with id
/// 0x0001 and the label `manage`.
const MANAGE_QUERY: &[u8] = &[
    0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    6, b'm', b'a', b'n', b'a', b'g', b'e', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', //
    3, b'c', b'o', b'm', 0, 0x00, 0x01, 0x00, 0x01,
];

/// The zone's answer to [`MANAGE_QUERY`].
const MANAGE_REPLY: &[u8] = &[
    0x00, 0x01, 0x85, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, //
    6, b'm', b'a', b'n', b'a', b'g', b'e', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', //
    3, b'c', b'o', b'm', 0, 0x00, 0x01, 0x00, 0x01, //
    0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 10, 0, 1, 10,
];

/// Proves one TCP connection carries several queries, answered in order byte for byte,
/// however the client's bytes are split (the length prefix itself across two reads), and
/// the server stops when the client closes.
#[tokio::test]
async fn tcp_connection_answers_each_query_in_order() {
    let manage = framed(MANAGE_QUERY);
    let stream = tokio_test::io::Builder::new()
        .read(&framed(LOGIN_QUERY))
        .write(&framed(LOGIN_REPLY))
        .read(&manage[..1])
        .read(&manage[1..10])
        .read(&manage[10..])
        .write(&framed(MANAGE_REPLY))
        .build();
    serve_connection(stream, &zone()).await;
}

/// Proves a TCP message that is not a DNS query closes the connection unanswered (the
/// mock fails on any write), as does a zero length.
#[tokio::test]
async fn tcp_connection_closes_on_garbage() {
    for garbage in [&framed(b"\x00\x01garbage")[..], &[0, 0]] {
        let stream = tokio_test::io::Builder::new().read(garbage).build();
        serve_connection(stream, &zone()).await;
    }
}

/// Proves a client that sends half a length and stalls is let go after [`TCP_IDLE_MS`]
/// (on tokio's paused clock), and one that stops reading its answers is too.
#[tokio::test(start_paused = true)]
async fn tcp_connection_closes_when_idle() {
    use tokio::io::AsyncWriteExt;
    let idle = Duration::from_millis(TCP_IDLE_MS);
    let (mut client, server) = tokio::io::duplex(64);
    client.write_all(&[0]).await.unwrap();
    let started = tokio::time::Instant::now();
    serve_connection(server, &zone()).await;
    assert_eq!(started.elapsed(), idle);

    // 80 bytes of buffer each way: two queries (74 bytes) go in, one answer (53) fits,
    // and the second waits for a reader that never comes.
    let (mut client, server) = tokio::io::duplex(80);
    let queries = framed(LOGIN_QUERY).repeat(2);
    client.write_all(&queries).await.unwrap();
    let started = tokio::time::Instant::now();
    serve_connection(server, &zone()).await;
    assert_eq!(started.elapsed(), idle);
}

/// Proves `harness serve dns --listen ADDR:0` binds its TCP port on the port its UDP
/// socket got, so a resolver retrying a truncated answer over TCP finds it.
#[test]
fn any_port_gives_udp_and_tcp_one_port() {
    use crate::net::real::RealNet;
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let bound = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let report = bound.clone();
        let net = RealNet::new(loopback)
            .with_port(PORT, 0)
            .reporting_binds(move |b| report.lock().unwrap().push(b));
        let _socket = net.bind_udp(PORT).await.unwrap();
        let _listener = net.listen(PORT).await.unwrap();
        let bound = bound.lock().unwrap().clone();
        assert_eq!(bound.len(), 2, "{bound:?}");
        assert_eq!(
            (bound[0].protocol, bound[1].protocol),
            ("udp", "tcp"),
            "{bound:?}"
        );
        assert_eq!(bound[0].addr, bound[1].addr, "{bound:?}");
        assert_ne!(bound[0].addr.port(), 0);
    });
}
