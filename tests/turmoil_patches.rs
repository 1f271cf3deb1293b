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

/// How long the client of the idle-skipping test waits between its exchanges.
const PAUSE: Duration = Duration::from_millis(250);
/// How many exchanges it makes.
const EXCHANGES: usize = 20;

/// A client that, [`EXCHANGES`] times, waits [`PAUSE`] (registering the deadline with
/// `turmoil::wake_at`, as the harness's `timers` module does), connects to an echo
/// server, sends a byte and reads it back; it returns when (in simulated time) each
/// connect completed and each echo arrived.
fn echo_run(skip_idle_hosts: bool) -> (Vec<Duration>, u64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut sim = turmoil::Builder::new()
        .min_message_latency(LATENCY)
        .max_message_latency(LATENCY)
        .simulation_duration(Duration::from_secs(60))
        .skip_idle_hosts(skip_idle_hosts)
        .build();
    sim.host("server", || async {
        let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
        loop {
            let (mut stream, _peer) = listener.accept().await?;
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await?;
            stream.write_all(&byte).await?;
        }
    });
    let log = seen.clone();
    sim.client("client", async move {
        for i in 0..EXCHANGES {
            let deadline = tokio::time::Instant::now() + PAUSE;
            turmoil::wake_at(deadline);
            tokio::time::sleep_until(deadline).await;
            let mut stream = TcpStream::connect(("server", PORT)).await?;
            log.lock().unwrap().push(turmoil::sim_elapsed().unwrap());
            stream.write_all(&[i as u8]).await?;
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await?;
            log.lock().unwrap().push(turmoil::sim_elapsed().unwrap());
        }
        Ok(())
    });
    let mut jumped = 0;
    loop {
        let idle = sim.idle_steps().min(u32::MAX.into());
        sim.skip_idle_steps(idle).expect("within the duration");
        jumped += idle;
        if sim.step().expect("the client finishes") {
            break;
        }
    }
    let seen = seen.lock().unwrap().clone();
    (seen, jumped)
}

/// Proves the idle-host patch: with `skip_idle_hosts`, a host is polled only when it has
/// something to do and idle stretches are jumped, yet what the hosts observe is the
/// same as with every host polled every step: every connect (answered by the idle
/// server's accept, with no message back: the SYN's answer wakes the client) and every
/// echo happens at the same simulated moment, and most of the run's 5 s was jumped.
#[test]
fn skipping_idle_hosts_changes_nothing_they_observe() {
    let (polled, none_jumped) = echo_run(false);
    let (skipped, jumped) = echo_run(true);
    assert_eq!(none_jumped, 0, "without skip_idle_hosts nothing is jumped");
    assert_eq!(polled.len(), 2 * EXCHANGES);
    assert_eq!(
        skipped, polled,
        "the same moments with and without skipping"
    );
    let total_ms = polled.last().unwrap().as_millis();
    assert!(
        u128::from(jumped) * 10 > total_ms * 9,
        "{jumped} of {total_ms} one-millisecond steps jumped"
    );
}

/// The one-way latency of the round-trip test: long against the 1 ms tick, so a round
/// trip and a one-way trip cannot be confused.
const CONNECT_LATENCY: Duration = Duration::from_millis(10);

/// Proves a TCP connect costs a round trip (SYN out, SYN-ACK back over the network), as
/// on a real network: with a 10 ms one-way latency the client's connect completes 20 ms
/// after it began, and the first byte the client then sends reaches the server 30 ms
/// after the connect began. The published turmoil completed a connect when the listener
/// accepted the SYN, after one one-way latency (10 ms).
#[test]
fn a_connect_costs_a_round_trip() -> turmoil::Result {
    let mut sim = turmoil::Builder::new()
        .min_message_latency(CONNECT_LATENCY)
        .max_message_latency(CONNECT_LATENCY)
        .build();
    sim.host("server", || async {
        let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
        loop {
            let (mut stream, _peer) = listener.accept().await?;
            let mut byte = [0u8; 1];
            tokio::io::AsyncReadExt::read_exact(&mut stream, &mut byte).await?;
            tokio::io::AsyncWriteExt::write_all(&mut stream, &byte).await?;
        }
    });
    sim.client("client", async {
        let start = tokio::time::Instant::now();
        let mut stream = TcpStream::connect(("server", PORT)).await?;
        let connected = start.elapsed();
        tokio::io::AsyncWriteExt::write_all(&mut stream, b"x").await?;
        let mut byte = [0u8; 1];
        tokio::io::AsyncReadExt::read_exact(&mut stream, &mut byte).await?;
        let answered = start.elapsed();
        assert_eq!(connected, 2 * CONNECT_LATENCY, "connect: SYN and SYN-ACK");
        assert_eq!(
            answered,
            4 * CONNECT_LATENCY,
            "then the byte there and back"
        );
        Ok(())
    });
    sim.run()
}

