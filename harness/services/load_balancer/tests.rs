//! The balancer's client side kept alive, over simulated connections: raw bytes (two
//! requests on one connection, each balanced; the idle close), and a browser that keeps
//! its connection and resumes its TLS session.

use std::net::{IpAddr, Ipv4Addr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::events::{ConnectionUse, Recorder};
use crate::services::browser::{Browser, Checkout, Lease};
use crate::tls::Identity;
use crate::world::clock::SimClock;
use crate::world::net::{FaultTable, SimNet};

/// The hosts' wall clocks start here (2026-01-01), inside the test certificate's validity.
const EPOCH: Duration = Duration::from_secs(1_767_225_600);

/// Long enough for every test here (simulated time).
const RUN_FOR: Duration = Duration::from_secs(120);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 1, last))
}

fn env(name: &str, at: IpAddr, recorder: &Recorder) -> Env<SimNet> {
    Env::new(
        name,
        SimNet::new(at, FaultTable::default()),
        Arc::new(SimClock::new(EPOCH)),
        recorder.clone(),
    )
}

/// A simulation with two backends (`node-1` at .11, `node-2` at .12) that answer every
/// request with their name, and a balancer over them at .10, terminating TLS with `tls`
/// when given.
fn world(recorder: &Recorder, tls: Option<Arc<rustls::ServerConfig>>) -> turmoil::Sim<'static> {
    let mut sim = turmoil::Builder::new()
        .rng_seed(1)
        .epoch(std::time::UNIX_EPOCH)
        .simulation_duration(RUN_FOR)
        .build();
    let mut backends = Vec::new();
    for (name, last) in [("node-1", 11), ("node-2", 12)] {
        backends.push(Backend {
            name: name.to_string(),
            addr: SocketAddr::new(ip(last), PORT),
        });
        let env = env(name, ip(last), recorder);
        sim.host(ip(last), move || {
            let env = env.clone();
            async move {
                let listener = env.net.listen(PORT).await?;
                let name = env.host.to_string();
                http::serve(listener, move |_request, _peer| {
                    let name = name.clone();
                    async move { http::text(200, name) }
                })
                .await?;
                Ok(())
            }
        });
    }
    let config = LbConfig {
        admin: std::sync::Arc::new(crate::services::lb_admin::LbAdmin::new(backends.len())),
        backends,
        settings: LbSettings::default(),
        front: http::Front {
            accept_proxy: false,
            tls,
            handshake_timeout: Duration::from_secs(5),
        },
        check_dial: http::Dial::default(),
        forwarded_proto: "https",
        check_seed: 1,
        operator: super::Operator::default(),
    };
    let lb = env("lb", ip(10), recorder);
    sim.host(ip(10), move || {
        let (env, config) = (lb.clone(), config.clone());
        async move { Ok(run(env, config).await?) }
    });
    sim
}

/// `GET /` on a kept connection, HTTP/1.1 without `Connection: close`.
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: login.example.com\r\n\r\n";

/// Reads one response (head and `Content-Length` body) off `stream`: its body; `None`
/// when the connection closed first.
async fn one_response(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Option<String> {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        got.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&got).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200 "), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("every answer here has a Content-Length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.ok()?;
    Some(String::from_utf8_lossy(&body).to_string())
}

