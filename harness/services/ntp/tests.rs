//! The NTP packet layout, the offset arithmetic and the step/slew rule.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use super::*;
use crate::clock::Adjustment;
use crate::events::Recorder;
use crate::world::clock::SimClock;
use crate::world::net::{FaultTable, SimNet};

/// Proves the 48-byte layout field by field: LI/VN/mode packed in the first byte,
/// stratum, poll, precision, the reference id at 12..16, four 64-bit timestamps from 16.
#[test]
fn packet_layout() {
    let request = Packet::request(Duration::from_secs(1_767_225_600) + Duration::from_millis(500));
    let bytes = request.encode();
    assert_eq!(bytes.len(), 48);
    assert_eq!(bytes[0], 0b00_100_011, "LI 0, version 4, mode 3 (client)");
    assert_eq!(bytes[3] as i8, -20);
    // 2026-01-01T00:00:00.5Z: 3_976_214_400 s since 1900, and half a second of fraction.
    assert_eq!(
        u32::from_be_bytes(bytes[40..44].try_into().unwrap()),
        3_976_214_400
    );
    assert_eq!(
        u32::from_be_bytes(bytes[44..48].try_into().unwrap()),
        1 << 31
    );
    assert_eq!(Packet::decode(&bytes), Ok(request));
    assert!(Packet::decode(&bytes[..47]).is_err());
}

/// Proves the server answers only client requests, echoes the request's transmit time as
/// origin, and the client's arithmetic recovers a known offset and delay.
#[test]
fn offset_and_delay() {
    let t1 = Duration::from_secs(1_767_225_600);
    let request = Packet::request(t1);
    // The server's clock is 10 minutes ahead; the network takes 20 ms each way; the
    // server spends 1 ms.
    let ahead = Duration::from_secs(600);
    let (t2, t3) = (
        t1 + ahead + Duration::from_millis(20),
        t1 + ahead + Duration::from_millis(21),
    );
    let reply = answer(&request, t2, t3).expect("a client request is answered");
    assert_eq!(
        (reply.mode, reply.stratum, reply.origin),
        (4, 2, request.transmit)
    );
    assert!(
        answer(&reply, t2, t3).is_none(),
        "a server reply is not answered"
    );
    let (offset, delay) = measure(&reply, t1 + Duration::from_millis(41));
    // NTP's 32-bit fraction (about 0.23 ns) truncates each timestamp: allow 1 us.
    assert!(
        (offset - 600_000_000_000).abs() < 1_000,
        "offset {offset} ns"
    );
    assert!((delay - 40_000_000).abs() < 1_000, "delay {delay} ns");
}

/// Proves offsets above 128 ms are stepped and smaller ones slewed at most 500 ppm.
#[test]
fn step_or_slew() {
    let poll = Duration::from_secs(64);
    assert_eq!(correction(200_000_000, poll), Correction::Step(200_000_000));
    assert_eq!(
        correction(-600_000_000_000, poll),
        Correction::Step(-600_000_000_000)
    );
    assert_eq!(correction(10_000_000, poll), Correction::Slew(10_000_000));
    assert_eq!(
        correction(100_000_000, poll),
        Correction::Slew(32_000_000),
        "500 ppm of 64 s is 32 ms"
    );
}

/// Proves a request/response round trip over simulated UDP decodes with the real layout
/// and measures the server clock's configured offset.
#[test]
fn round_trip_over_simulated_udp() {
    let server_ip = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 123));
    let client_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 1, 11));
    let epoch = Duration::from_secs(1_767_225_600);
    let mut sim = turmoil::Builder::new()
        .rng_seed(1)
        .epoch(std::time::UNIX_EPOCH)
        .build();
    let server_clock = SimClock::new(epoch);
    server_clock
        .handle()
        .adjust(Duration::ZERO, Adjustment::Offset(600_000_000_000));
    let env = move |name: &str, ip, clock: SimClock| {
        Env::new(
            name,
            SimNet::new(ip, FaultTable::default()),
            Arc::new(clock),
            Recorder::new(),
        )
    };
    let server_env = env("pool.ntp.org", server_ip, server_clock);
    sim.host(server_ip, move || {
        let env = server_env.clone();
        async move { Ok(run(env).await?) }
    });
    let client_env = env("node-1", client_ip, SimClock::new(epoch));
    sim.client(client_ip, async move {
        let server = SocketAddr::new(server_ip, PORT);
        let (offset, delay) = query(&client_env, server, Duration::from_secs(2)).await?;
        let offset_ms = offset / 1_000_000;
        assert!(
            (599_990..=600_010).contains(&offset_ms),
            "offset {offset_ms} ms"
        );
        assert!((0..=1_000_000_000).contains(&delay), "delay {delay} ns");
        Ok(())
    });
    sim.run().unwrap();
}

/// A 48-byte request whose first byte is `li_vn_mode`, poll 6 (64 s), precision -20, and
/// transmit time 0x0123_4567_89ab_cdef; everything else zero.
fn raw_request(li_vn_mode: u8) -> [u8; 48] {
    let mut bytes = [0u8; 48];
    bytes[0] = li_vn_mode;
    bytes[2] = 6;
    bytes[3] = 0xec;
    bytes[40..48].copy_from_slice(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
    bytes
}

/// Proves which of the 64 version/mode pairs get a reply: a client request (mode 3) of
/// version 4 (RFC 5905) or 3 (RFC 1305, which NTPv4 stays compatible with); nothing for
/// versions 0-2 and 5-7, nor for any other mode.
#[test]
fn answers_client_requests_of_versions_3_and_4_only() {
    let t2 = Duration::from_secs(1_767_225_600);
    for version in 0..8u8 {
        for mode in 0..8u8 {
            let request = Packet::decode(&raw_request((version << 3) | mode)).unwrap();
            let answered = answer(&request, t2, t2).is_some();
            assert_eq!(
                answered,
                mode == 3 && (version == 3 || version == 4),
                "version {version}, mode {mode}"
            );
        }
    }
}

/// Proves the server's reply byte for byte, to a version 4 and a version 3 request: the
/// request's version back with mode 4, stratum 2, its poll, precision -20, no root delay
/// or dispersion, reference id `SIMU`, reference and transmit time the send time (T3),
/// origin the request's transmit time, receive time its arrival (T2).
#[test]
fn reply_byte_for_byte() {
    // T2 2026-01-01T00:00:00.5Z (0xed003780 s since 1900 and half a second), T3 a
    // quarter second later.
    let t2 = Duration::from_millis(1_767_225_600_500);
    let t3 = t2 + Duration::from_millis(250);
    let receive = [0xed, 0x00, 0x37, 0x80, 0x80, 0x00, 0x00, 0x00];
    let send = [0xed, 0x00, 0x37, 0x80, 0xc0, 0x00, 0x00, 0x00];
    let origin = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    for version in [3u8, 4] {
        let request = Packet::decode(&raw_request((version << 3) | 3)).unwrap();
        let reply = answer(&request, t2, t3).expect("answered").encode();
        let head = [(version << 3) | 4, 2, 6, 0xec, 0, 0, 0, 0, 0, 0, 0, 0];
        let expected = [&head[..], b"SIMU", &send, &origin, &receive, &send].concat();
        assert_eq!(reply.to_vec(), expected, "version {version}");
    }
}
