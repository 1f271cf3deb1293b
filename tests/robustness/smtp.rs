//! The served SMTP relay against clients that break the rules: over-long lines, a message
//! over the size bound, more sessions than it allows, garbage; after each it still
//! answers a proper session.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the relay may take to bind its port.
const START: Duration = Duration::from_secs(30);
/// How long one reply may take.
const REPLY: Duration = Duration::from_secs(10);
/// How long the relay may take to free the slots of sessions its clients closed.
const FREED_WITHIN: Duration = Duration::from_secs(10);

/// `harness serve smtp` on a free loopback port, stopped when dropped.
struct Relay {
    child: Child,
    addr: SocketAddr,
}

impl Relay {
    fn start() -> Self {
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/serve/https.toml"
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
            .args(["serve", "smtp", fixture, "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("harness serve smtp starts");
        let stderr = BufReader::new(child.stderr.take().expect("piped"));
        let deadline = Instant::now() + START;
        let prefix = "listening: tcp/587 on ";
        let mut addr = None;
        for line in stderr.lines() {
            let line = line.expect("stderr is text");
            if let Some(rest) = line.strip_prefix(prefix) {
                addr = Some(rest.parse().expect("an address"));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the relay did not bind within {START:?}"
            );
        }
        Self {
            child,
            addr: addr.expect("the relay printed its listening line"),
        }
    }

    fn connect(&self) -> Client {
        let (client, greeting) = self.greeted();
        assert!(greeting.starts_with("220 "), "{greeting}");
        client
    }

    /// A new session and its greeting's last line.
    fn greeted(&self) -> (Client, String) {
        let stream = TcpStream::connect(self.addr).expect("the relay accepts");
        stream
            .set_read_timeout(Some(REPLY))
            .expect("a timeout can be set");
        let mut client = Client {
            stream,
            pending: Vec::new(),
        };
        let greeting = client.reply();
        (client, greeting)
    }

    /// A session greeted `220` rather than turned away `421`, waited for up to
    /// [`FREED_WITHIN`]: the relay frees a closed session's slot once its task sees the
    /// client gone, which a loaded machine may take a while to schedule.
    fn await_free_slot(&self) -> Client {
        let deadline = Instant::now() + FREED_WITHIN;
        loop {
            let (client, greeting) = self.greeted();
            if greeting.starts_with("220 ") {
                return client;
            }
            assert!(greeting.starts_with("421 "), "{greeting}");
            assert!(
                Instant::now() < deadline,
                "no session slot freed within {FREED_WITHIN:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A whole proper session: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT, each answered
    /// as RFC 5321 says.
    fn delivers(&self) {
        self.connect().delivers();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Client {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl Client {
    /// The rest of a proper session after the greeting: [`Client::start_message`], the
    /// message, QUIT.
    fn delivers(mut self) {
        self.start_message();
        assert!(
            self.say("Subject: hi\r\n\r\nbody\r\n.\r\n")
                .starts_with("250")
        );
        assert!(self.say("QUIT\r\n").starts_with("221"));
    }

    /// EHLO, AUTH PLAIN, MAIL, RCPT and DATA, each answered as RFC 5321 says: the relay
    /// now waits for a message body.
    fn start_message(&mut self) {
        assert!(self.say("EHLO client\r\n").starts_with("250"));
        // "\0appliance\0smtp-secret", the fixture's credentials.
        assert!(
            self.say("AUTH PLAIN AGFwcGxpYW5jZQBzbXRwLXNlY3JldA==\r\n")
                .starts_with("235")
        );
        assert!(self.say("MAIL FROM:<a@example.com>\r\n").starts_with("250"));
        assert!(self.say("RCPT TO:<b@example.com>\r\n").starts_with("250"));
        assert!(self.say("DATA\r\n").starts_with("354"));
    }

    /// Sends `text` and returns the (last line of the) reply.
    fn say(&mut self, text: &str) -> String {
        self.stream
            .write_all(text.as_bytes())
            .expect("the relay reads");
        self.reply()
    }

    /// The next reply's last line, or `closed` when the relay closed the connection.
    fn reply(&mut self) -> String {
        loop {
            if let Some(end) = self.pending.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.pending.drain(..end + 2).collect();
                let line = String::from_utf8_lossy(&line).to_string();
                if line.as_bytes().get(3) == Some(&b'-') {
                    continue;
                }
                return line;
            }
            let mut buf = [0u8; 4096];
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => return "closed".to_string(),
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
            }
        }
    }
}

/// An over-long command line is answered 500 and the session goes on (it used to be
/// reset), and the relay still delivers afterwards.
#[test]
fn an_over_long_line_is_answered_500_and_the_session_goes_on() {
    let relay = Relay::start();
    let mut c = relay.connect();
    let long = format!("EHLO {}\r\n", "x".repeat(5000));
    assert!(c.say(&long).starts_with("500 "));
    assert!(c.say("NOOP\r\n").starts_with("250 "));
    relay.delivers();
}

/// A message over the size bound is answered 552 once its terminator arrives, the
/// session goes on, and nothing is accepted for it.
#[test]
fn an_over_large_message_is_answered_552() {
    let relay = Relay::start();
    let mut c = relay.connect();
    c.start_message();
    let line = format!("{}\r\n", "y".repeat(998));
    let chunk = line.repeat(1024);
    for _ in 0..2 {
        c.stream
            .write_all(chunk.as_bytes())
            .expect("the relay reads the body");
    }
    assert!(c.say(".\r\n").starts_with("552 "));
    assert!(c.say("NOOP\r\n").starts_with("250 "));
    relay.delivers();
}

/// More sessions than the relay allows: the ones over the bound are told 421 and closed,
/// garbage and truncated commands are answered, and once they are gone a proper session
/// delivers.
#[test]
fn sessions_over_the_bound_get_421_and_garbage_is_answered() {
    let relay = Relay::start();
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..150 {
        let (c, greeting) = relay.greeted();
        if greeting.starts_with("421 ") {
            refused += 1;
        } else {
            assert!(greeting.starts_with("220 "), "{greeting}");
            held.push(c);
        }
    }
    assert!(refused > 0, "150 sessions at once were all taken");
    let mut c = held.pop().expect("some sessions were taken");
    assert!(c.say("\u{1}\u{2}garbage\r\n").starts_with("500 "));
    c.stream.write_all(b"MAIL FR").expect("the relay reads");
    drop(c);
    drop(held);
    relay.await_free_slot().delivers();
}
