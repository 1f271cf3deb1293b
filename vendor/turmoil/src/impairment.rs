//! Impairments of one link, set and cleared while a simulation runs: jitter, loss and a
//! bandwidth limit (the vocabulary of Toxiproxy's toxics and of netem), on top of the
//! link's latency. A link without impairments draws nothing from the simulation's RNG,
//! so setting none changes nothing a simulation does.
//!
//! What each does to a message, in the order they apply:
//!
//! 1. **Bandwidth**: each direction of the link sends one message at a time at
//!    `bytes_per_s`; a message waits for the ones before it, then takes its size over
//!    the rate (its payload plus [`TCP_HEADER_BYTES`] per segment, or
//!    [`UDP_HEADER_BYTES`]). The queue has no bound: nothing is dropped for the limit,
//!    as behind Toxiproxy's `bandwidth` toxic.
//! 2. **Latency and jitter**: the link's latency plus a draw uniform in
//!    `[-jitter, +jitter]` (Toxiproxy's `latency` toxic), never below zero. Messages
//!    may overtake each other; a TCP stream's reorder buffer puts its bytes back in
//!    order.
//! 3. **Loss**: each segment is lost with `probability`. A UDP datagram is gone. TCP
//!    never loses bytes silently (a stream's bytes are delivered in order or the
//!    connection fails): a lost segment is retransmitted after a retransmission timeout
//!    (RTO) that starts at `rto_min` (Linux's `TCP_RTO_MIN`, 200 ms, is the usual
//!    choice; [`SYN_RTO`] for a SYN or SYN-ACK, Linux's `TCP_TIMEOUT_INIT`) and doubles
//!    with each further loss in a row, up to [`RTO_MAX`], at most
//!    [`RETRANSMISSIONS_MAX`] times; the segment then arrives that much later. A write
//!    turmoil sends as one message counts as one segment per [`MSS_BYTES`], each lost
//!    on its own: the message arrives when its last segment does. Segments behind a
//!    retransmitted one wait in the receiver's reorder buffer (head-of-line blocking).
//!    turmoil has no ACKs, so the sender's congestion window does not shrink, and a FIN
//!    or RST is retransmitted like data: only the delay of a retransmission is
//!    modelled.

use crate::envelope::{Protocol, Segment};

use rand::{Rng, RngCore};
use std::net::IpAddr;
use std::time::Duration;
use tokio::time::Instant;

/// The longest retransmission timeout (Linux's `TCP_RTO_MAX`).
pub const RTO_MAX: Duration = Duration::from_secs(120);
/// The first retransmission timeout of a SYN or SYN-ACK (Linux's `TCP_TIMEOUT_INIT`).
pub const SYN_RTO: Duration = Duration::from_secs(1);
/// Most retransmissions one segment waits for (Linux's `tcp_retries2` default, 15): the
/// segment then arrives (the chance of that many losses in a row is negligible for any
/// loss worth simulating).
pub const RETRANSMISSIONS_MAX: u32 = 15;
/// The most payload one TCP segment carries (Ethernet's MTU less the IP and TCP headers).
pub const MSS_BYTES: usize = 1460;
/// The IPv4 and TCP headers each segment adds on the wire.
pub const TCP_HEADER_BYTES: usize = 40;
/// The IPv4 and UDP headers a datagram adds on the wire.
pub const UDP_HEADER_BYTES: usize = 28;

/// A link's impairments (see the module's documentation); none by default.
#[derive(Debug, Default)]
pub(crate) struct Impairment {
    jitter: Duration,
    loss: Option<Loss>,
    bandwidth: Option<Bandwidth>,
}

#[derive(Clone, Copy, Debug)]
struct Loss {
    probability: f64,
    rto_min: Duration,
}

#[derive(Clone, Copy, Debug)]
struct Bandwidth {
    bytes_per_s: u64,
    /// When each direction's last message has left (index 0: from the smaller address).
    busy_until: [Option<Instant>; 2],
}

impl Impairment {
    pub(crate) fn set_jitter(&mut self, jitter: Duration) {
        self.jitter = jitter;
    }

    /// A probability of 0 removes the loss.
    pub(crate) fn set_loss(&mut self, probability: f64, rto_min: Duration) {
        assert!(
            (0.0..=1.0).contains(&probability),
            "a loss probability is between 0 and 1"
        );
        self.loss = (probability > 0.0).then_some(Loss {
            probability,
            rto_min,
        });
    }