/// Proves, in raw bytes, that the balancer keeps a client connection open after an
/// answer, sends each request on it to the next backend (requests are balanced, not
/// connections), answers a request that comes just inside
/// [`CLIENT_KEEP_ALIVE_TIMEOUT`] of silence, and closes the connection once it has been
/// silent for that long.
#[test]
fn two_requests_on_one_connection_are_balanced_and_an_idle_one_is_closed() {
    let recorder = Recorder::new();
    let mut sim = world(&recorder, None);
    let client = env("users", ip(100), &recorder);
    sim.client(ip(100), async move {
        let mut stream = client.net.connect(SocketAddr::new(ip(10), PORT)).await?;
        stream.write_all(GET).await?;
        let first = one_response(&mut stream).await;
        stream.write_all(GET).await?;
        let second = one_response(&mut stream).await;
        assert_eq!(
            (first.as_deref(), second.as_deref()),
            (Some("node-1"), Some("node-2"))
        );
        tokio::time::sleep(CLIENT_KEEP_ALIVE_TIMEOUT - Duration::from_secs(1)).await;
        stream.write_all(GET).await?;
        assert_eq!(one_response(&mut stream).await.as_deref(), Some("node-1"));
        tokio::time::sleep(CLIENT_KEEP_ALIVE_TIMEOUT + Duration::from_secs(1)).await;
        let mut buf = [0u8; 16];
        let read = stream.read(&mut buf).await;
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "still open after {CLIENT_KEEP_ALIVE_TIMEOUT:?} of silence: {read:?}"
        );
        Ok(())
    });
    sim.run().expect("the simulation runs to the end");
}

/// One request of `browser` to the balancer: how it got its connection, and the body.
async fn browse(browser: &Browser, net: &SimNet) -> (ConnectionUse, String) {
    let name = "login.example.com";
    let mut lease = match browser.checkout(name).await {
        Checkout::Kept(lease) => lease,
        Checkout::Room(slot) => {
            let dial = http::Dial {
                preface: Vec::new(),
                tls: browser.tls.clone().map(|tls| {
                    let name = rustls::pki_types::ServerName::try_from(name).expect("valid");
                    (tls, name)
                }),
            };
            let to = SocketAddr::new(ip(10), PORT);
            let timeout = Duration::from_secs(5);
            let (sender, kind) = http::open(net, to, &dial, timeout, timeout)
                .await
                .expect("the balancer is up");
            Lease::opened(slot, sender, kind)
        }
    };
    let request = Request::get("/")
        .header(hyper::header::HOST, name)
        .body(Body::default())
        .expect("a valid request");
    let response = http::send_on(&mut lease.sender, request)
        .await
        .expect("the balancer answers");

    let used = lease.used;
    browser.keep(lease);
    let body = String::from_utf8_lossy(response.body()).to_string();
    (used, body)
}

/// Proves a browser's first request makes a full TLS handshake, its next one goes on the
/// same connection (to the next backend), that after the balancer closed the idle
/// connection it reconnects with a resumed handshake, and that a new browser (no ticket)
/// makes a full one again.
#[test]
fn a_browser_keeps_its_connection_and_resumes_after_the_idle_close() {
    let names = vec!["login.example.com".to_string()];
    let identity = Identity::generate(&names, EPOCH, Duration::from_secs(3600)).expect("valid");
    let clock = || -> Arc<dyn crate::clock::Clock> { Arc::new(SimClock::new(EPOCH)) };
    let server = crate::tls::server(&identity, clock()).expect("a server");
    let users = crate::tls::client(&identity, clock()).expect("a client");
    let recorder = Recorder::new();
    let mut sim = world(&recorder, Some(server));
    let client = env("users", ip(100), &recorder);
    sim.client(ip(100), async move {
        let browser = Browser::new(Some(&users));
        let mut seen = vec![browse(&browser, &client.net).await];
        seen.push(browse(&browser, &client.net).await);
        tokio::time::sleep(CLIENT_KEEP_ALIVE_TIMEOUT + Duration::from_secs(1)).await;
        seen.push(browse(&browser, &client.net).await);
        seen.push(browse(&Browser::new(Some(&users)), &client.net).await);
        let seen: Vec<(ConnectionUse, &str)> = seen.iter().map(|(u, b)| (*u, b.as_str())).collect();
        assert_eq!(
            seen,
            [
                (ConnectionUse::Full, "node-1"),
                (ConnectionUse::Reused, "node-2"),
                (ConnectionUse::Resumed, "node-1"),
                (ConnectionUse::Full, "node-2"),
            ]
        );
        Ok(())
    });
    sim.run().expect("the simulation runs to the end");
}
