//! The relay's dialogue, in plain code and over a simulated connection.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use std::sync::Arc;
use tokio::io::AsyncReadExt;

use super::*;
use crate::events::Recorder;
use crate::world::clock::SimClock;
use crate::world::net::{FaultTable, SimNet};

fn config() -> SmtpConfig {
    SmtpConfig {
        hostname: "smtp.example.com".into(),
        username: "appliance".into(),
        password: "secret".into(),
        tls: None,
    }
}

fn plain(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
}

/// Proves the order the relay enforces: MAIL before AUTH gets 530, wrong credentials 535,
/// RCPT before MAIL 503, then a full delivery with both forms of AUTH PLAIN.
#[test]
fn dialogue_rules() {
    let mut s = Session::new(config());
    let code = |reply: (String, Next)| reply.0[..3].to_string();
    assert!(
        s.command(b"EHLO client\r\n")
            .0
            .contains("250-AUTH PLAIN\r\n")
    );
    assert_eq!(code(s.command(b"MAIL FROM:<a@example.com>\r\n")), "530");
    assert_eq!(
        code(s.command(format!("AUTH PLAIN {}\r\n", plain("appliance", "wrong")).as_bytes())),
        "535"
    );
    assert_eq!(code(s.command(b"RCPT TO:<b@example.com>\r\n")), "503");
    assert_eq!(code(s.command(b"AUTH PLAIN\r\n")), "334");
    assert_eq!(
        code(s.command(format!("{}\r\n", plain("appliance", "secret")).as_bytes())),
        "235"
    );
    assert_eq!(code(s.command(b"MAIL FROM:<a@example.com>\r\n")), "250");
    assert_eq!(code(s.command(b"DATA\r\n")), "503");
    assert_eq!(code(s.command(b"RCPT TO:<b@example.com>\r\n")), "250");
    assert_eq!(
        s.command(b"DATA\r\n"),
        (
            "354 Start mail input; end with <CRLF>.<CRLF>\r\n".to_string(),
            Next::Data
        )
    );
    let (reply, accepted) = s.message(b"Message-ID: <m1@example.com>\r\nSubject: hi\r\n\r\nbody");
    assert!(reply.starts_with("250 "));
    assert_eq!(accepted.message_id.as_deref(), Some("<m1@example.com>"));
    assert_eq!(accepted.to, ["b@example.com"]);
    assert_eq!(code(s.command(b"STARTTLS\r\n")), "454");
    assert_eq!(code(s.command(b"BOGUS\r\n")), "500");
    assert_eq!(s.command(b"QUIT\r\n").1, Next::Close);
}

/// Registers the relay (with [`config`]) on `relay_ip` in `sim` and returns the client
/// host's environment at `client_ip`; both record to `recorder`.
fn with_relay(
    sim: &mut turmoil::Sim<'static>,
    recorder: &Recorder,
    relay_ip: IpAddr,
    client_ip: IpAddr,
) -> Env<SimNet> {
    let env = |name: &str, ip| {
        Env::new(
            name,
            SimNet::new(ip, FaultTable::default()),
            Arc::new(SimClock::new(Duration::ZERO)),
            recorder.clone(),
        )
    };
    let relay_env = env("smtp", relay_ip);
    sim.host(relay_ip, move || {
        let env = relay_env.clone();
        async move { Ok(run(env, config()).await?) }
    });
    env("node-1", client_ip)
}

