//! The network interface every service is written against.
//!
//! Services never name turmoil's or tokio's socket types. They ask a [`Net`] for listeners,
//! streams and datagram sockets, so the same service code runs inside the simulation
//! ([`crate::world::net::SimNet`], turmoil with the harness's fault layer in between) and,
//! on real tokio sockets against real clients ([`real`], which `harness serve` uses).
//!
//! The interface is deliberately small: what an HTTP server, an HTTP client, a DNS server
//! and a DNS client need. Errors are plain `io::Error`s with the kinds real sockets use
//! (`ConnectionRefused`, `ConnectionReset`, ...), because that is what the services must
//! handle in the real world too. Timeouts are the caller's business: a connection to a
//! silent host may never complete, exactly as on a real network.
//!
//! Accepting is the one exception, because a failed accept must never end a service: a
//! client that opens connections until the process runs out of file descriptors would
//! otherwise stop it for good. Every accept loop takes its connections from
//! [`accept_next`], which never fails (it logs, backs off and tries again), usually
//! through [`Connections`], which also bounds how many connections a listener keeps open
//! at once ([`MAX_CONNECTIONS_PER_LISTENER`]). In the simulation accepts do not fail and
//! the bound is never reached, so neither changes a run.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The pause after the first of a run of failed accepts; each further failure in a row
/// doubles it, up to [`ACCEPT_BACKOFF_MAX`].
pub const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);

/// The longest pause between two failed accepts in a row: the longest a service that ran
/// out of file descriptors takes to notice that some were freed.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The most connections one listening port keeps open at once. Beyond it new connections
/// wait in the kernel's accept queue (the listen backlog) until an open one ends, as with
/// HAProxy's `maxconn`, rather than being accepted and closed: a burst waits a little
/// instead of failing, and every open connection is itself bounded (a request head, a
/// body, an idle kept-alive connection: [`crate::services::http`]), so the wait is too.
/// Twice nginx's default `worker_connections` (512); far above what a simulated run
/// holds open (the overload scenario's 400 requests/s keeps a few hundred at the
/// balancer), so it never changes a run.
pub const MAX_CONNECTIONS_PER_LISTENER: usize = 1024;

/// A host's view of the network.
pub trait Net: Clone + Send + Sync + 'static {
    /// A connected, bidirectional byte stream.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// A bound TCP listener.
    type Listener: Listener<Stream = Self::Stream>;
    /// A bound UDP socket.
    type Socket: Datagrams;

    /// This host's address, as peers see it.
    fn local_ip(&self) -> IpAddr;

    /// Listens for TCP connections on `port` of every local address.
    fn listen(&self, port: u16) -> impl Future<Output = io::Result<Self::Listener>> + Send;

    /// Opens a TCP connection. May never complete when the peer is silent: bound it.
    fn connect(&self, to: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// Binds a UDP socket on `port` (0 picks an ephemeral port).
    fn bind_udp(&self, port: u16) -> impl Future<Output = io::Result<Self::Socket>> + Send;
}

/// Opens a TCP connection to `to` within `timeout`; `Err` says why not, in the words
/// the timeline shows: "connect timed out after 1s", "connection refused", "connect
/// failed: ...". Peer exchanges (the replica set's, the cluster ports') connect this way.
pub async fn connect_within<N: Net>(
    net: &N,
    to: SocketAddr,
    timeout: Duration,
) -> Result<N::Stream, String> {
    match crate::timers::timeout(timeout, net.connect(to)).await {
        Err(_elapsed) => Err(format!(
            "connect timed out after {}",
            crate::duration::span(timeout)
        )),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
            Err("connection refused".to_string())
        }
        Ok(Err(e)) => Err(format!("connect failed: {e}")),
        Ok(Ok(stream)) => Ok(stream),
    }
}

/// A bound TCP listener.
pub trait Listener: Send + 'static {
    type Stream;

    /// Waits for the next connection and the address it came from.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;
}

/// A bound UDP socket.
pub trait Datagrams: Send + Sync + 'static {
    fn send_to(&self, buf: &[u8], to: SocketAddr)
    -> impl Future<Output = io::Result<usize>> + Send;

    fn recv_from(
        &self,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send;
}

