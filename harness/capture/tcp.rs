//! TCP as Wireshark follows it, from turmoil's simplified segments.
//!
//! turmoil carries a connection as SYN, SYN-ACK, data, FIN and RST messages with no
//! sequence numbers on the wire and no acknowledgements. This module gives every
//! connection (by its two socket addresses) the numbers a real stack would have put in
//! its headers: each side's initial sequence number is fixed by the connection's
//! addresses (so a capture is deterministic), each side's sequence number advances by the
//! bytes it sends (and one for SYN and FIN), and each side acknowledges exactly what has
//! been *delivered* to it. A receiver's kernel acknowledges at once: a pure ACK from the
//! receiver when a SYN-ACK (the handshake's third segment), data or a FIN is delivered.
//! A segment the network dropped or held is never delivered, so nothing acknowledges it:
//! the capture shows it sent and unanswered.
//!
//! Plain code, no I/O: [`Connections::segments`] turns one observation into the segments
//! to write.

use std::collections::HashMap;
use std::net::SocketAddrV4;

/// The window each side advertises (with [`WINDOW_SCALE`]: 64 KiB x 128 = 8 MiB, more
/// than any message of the harness, so no capture shows a full window).
pub const WINDOW: u16 = 65_535;

/// The window scale each side offers in its SYN (RFC 7323).
pub const WINDOW_SCALE: u8 = 7;

/// The maximum segment size each side offers in its SYN: Ethernet's 1500-byte MTU less
/// 40 bytes of IPv4 and TCP headers.
pub const MSS_BYTES: u16 = 1460;

/// The most payload one captured segment carries: a larger turmoil write is split, as a
/// sender's segmentation offload would show it (an IPv4 packet holds at most 65,535 bytes
/// with its headers).
pub const SEGMENT_PAYLOAD_MAX_BYTES: usize = 65_000;

/// The TCP flags of a captured segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flags {
    Syn,
    SynAck,
    /// A pure acknowledgement.
    Ack,
    /// Data (PSH, ACK).
    Data,
    /// FIN, ACK.
    Fin,
    /// RST, ACK.
    Rst,
}

/// One segment to write: headers' values and the payload's range in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub flags: Flags,
    pub seq: u32,
    /// `None` on the opening SYN only.
    pub ack: Option<u32>,
    /// The payload: `payload.start..payload.end` of the message's bytes.
    pub payload: std::ops::Range<usize>,
}

/// What turmoil's message was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Syn,
    SynAck,
    /// Data of this many bytes.
    Data(usize),
    Fin,
    Rst,
}

/// Whether the observation is a send or a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    Sent,
    Delivered,
}

/// One side of a connection.
#[derive(Debug, Clone, Copy, Default)]
struct Side {
    /// Its initial sequence number.
    isn: u32,
    /// The sequence number of its next byte.
    next: u32,
    /// What it acknowledges: the peer's sequence space delivered to it so far.
    acked: u32,
}

/// A connection: the side that sent the SYN first.
#[derive(Debug, Clone, Copy)]
struct Connection {
    client: Side,
    server: Side,
    client_addr: SocketAddrV4,
}

/// Every connection seen, by its (client, server) addresses.
#[derive(Debug, Default)]
pub struct Connections {
    open: HashMap<(SocketAddrV4, SocketAddrV4), Connection>,
}