/// Proves, in raw bytes over a simulated TCP connection, that the relay greets, answers
/// an unauthenticated MAIL FROM with 530, and that the nodes' client then delivers a
/// message that the relay records once with its Message-ID.
#[test]
fn raw_bytes_over_a_simulated_connection() {
    let relay_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 1, 25));
    let client_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 1, 11));
    let recorder = Recorder::new();
    let mut sim = turmoil::Builder::new()
        .rng_seed(1)
        .epoch(std::time::UNIX_EPOCH)
        .build();
    let client_env = with_relay(&mut sim, &recorder, relay_ip, client_ip);
    sim.client(client_ip, async move {
        let (net, relay) = (&client_env.net, SocketAddr::new(relay_ip, PORT));
        let mut stream = net.connect(relay).await?;
        stream
            .write_all(b"EHLO node-1\r\nMAIL FROM:<no-reply@example.com>\r\n")
            .await?;
        let mut seen = Vec::new();
        while !String::from_utf8_lossy(&seen).contains("\r\n530 ") {
            let mut buf = [0u8; 512];
            let n = stream.read(&mut buf).await?;
            assert!(
                n > 0,
                "the relay closed early: {:?}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&seen).to_string();
        assert!(
            text.starts_with("220 smtp.example.com ESMTP\r\n250-smtp.example.com\r\n"),
            "{text}"
        );
        assert!(
            text.ends_with("530 5.7.0 Authentication required\r\n"),
            "{text}"
        );
        let mail = Outgoing {
            from: "no-reply@example.com".into(),
            to: "user@example.com".into(),
            message_id: "<verify-1@example.com>".into(),
            subject: "Verify".into(),
            body: ".starts with a dot".into(),
        };
        let sent = send(
            net,
            relay,
            ("appliance", "secret"),
            &mail,
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(sent, Ok(()));
        let wrong = send(
            net,
            relay,
            ("appliance", "nope"),
            &mail,
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(
            wrong,
            Err("the relay answered 535, expected 235".to_string())
        );
        Ok(())
    });
    sim.run().unwrap();
    assert_eq!(accepted_ids(&recorder), ["<verify-1@example.com>"]);
}

/// The Message-IDs of the mail the relay recorded as accepted, in order.
fn accepted_ids(recorder: &Recorder) -> Vec<String> {
    recorder
        .snapshot()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::MailAccepted { message_id, .. } => Some(message_id),
            _ => None,
        })
        .collect()
}

/// Proves the nodes' client refuses to put CR or LF into a command: a recipient carrying
/// an injected `DATA` and a second transaction (what a crafted signup username produced)
/// is refused before anything is sent, and the relay accepts no message at all.
#[test]
fn client_refuses_cr_and_lf_in_commands() {
    let relay_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 1, 25));
    let client_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 1, 11));
    let recorder = Recorder::new();
    let mut sim = turmoil::Builder::new()
        .rng_seed(1)
        .epoch(std::time::UNIX_EPOCH)
        .build();
    let client_env = with_relay(&mut sim, &recorder, relay_ip, client_ip);
    sim.client(client_ip, async move {
        let injected = "victim@external.example>\r\nDATA\r\nFrom: boss@example.com\r\n\r\nwire money\r\n.\r\nMAIL FROM:<no-reply@example.com>\r\nRCPT TO:<u@example.com";
        let mail = Outgoing {
            from: "no-reply@example.com".into(),
            to: injected.into(),
            message_id: "<verify-u@example.com>".into(),
            subject: "Verify".into(),
            body: "hello".into(),
        };
        let relay = SocketAddr::new(relay_ip, PORT);
        let sent = send(&client_env.net, relay, ("appliance", "secret"), &mail, Duration::from_secs(5)).await;
        assert!(sent.is_err(), "an address with CR/LF was sent: {sent:?}");
        Ok(())
    });
    sim.run().unwrap();
    let accepted = recorder
        .snapshot()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::MailAccepted { .. }))
        .count();
    assert_eq!(accepted, 0, "the relay accepted an injected message");
}

/// Runs [`dialogue`] over a scripted stream and returns the messages it accepted.
async fn script(session: &mut Session, stream: &mut tokio_test::io::Mock) -> (Vec<Accepted>, bool) {
    let accepted = std::cell::RefCell::new(Vec::new());
    let end = dialogue(session, stream, &mut Vec::new(), &|a| {
        accepted.borrow_mut().push(a)
    })
    .await
    .expect("the scripted stream does not fail");
    (accepted.into_inner(), matches!(end, End::StartTls))
}

