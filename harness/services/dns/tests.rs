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
    let reply = zone().answer(&q, Transport::Udp).unwrap();
    let msg = Message::from_vec(&reply).unwrap();
    assert_eq!(msg.id(), 0x1234);
    assert!(msg.authoritative());
    assert_eq!(msg.answers().len(), 1);
    let answer = parse_answer(0x1234, &reply).unwrap();
    assert_eq!(answer.address, IpAddr::V4(Ipv4Addr::new(10, 0, 1, 10)));
    assert_eq!(answer.ttl, Duration::from_secs(60));
    // Names are case-insensitive.
    let upper = zone()
        .answer(&query(7, "LOGIN.Example.COM").unwrap(), Transport::Udp)
        .unwrap();
    assert!(parse_answer(7, &upper).is_ok());
}

/// Proves unknown names get NXDOMAIN and known names without A data get an empty
/// NOERROR, as an authoritative server answers.
#[test]
fn nxdomain_and_nodata() {
    let reply = zone()
        .answer(&query(9, "nope.example.com").unwrap(), Transport::Udp)
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
    let reply = zone()
        .answer(&aaaa.to_vec().unwrap(), Transport::Udp)
        .unwrap();
    let msg = Message::from_vec(&reply).unwrap();
    assert_eq!(msg.response_code(), ResponseCode::NoError);
    assert!(msg.answers().is_empty());
}

/// Proves malformed input is dropped or refused, never answered as if it were valid:
/// less than a header is dropped, as is a response (QR set: answering it could loop two
/// servers); a query cut short after its header gets FORMERR, the header alone.
#[test]
fn malformed_input() {
    assert_eq!(zone().answer(b"\x00\x01garbage", Transport::Udp), None);
    assert_eq!(zone().answer(LOGIN_REPLY, Transport::Udp), None);
    assert_eq!(
        zone().answer(&LOGIN_QUERY[..20], Transport::Udp),
        Some(vec![0x12, 0x34, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0])
    );
    let mut empty = Message::new();
    empty.set_id(5);
    let reply = zone()
        .answer(&empty.to_vec().unwrap(), Transport::Udp)
        .unwrap();
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
    assert_eq!(
        zone().answer(LOGIN_QUERY, Transport::Udp).unwrap(),
        LOGIN_REPLY
    );
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
        // Any port, picked free on UDP and TCP alike and held until the server takes
        // both sockets: a UDP port picked here would leave its TCP twin to chance.
        let (report, mut bound) = tokio::sync::mpsc::unbounded_channel();
        let net = RealNet::new(loopback)
            .with_port(PORT, 0)
            .paired(PORT)
            .reporting_binds(move |b| report.send(b).unwrap());
        let env = Env::new(
            "dns",
            net,
            std::sync::Arc::new(RealClock::new(0)),
            crate::events::Recorder::new(),
        );
        tokio::spawn(run(env, zone()));
        let mut next_bind = async || {
            tokio::time::timeout(Duration::from_secs(5), bound.recv())
                .await
                .expect("the server binds within 5 s")
                .unwrap()
        };
        let (udp, tcp) = (next_bind().await, next_bind().await);
        assert_eq!((udp.protocol, tcp.protocol), ("udp", "tcp"));
        assert_eq!(udp.addr, tcp.addr);
        let mut stream = tokio::net::TcpStream::connect(tcp.addr)
            .await
            .expect("the DNS server accepts TCP on its UDP port");
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
        // Paired, as `serve` builds its net: an unpaired UDP pick leaves the TCP twin to
        // chance (net/real.rs's tests prove that hazard).
        let net = RealNet::new(loopback)
            .with_port(PORT, 0)
            .paired(PORT)
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

// EDNS(0) (RFC 6891) and truncation (RFC 1035 4.2.1, RFC 2181 9), on bytes built here by
// hand rather than by hickory.

/// A DNS header: id, flags, then the four section counts.
fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut bytes = [id, flags].map(u16::to_be_bytes).concat();
    bytes.extend(counts.iter().flat_map(|c| c.to_be_bytes()));
    bytes
}

/// One question for `name`, type A, class IN.
fn question(name: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    for label in name.split('.') {
        bytes.push(u8::try_from(label.len()).unwrap());
        bytes.extend(label.as_bytes());
    }
    bytes.extend([0, 0x00, 0x01, 0x00, 0x01]);
    bytes
}

