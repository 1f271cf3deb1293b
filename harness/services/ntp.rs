//! NTP: time service, the server and what a node's client does with its answers.
//!
//! Real component: public NTP (`pool.ntp.org`), which the appliance's nodes poll to keep
//! the clocks that stamp and check tokens in line (the deployment guide).
//!
//! Modelled: the real 48-byte NTPv4 packet (RFC 5905 section 7.3), big-endian, with
//! 64-bit timestamps (seconds since 1900 and a 32-bit fraction). The server answers a
//! client-mode request of version 4 or 3 ([`VERSIONS_ANSWERED`]) with a server-mode reply
//! of the same version, stratum 2, from its own wall clock: the request's transmit time as
//! origin, receive and transmit times from its clock. It drops everything else: other
//! versions, other modes, anything shorter than 48 bytes. The client computes offset
//! `((T2 - T1) + (T3 - T4)) / 2` and round-trip delay `(T4 - T1) - (T3 - T2)`, and
//! [`correction`] decides what a node does with an offset: step the clock when it is off
//! by more than [`STEP_THRESHOLD`] (128 ms, ntpd's), slew it otherwise, at most
//! [`MAX_SLEW_PPM`] of the poll interval.
//!
//! Bounds: a failed receive is retried after a back-off ([`crate::net::error_backoff`]: 10 ms
//! doubling to 1 s while failures come in a row), and a reply that cannot be
//! sent is lost: no client can stop the server (one that sent from source port 0 did,
//! before).
//!
//! Left out on purpose: authentication, the kiss-o'-death codes, server selection among
//! several peers, leap seconds, NTP's filtering of samples.
//!
//! Port: UDP 123. The server runs on `pool.ntp.org`; the nodes' clients
//! ([`super::node`]'s time discipline) reach it through the egress.
//!
//! Faults it reacts to: a crash of `pool.ntp.org` or the egress, firewall rules and an
//! egress block (the poll gets no answer: `NtpFailed`, the clock keeps drifting); link
//! loss on the way drops the UDP datagrams (no retransmission), latency makes the measured
//! delay longer and the offset as exact as the path is symmetric; a `dns` fault that
//! reaches `ntp.server`'s name (SERVFAIL and silence do; NXDOMAIN and a wrong address
//! are for the appliance's own names) fails the poll before it is sent, once the node's
//! cached answer expired. A node's clock faults (offset, jump, drift, strobe) are what
//! it corrects.

use std::net::SocketAddr;
use std::time::Duration;

use crate::env::Env;
use crate::events::EventKind;
use crate::net::{Datagrams, Net};

/// The NTP port.
pub const PORT: u16 = 123;
/// Bytes in an NTP packet without extension fields.
pub const PACKET_BYTES: usize = 48;
/// Seconds from 1900-01-01 (NTP's era 0) to 1970-01-01.
pub const UNIX_OFFSET_S: u64 = 2_208_988_800;
/// Offsets larger than this are stepped, smaller ones slewed (ntpd's default).
pub const STEP_THRESHOLD: Duration = Duration::from_millis(128);
/// The fastest slew: 500 parts per million, ntpd's limit.
pub const MAX_SLEW_PPM: u64 = 500;
/// The versions whose client requests the server answers: 4 (RFC 5905) and 3 (RFC 1305),
/// which RFC 5905 keeps NTPv4 compatible with. Versions 1 and 2 (RFC 1059, RFC 1119) are
/// dropped: RFC 5905 obsoletes RFC 1305 and RFC 4330 and defines compatibility with
/// version 3 alone, and the rule of RFC 4330 section 5 that a server answers versions 1
/// to 4 went with RFC 4330 (ntpd still answers them: its NTP_OLDVERSION is 1). 0 and 5-7
/// are no NTP version a server replies to.
pub const VERSIONS_ANSWERED: [u8; 2] = [3, 4];

/// Association modes the harness uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Client = 3,
    Server = 4,
}

