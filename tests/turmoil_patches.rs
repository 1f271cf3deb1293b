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

/// When the pause test's server is paused and resumed, as simulated time since the start.
const PAUSED_AT: Duration = Duration::from_millis(100);
const RESUMED_AT: Duration = Duration::from_millis(600);
/// The paused server's timer: set at the start, due while it is paused.
const SERVER_TIMER: Duration = Duration::from_millis(300);
/// When the pause test's client writes on its old connection and opens a new one, both
/// while the server is paused.
const WRITE_AT: Duration = Duration::from_millis(200);
const CONNECT_AT: Duration = Duration::from_millis(300);

/// An echo server that answers every connection on its own task, and records when its
/// [`SERVER_TIMER`] fired.
fn paused_echo_server(sim: &mut turmoil::Sim<'_>, fired: std::rc::Rc<std::cell::Cell<Duration>>) {
    sim.host("server", move || {
        let fired = fired.clone();
        async move {
            let start = tokio::time::Instant::now();
            tokio::task::spawn_local(async move {
                sleep_until(start + SERVER_TIMER).await;
                fired.set(start.elapsed());
            });
            let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
            loop {
                let (mut stream, _peer) = listener.accept().await?;
                tokio::task::spawn_local(async move {
                    let mut byte = [0u8; 1];
                    while tokio::io::AsyncReadExt::read_exact(&mut stream, &mut byte)
                        .await
                        .is_ok()
                    {
                        if tokio::io::AsyncWriteExt::write_all(&mut stream, &byte)
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                });
            }
        }
    });
}

/// Waits until `deadline`, registered with `turmoil::wake_at` as the harness's timers are.
async fn sleep_until(deadline: tokio::time::Instant) {
    turmoil::wake_at(deadline);
    tokio::time::sleep_until(deadline).await;
}

/// Sends a byte on `stream` and returns when (since `start`) its echo came back.
async fn echo_at(stream: &mut TcpStream, start: tokio::time::Instant) -> std::io::Result<Duration> {
    tokio::io::AsyncWriteExt::write_all(stream, b"x").await?;
    let mut byte = [0u8; 1];
    tokio::io::AsyncReadExt::read_exact(stream, &mut byte).await?;
    Ok(start.elapsed())
}

/// Runs the pause test's world (with or without idle-host skipping) and returns when the
/// server's timer fired, the old connection's echo came back, the new connection's
/// connect completed and its echo came back.
fn pause_run(skip_idle_hosts: bool) -> Result<[Duration; 4], Box<dyn std::error::Error>> {
    let mut sim = turmoil::Builder::new()
        .min_message_latency(CONNECT_LATENCY)
        .max_message_latency(CONNECT_LATENCY)
        .skip_idle_hosts(skip_idle_hosts)
        .build();
    let fired = std::rc::Rc::new(std::cell::Cell::new(Duration::ZERO));
    paused_echo_server(&mut sim, fired.clone());
    let seen = std::rc::Rc::new(std::cell::Cell::new([Duration::ZERO; 3]));
    let out = seen.clone();
    sim.client("client", async move {
        let start = tokio::time::Instant::now();
        let mut old = TcpStream::connect(("server", PORT)).await?;
        let old_side = async {
            sleep_until(start + WRITE_AT).await;
            echo_at(&mut old, start).await
        };
        let new_side = async {
            sleep_until(start + CONNECT_AT).await;
            let mut new = TcpStream::connect(("server", PORT)).await?;
            let connected = start.elapsed();
            Ok::<_, std::io::Error>((connected, echo_at(&mut new, start).await?))
        };
        let (old_echo, new_side) = tokio::join!(old_side, new_side);
        let (connected, new_echo) = new_side?;
        out.set([old_echo?, connected, new_echo]);
        Ok(())
    });
    while !sim.step()? {
        if sim.elapsed() == PAUSED_AT {
            sim.pause("server");
            assert!(sim.is_host_paused("server"));
        }
        if sim.elapsed() == RESUMED_AT {
            sim.resume("server");
        }
    }
    let [old_echo, connected, new_echo] = seen.get();
    Ok([fired.get(), old_echo, connected, new_echo])
}

/// Proves the pause patch (`Sim::pause`, `Sim::resume`: a host stopped as by SIGSTOP):
/// while the server is paused its timer does not fire and nothing it runs answers, yet
/// its kernel works: a byte sent on an open connection waits in the socket, a new
/// connect completes after its round trip (the kernel's SYN-ACK). On resume the timer
/// that fell due fires at once (its clock kept running) and both echoes leave at once,
/// arriving one latency later. The same with idle hosts skipped, as the harness runs.
#[test]
fn a_paused_host_runs_nothing_but_its_kernel_answers() -> Result<(), Box<dyn std::error::Error>> {
    for skip_idle_hosts in [false, true] {
        let [fired, old_echo, connected, new_echo] = pause_run(skip_idle_hosts)?;
        assert_eq!(fired, RESUMED_AT, "the timer due at 300 ms fires on resume");
        assert_eq!(
            old_echo,
            RESUMED_AT + CONNECT_LATENCY,
            "the old connection's echo"
        );
        assert_eq!(
            connected,
            CONNECT_AT + 2 * CONNECT_LATENCY,
            "a connect to the paused host completes after a round trip"
        );
        assert_eq!(
            new_echo,
            RESUMED_AT + CONNECT_LATENCY,
            "the new connection's echo"
        );
    }
    Ok(())
}

/// The loss set on the link in the loss test, and TCP's shortest retransmission timeout
/// (Linux's `TCP_RTO_MIN`).
const LOSS: f64 = 0.3;
const RTO_MIN: Duration = Duration::from_millis(200);
/// Echoes and datagrams the loss test sends.
const ROUNDS: u8 = 100;

/// The round trips of [`ROUNDS`] one-byte TCP echoes over a link losing [`LOSS`] of its
/// messages, with the bytes that came back.
fn lossy_echoes() -> Result<(Vec<Duration>, Vec<u8>), Box<dyn std::error::Error>> {
    let mut sim = turmoil::Builder::new()
        .min_message_latency(CONNECT_LATENCY)
        .max_message_latency(CONNECT_LATENCY)
        .rng_seed(7)
        .simulation_duration(Duration::from_secs(600))
        .build();
    sim.host("server", || async {
        let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
        let (mut stream, _peer) = listener.accept().await?;
        let mut byte = [0u8; 1];
        while tokio::io::AsyncReadExt::read_exact(&mut stream, &mut byte)
            .await
            .is_ok()
        {
            tokio::io::AsyncWriteExt::write_all(&mut stream, &byte).await?;
        }
        Ok(())
    });
    let seen = std::rc::Rc::new(std::cell::RefCell::new((Vec::new(), Vec::new())));
    let out = seen.clone();
    sim.client("client", async move {
        let mut stream = TcpStream::connect(("server", PORT)).await?;
        for i in 0..ROUNDS {
            let start = tokio::time::Instant::now();
            tokio::io::AsyncWriteExt::write_all(&mut stream, &[i]).await?;
            let mut byte = [0u8; 1];
            tokio::io::AsyncReadExt::read_exact(&mut stream, &mut byte).await?;
            let mut seen = out.borrow_mut();
            seen.0.push(start.elapsed());
            seen.1.push(byte[0]);
        }
        Ok(())
    });
    sim.set_link_loss("client", "server", LOSS, RTO_MIN);
    sim.run()?;
    let seen = seen.borrow().clone();
    Ok(seen)
}

/// How many of [`ROUNDS`] datagrams arrive over a link losing [`LOSS`] of them.
fn lossy_datagrams() -> Result<usize, Box<dyn std::error::Error>> {
    let mut sim = turmoil::Builder::new()
        .min_message_latency(CONNECT_LATENCY)
        .max_message_latency(CONNECT_LATENCY)
        .rng_seed(7)
        .build();
    let got = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let count = got.clone();
    sim.host("server", move || {
        let count = count.clone();
        async move {
            let socket = turmoil::net::UdpSocket::bind(("0.0.0.0", PORT)).await?;
            let mut buf = [0u8; 1];
            loop {
                socket.recv_from(&mut buf).await?;
                count.set(count.get() + 1);
            }
        }
    });
    sim.client("client", async {
        let socket = turmoil::net::UdpSocket::bind(("0.0.0.0", PORT)).await?;
        for i in 0..ROUNDS {
            socket.send_to(&[i], ("server", PORT)).await?;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    });
    sim.set_link_loss("client", "server", LOSS, RTO_MIN);
    sim.run()?;
    Ok(got.get())
}

/// Proves the loss patch (`Sim::set_link_loss`): on a TCP connection over a link losing
/// 30% of its messages every byte arrives, in order (none is silently missing), and a
/// lost segment costs retransmission timeouts: each echo's round trip is the two
/// latencies plus, per direction, a sum of doubling timeouts from 200 ms (0, 200, 600,
/// 1400 ms, ...), and some echoes paid one; a UDP datagram on the same link is simply
/// lost, some of them; the same seed gives the same delays.
#[test]
fn a_lossy_link_delays_tcp_and_drops_udp() -> Result<(), Box<dyn std::error::Error>> {
    let (trips, bytes) = lossy_echoes()?;
    assert_eq!(
        bytes,
        (0..ROUNDS).collect::<Vec<_>>(),
        "every byte, in order"
    );
    // What one direction's k losses in a row cost: 0, 200, 600, 1400, 3000 ms, ...
    // (k up to 9 keeps the timeout under its 120 s cap).
    let waits: Vec<Duration> = (0..10u32).map(|k| RTO_MIN * (2u32.pow(k) - 1)).collect();
    for trip in &trips {
        let extra = *trip - 2 * CONNECT_LATENCY;
        assert!(
            waits.iter().any(|a| waits.iter().any(|b| *a + *b == extra)),
            "{trip:?} is two latencies plus retransmission timeouts"
        );
    }
    let delayed = trips.iter().filter(|t| **t > 2 * CONNECT_LATENCY).count();
    assert!(
        delayed > 0 && delayed < trips.len(),
        "{delayed} of {ROUNDS} delayed"
    );
    assert_eq!(lossy_echoes()?.0, trips, "the same seed, the same delays");
    let arrived = lossy_datagrams()?;
    assert!(
        arrived > 0 && arrived < usize::from(ROUNDS),
        "{arrived} of {ROUNDS} datagrams arrived"
    );
    Ok(())
}

/// The link latency of the jitter test, and the jitter set on it.
const JITTER_LATENCY: Duration = Duration::from_millis(20);
const JITTER: Duration = Duration::from_millis(10);
/// The gap between the jitter test's datagrams.
const JITTER_GAP: Duration = Duration::from_millis(5);

/// When each of [`ROUNDS`] datagrams, datagram `i` sent at `i` x [`JITTER_GAP`], arrived,
/// as its latency, with the order they arrived in, over a link with [`JITTER`] set.
fn jittered_datagrams() -> Result<Vec<(u8, Duration)>, Box<dyn std::error::Error>> {
    let mut sim = turmoil::Builder::new()
        .min_message_latency(JITTER_LATENCY)
        .max_message_latency(JITTER_LATENCY)
        .rng_seed(11)
        .build();
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let out = seen.clone();
    sim.host("server", move || {
        let out = out.clone();
        async move {
            let socket = turmoil::net::UdpSocket::bind(("0.0.0.0", PORT)).await?;
            let mut buf = [0u8; 1];
            loop {
                socket.recv_from(&mut buf).await?;
                let sent = JITTER_GAP * u32::from(buf[0]);
                out.borrow_mut().push((buf[0], turmoil::elapsed() - sent));
            }
        }
    });
    sim.client("client", async {
        let socket = turmoil::net::UdpSocket::bind(("0.0.0.0", PORT)).await?;
        for i in 0..ROUNDS {
            socket.send_to(&[i], ("server", PORT)).await?;
            tokio::time::sleep(JITTER_GAP).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    });
    sim.set_link_jitter("client", "server", JITTER);
    sim.run()?;
    let seen = seen.borrow().clone();
    Ok(seen)
}

/// Proves the jitter patch (`Sim::set_link_jitter`): over a link of 20 ms with 10 ms of
/// jitter every datagram arrives within 10-30 ms of its sending (to the 1 ms tick),
/// the latencies vary across that range, some datagrams overtake earlier ones, and the
/// same seed gives the same latencies.
#[test]
fn a_jittered_link_spreads_latencies() -> Result<(), Box<dyn std::error::Error>> {
    let seen = jittered_datagrams()?;
    assert_eq!(seen.len(), usize::from(ROUNDS), "jitter loses nothing");
    let tick = Duration::from_millis(1);
    for (i, latency) in &seen {
        assert!(
            *latency >= JITTER_LATENCY - JITTER && *latency <= JITTER_LATENCY + JITTER + tick,
            "datagram {i} took {latency:?}"
        );
    }
    let least = seen.iter().map(|s| s.1).min().expect("datagrams arrived");
    let most = seen.iter().map(|s| s.1).max().expect("datagrams arrived");
    assert!(
        most - least >= JITTER,
        "latencies from {least:?} to {most:?}"
    );
    let overtaken = seen.windows(2).filter(|w| w[1].0 < w[0].0).count();
    assert!(overtaken > 0, "no datagram overtook another");
    assert_eq!(
        jittered_datagrams()?,
        seen,
        "the same seed, the same latencies"
    );
    Ok(())
}

/// The limit set in the bandwidth test, bytes per second, and what the client sends.
const BANDWIDTH_BYTES_PER_S: u64 = 100_000;
const TRANSFER_BYTES: usize = 200_000;
/// The size of each write the bandwidth test's client makes.
const WRITE_BYTES: usize = 10_000;

/// How long the server of the bandwidth test took, from its accept, to read
/// [`TRANSFER_BYTES`] sent at once (the SYN-ACK's way back, then the data's), with
/// `limit` on the link, and whether they came in order.
fn transfer(limit: Option<u64>) -> Result<(Duration, bool), Box<dyn std::error::Error>> {
    let mut sim = turmoil::Builder::new()
        .min_message_latency(CONNECT_LATENCY)
        .max_message_latency(CONNECT_LATENCY)
        .simulation_duration(Duration::from_secs(60))
        .build();
    let seen = std::rc::Rc::new(std::cell::Cell::new((Duration::ZERO, false)));
    let out = seen.clone();
    sim.host("server", move || {
        let out = out.clone();
        async move {
            let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
            let (mut stream, _peer) = listener.accept().await?;
            let start = tokio::time::Instant::now();
            let mut got = vec![0u8; TRANSFER_BYTES];
            tokio::io::AsyncReadExt::read_exact(&mut stream, &mut got).await?;
            let in_order = got.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8);
            out.set((start.elapsed(), in_order));
            Ok(())
        }
    });
    sim.client("client", async {
        let mut stream = TcpStream::connect(("server", PORT)).await?;
        let bytes: Vec<u8> = (0..TRANSFER_BYTES).map(|i| (i % 251) as u8).collect();
        for chunk in bytes.chunks(WRITE_BYTES) {
            tokio::io::AsyncWriteExt::write_all(&mut stream, chunk).await?;
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(())
    });
    sim.set_link_bandwidth("client", "server", limit);
    sim.run()?;
    Ok(seen.get())
}

/// Proves the bandwidth patch (`Sim::set_link_bandwidth`): 200 kB written at once over
/// a link limited to 100 kB/s arrive, in order, after their bytes on the wire (payload
/// and a 40-byte header per 1460-byte segment) over the rate, about 2.1 s, where
/// without the limit (`None`) they take one latency.
#[test]
fn a_limited_link_takes_its_bytes_over_the_rate() -> Result<(), Box<dyn std::error::Error>> {
    let segments = TRANSFER_BYTES / WRITE_BYTES * WRITE_BYTES.div_ceil(1460);
    let wire = TRANSFER_BYTES + segments * 40;
    let expected = Duration::from_secs_f64(wire as f64 / BANDWIDTH_BYTES_PER_S as f64);
    let (took, in_order) = transfer(Some(BANDWIDTH_BYTES_PER_S))?;
    assert!(in_order, "the bytes arrive in order");
    let tick = Duration::from_millis(1);
    assert!(
        took >= expected && took <= expected + 2 * CONNECT_LATENCY + 2 * tick,
        "took {took:?}, expected {expected:?} plus the SYN-ACK's and the data's latency"
    );
    let (unlimited, in_order) = transfer(None)?;
    assert!(in_order, "the bytes arrive in order");
    assert!(
        unlimited <= 2 * CONNECT_LATENCY + tick,
        "without the limit: {unlimited:?}"
    );
    Ok(())
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

/// A host's first, short wait in the withdrawal test.
const SHORT_WAIT: Duration = Duration::from_secs(1);
/// The deadline the withdrawal test registers and then withdraws (or keeps).
const LONG_WAIT: Duration = Duration::from_secs(10);

/// A host that registers two deadlines at [`LONG_WAIT`] and one at [`SHORT_WAIT`], waits
/// out the short one, withdraws `withdrawn` of the long ones with `turmoil::cancel_wake`
/// (as a timeout whose future finished first does) and then waits on nothing the
/// simulation can see. Returns how many steps the simulation finds it can jump once the
/// short wait is over.
fn idle_after_withdrawing(withdrawn: usize) -> u64 {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(60))
        .skip_idle_hosts(true)
        .build();
    sim.host("waiter", move || async move {
        let start = tokio::time::Instant::now();
        let long: Vec<_> = (0..2)
            .map(|_| turmoil::wake_at(start + LONG_WAIT).expect("a simulation host"))
            .collect();
        turmoil::wake_at(start + SHORT_WAIT);
        tokio::time::sleep_until(start + SHORT_WAIT).await;
        for wake in long.into_iter().take(withdrawn) {
            turmoil::cancel_wake(wake);
        }
        std::future::pending::<()>().await;
        Ok(())
    });
    while sim.elapsed() < SHORT_WAIT + Duration::from_millis(3) {
        sim.step().expect("within the duration");
    }
    sim.idle_steps()
}

/// Proves the withdrawal patch: a deadline withdrawn with `turmoil::cancel_wake` no
/// longer has its host polled (with both long deadlines withdrawn, nothing is pending and
/// every step can be jumped), while a deadline another timer registered at the same
/// instant stays (one withdrawn of two: the host is still due at 10 s, about 9,000 steps
/// ahead), as does one never withdrawn.
#[test]
fn a_withdrawn_deadline_no_longer_wakes_its_host() {
    let ahead_ms = (LONG_WAIT - SHORT_WAIT).as_millis();
    let near = |steps: u64| u128::from(steps).abs_diff(ahead_ms) <= 5;
    let kept = idle_after_withdrawing(0);
    assert!(near(kept), "{kept} steps to the long deadline");
    let one_left = idle_after_withdrawing(1);
    assert!(
        near(one_left),
        "{one_left} steps: the other timer's deadline stays"
    );
    assert_eq!(
        idle_after_withdrawing(2),
        u64::MAX,
        "nothing left to wait for"
    );
}

/// Withdraws its deadline when dropped, as the harness's timers do.
struct WithdrawnOnDrop(Option<turmoil::Wake>);

impl Drop for WithdrawnOnDrop {
    fn drop(&mut self) {
        if let Some(wake) = self.0.take() {
            turmoil::cancel_wake(wake);
        }
    }
}

/// A simulation whose one host registers a deadline at [`LONG_WAIT`] and waits forever,
/// holding it until the simulation is dropped; stepped past its first step.
fn holding_a_deadline() -> turmoil::Sim<'static> {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(60))
        .skip_idle_hosts(true)
        .build();
    sim.host("waiter", || async {
        let start = tokio::time::Instant::now();
        let _held = WithdrawnOnDrop(turmoil::wake_at(start + LONG_WAIT));
        std::future::pending::<()>().await;
        Ok(())
    });
    sim.step().expect("within the duration");
    sim
}

/// Proves a withdrawal reaches only its own simulation: the first simulation's host is
/// dropped (and withdraws its deadline) after a second one on the same thread has
/// registered the same deadline for a host at the same address; the second still has
/// it, about 10,000 steps ahead.
#[test]
fn a_withdrawal_does_not_reach_the_next_simulation() {
    let first = holding_a_deadline();
    let mut second = holding_a_deadline();
    drop(first);
    second.step().expect("within the duration");
    let ahead = second.idle_steps();
    let want = LONG_WAIT.as_millis();
    assert!(
        u128::from(ahead).abs_diff(want) <= 5,
        "{ahead} steps: the second simulation keeps its deadline"
    );
}