/// An OPT pseudo-record (RFC 6891 6.1.2): root owner, type 41, the UDP payload size in
/// the class, extended RCODE, version and flags in the TTL, then the options.
fn opt(payload: u16, extended_rcode: u8, version: u8, flags: u16, options: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0x00, 41];
    bytes.extend(payload.to_be_bytes());
    bytes.extend([extended_rcode, version]);
    bytes.extend(flags.to_be_bytes());
    bytes.extend(u16::try_from(options.len()).unwrap().to_be_bytes());
    bytes.extend(options);
    bytes
}

/// An A record answering the first question (its name a pointer to offset 12), TTL 60.
fn a_record(ip: Ipv4Addr) -> Vec<u8> {
    let mut bytes = vec![
        0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04,
    ];
    bytes.extend(ip.octets());
    bytes
}

/// Flags of a query with RD, and of the zone's answers: QR, AA, RD; and with TC.
const RD: u16 = 0x0100;
const QR_AA_RD: u16 = 0x8500;
const QR_AA_TC_RD: u16 = 0x8700;

/// `big.example.com` with `count` addresses, 10.0.2.0 upwards.
fn big_zone(count: u8) -> (Zone, Vec<Ipv4Addr>) {
    let ips: Vec<Ipv4Addr> = (0..count).map(|i| Ipv4Addr::new(10, 0, 2, i)).collect();
    let records: Vec<(String, Ipv4Addr)> = ips
        .iter()
        .map(|ip| ("big.example.com".to_string(), *ip))
        .collect();
    (Zone::with_records(&records, 60), ips)
}

/// A query for `name`, with an OPT record when `edns` is given.
fn query_bytes(id: u16, name: &str, edns: Option<Vec<u8>>) -> Vec<u8> {
    let additional = u16::from(edns.is_some());
    [
        header(id, RD, [1, 0, 0, additional]),
        question(name),
        edns.unwrap_or_default(),
    ]
    .concat()
}

/// Proves an EDNS query gets the answer with an OPT record of the server's own: its UDP
/// size 1232 (EDNS_UDP_BYTES_MAX), version 0, no flags (DO cleared: no DNSSEC here, RFC
/// 3225) and no options (the client's COOKIE is ignored, RFC 7873 5.2.1), byte for byte.
#[test]
fn edns_query_gets_an_opt_record() {
    let cookie = [0x00, 0x0a, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8];
    let expected = [
        header(0x1234, QR_AA_RD, [1, 1, 0, 1]),
        question("login.example.com"),
        a_record(Ipv4Addr::new(10, 0, 1, 10)),
        opt(1232, 0, 0, 0, &[]),
    ]
    .concat();
    for client in [
        opt(4096, 0, 0, 0, &[]),
        opt(1232, 0, 0, 0x8000, &cookie),
        opt(512, 0, 0, 0, &[]),
    ] {
        let request = query_bytes(0x1234, "login.example.com", Some(client.clone()));
        assert_eq!(
            zone().answer(&request, Transport::Udp),
            Some(expected.clone()),
            "{client:?}"
        );
    }
}

/// Proves an EDNS version the server does not speak gets BADVERS (RFC 6891 6.1.3): RCODE
/// 16, its upper eight bits (1) in the OPT record, the lower four (0) in the header; the
/// OPT says version 0, and no records are answered.
#[test]
fn edns_version_1_gets_badvers() {
    let request = query_bytes(0x1234, "login.example.com", Some(opt(1232, 0, 1, 0, &[])));
    let expected = [
        header(0x1234, QR_AA_RD, [1, 0, 0, 1]),
        question("login.example.com"),
        opt(1232, 1, 0, 0, &[]),
    ]
    .concat();
    assert_eq!(zone().answer(&request, Transport::Udp), Some(expected));
}

/// Proves a query with two OPT records gets FORMERR (RFC 6891 6.1.1): the header alone,
/// its id, opcode and RD echoed, RCODE 1.
#[test]
fn two_opt_records_get_formerr() {
    let request = [
        header(0x1234, RD, [1, 0, 0, 2]),
        question("login.example.com"),
        opt(1232, 0, 0, 0, &[]),
        opt(1232, 0, 0, 0, &[]),
    ]
    .concat();
    assert_eq!(
        zone().answer(&request, Transport::Udp),
        Some(header(0x1234, 0x8101, [0, 0, 0, 0]))
    );
}