/// Proves, byte for byte, a whole session with the size bound at work: EHLO's
/// extensions (no STARTTLS without a certificate), an over-long line answered 500, an
/// over-large message answered 552 with the transaction reset, then a message accepted.
#[tokio::test]
async fn a_session_byte_for_byte_with_its_bounds() {
    let long = format!("NOOP {}\r\n", "x".repeat(MAX_LINE_BYTES));
    let big = format!("{}\r\n", "y".repeat(998)).repeat(MAX_MESSAGE_BYTES / 1000 + 1);
    let auth = format!("AUTH PLAIN {}\r\n", plain("appliance", "secret"));
    let mut stream = tokio_test::io::Builder::new()
        .read(b"EHLO client\r\n")
        .write(b"250-smtp.example.com\r\n250-SIZE 1048576\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n")
        .read(long.as_bytes())
        .write(b"500 5.5.2 Line too long\r\n")
        .read(auth.as_bytes())
        .write(b"235 2.7.0 Authentication successful\r\n")
        .read(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n")
        .write(b"250 2.1.0 OK\r\n")
        .write(b"250 2.1.5 OK\r\n")
        .read(b"DATA\r\n")
        .write(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n")
        .read(big.as_bytes())
        .read(b".\r\n")
        .write(b"552 5.3.4 Message size exceeds fixed maximum message size\r\n")
        .read(b"RCPT TO:<b@example.com>\r\n")
        .write(b"503 5.5.1 Need MAIL command\r\n")
        .read(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
        .write(b"250 2.1.0 OK\r\n")
        .write(b"250 2.1.5 OK\r\n")
        .write(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n")
        .read(b"Message-ID: <m@example.com>\r\n\r\nhi\r\n.\r\nQUIT\r\n")
        .write(b"250 2.0.0 OK queued as 1\r\n")
        .write(b"221 2.0.0 Bye\r\n")
        .build();
    let (accepted, tls) = script(&mut Session::new(config()), &mut stream).await;
    assert!(!tls);
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].message_id.as_deref(), Some("<m@example.com>"));
}

/// Proves a client silent past [`COMMAND_TIMEOUT`] is told 421 and the session ends,
/// and one still sending its message past [`DATA_TIMEOUT`] too (time is paused, so the
/// waits take no real time).
#[tokio::test(start_paused = true)]
async fn idle_and_slow_clients_get_421() {
    let bye = b"421 4.4.2 smtp.example.com Timeout exceeded, closing connection\r\n";
    let mut idle = tokio_test::io::Builder::new()
        .wait(COMMAND_TIMEOUT + Duration::from_secs(1))
        .write(bye)
        .build();
    assert_eq!(script(&mut Session::new(config()), &mut idle).await.0, []);

    let auth = format!("AUTH PLAIN {}\r\n", plain("appliance", "secret"));
    let mut slow = tokio_test::io::Builder::new()
        .read(auth.as_bytes())
        .write(b"235 2.7.0 Authentication successful\r\n")
        .read(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
        .write(b"250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n")
        .read(b"Subject: a body that never ends\r\n")
        .wait(DATA_TIMEOUT / 2)
        .read(b"still going\r\n")
        .wait(DATA_TIMEOUT / 2 + Duration::from_secs(1))
        .write(bye)
        .build();
    assert_eq!(script(&mut Session::new(config()), &mut slow).await.0, []);
}

/// Proves the tenth refused command ends the session with 421.
#[tokio::test]
async fn too_many_errors_close_the_session() {
    let mut builder = tokio_test::io::Builder::new();
    for _ in 1..MAX_ERRORS {
        builder
            .read(b"BOGUS\r\n")
            .write(b"500 5.5.2 Syntax error, command unrecognized\r\n");
    }
    let mut stream = builder
        .read(b"BOGUS\r\n")
        .write(b"500 5.5.2 Syntax error, command unrecognized\r\n421 4.7.0 smtp.example.com Too many errors, closing connection\r\n")
        .build();
    assert_eq!(script(&mut Session::new(config()), &mut stream).await.0, []);
}

/// Proves STARTTLS with a certificate: offered in EHLO, answered 220, and the dialogue
/// hands the connection over at once; inside TLS it is neither offered nor accepted.
#[tokio::test]
async fn starttls_is_offered_once() {
    let identity = crate::tls::Identity::generate(
        &["smtp.example.com".to_string()],
        Duration::from_secs(1_767_225_600),
        Duration::from_secs(86_400),
    )
    .unwrap();
    let clock = Arc::new(crate::net::real::RealClock::new(0));
    let with_tls = SmtpConfig {
        tls: Some(crate::tls::server(&identity, clock).unwrap()),
        ..config()
    };
    let mut clear = tokio_test::io::Builder::new()
        .read(b"EHLO client\r\n")
        .write(b"250-smtp.example.com\r\n250-STARTTLS\r\n250-SIZE 1048576\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n")
        .read(b"STARTTLS\r\n")
        .write(b"220 2.0.0 Ready to start TLS\r\n")
        .build();
    assert!(
        script(&mut Session::new(with_tls.clone()), &mut clear)
            .await
            .1
    );
    let mut inside = tokio_test::io::Builder::new()
        .read(b"EHLO client\r\n")
        .write(b"250-smtp.example.com\r\n250-SIZE 1048576\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n")
        .read(b"STARTTLS\r\n")
        .write(b"503 5.5.1 TLS already active\r\n")
        .read(b"QUIT\r\n")
        .write(b"221 2.0.0 Bye\r\n")
        .build();
    assert!(!script(&mut Session::in_tls(with_tls), &mut inside).await.1);
}

/// A session whose relay answers as `fault` says.
fn faulty(fault: SmtpAnswer) -> Session {
    let answering = Answering::default();
    answering.set(fault);
    Session::new(config()).answering(answering)
}

/// Proves, byte for byte, the `auth-rejected` fault: the right credentials get `535`
/// in both forms of AUTH PLAIN, the session goes on (MAIL before a successful AUTH is
/// `530`), and the client may quit; nothing is accepted.
#[tokio::test]
async fn auth_rejected_answers_535_byte_for_byte() {
    let auth = format!("AUTH PLAIN {}\r\n", plain("appliance", "secret"));
    let mut stream = tokio_test::io::Builder::new()
        .read(b"EHLO client\r\n")
        .write(b"250-smtp.example.com\r\n250-SIZE 1048576\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n")
        .read(auth.as_bytes())
        .write(b"535 5.7.8 Authentication credentials invalid\r\n")
        .read(b"AUTH PLAIN\r\n")
        .write(b"334 \r\n")
        .read(format!("{}\r\n", plain("appliance", "secret")).as_bytes())
        .write(b"535 5.7.8 Authentication credentials invalid\r\n")
        .read(b"MAIL FROM:<a@example.com>\r\n")
        .write(b"530 5.7.0 Authentication required\r\n")
        .read(b"QUIT\r\n")
        .write(b"221 2.0.0 Bye\r\n")
        .build();
    let session = &mut faulty(SmtpAnswer::AuthRejected);
    assert_eq!(script(session, &mut stream).await.0, []);
}

/// Proves, byte for byte, the `temporary` fault: AUTH succeeds, every `MAIL FROM` gets
/// `451 4.3.0` (not counted as a refused command: a tenth try is answered the same, the
/// session is not closed), so no transaction starts and nothing is accepted.
#[tokio::test]
async fn temporary_answers_451_byte_for_byte() {
    let auth = format!("AUTH PLAIN {}\r\n", plain("appliance", "secret"));
    let mut builder = tokio_test::io::Builder::new();
    builder
        .read(auth.as_bytes())
        .write(b"235 2.7.0 Authentication successful\r\n");
    for _ in 0..MAX_ERRORS {
        builder
            .read(b"MAIL FROM:<a@example.com>\r\n")
            .write(b"451 4.3.0 Temporary local problem, try again later\r\n");
    }
    let mut stream = builder
        .read(b"RCPT TO:<b@example.com>\r\n")
        .write(b"503 5.5.1 Need MAIL command\r\n")
        .read(b"QUIT\r\n")
        .write(b"221 2.0.0 Bye\r\n")
        .build();
    let session = &mut faulty(SmtpAnswer::Temporary);
    assert_eq!(script(session, &mut stream).await.0, []);
}

/// Proves the `slow` fault delays every reply by its delay and changes nothing else:
/// with time paused (and the script itself never waiting), two replies take exactly two
/// delays of simulated time.
#[tokio::test(start_paused = true)]
async fn slow_delays_every_reply() {
    let delay = Duration::from_secs(2);
    let mut stream = tokio_test::io::Builder::new()
        .read(b"NOOP\r\n")
        .write(b"250 2.0.0 OK\r\n")
        .read(b"QUIT\r\n")
        .write(b"221 2.0.0 Bye\r\n")
        .build();
    let delay_ms = u64::try_from(delay.as_millis()).unwrap();
    let session = &mut faulty(SmtpAnswer::Slow { delay_ms });
    let started = tokio::time::Instant::now();
    assert_eq!(script(session, &mut stream).await.0, []);
    assert_eq!(started.elapsed(), delay * 2);
}