    /// `None` removes the limit; the messages already queued keep their times.
    pub(crate) fn set_bandwidth(&mut self, bytes_per_s: Option<u64>) {
        assert!(bytes_per_s != Some(0), "a bandwidth is above 0 bytes/s");
        self.bandwidth = bytes_per_s.map(|bytes_per_s| Bandwidth {
            bytes_per_s,
            busy_until: [None; 2],
        });
    }

    /// How long `message`, sent now from `src` to `dst` over a link of `latency`, takes
    /// to arrive; `None` when it is a lost datagram.
    pub(crate) fn delay(
        &mut self,
        rand: &mut dyn RngCore,
        now: Instant,
        (src, dst): (IpAddr, IpAddr),
        latency: Duration,
        message: &Protocol,
    ) -> Option<Duration> {
        let queued = match &mut self.bandwidth {
            Some(bandwidth) => bandwidth.queue(now, usize::from(src > dst), wire_bytes(message)),
            None => Duration::ZERO,
        };
        let propagation = jittered(rand, latency, self.jitter);
        let retransmitted = match self.loss {
            Some(loss) => loss.retransmission_delay(rand, message)?,
            None => Duration::ZERO,
        };
        Some(queued + propagation + retransmitted)
    }
}

/// `latency` moved by a draw uniform in `[-jitter, +jitter]`, never below zero.
fn jittered(rand: &mut dyn RngCore, latency: Duration, jitter: Duration) -> Duration {
    if jitter.is_zero() {
        return latency;
    }
    let jitter_ns = jitter.as_nanos() as i128;
    let moved = latency.as_nanos() as i128 + rand.random_range(-jitter_ns..=jitter_ns);
    Duration::from_nanos(moved.max(0) as u64)
}

/// The segments a message is carried in, and its bytes on the wire.
fn segments(message: &Protocol) -> usize {
    match message {
        Protocol::Tcp(Segment::Data(_, bytes)) => bytes.len().div_ceil(MSS_BYTES).max(1),
        _ => 1,
    }
}

fn wire_bytes(message: &Protocol) -> usize {
    match message {
        Protocol::Tcp(Segment::Data(_, bytes)) => {
            bytes.len() + segments(message) * TCP_HEADER_BYTES
        }
        Protocol::Tcp(_) => TCP_HEADER_BYTES,
        Protocol::Udp(datagram) => datagram.0.len() + UDP_HEADER_BYTES,
    }
}

impl Bandwidth {
    /// How long a message of `bytes` waits and takes to leave in `direction`.
    fn queue(&mut self, now: Instant, direction: usize, bytes: usize) -> Duration {
        let start = self.busy_until[direction].map_or(now, |busy| busy.max(now));
        let sending_ns = bytes as u128 * 1_000_000_000 / u128::from(self.bytes_per_s);
        let left = start + Duration::from_nanos(sending_ns as u64);
        self.busy_until[direction] = Some(left);
        left - now
    }
}

impl Loss {
    fn lost(&self, rand: &mut dyn RngCore) -> bool {
        rand.random::<f64>() < self.probability
    }

    /// The extra time `message` takes for its losses, or `None` when it is a lost
    /// datagram.
    fn retransmission_delay(&self, rand: &mut dyn RngCore, message: &Protocol) -> Option<Duration> {
        let first_rto = match message {
            Protocol::Udp(_) => return (!self.lost(rand)).then_some(Duration::ZERO),
            Protocol::Tcp(Segment::Syn(_) | Segment::SynAck(_)) => SYN_RTO.max(self.rto_min),
            Protocol::Tcp(_) => self.rto_min,
        };
        let slowest = (0..segments(message))
            .map(|_| self.one_segment(rand, first_rto))
            .max();
        Some(slowest.unwrap_or_default())
    }

    /// The retransmission timeouts one segment waits out, one per loss in a row.
    fn one_segment(&self, rand: &mut dyn RngCore, first_rto: Duration) -> Duration {
        let mut rto = first_rto;
        let mut delay = Duration::ZERO;
        for _ in 0..RETRANSMISSIONS_MAX {
            if !self.lost(rand) {
                break;
            }
            delay += rto;
            rto = (rto * 2).min(RTO_MAX);
        }
        delay
    }
}