/// A decoded NTP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub leap: u8,
    pub version: u8,
    pub mode: u8,
    pub stratum: u8,
    pub poll: i8,
    pub precision: i8,
    pub root_delay: u32,
    pub root_dispersion: u32,
    pub reference_id: [u8; 4],
    /// 64-bit NTP timestamps.
    pub reference: u64,
    pub origin: u64,
    pub receive: u64,
    pub transmit: u64,
}

impl Packet {
    /// A client request sent at wall time `now` (time since the Unix epoch).
    pub fn request(now: Duration) -> Self {
        Packet {
            leap: 0,
            version: 4,
            mode: Mode::Client as u8,
            stratum: 0,
            poll: 6,
            precision: -20,
            root_delay: 0,
            root_dispersion: 0,
            reference_id: [0; 4],
            reference: 0,
            origin: 0,
            receive: 0,
            transmit: to_ntp(now),
        }
    }

    pub fn encode(&self) -> [u8; PACKET_BYTES] {
        let mut b = [0u8; PACKET_BYTES];
        b[0] = (self.leap << 6) | ((self.version & 7) << 3) | (self.mode & 7);
        b[1] = self.stratum;
        b[2] = self.poll.to_be_bytes()[0];
        b[3] = self.precision.to_be_bytes()[0];
        b[4..8].copy_from_slice(&self.root_delay.to_be_bytes());
        b[8..12].copy_from_slice(&self.root_dispersion.to_be_bytes());
        b[12..16].copy_from_slice(&self.reference_id);
        for (at, ts) in [
            (16, self.reference),
            (24, self.origin),
            (32, self.receive),
            (40, self.transmit),
        ] {
            b[at..at + 8].copy_from_slice(&ts.to_be_bytes());
        }
        b
    }

    /// Decodes a packet; extension fields past the 48 bytes are ignored.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < PACKET_BYTES {
            return Err(format!(
                "{} bytes; an NTP packet has at least {PACKET_BYTES}",
                bytes.len()
            ));
        }
        let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let stamp = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        Ok(Packet {
            leap: bytes[0] >> 6,
            version: (bytes[0] >> 3) & 7,
            mode: bytes[0] & 7,
            stratum: bytes[1],
            poll: i8::from_be_bytes([bytes[2]]),
            precision: i8::from_be_bytes([bytes[3]]),
            root_delay: word(4),
            root_dispersion: word(8),
            reference_id: bytes[12..16].try_into().expect("4 bytes"),
            reference: stamp(16),
            origin: stamp(24),
            receive: stamp(32),
            transmit: stamp(40),
        })
    }
}

/// A Unix-epoch duration as an NTP timestamp (era 0).
pub fn to_ntp(since_unix: Duration) -> u64 {
    let seconds = since_unix.as_secs() + UNIX_OFFSET_S;
    let fraction = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
    (seconds << 32) | fraction
}

/// An NTP timestamp (era 0) as a Unix-epoch duration.
pub fn from_ntp(stamp: u64) -> Duration {
    let seconds = (stamp >> 32).saturating_sub(UNIX_OFFSET_S);
    let nanos = ((stamp & 0xFFFF_FFFF) * 1_000_000_000) >> 32;
    Duration::from_secs(seconds) + Duration::from_nanos(nanos)
}

/// The server's reply to `request`, received at `received` and sent at `now` (its wall
/// clock), of the request's version. `None` (the request is dropped) for anything but a
/// client-mode (3) request of a version in [`VERSIONS_ANSWERED`].
pub fn answer(request: &Packet, received: Duration, now: Duration) -> Option<Packet> {
    let answered =
        request.mode == Mode::Client as u8 && VERSIONS_ANSWERED.contains(&request.version);
    answered.then(|| Packet {
        leap: 0,
        version: request.version,
        mode: Mode::Server as u8,
        stratum: 2,
        poll: request.poll,
        precision: -20,
        root_delay: 0,
        root_dispersion: 0,
        reference_id: *b"SIMU",
        reference: to_ntp(now),
        origin: request.transmit,
        receive: to_ntp(received),
        transmit: to_ntp(now),
    })
}

