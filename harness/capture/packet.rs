//! IPv4 packets from a captured segment or datagram, built with smoltcp's `wire` module:
//! smoltcp's `Ipv4Repr`, `TcpRepr` and `UdpRepr` emit the headers and fill every
//! checksum, so Wireshark finds each packet well formed.

use std::net::SocketAddrV4;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
    UdpPacket, UdpRepr,
};

use super::tcp::{Flags, MSS_BYTES, Segment, WINDOW, WINDOW_SCALE};

/// The TTL every packet carries (Linux's default): the capture is taken at the sender's
/// or receiver's own interface, so no router has decreased it.
const HOP_LIMIT: u8 = 64;

/// Bytes of an IPv4 header without options.
const IPV4_HEADER_BYTES: usize = 20;

/// An IPv4 packet of `payload_len` bytes of `protocol`, its payload written by `emit`.
fn ipv4(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    protocol: IpProtocol,
    payload_len: usize,
    emit: impl FnOnce(&mut [u8]),
) -> Vec<u8> {
    let repr = Ipv4Repr {
        src_addr: *src.ip(),
        dst_addr: *dst.ip(),
        next_header: protocol,
        payload_len,
        hop_limit: HOP_LIMIT,
    };
    let mut bytes = vec![0u8; IPV4_HEADER_BYTES + payload_len];
    let mut packet = Ipv4Packet::new_unchecked(&mut bytes[..]);
    repr.emit(&mut packet, &ChecksumCapabilities::default());
    emit(packet.payload_mut());
    bytes
}

/// The IPv4 packet of a TCP `segment` whose payload is `payload`.
pub fn tcp(segment: &Segment, payload: &[u8]) -> Vec<u8> {
    let syn = matches!(segment.flags, Flags::Syn | Flags::SynAck);
    let control = match segment.flags {
        Flags::Syn | Flags::SynAck => TcpControl::Syn,
        Flags::Ack => TcpControl::None,
        Flags::Data => TcpControl::Psh,
        Flags::Fin => TcpControl::Fin,
        Flags::Rst => TcpControl::Rst,
    };
    let seq = |n: u32| TcpSeqNumber(i32::from_ne_bytes(n.to_ne_bytes()));
    let repr = TcpRepr {
        src_port: segment.src.port(),
        dst_port: segment.dst.port(),
        control,
        seq_number: seq(segment.seq),
        ack_number: segment.ack.map(seq),
        window_len: WINDOW,
        window_scale: syn.then_some(WINDOW_SCALE),
        max_seg_size: syn.then_some(MSS_BYTES),
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload,
    };
    let (src, dst) = (
        IpAddress::Ipv4(*segment.src.ip()),
        IpAddress::Ipv4(*segment.dst.ip()),
    );
    ipv4(
        segment.src,
        segment.dst,
        IpProtocol::Tcp,
        repr.buffer_len(),
        |buf| {
            let mut packet = TcpPacket::new_unchecked(buf);
            repr.emit(&mut packet, &src, &dst, &ChecksumCapabilities::default());
        },
    )
}

/// The IPv4 packet of a UDP datagram.
pub fn udp(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
    let repr = UdpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
    };
    let (from, to) = (IpAddress::Ipv4(*src.ip()), IpAddress::Ipv4(*dst.ip()));
    let len = repr.header_len() + payload.len();
    ipv4(src, dst, IpProtocol::Udp, len, |buf| {
        let mut packet = UdpPacket::new_unchecked(buf);
        repr.emit(
            &mut packet,
            &from,
            &to,
            payload.len(),
            |out| out.copy_from_slice(payload),
            &ChecksumCapabilities::default(),
        );
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves the packets parse back with smoltcp's checked views and their checksums
    /// verify: a SYN with its options, and a datagram.
    #[test]
    fn packets_parse_back_with_valid_checksums() {
        let (a, b) = (
            "10.0.0.1:40000".parse().unwrap(),
            "10.0.0.2:53".parse().unwrap(),
        );
        let caps = ChecksumCapabilities::default();
        let syn = Segment {
            src: a,
            dst: b,
            flags: Flags::Syn,
            seq: 0xFFFF_FFF0,
            ack: None,
            payload: 0..0,
        };
        let bytes = tcp(&syn, &[]);
        let ip = Ipv4Repr::parse(&Ipv4Packet::new_checked(&bytes[..]).unwrap(), &caps).unwrap();
        assert_eq!(ip.next_header, IpProtocol::Tcp);
        let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        let segment = TcpPacket::new_checked(packet.payload()).unwrap();
        let (from, to) = (IpAddress::Ipv4(*a.ip()), IpAddress::Ipv4(*b.ip()));
        let parsed = TcpRepr::parse(&segment, &from, &to, &caps).unwrap();
        assert_eq!(parsed.control, TcpControl::Syn);
        assert_eq!(parsed.window_scale, Some(WINDOW_SCALE));
        let dgram = udp(a, b, b"query");
        let packet = Ipv4Packet::new_checked(&dgram[..]).unwrap();
        let udp = UdpPacket::new_checked(packet.payload()).unwrap();
        assert!(udp.verify_checksum(&from, &to));
        assert_eq!(udp.payload(), b"query");
    }
}
