//! SMTP: the corporate relay the appliance sends mail through.
//!
//! Real component: the SMTP server of seed 002, which the appliance must use with
//! `AUTH PLAIN`; STARTTLS is supported but not required.
//!
//! Modelled: ESMTP on port 587 (commands parsed by smtp-proto). `EHLO` advertises
//! `STARTTLS`, `AUTH PLAIN` and `8BITMIME`; `AUTH PLAIN` (with the credentials in the
//! command, or after a `334` prompt) checks the configured user and password (`235`, or
//! `535`); `MAIL FROM` before authentication gets `530`; `RCPT TO` needs a `MAIL FROM`
//! (`503` otherwise); `DATA` needs a recipient, reads the message to `<CRLF>.<CRLF>` with
//! dot-unstuffing and answers `250 ... queued as <n>`; `RSET`, `NOOP`, `QUIT`. Each
//! accepted message is recorded (with its `Message-ID`), so checks can count mail.
//! Also the client half the nodes use: one message per session, every reply checked.
//!
//! Left out on purpose: TLS (`STARTTLS` is answered `454`, so clients carry on in the
//! clear, as the seeds allow), relaying onwards, size limits beyond [`MAX_MESSAGE_BYTES`],
//! pipelining.
//!
//! Port: TCP 587. Faults: crashes of the smtp host (applied by the world).

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use smtp_proto::request::receiver::DataReceiver;
use smtp_proto::{AUTH_PLAIN, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::env::Env;
use crate::events::EventKind;
use crate::net::{Listener, Net};

/// The submission port.
pub const PORT: u16 = 587;
/// A command line longer than this is refused (RFC 5321 allows 512 octets).
pub const MAX_LINE_BYTES: usize = 1000;
/// A message longer than this is refused.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// The relay's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// The name it greets with.
    pub hostname: String,
    pub username: String,
    pub password: String,
}

/// What the connection does after a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read the next command line.
    Command,
    /// Read the message body, up to `<CRLF>.<CRLF>`.
    Data,
    /// Close the connection.
    Close,
}

/// A message the relay accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub from: String,
    pub to: Vec<String>,
    /// The `Message-ID` header, if the message had one.
    pub message_id: Option<String>,
}

/// One SMTP session's state: plain code, fed whole lines, returning replies.
#[derive(Debug, Clone)]
pub struct Session {
    config: SmtpConfig,
    authenticated: bool,
    /// An `AUTH PLAIN` without credentials is waiting for them on the next line.
    awaiting_credentials: bool,
    from: Option<String>,
    to: Vec<String>,
    accepted: u64,
}

impl Session {
    pub fn new(config: SmtpConfig) -> Self {
        Self {
            config,
            authenticated: false,
            awaiting_credentials: false,
            from: None,
            to: Vec::new(),
            accepted: 0,
        }
    }

    pub fn greeting(&self) -> String {
        format!("220 {} ESMTP\r\n", self.config.hostname)
    }

    /// Handles one command line (CRLF included).
    pub fn command(&mut self, line: &[u8]) -> (String, Next) {
        if std::mem::take(&mut self.awaiting_credentials) {
            return (
                self.authenticate(String::from_utf8_lossy(line).trim()),
                Next::Command,
            );
        }
        let reply = |text: &str| (format!("{text}\r\n"), Next::Command);
        let request = match Request::parse(&mut line.iter()) {
            Ok(request) => request,
            Err(_) => return reply("500 5.5.2 Syntax error, command unrecognized"),
        };
        match request {
            Request::Ehlo { .. } => {
                let host = &self.config.hostname;
                (
                    format!("250-{host}\r\n250-STARTTLS\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"),
                    Next::Command,
                )
            }
            Request::Helo { .. } => (format!("250 {}\r\n", self.config.hostname), Next::Command),
            Request::StartTls => reply("454 4.7.0 TLS not available"),
            Request::Auth {
                mechanism,
                initial_response,
            } if mechanism == AUTH_PLAIN => {
                if initial_response.is_empty() {
                    self.awaiting_credentials = true;
                    return reply("334 ");
                }
                (self.authenticate(&initial_response), Next::Command)
            }
            Request::Auth { .. } => reply("504 5.5.4 Unrecognized authentication type"),
            Request::Mail { .. } if !self.authenticated => {
                reply("530 5.7.0 Authentication required")
            }
            Request::Mail { from } => {
                self.from = Some(from.address);
                self.to.clear();
                reply("250 2.1.0 OK")
            }
            Request::Rcpt { .. } if self.from.is_none() => reply("503 5.5.1 Need MAIL command"),
            Request::Rcpt { to } => {
                self.to.push(to.address);
                reply("250 2.1.5 OK")
            }
            Request::Data if self.to.is_empty() => reply("503 5.5.1 Need RCPT command"),
            Request::Data => (
                "354 Start mail input; end with <CRLF>.<CRLF>\r\n".to_string(),
                Next::Data,
            ),
            Request::Rset => {
                self.from = None;
                self.to.clear();
                reply("250 2.0.0 OK")
            }
            Request::Noop { .. } => reply("250 2.0.0 OK"),
            Request::Quit => ("221 2.0.0 Bye\r\n".to_string(), Next::Close),
            _ => reply("502 5.5.1 Command not implemented"),
        }
    }