/// A signed amount of time, in nanoseconds.
pub type Nanos = i128;

/// Offset (how far the client's clock is behind the server's) and round-trip delay, from
/// a reply that arrived at the client's wall time `arrived`.
pub fn measure(reply: &Packet, arrived: Duration) -> (Nanos, Nanos) {
    let ns = |stamp: u64| from_ntp(stamp).as_nanos() as Nanos;
    let (t1, t2, t3, t4) = (
        ns(reply.origin),
        ns(reply.receive),
        ns(reply.transmit),
        arrived.as_nanos() as Nanos,
    );
    (((t2 - t1) + (t3 - t4)) / 2, (t4 - t1) - (t3 - t2))
}

/// What a node does with a measured offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Correction {
    /// Set the clock by this much at once.
    Step(Nanos),
    /// Move the clock by this much, gradually over the poll interval.
    Slew(Nanos),
}

/// Step above [`STEP_THRESHOLD`]; otherwise slew, at most [`MAX_SLEW_PPM`] of `poll`.
pub fn correction(offset: Nanos, poll: Duration) -> Correction {
    if offset.unsigned_abs() > STEP_THRESHOLD.as_nanos() {
        return Correction::Step(offset);
    }
    let limit = (poll.as_nanos() * u128::from(MAX_SLEW_PPM) / 1_000_000) as Nanos;
    Correction::Slew(offset.clamp(-limit, limit))
}

/// Serves time from this host's wall clock for ever; an error only when the port cannot
/// be bound.
pub async fn run<N: Net>(env: Env<N>) -> std::io::Result<()> {
    let socket = env.net.bind_udp(PORT).await?;
    env.record(EventKind::ServiceStarted {
        service: "ntp".to_string(),
        port: PORT,
    });
    let mut buf = [0u8; 512];
    let mut errors_in_a_row = 0;
    loop {
        let (len, from) = match socket.recv_from(&mut buf).await {
            Ok(received) => {
                errors_in_a_row = 0;
                received
            }
            Err(_) => {
                errors_in_a_row += 1;
                crate::timers::sleep(crate::net::error_backoff(errors_in_a_row)).await;
                continue;
            }
        };
        let received = env.clock.wall();
        if let Ok(request) = Packet::decode(&buf[..len])
            && let Some(reply) = answer(&request, received, env.clock.wall())
        {
            env.record(EventKind::SiteServed {
                from: from.ip(),
                what: "NTP time request".to_string(),
                status: None,
            });
            // A reply that cannot be sent (to source port 0, say) is lost, as the network
            // could have lost it; there is no event kind for it.
            if let Err(lost) = socket.send_to(&reply.encode(), from).await {
                drop(lost);
            }
        }
    }
}

/// Asks `server` for the time; returns (offset, delay), waiting at most `timeout`.
pub async fn query<N: Net>(
    env: &Env<N>,
    server: SocketAddr,
    timeout: Duration,
) -> Result<(Nanos, Nanos), String> {
    let socket = env
        .net
        .bind_udp(0)
        .await
        .map_err(|e| format!("cannot bind: {e}"))?;
    let request = Packet::request(env.clock.wall());
    socket
        .send_to(&request.encode(), server)
        .await
        .map_err(|e| format!("cannot send: {e}"))?;
    let wait = async {
        let mut buf = [0u8; 512];
        loop {
            let (len, from) = socket
                .recv_from(&mut buf)
                .await
                .map_err(|e| e.to_string())?;
            let arrived = env.clock.wall();
            match Packet::decode(&buf[..len]) {
                // Only the server's answer to this request counts.
                Ok(reply) if from == server && reply.origin == request.transmit => {
                    return Ok(measure(&reply, arrived));
                }
                _ => continue,
            }
        }
    };
    crate::timers::timeout(timeout, wait)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no answer within {}",
                crate::duration::span(timeout)
            ))
        })
}

#[cfg(test)]
mod tests;
