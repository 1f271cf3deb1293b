//! The pcap file in memory, written through smoltcp's `PcapSink` (link type raw IP:
//! each record is one IPv4 packet), with a bound on its size.

use smoltcp::phy::{PcapLinkType, PcapSink};
use smoltcp::time::Instant;

/// Bytes of a pcap record's header (time, captured and original length).
const RECORD_HEADER_BYTES: usize = 16;

/// A pcap file being built in memory, never longer than its bound.
#[derive(Debug)]
pub struct Sink {
    bytes: Vec<u8>,
    max_bytes: usize,
    /// Packets written.
    pub packets: u64,
    /// Packets left out because the bound was reached; once one is, every later packet
    /// is left out too, so the file is the capture's beginning, whole.
    pub left_out: u64,
}

impl PcapSink for Sink {
    fn write(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
    }
}

impl Sink {
    /// An empty capture (its global header only) of at most `max_bytes`.
    pub fn new(max_bytes: usize) -> Self {
        let mut sink = Self {
            bytes: Vec::new(),
            max_bytes,
            packets: 0,
            left_out: 0,
        };
        sink.global_header(PcapLinkType::Ip);
        sink
    }

    /// Appends `packet` stamped `at`, unless it would take the file past its bound.
    pub fn packet_at(&mut self, at: Instant, packet: &[u8]) {
        let fits = self.bytes.len() + RECORD_HEADER_BYTES + packet.len() <= self.max_bytes;
        if self.left_out > 0 || !fits {
            self.left_out += 1;
            return;
        }
        self.packet(at, packet);
        self.packets += 1;
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}
