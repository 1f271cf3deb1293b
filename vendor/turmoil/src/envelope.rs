use std::{
    fmt::Display,
    net::{IpAddr, SocketAddr},
};

use bytes::Bytes;
use tokio::sync::oneshot;

#[derive(Debug)]
pub(crate) struct Envelope {
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    pub(crate) message: Protocol,
}

/// Supported network protocols.
#[derive(Debug)]
pub enum Protocol {
    Tcp(Segment),
    Udp(Datagram),
}

/// UDP datagram.
#[derive(Clone, Debug)]
pub struct Datagram(pub Bytes);

/// This is a simplification of real TCP.
///
/// We implement just enough to ensure fidelity and provide knobs for real world
/// scenarios, but we skip a ton of complexity (e.g. checksums, flow control,
/// etc) because said complexity isn't useful in tests.
#[derive(Debug)]
pub enum Segment {
    Syn(Syn),
    /// The listener's answer to a SYN, travelling back over the network, so a connect
    /// costs a round trip as on a real network.
    SynAck(SynAck),
    Data(u64, Bytes),
    Fin(u64),
    Rst,
}

#[derive(Debug)]
pub struct Syn {
    pub(crate) ack: SynAck,
}

/// The answer to a SYN, which the connecting host awaits: sent when the listener
/// accepts, and a refusal when it is dropped (no listener, a full accept queue, a
/// partition, a crashed server). Either happens on another host, with no message, so
/// it wakes the connecting host (see [`crate::Builder::skip_idle_hosts`]).
#[derive(Debug)]
pub struct SynAck {
    tx: Option<oneshot::Sender<()>>,
    client: IpAddr,
}

impl SynAck {
    pub(crate) fn new(tx: oneshot::Sender<()>, client: IpAddr) -> Self {
        Self {
            tx: Some(tx),
            client,
        }
    }

    /// Accepts the connection; fails when the connecting side gave up.
    pub(crate) fn send(mut self) -> Result<(), ()> {
        self.tx.take().map_or(Err(()), |tx| tx.send(()))
    }

    /// True while the connecting side still waits for the answer.
    pub(crate) fn is_waited_for(&self) -> bool {
        self.tx.as_ref().is_some_and(|tx| !tx.is_closed())
    }
}

impl Drop for SynAck {
    fn drop(&mut self) {
        crate::woken_elsewhere(self.client);
    }
}

impl Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Protocol::Tcp(segment) => Display::fmt(segment, f),
            Protocol::Udp(datagram) => Display::fmt(&datagram, f),
        }
    }
}

impl Display for Datagram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        hex("UDP", &self.0, f)
    }
}

impl Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Segment::Syn(_) => write!(f, "TCP SYN"),
            Segment::SynAck(_) => write!(f, "TCP SYN-ACK"),
            Segment::Data(_, data) => hex("TCP", data, f),
            Segment::Fin(_) => write!(f, "TCP FIN"),
            Segment::Rst => write!(f, "TCP RST"),
        }
    }
}

pub(crate) fn hex(
    protocol: &str,
    bytes: &Bytes,
    f: &mut std::fmt::Formatter<'_>,
) -> std::fmt::Result {
    write!(f, "{protocol} [")?;

    for (i, &b) in bytes.iter().enumerate() {
        if i < bytes.len() - 1 {
            write!(f, "{b:#2X}, ")?;
        } else {
            write!(f, "{b:#2X}")?;
        }
    }

    write!(f, "]")
}