/// An initial sequence number fixed by the connection's addresses and the side
/// (FNV-1a over them): the same in every run, different per connection.
fn isn(client: SocketAddrV4, server: SocketAddrV4, side: u8) -> u32 {
    let mut hash: u32 = 0x811C_9DC5;
    let bytes = [
        &client.ip().octets()[..],
        &client.port().to_be_bytes(),
        &server.ip().octets(),
        &server.port().to_be_bytes(),
        &[side],
    ];
    for b in bytes.iter().flat_map(|part| part.iter()) {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

impl Connection {
    fn new(client: SocketAddrV4, server: SocketAddrV4) -> Self {
        let side = |which| {
            let isn = isn(client, server, which);
            Side {
                isn,
                next: isn.wrapping_add(1),
                acked: 0,
            }
        };
        Self {
            client: side(0),
            server: side(1),
            client_addr: client,
        }
    }

    /// The side at `addr` and its peer.
    fn sides(&mut self, addr: SocketAddrV4) -> (&mut Side, &mut Side) {
        if addr == self.client_addr {
            (&mut self.client, &mut self.server)
        } else {
            (&mut self.server, &mut self.client)
        }
    }
}

impl Connections {
    /// The segments to write for `kind` from `src` to `dst`, sent or delivered.
    pub fn segments(
        &mut self,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        kind: Kind,
        moment: Moment,
    ) -> Vec<Segment> {
        if kind == Kind::Syn && moment == Moment::Sent {
            // A new connection (a reused pair of ports starts afresh).
            self.open.insert((src, dst), Connection::new(src, dst));
        }
        let key = if self.open.contains_key(&(src, dst)) {
            (src, dst)
        } else {
            (dst, src)
        };
        let connection = self
            .open
            .entry(key)
            .or_insert_with(|| Connection::new(key.0, key.1));
        match moment {
            Moment::Sent => sent(connection, src, dst, kind),
            Moment::Delivered => delivered(connection, src, dst, kind),
        }
    }
}

/// What the sender's interface shows when `src` sends `kind`.
fn sent(
    connection: &mut Connection,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    kind: Kind,
) -> Vec<Segment> {
    let (me, peer) = connection.sides(src);
    let peer_isn = peer.isn;
    let one = |flags, seq, ack| Segment {
        src,
        dst,
        flags,
        seq,
        ack,
        payload: 0..0,
    };
    match kind {
        Kind::Syn => vec![one(Flags::Syn, me.isn, None)],
        Kind::SynAck => {
            // The SYN was delivered (the listener answers it): it is acknowledged.
            me.acked = peer_isn.wrapping_add(1);
            vec![one(Flags::SynAck, me.isn, Some(me.acked))]
        }
        Kind::Data(len) => {
            let mut out = Vec::new();
            let mut start = 0;
            while start < len {
                let end = (start + SEGMENT_PAYLOAD_MAX_BYTES).min(len);
                let mut segment = one(Flags::Data, me.next, Some(me.acked));
                segment.payload = start..end;
                me.next = me
                    .next
                    .wrapping_add(u32::try_from(end - start).expect("a segment is small"));
                out.push(segment);
                start = end;
            }
            out
        }
        Kind::Fin => {
            let segment = one(Flags::Fin, me.next, Some(me.acked));
            me.next = me.next.wrapping_add(1);
            vec![segment]
        }
        Kind::Rst => vec![one(Flags::Rst, me.next, Some(me.acked))],
    }
}

/// What the receiver's interface shows when `kind` from `src` is delivered to `dst`: its
/// kernel's acknowledgement, or nothing.
fn delivered(
    connection: &mut Connection,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    kind: Kind,
) -> Vec<Segment> {
    let (me, peer) = connection.sides(dst);
    let advance = match kind {
        Kind::SynAck => {
            me.acked = peer.isn.wrapping_add(1);
            0
        }
        Kind::Data(len) => u32::try_from(len).expect("a message is under 4 GiB"),
        Kind::Fin => 1,
        Kind::Syn | Kind::Rst => return Vec::new(),
    };
    me.acked = me.acked.wrapping_add(advance);
    vec![Segment {
        src: dst,
        dst: src,
        flags: Flags::Ack,
        seq: me.next,
        ack: Some(me.acked),
        payload: 0..0,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(last: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(std::net::Ipv4Addr::new(10, 0, 0, last), port)
    }

    /// Proves a connection's numbers follow the bytes carried: the handshake (SYN,
    /// SYN-ACK, the client's ACK on delivery), a request and its answer acknowledged by
    /// byte count on delivery, a FIN taking one number, and a send never delivered
    /// never acknowledged.
    #[test]
    fn numbers_follow_the_bytes_delivered() {
        let (c, s) = (addr(1, 40000), addr(2, 443));
        let mut conns = Connections::default();
        let syn = conns.segments(c, s, Kind::Syn, Moment::Sent);
        let ci = syn[0].seq;
        assert_eq!((syn[0].flags, syn[0].ack), (Flags::Syn, None));
        assert!(
            conns
                .segments(c, s, Kind::Syn, Moment::Delivered)
                .is_empty()
        );
        let synack = conns.segments(s, c, Kind::SynAck, Moment::Sent);
        let si = synack[0].seq;
        assert_eq!(synack[0].ack, Some(ci.wrapping_add(1)));
        let ack = conns.segments(s, c, Kind::SynAck, Moment::Delivered);
        assert_eq!((ack[0].src, ack[0].flags), (c, Flags::Ack));
        assert_eq!(
            (ack[0].seq, ack[0].ack),
            (ci.wrapping_add(1), Some(si.wrapping_add(1)))
        );
        let req = conns.segments(c, s, Kind::Data(10), Moment::Sent);
        assert_eq!(
            (req[0].seq, req[0].payload.clone()),
            (ci.wrapping_add(1), 0..10)
        );
        let acked = conns.segments(c, s, Kind::Data(10), Moment::Delivered);
        assert_eq!((acked[0].src, acked[0].ack), (s, Some(ci.wrapping_add(11))));
        let big = conns.segments(
            s,
            c,
            Kind::Data(SEGMENT_PAYLOAD_MAX_BYTES + 5),
            Moment::Sent,
        );
        assert_eq!(big.len(), 2);
        assert_eq!(big[1].seq, si.wrapping_add(1).wrapping_add(65_000));
        let fin = conns.segments(c, s, Kind::Fin, Moment::Sent);
        assert_eq!(fin[0].seq, ci.wrapping_add(11));
        // The answer was never delivered: the FIN acknowledges only the handshake.
        assert_eq!(fin[0].ack, Some(si.wrapping_add(1)));
        let fin_ack = conns.segments(c, s, Kind::Fin, Moment::Delivered);
        assert_eq!(fin_ack[0].ack, Some(ci.wrapping_add(12)));
    }
}