/// Waits for the next connection `listener` accepts, and never fails. A failed accept
/// (the process is out of file descriptors, `EMFILE`; a connection reset before it was
/// accepted) is waited out, [`ACCEPT_BACKOFF_MIN`] doubling up to
/// [`ACCEPT_BACKOFF_MAX`], and tried again; the connections waiting meanwhile stay in the
/// kernel's accept queue. A run of failures is logged on stderr twice: when it starts,
/// with the error, and when accepting works again, with the count (one line per failure
/// would flood the log at the rate of the back-off).
///
/// Every accept loop of every service uses it, directly or through [`Connections`]:
/// `let (stream, peer) = net::accept_next(&mut listener).await;`.
pub async fn accept_next<L: Listener>(listener: &mut L) -> (L::Stream, SocketAddr) {
    let mut failures = 0u32;
    let mut pause = ACCEPT_BACKOFF_MIN;
    loop {
        match listener.accept().await {
            Ok(accepted) => {
                if failures > 0 {
                    log(format_args!(
                        "accept: accepting again after {failures} failed accept(s)"
                    ));
                }
                return accepted;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                if failures == 1 {
                    log(format_args!(
                        "accept failed: {e}; trying again in {}ms, backing off to {}ms",
                        pause.as_millis(),
                        ACCEPT_BACKOFF_MAX.as_millis()
                    ));
                }
                crate::timers::sleep(pause).await;
                pause = (pause * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
}

/// How long a socket loop waits before its next try after `errors_in_a_row` failed
/// receives or accepts: nothing after the first (one bad datagram costs nothing), then
/// [`ACCEPT_BACKOFF_MIN`] doubling up to [`ACCEPT_BACKOFF_MAX`]. The DNS and NTP servers'
/// UDP loops use it.
pub fn error_backoff(errors_in_a_row: u32) -> Duration {
    let doublings = errors_in_a_row.saturating_sub(2).min(16);
    match errors_in_a_row {
        0 | 1 => Duration::ZERO,
        _ => ACCEPT_BACKOFF_MIN
            .saturating_mul(1 << doublings)
            .min(ACCEPT_BACKOFF_MAX),
    }
}

/// One line on stderr; a line that cannot be written (stderr closed) is dropped.
fn log(line: std::fmt::Arguments) {
    use std::io::Write as _;
    if let Err(unwritable) = writeln!(std::io::stderr(), "{line}") {
        drop(unwritable);
    }
}

/// A listener whose open connections are bounded: [`Connections::next`] waits for a free
/// slot (at most [`MAX_CONNECTIONS_PER_LISTENER`] are taken), then for a connection
/// ([`accept_next`]). The [`Slot`] comes with the connection; whoever serves the
/// connection holds it until the connection ends, and dropping it frees the slot.
pub struct Connections<L> {
    listener: L,
    slots: Arc<Semaphore>,
}

/// A connection's place among its listener's [`MAX_CONNECTIONS_PER_LISTENER`]: held for
/// as long as the connection is served, freed when dropped.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl<L: Listener> Connections<L> {
    /// `listener`, bounded to [`MAX_CONNECTIONS_PER_LISTENER`] open connections.
    pub fn new(listener: L) -> Self {
        Self::bounded(listener, MAX_CONNECTIONS_PER_LISTENER)
    }

    /// `listener`, bounded to `max` open connections (at least one).
    pub fn bounded(listener: L, max: usize) -> Self {
        Self {
            listener,
            slots: Arc::new(Semaphore::new(max.max(1))),
        }
    }

    /// The next connection, its peer and its slot: waits while `max` connections are
    /// open, then for a connection. Never fails.
    pub async fn next(&mut self) -> (L::Stream, SocketAddr, Slot) {
        // A free slot is taken without an await: awaiting the semaphore could yield to
        // tokio's cooperative budget and reorder the simulation's tasks.
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => self
                .slots
                .clone()
                .acquire_owned()
                .await
                .expect("the slots' semaphore is never closed"),
        };
        let (stream, peer) = accept_next(&mut self.listener).await;
        (stream, peer, Slot { _permit: permit })
    }
}

pub mod original;
pub mod real;

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves the back-off after socket errors in a row: none after the first, then 10 ms
    /// doubling, never more than [`ACCEPT_BACKOFF_MAX`] (1 s).
    #[test]
    fn error_backoff_doubles_up_to_its_bound() {
        let ms = |n| error_backoff(n).as_millis();
        assert_eq!([ms(0), ms(1), ms(2), ms(3), ms(4)], [0, 0, 10, 20, 40]);
        assert_eq!(
            [ms(8), ms(9), ms(100), ms(u32::MAX)],
            [640, 1000, 1000, 1000]
        );
    }
    use std::collections::VecDeque;

    /// A listener that answers from a script: `Err` entries fail that accept, `Ok`
    /// entries accept a connection numbered by the entry; an empty script waits forever.
    struct Scripted(VecDeque<io::Result<u32>>);

    impl Listener for Scripted {
        type Stream = u32;

        async fn accept(&mut self) -> io::Result<(u32, SocketAddr)> {
            match self.0.pop_front() {
                Some(next) => next.map(|n| (n, SocketAddr::from(([127, 0, 0, 1], 1)))),
                None => std::future::pending().await,
            }
        }
    }

    fn emfile() -> io::Error {
        io::Error::from_raw_os_error(24)
    }

    /// Proves failed accepts are waited out with a back-off that doubles from
    /// `ACCEPT_BACKOFF_MIN` and stops at `ACCEPT_BACKOFF_MAX`, and the next good accept
    /// is returned: eight failures in a row cost 10+20+40+...+1000 ms.
    #[tokio::test(start_paused = true)]
    async fn accept_next_backs_off_through_failures() {
        let mut script: VecDeque<_> = (0..8).map(|_| Err(emfile())).collect();
        script.push_back(Ok(7));
        let mut listener = Scripted(script);
        let started = tokio::time::Instant::now();
        let (stream, _) = accept_next(&mut listener).await;
        assert_eq!(stream, 7);
        let waited: u64 = [10, 20, 40, 80, 160, 320, 640, 1000].iter().sum();
        assert_eq!(started.elapsed(), Duration::from_millis(waited));
    }

    /// Proves a listener bounded to two connections hands out two, waits while both are
    /// held, and hands out the third as soon as one of the two is dropped.
    #[tokio::test(start_paused = true)]
    async fn connections_wait_for_a_free_slot() {
        let script = (1..=3).map(Ok).collect();
        let mut connections = Connections::bounded(Scripted(script), 2);
        let (first, _, first_slot) = connections.next().await;
        let (second, _, _second_slot) = connections.next().await;
        assert_eq!((first, second), (1, 2));
        let third = tokio::time::timeout(Duration::from_secs(60), connections.next()).await;
        assert!(third.is_err(), "a third connection while two are held");
        drop(first_slot);
        let (third, _, _) = connections.next().await;
        assert_eq!(third, 3);
    }
}