    fn authenticate(&mut self, encoded: &str) -> String {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_default();
        // AUTH PLAIN: authorization identity, NUL, user, NUL, password (RFC 4616).
        let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
        let ok = matches!(parts.as_slice(), [_, user, password]
            if *user == self.config.username.as_bytes() && *password == self.config.password.as_bytes());
        self.authenticated = ok;
        if ok {
            "235 2.7.0 Authentication successful\r\n"
        } else {
            "535 5.7.8 Authentication credentials invalid\r\n"
        }
        .to_string()
    }

    /// The message body has arrived (dot-unstuffed, terminator removed).
    pub fn message(&mut self, body: &[u8]) -> (String, Accepted) {
        self.accepted += 1;
        let text = String::from_utf8_lossy(body);
        let message_id = text
            .lines()
            .take_while(|l| !l.is_empty())
            .find_map(|l| {
                l.strip_prefix("Message-ID:")
                    .or_else(|| l.strip_prefix("Message-Id:"))
            })
            .map(|v| v.trim().to_string());
        let accepted = Accepted {
            from: self.from.take().unwrap_or_default(),
            to: std::mem::take(&mut self.to),
            message_id,
        };
        (
            format!("250 2.0.0 OK queued as {}\r\n", self.accepted),
            accepted,
        )
    }
}

/// Runs the relay until its listener fails.
pub async fn run<N: Net>(env: Env<N>, config: SmtpConfig) -> std::io::Result<()> {
    let mut listener = env.net.listen(PORT).await?;
    env.record(EventKind::ServiceStarted {
        service: "smtp".to_string(),
        port: PORT,
    });
    loop {
        let (stream, _peer) = listener.accept().await?;
        let (env, config) = (env.clone(), config.clone());
        tokio::spawn(async move {
            // A client that breaks off has no one to hear about it.
            if let Err(gone) = serve(&env, config, stream).await {
                drop(gone);
            }
        });
    }
}

async fn serve<N: Net>(
    env: &Env<N>,
    config: SmtpConfig,
    mut stream: N::Stream,
) -> std::io::Result<()> {
    let mut session = Session::new(config);
    stream.write_all(session.greeting().as_bytes()).await?;
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let line = read_line(&mut stream, &mut pending).await?;
        let (reply, next) = session.command(&line);
        stream.write_all(reply.as_bytes()).await?;
        match next {
            Next::Command => {}
            Next::Close => return Ok(()),
            Next::Data => {
                let body = read_data(&mut stream, &mut pending).await?;
                let (reply, accepted) = session.message(&body);
                env.record(EventKind::MailAccepted {
                    message_id: accepted.message_id.unwrap_or_default(),
                    to: accepted.to.join(", "),
                });
                stream.write_all(reply.as_bytes()).await?;
            }
        }
    }
}

/// Reads one line (CRLF included) from `stream`, keeping what follows it in `pending`.
async fn read_line<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    pending: &mut Vec<u8>,
) -> std::io::Result<Vec<u8>> {
    loop {
        if let Some(end) = pending.windows(2).position(|w| w == b"\r\n") {
            return Ok(pending.drain(..end + 2).collect());
        }
        if pending.len() > MAX_LINE_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "line too long",
            ));
        }
        fill(stream, pending).await?;
    }
}

/// Reads a message body up to `<CRLF>.<CRLF>`, dot-unstuffed.
async fn read_data<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    pending: &mut Vec<u8>,
) -> std::io::Result<Vec<u8>> {
    let mut receiver = DataReceiver::new();
    let mut body = Vec::new();
    // The body starts right after a CRLF: let the receiver know, so a "." on the first
    // line ends an empty message.
    receiver.ingest(&mut b"\r\n".iter(), &mut body);
    body.clear();
    loop {
        let mut bytes = pending.iter();
        let done = receiver.ingest(&mut bytes, &mut body);
        let rest = bytes.as_slice().to_vec();
        *pending = rest;
        if done {
            return Ok(body);
        }
        if body.len() > MAX_MESSAGE_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "message too large",
            ));
        }
        fill(stream, pending).await?;
    }
}

async fn fill<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    pending: &mut Vec<u8>,
) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).await?;
    if n == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    pending.extend_from_slice(&buf[..n]);
    Ok(())
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub from: String,
    pub to: String,
    pub message_id: String,
    pub subject: String,
    pub body: String,
}

/// The longest address in a `MAIL FROM` or `RCPT TO`, in octets: RFC 5321's 256-octet
/// path (section 4.5.3.1.3) less its angle brackets.
pub const MAX_ADDRESS_BYTES: usize = 254;
/// The longest local part of an address, in octets (RFC 5321 section 4.5.3.1.1).
pub const MAX_LOCAL_PART_BYTES: usize = 64;

