//! The relay's dialogue, in plain code and over a simulated connection.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use super::*;
use crate::events::Recorder;
use crate::world::clock::SimClock;
use crate::world::net::{FaultTable, SimNet};

fn config() -> SmtpConfig {
    SmtpConfig {
        hostname: "smtp.example.com".into(),
        username: "appliance".into(),
        password: "secret".into(),
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

/// Proves the body ends at <CRLF>.<CRLF>, lines starting with "." are unstuffed, and what
/// follows the terminator stays for the next command.
#[tokio::test]
async fn data_is_dot_unstuffed() {
    let mut input: &[u8] = b"line one\r\n..leading dot\r\n.\r\nQUIT\r\n";
    let mut pending = Vec::new();
    let body = read_data(&mut input, &mut pending).await.unwrap();
    assert_eq!(body, b"line one\r\n.leading dot");
    assert_eq!(
        read_line(&mut input, &mut pending).await.unwrap(),
        b"QUIT\r\n"
    );
    assert_eq!(dot_stuff("a\r\n.b"), "a\r\n..b");
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
    let env = {
        let recorder = recorder.clone();
        move |name: &str, ip| {
            Env::new(
                name,
                SimNet::new(ip, FaultTable::default()),
                Arc::new(SimClock::new(Duration::ZERO)),
                recorder.clone(),
            )
        }
    };
    let relay_env = env("smtp", relay_ip);
    sim.host(relay_ip, move || {
        let env = relay_env.clone();
        async move { Ok(run(env, config()).await?) }
    });
    let client_env = env("node-1", client_ip);
    sim.client(client_ip, async move {
        let net = &client_env.net;
        let mut stream = net.connect(SocketAddr::new(relay_ip, PORT)).await?;
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
            SocketAddr::new(relay_ip, PORT),
            ("appliance", "secret"),
            &mail,
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(sent, Ok(()));
        let wrong = send(
            net,
            SocketAddr::new(relay_ip, PORT),
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
    let accepted: Vec<_> = recorder
        .snapshot()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::MailAccepted { message_id, .. } => Some(message_id),
            _ => None,
        })
        .collect();
    assert_eq!(accepted, ["<verify-1@example.com>"]);
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
    let client_env = env("node-1", client_ip);
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
