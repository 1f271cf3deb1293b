//! The patches to the vendored turmoil (vendor/README.md lists them), each proved by a test
//! that fails on the published turmoil 0.7.2.

use std::io::ErrorKind;
use std::time::Duration;

use turmoil::net::{TcpListener, TcpStream};

/// Connections a turmoil listener holds until they are accepted: turmoil's default
/// `tcp_capacity`, which the harness keeps.
const BACKLOG: usize = 64;
/// Connects sent within one tick: more than the backlog holds.
const CONNECTS: usize = BACKLOG + 6;
/// The port the test's listener binds.
const PORT: u16 = 80;
/// One fixed latency, so that every connect sent in a tick arrives in the same later tick.
const LATENCY: Duration = Duration::from_millis(1);

/// Proves that a listener whose accept queue is full refuses the next connection (the
/// client sees `ConnectionRefused`, as with Linux's `tcp_abort_on_overflow`) instead of
/// panicking the whole simulation ("server socket buffer full"): [`CONNECTS`] connects sent
/// in one tick all reach the server before it runs, [`BACKLOG`] of them are accepted, the
/// rest are refused, and the listener accepts again afterwards.
#[test]
fn a_full_accept_queue_refuses_instead_of_panicking() -> turmoil::Result {
    let mut sim = turmoil::Builder::new()
        .min_message_latency(LATENCY)
        .max_message_latency(LATENCY)
        .build();
    sim.host("server", || async {
        let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
        loop {
            let (stream, _peer) = listener.accept().await?;
            drop(stream);
        }
    });
    sim.client("client", async {
        let connects: Vec<_> = (0..CONNECTS)
            .map(|_| tokio::spawn(TcpStream::connect(("server", PORT))))
            .collect();
        let (mut connected, mut refused) = (0, 0);
        for connect in connects {
            match connect.await? {
                Ok(_stream) => connected += 1,
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => refused += 1,
                Err(e) => return Err(e.into()),
            }
        }
        assert_eq!((connected, refused), (BACKLOG, CONNECTS - BACKLOG));
        // The queue drained: the listener takes the next connection.
        TcpStream::connect(("server", PORT)).await?;
        Ok(())
    });
    sim.run()
}