/// Checks an address before it goes into `MAIL FROM:<..>` or `RCPT TO:<..>`: one `@`
/// between a non-empty local part of at most [`MAX_LOCAL_PART_BYTES`] and a non-empty
/// domain, at most [`MAX_ADDRESS_BYTES`] in all, and no byte that could end the path or
/// the command (CR, LF, any other control character, space, `<`, `>`). So no caller can
/// put a second command into the session, whatever it was given.
pub fn check_address(address: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("refusing to send to {address:?}: {why}"));
    if address.len() > MAX_ADDRESS_BYTES {
        return refuse(&format!("longer than {MAX_ADDRESS_BYTES} bytes"));
    }
    if address
        .chars()
        .any(|c| c.is_control() || c == ' ' || c == '<' || c == '>')
    {
        return refuse("a control character, space, '<' or '>' in it");
    }
    match address.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && local.len() <= MAX_LOCAL_PART_BYTES
                && !domain.is_empty()
                && !domain.contains('@') =>
        {
            Ok(())
        }
        _ => refuse(&format!(
            "not local@domain with a local part of 1 to {MAX_LOCAL_PART_BYTES} bytes"
        )),
    }
}

/// Checks a header value before it goes into the message: a CR or LF would end the
/// header and start another (or the body).
fn check_header(name: &str, value: &str) -> Result<(), String> {
    if value.contains(['\r', '\n']) {
        return Err(format!("refusing a {name} header with CR or LF in it"));
    }
    Ok(())
}

/// Checks every part of `mail` that goes into a command or a header line.
fn check_outgoing(mail: &Outgoing) -> Result<(), String> {
    check_address(&mail.from)?;
    check_address(&mail.to)?;
    check_header("Message-ID", &mail.message_id)?;
    check_header("Subject", &mail.subject)
}

/// Sends one message through the relay: greeting, EHLO, AUTH PLAIN, MAIL, RCPT, DATA,
/// every reply checked, then QUIT (whose answer no longer matters); the whole session
/// bounded by `timeout`. A message whose addresses or headers fail [`check_address`] is
/// refused before anything is sent.
pub async fn send<N: Net>(
    net: &N,
    relay: SocketAddr,
    credentials: (&str, &str),
    mail: &Outgoing,
    timeout: Duration,
) -> Result<(), String> {
    check_outgoing(mail)?;
    let dialogue = async {
        let mut stream = net
            .connect(relay)
            .await
            .map_err(|e| format!("connect failed: {e}"))?;
        let mut pending = Vec::new();
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("\0{}\0{}", credentials.0, credentials.1));
        let data = format!(
            "Message-ID: {}\r\nFrom: {}\r\nTo: {}\r\nSubject: {}\r\n\r\n{}\r\n.\r\n",
            mail.message_id,
            mail.from,
            mail.to,
            mail.subject,
            dot_stuff(&mail.body)
        );
        let steps = [
            (None, 220),
            (Some("EHLO appliance\r\n".to_string()), 250),
            (Some(format!("AUTH PLAIN {token}\r\n")), 235),
            (Some(format!("MAIL FROM:<{}>\r\n", mail.from)), 250),
            (Some(format!("RCPT TO:<{}>\r\n", mail.to)), 250),
            (Some("DATA\r\n".to_string()), 354),
            (Some(data), 250),
        ];
        for (send, expect) in steps {
            if let Some(text) = send {
                stream
                    .write_all(text.as_bytes())
                    .await
                    .map_err(|e| format!("send failed: {e}"))?;
            }
            let code = read_reply(&mut stream, &mut pending).await?;
            if code != expect {
                return Err(format!("the relay answered {code}, expected {expect}"));
            }
        }
        // The 250 to DATA hands the message over (RFC 5321 section 6.1): from here on the
        // delivery stands, whatever becomes of QUIT.
        if stream.write_all(b"QUIT\r\n").await.is_ok() {
            let bye = read_reply(&mut stream, &mut pending).await;
            drop(bye);
        }
        Ok(())
    };
    tokio::time::timeout(timeout, dialogue)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no answer within {}",
                crate::duration::span(timeout)
            ))
        })
}

/// Reads a (possibly multi-line) reply and returns its code.
async fn read_reply<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    pending: &mut Vec<u8>,
) -> Result<u16, String> {
    loop {
        let line = read_line(stream, pending)
            .await
            .map_err(|e| format!("no reply: {e}"))?;
        let code = std::str::from_utf8(line.get(..3).unwrap_or_default())
            .ok()
            .and_then(|c| c.parse().ok());
        match (code, line.get(3)) {
            (Some(_), Some(b'-')) => continue,
            (Some(code), _) => return Ok(code),
            (None, _) => {
                return Err(format!(
                    "malformed reply {:?}",
                    String::from_utf8_lossy(&line)
                ));
            }
        }
    }
}

/// Doubles a leading "." on every line (RFC 5321 section 4.5.2).
fn dot_stuff(body: &str) -> String {
    body.split("\r\n")
        .map(|l| {
            if l.starts_with('.') {
                format!(".{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[cfg(test)]
mod tests;