/// One line per message the observer of [`turmoil::Sim::observe`] saw: when, which way,
/// what, and its fate.
fn observed_line(o: &turmoil::Observation<'_>) -> String {
    let what = match o.protocol {
        turmoil::Protocol::Tcp(turmoil::Segment::Syn(_)) => "SYN".to_string(),
        turmoil::Protocol::Tcp(turmoil::Segment::SynAck(_)) => "SYN-ACK".to_string(),
        turmoil::Protocol::Tcp(turmoil::Segment::Data(_, data)) => format!("data {}", data.len()),
        turmoil::Protocol::Tcp(turmoil::Segment::Fin(_)) => "FIN".to_string(),
        turmoil::Protocol::Tcp(turmoil::Segment::Rst) => "RST".to_string(),
        turmoil::Protocol::Udp(d) => format!("udp {}", d.0.len()),
    };
    let (src, dst) = (o.src.port(), o.dst.port());
    let side = |port: u16| if port == PORT { "server" } else { "client" };
    format!(
        "{}ms {}->{} {what} {:?}",
        o.elapsed.as_millis(),
        side(src),
        side(dst),
        o.fate
    )
}

/// Proves the capture hook (`Sim::observe`) sees every segment the network carries with
/// its simulated time and fate: a connect's SYN and SYN-ACK, one echoed byte each way and
/// the client's FIN, each once when sent and once when delivered (10 ms later), then a datagram
/// sent over a partitioned link, seen once as dropped and never delivered.
#[test]
fn an_observer_sees_every_message_sent_and_delivered() -> turmoil::Result {
    let latency = Duration::from_millis(10);
    let mut sim = turmoil::Builder::new()
        .min_message_latency(latency)
        .max_message_latency(latency)
        .build();
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let log = seen.clone();
    sim.observe(move |o| log.borrow_mut().push(observed_line(o)));
    sim.host("server", || async {
        let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
        let (mut stream, _peer) = listener.accept().await?;
        let mut byte = [0u8; 1];
        tokio::io::AsyncReadExt::read_exact(&mut stream, &mut byte).await?;
        tokio::io::AsyncWriteExt::write_all(&mut stream, &byte).await?;
        std::future::pending::<()>().await;
        Ok(())
    });
    sim.client("client", async move {
        let mut stream = TcpStream::connect(("server", PORT)).await?;
        tokio::io::AsyncWriteExt::write_all(&mut stream, b"x").await?;
        let mut byte = [0u8; 1];
        tokio::io::AsyncReadExt::read_exact(&mut stream, &mut byte).await?;
        drop(stream);
        // Long enough for the FIN to be delivered before the simulation ends.
        tokio::time::sleep(latency * 2).await;
        Ok(())
    });
    sim.run()?;
    sim.client("late", async {
        let socket = turmoil::net::UdpSocket::bind(("0.0.0.0", 9)).await?;
        socket.send_to(b"lost", ("server", PORT)).await?;
        Ok(())
    });
    sim.partition("late", "server");
    sim.run()?;
    let seen = seen.borrow();
    // The first step's hosts run at 1 ms: turmoil advances the network's clock by a tick
    // before it runs the hosts, and a message is stamped with the time its host sees.
    let want = [
        "1ms client->server SYN Sent",
        "11ms client->server SYN Delivered",
        "11ms server->client SYN-ACK Sent",
        "21ms server->client SYN-ACK Delivered",
        "21ms client->server data 1 Sent",
        "31ms client->server data 1 Delivered",
        "31ms server->client data 1 Sent",
        "41ms server->client data 1 Delivered",
        "41ms client->server FIN Sent",
        "51ms client->server FIN Delivered",
    ];
    assert_eq!(&seen[..want.len()], &want, "all: {seen:#?}");
    let lost: Vec<_> = seen.iter().filter(|l| l.contains("udp")).collect();
    assert_eq!(lost.len(), 1, "{seen:#?}");
    assert!(
        lost[0].ends_with("client->server udp 4 Dropped"),
        "{lost:?}"
    );
    Ok(())
}