/// Proves a UDP answer without EDNS is whole up to 512 bytes (29 records: 497) and
/// truncated above (30 records: 513): TC set, the question kept, no records (RFC 2181
/// section 9: no partial RRset), byte for byte.
#[test]
fn udp_answer_over_512_bytes_is_truncated() {
    let (zone, ips) = big_zone(29);
    let request = query_bytes(7, "big.example.com", None);
    let whole = zone.answer(&request, Transport::Udp).unwrap();
    assert_eq!(whole.len(), 497);
    let records: Vec<u8> = ips.iter().flat_map(|ip| a_record(*ip)).collect();
    assert_eq!(
        whole,
        [
            header(7, QR_AA_RD, [1, 29, 0, 0]),
            question("big.example.com"),
            records
        ]
        .concat()
    );

    let (zone, _) = big_zone(30);
    assert_eq!(
        zone.answer(&request, Transport::Udp),
        Some(
            [
                header(7, QR_AA_TC_RD, [1, 0, 0, 0]),
                question("big.example.com")
            ]
            .concat()
        )
    );
}

/// Proves an EDNS client's advertised size is honoured up to EDNS_UDP_BYTES_MAX (1232):
/// 72 records (1196 bytes with the OPT) arrive whole at a client of 4096; 75 (1244) are
/// truncated for it (the cap) and for one of 1300, with the OPT kept (RFC 6891 7); a
/// client advertising less than 512 is taken to mean 512 (RFC 6891 6.2.5).
#[test]
fn edns_size_is_honoured_up_to_the_cap() {
    let big = |payload| query_bytes(9, "big.example.com", Some(opt(payload, 0, 0, 0, &[])));
    let truncated = [
        header(9, QR_AA_TC_RD, [1, 0, 0, 1]),
        question("big.example.com"),
        opt(1232, 0, 0, 0, &[]),
    ]
    .concat();

    let (zone, _) = big_zone(72);
    assert_eq!(zone.answer(&big(4096), Transport::Udp).unwrap().len(), 1196);
    let (zone, _) = big_zone(75);
    assert_eq!(
        zone.answer(&big(4096), Transport::Udp),
        Some(truncated.clone())
    );
    assert_eq!(
        zone.answer(&big(1300), Transport::Udp),
        Some(truncated.clone())
    );
    let (zone, _) = big_zone(30);
    assert_eq!(zone.answer(&big(100), Transport::Udp), Some(truncated));
    let (zone, _) = big_zone(29);
    assert_eq!(zone.answer(&big(100), Transport::Udp).unwrap().len(), 508);
}

/// Proves the answer too big for any datagram (100 records, 1633 bytes) arrives whole
/// over TCP, byte for byte, and an EDNS query over TCP gets its OPT record there too.
#[tokio::test]
async fn tcp_carries_what_udp_truncates() {
    let (zone, ips) = big_zone(100);
    let records: Vec<u8> = ips.iter().flat_map(|ip| a_record(*ip)).collect();
    let plain = [
        header(7, QR_AA_RD, [1, 100, 0, 0]),
        question("big.example.com"),
        records.clone(),
    ]
    .concat();
    assert_eq!(plain.len(), 1633);
    let with_opt = [
        header(8, QR_AA_RD, [1, 100, 0, 1]),
        question("big.example.com"),
        records,
        opt(1232, 0, 0, 0, &[]),
    ]
    .concat();
    let edns = Some(opt(4096, 0, 0, 0, &[]));
    let stream = tokio_test::io::Builder::new()
        .read(&framed(&query_bytes(7, "big.example.com", None)))
        .write(&framed(&plain))
        .read(&framed(&query_bytes(8, "big.example.com", edns)))
        .write(&framed(&with_opt))
        .build();
    serve_connection(stream, &zone).await;
}

/// What a receive gives: a datagram and its sender, or an error.
type Received = io::Result<(Vec<u8>, SocketAddr)>;

/// A UDP socket that hands out queued datagrams and errors, then waits for ever, and
/// fails its first `failing_sends` sends.
struct FakeSocket {
    incoming: std::sync::Mutex<std::collections::VecDeque<Received>>,
    failing_sends: std::sync::Mutex<u32>,
    /// What was sent, to whom, and when (tokio's clock).
    sent: std::sync::Mutex<Vec<(Vec<u8>, SocketAddr, tokio::time::Instant)>>,
}

