//! `harness serve ntp` against what a careless or hostile client sends; after each, a
//! proper NTPv4 client request still gets a server reply.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use crate::common::{Served, garbage, send_from_port_zero, serve};

/// How long a proper request may wait for its reply.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// An NTPv4 client request (LI 0, VN 4, mode 3) whose transmit timestamp is `stamp`.
fn request(stamp: u64) -> [u8; 48] {
    let mut bytes = [0u8; 48];
    bytes[0] = 0b00_100_011;
    bytes[40..48].copy_from_slice(&stamp.to_be_bytes());
    bytes
}

/// `harness serve ntp` on any free port.
fn serve_ntp() -> Served {
    serve("ntp", 123, &["udp"])
}

fn udp(served: &Served) -> SocketAddr {
    served.udp.expect("ntp serves UDP")
}

/// The reply to `datagram`, or why there is none within [`ANSWER_WITHIN`].
fn ask(server: SocketAddr, datagram: &[u8]) -> Result<Vec<u8>, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(ANSWER_WITHIN))
        .map_err(|e| e.to_string())?;
    socket
        .send_to(datagram, server)
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 1024];
    let (len, _) = socket
        .recv_from(&mut buf)
        .map_err(|e| format!("no reply: {e}"))?;
    Ok(buf[..len].to_vec())
}

/// The service is still up and answers a client request with a 48-byte NTPv4 server
/// reply (VN 4, mode 4, stratum 2) that echoes the request's transmit time as origin.
fn assert_still_answers(served: &mut Served, after: &str) {
    let stamp = 0xE9A5_0000_8000_0000;
    let reply = ask(udp(served), &request(stamp));
    served.proc.assert_running();
    let output = served.proc.output();
    let reply = reply.unwrap_or_else(|e| panic!("after {after}: {e}\n{output}"));
    assert_eq!(reply.len(), 48, "after {after}: {reply:?}");
    assert_eq!((reply[0], reply[1]), (0b00_100_100, 2), "after {after}");
    assert_eq!(reply[24..32], stamp.to_be_bytes(), "after {after}: origin");
}

/// A request from source port 0 (its reply cannot be sent: Linux's sendto says EINVAL)
/// does not stop the service: it had ended on the first failed send.
#[test]
fn a_request_from_port_zero_does_not_stop_it() {
    let mut ntp = serve_ntp();
    send_from_port_zero(udp(&ntp), &request(1));
    // Let the service read it and fail to answer before the next request is sent.
    std::thread::sleep(Duration::from_millis(200));
    assert_still_answers(&mut ntp, "a request from port 0");
}

/// Every reply that arrives at `socket` within `within`, in order.
fn replies(socket: &UdpSocket, within: Duration) -> Vec<Vec<u8>> {
    let deadline = std::time::Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return got;
        }
        socket.set_read_timeout(Some(left)).expect("a timeout");
        match socket.recv_from(&mut buf) {
            Ok((len, _)) => got.push(buf[..len].to_vec()),
            Err(_) => return got,
        }
    }
}

/// Requests of versions 0-2 and 5-7, and of modes other than client (3), get no reply on
/// the wire; version 3 and 4 client requests get one each, of their own version.
#[test]
fn only_client_requests_of_versions_3_and_4_are_answered() {
    let mut ntp = serve_ntp();
    let socket = UdpSocket::bind("127.0.0.1:0").expect("a local socket");
    // Each request's transmit stamp names it: 0xVM for version V and mode M.
    let ignored = [
        (0, 3),
        (1, 3),
        (2, 3),
        (5, 3),
        (6, 3),
        (7, 3),
        (4, 1),
        (4, 4),
        (4, 6),
    ];
    for (version, mode) in ignored.into_iter().chain([(3, 3), (4, 3)]) {
        let mut datagram = request((version << 4) | mode);
        datagram[0] = (version << 3) as u8 | mode as u8;
        socket.send_to(&datagram, udp(&ntp)).expect("sent");
    }
    let got = replies(&socket, Duration::from_millis(1500));
    ntp.proc.assert_running();
    let answered: Vec<(u8, u64)> = got
        .iter()
        .map(|r| {
            let origin = u64::from_be_bytes(r[24..32].try_into().expect("48 bytes"));
            (r[0], origin)
        })
        .collect();
    assert_eq!(
        answered,
        [(0b00_011_100, 0x33), (0b00_100_100, 0x43)],
        "(first byte, origin) of each reply"
    );
}

/// Empty, cut (under 48 bytes) and garbage datagrams get no reply, nor do requests whose
/// first byte is not a version 3 or 4 client's; then a proper request is answered.
#[test]
fn garbage_and_cut_requests_get_no_reply() {
    let mut ntp = serve_ntp();
    let socket = UdpSocket::bind("127.0.0.1:0").expect("a local socket");
    let proper = request(0x42);
    let mut sent: Vec<Vec<u8>> = (0..48).map(|len| proper[..len].to_vec()).collect();
    for (seed, len) in [(1, 48), (2, 100), (3, 512), (4, 1500), (5, 4000)] {
        let mut datagram = garbage(seed, len);
        // Not mode 3 of version 3 or 4, whatever else the bytes say.
        datagram[0] = 0b00_100_111;
        sent.push(datagram);
    }
    for datagram in &sent {
        socket.send_to(datagram, udp(&ntp)).expect("sent");
    }
    let got = replies(&socket, Duration::from_millis(500));
    assert!(got.is_empty(), "garbage answered: {got:?}");
    assert_still_answers(&mut ntp, "garbage");
}
