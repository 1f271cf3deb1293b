//! The capture room: a run's network traffic as a pcap file Wireshark opens
//! (`harness run FILE --pcap run.pcap`), and the TLS key log that decrypts it
//! (`--tls-keylog keys.log`).
//!
//! What it shows: every TCP segment and UDP datagram turmoil's network carries, as an
//! IPv4 packet whose headers smoltcp's `wire` module builds with every checksum filled
//! ([`packet`]), written with smoltcp's `PcapSink` (link type raw IP) and stamped with
//! simulated time from the run's epoch ([`crate::clock::EPOCH_UNIX_S`], 2026-01-01).
//!
//! Where it is taken: on every host's own interface at once, each packet once. A segment
//! or datagram appears when its sender sends it (the sender's interface); the receiver's
//! acknowledgement appears when the segment is delivered to it (the receiver's interface:
//! its kernel acknowledges at once). So one file shows the whole network, like capturing
//! on each host and merging the files without duplicates.
//!
//! Dropped traffic is shown as sent and never answered: a segment or datagram sent into
//! a partition, a cut link or a powered-off host is in the capture (its sender did send
//! it), and nothing acknowledges or answers it. Traffic the harness's own socket layer
//! refuses before anything reaches the network (a process-crashed host refusing a
//! connect, a firewall `reject` rule, the dev/test boundary) sent no segment and is not in
//! the capture.
//!
//! TCP ([`tcp`]): per-connection sequence and acknowledgement numbers consistent with the
//! bytes carried, SYN/SYN-ACK/ACK at connect, FIN at close, RST where turmoil resets a
//! connection, so Wireshark follows each stream.
//!
//! TLS: with seeded TLS ([`crate::tls::seeded`]) the whole capture, TLS payload included,
//! is byte-identical for the same scenario and seed (but for the AD/LDAP connector's
//! websocket frames, when a scenario runs it: tungstenite draws their masks from the OS);
//! the key log lets Wireshark decrypt the users' HTTPS and show the HTTP inside.
//!
//! Limits ([`options`]): by host, port and time window, and a size bound
//! (`--pcap-max-bytes`): a capture that reaches it keeps its beginning, whole and valid,
//! and says on stderr how many packets it left out.
//!
//! Layout: [`options`] (the command line's options, checked against the topology),
//! [`tcp`] (numbers and flags), [`packet`] (the bytes), [`sink`] (the pcap file in
//! memory); this file turns observations into packets ([`Capture`]).

pub mod options;
pub mod packet;
pub mod sink;
pub mod tcp;

use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;

use crate::clock::EPOCH_UNIX_S;

pub use options::{CaptureArgs, CaptureError, Prepared};

/// Microseconds in a second (the pcap timestamps' resolution).
const MICROS_PER_S: u64 = 1_000_000;

/// The packets of one run so far.
#[derive(Debug)]
pub struct Capture {
    connections: tcp::Connections,
    sink: sink::Sink,
    limits: options::Limits,
    /// Messages with an address that is not IPv4 (the harness has none).
    pub skipped: u64,
}

impl Capture {
    /// An empty capture that keeps what `limits` lets through.
    pub fn new(limits: options::Limits) -> Self {
        Self {
            connections: tcp::Connections::default(),
            sink: sink::Sink::new(limits.max_bytes),
            limits,
            skipped: 0,
        }
    }

    /// Adds what the network did with one message (turmoil's capture hook).
    pub fn see(&mut self, o: &turmoil::Observation<'_>) {
        let (SocketAddr::V4(src), SocketAddr::V4(dst)) = (o.src, o.dst) else {
            self.skipped += 1;
            return;
        };
        let moment = match o.fate {
            turmoil::Fate::Delivered => tcp::Moment::Delivered,
            turmoil::Fate::Sent | turmoil::Fate::Held | turmoil::Fate::Dropped => tcp::Moment::Sent,
        };
        match o.protocol {
            turmoil::Protocol::Udp(datagram) => {
                if moment == tcp::Moment::Sent {
                    self.write(o.elapsed, src, dst, || packet::udp(src, dst, &datagram.0));
                }
            }
            turmoil::Protocol::Tcp(segment) => self.tcp(o.elapsed, src, dst, segment, moment),
        }
    }

    fn tcp(
        &mut self,
        at: Duration,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        segment: &turmoil::Segment,
        moment: tcp::Moment,
    ) {
        let (kind, payload): (tcp::Kind, &[u8]) = match segment {
            turmoil::Segment::Syn(_) => (tcp::Kind::Syn, &[]),
            turmoil::Segment::SynAck(_) => (tcp::Kind::SynAck, &[]),
            turmoil::Segment::Data(_, bytes) => (tcp::Kind::Data(bytes.len()), bytes),
            turmoil::Segment::Fin(_) => (tcp::Kind::Fin, &[]),
            turmoil::Segment::Rst => (tcp::Kind::Rst, &[]),
        };
        for s in self.connections.segments(src, dst, kind, moment) {
            let bytes = &payload[s.payload.clone()];
            self.write(at, s.src, s.dst, || packet::tcp(&s, bytes));
        }
    }

    /// Writes the packet `build` makes, if the limits keep it.
    fn write(
        &mut self,
        at: Duration,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        build: impl FnOnce() -> Vec<u8>,
    ) {
        if !self.limits.keeps(at, src, dst) {
            return;
        }
        let micros = EPOCH_UNIX_S * MICROS_PER_S
            + u64::try_from(at.as_micros()).expect("a run lasts far less than 2^64 us");
        let stamp = smoltcp::time::Instant::from_micros(
            i64::try_from(micros).expect("the epoch is far from 2^63 us"),
        );
        self.sink.packet_at(stamp, &build());
    }

    /// The pcap file's bytes, packets written, packets left out by the size bound.
    pub fn finish(&self) -> (&[u8], u64, u64) {
        (self.sink.bytes(), self.sink.packets, self.sink.left_out)
    }
}