impl Datagrams for FakeSocket {
    async fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        let mut failing = self.failing_sends.lock().unwrap();
        if *failing > 0 {
            *failing -= 1;
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let now = tokio::time::Instant::now();
        self.sent.lock().unwrap().push((buf.to_vec(), to, now));
        Ok(buf.len())
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let next = self.incoming.lock().unwrap().pop_front();
        match next {
            Some(Ok((datagram, from))) => {
                buf[..datagram.len()].copy_from_slice(&datagram);
                Ok((datagram.len(), from))
            }
            Some(Err(e)) => Err(e),
            None => std::future::pending().await,
        }
    }
}

/// Proves the UDP loop outlives its socket's errors: three failed receives in a row
/// (ConnectionRefused, as an ICMP error reports on a connected socket or one with
/// IP_RECVERR) are waited out for 0 + 10 + 20 ms, a failed send (EINVAL, as to source
/// port 0) loses that one answer, and the next query is answered, byte for byte.
#[tokio::test(start_paused = true)]
async fn udp_loop_survives_socket_errors() {
    let client: SocketAddr = "127.0.0.1:5353".parse().unwrap();
    let port_zero: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let refused = || Err(io::Error::from(io::ErrorKind::ConnectionRefused));
    let socket = FakeSocket {
        incoming: std::sync::Mutex::new(
            [
                refused(),
                refused(),
                refused(),
                Ok((LOGIN_QUERY.to_vec(), port_zero)),
                Ok((MANAGE_QUERY.to_vec(), client)),
            ]
            .into(),
        ),
        failing_sends: std::sync::Mutex::new(1),
        sent: std::sync::Mutex::new(Vec::new()),
    };
    let started = tokio::time::Instant::now();
    let zone = zone();
    let served = tokio::time::timeout(
        Duration::from_secs(1),
        serve_udp(&socket, &zone, &Answering::default()),
    )
    .await;
    assert!(served.is_err(), "the loop never ends by itself");
    let sent = socket.sent.lock().unwrap();
    assert_eq!(sent.len(), 1, "one answer, the other lost");
    assert_eq!((sent[0].0.as_slice(), sent[0].1), (MANAGE_REPLY, client));
    assert_eq!(sent[0].2 - started, Duration::from_millis(30));
}

/// Proves each scenario fault changes the answer as a real server under it would:
/// SERVFAIL to any name, NXDOMAIN for the zone's names, no answer at all for silence,
/// the wrong address with the zone's TTL, and `Normal` answers as the zone does.
#[test]
fn answers_under_each_fault() {
    let q = query(3, "login.example.com").unwrap();
    let code = |mode| {
        let reply = zone().answer_as(&q, Transport::Udp, mode).unwrap();
        Message::from_vec(&reply).unwrap().response_code()
    };
    assert_eq!(code(DnsAnswer::Servfail), ResponseCode::ServFail);
    assert_eq!(code(DnsAnswer::Nxdomain), ResponseCode::NXDomain);
    assert_eq!(code(DnsAnswer::Normal), ResponseCode::NoError);
    let other = query(4, "nope.example.com").unwrap();
    let reply = zone()
        .answer_as(&other, Transport::Udp, DnsAnswer::Servfail)
        .unwrap();
    assert_eq!(
        Message::from_vec(&reply).unwrap().response_code(),
        ResponseCode::ServFail
    );
    assert_eq!(
        zone().answer_as(&q, Transport::Udp, DnsAnswer::Silence),
        None
    );
    let wrong = Ipv4Addr::new(10, 0, 1, 99);
    let reply = zone()
        .answer_as(
            &q,
            Transport::Tcp,
            DnsAnswer::WrongAddress { address: wrong },
        )
        .unwrap();
    let answer = parse_answer(3, &reply).unwrap();
    assert_eq!(answer.address, IpAddr::V4(wrong));
    assert_eq!(answer.ttl, Duration::from_secs(60));
    assert!(
        parse_answer(
            3,
            &zone()
                .answer_as(&q, Transport::Udp, DnsAnswer::Servfail)
                .unwrap()
        )
        .is_err()
    );
}

/// Proves the switch the world flips is the one the server reads: a clone set to
/// SERVFAIL is seen by the original, and set back to normal likewise.
#[test]
fn answering_switch_is_shared() {
    let switch = Answering::default();
    assert_eq!(switch.get(), DnsAnswer::Normal);
    switch.clone().set(DnsAnswer::Servfail);
    assert_eq!(switch.get(), DnsAnswer::Servfail);
    switch.clone().set(DnsAnswer::Normal);
    assert_eq!(switch.get(), DnsAnswer::Normal);
}
