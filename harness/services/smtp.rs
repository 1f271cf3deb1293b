//! SMTP: the corporate relay the appliance sends mail through.
//!
//! Real component: the SMTP server of the security and access requirements, which the appliance must use with
//! `AUTH PLAIN`; STARTTLS is supported but not required.
//!
//! Modelled: ESMTP on port 587 (commands parsed by smtp-proto). `EHLO` advertises
//! `STARTTLS` (when the relay has a certificate and the session is not yet in TLS),
//! `SIZE`, `AUTH PLAIN` and `8BITMIME`; `STARTTLS` answers `220` and the session
//! continues inside TLS (rustls) from a clean state, as RFC 3207 section 4.2 requires:
//! anything the client sent after the command is thrown away, not read as commands
//! inside TLS. `AUTH PLAIN` (with the credentials in the command, or after a `334`
//! prompt) checks the configured user and password (`235`, or `535`); `MAIL FROM`
//! before authentication gets `530`; `RCPT TO` needs a `MAIL FROM` (`503` otherwise), at
//! most [`MAX_RECIPIENTS`] (`452`); `DATA` needs a recipient, reads the message to
//! `<CRLF>.<CRLF>` with dot-unstuffing and answers `250 ... queued as <n>`; `RSET`,
//! `NOOP`, `QUIT`. Each accepted message is recorded (with its `Message-ID`), so checks
//! can count mail. The client half the nodes use is [`client`].
//!
//! Bounds, each answered as RFC 5321 says rather than by dropping the connection: a line
//! over [`wire::MAX_LINE_BYTES`] gets `500` (section 4.5.3.1.4), a message over
//! [`wire::MAX_MESSAGE_BYTES`] `552` once its terminator arrives (4.5.3.1.10), both with
//! the session going on; a client silent for [`COMMAND_TIMEOUT`] while a command is
//! due (the server timeout of 4.5.3.2.7), or still sending a message after
//! [`DATA_TIMEOUT`] (the DATA termination bound of 4.5.3.2.6), or in session for
//! [`SESSION_MAX`], or past [`MAX_ERRORS`] refused commands, gets `421` and is closed;
//! a TLS handshake gets [`TLS_HANDSHAKE_TIMEOUT`]; past [`MAX_SESSIONS`] at once a new
//! connection gets `421` at once and is closed.
//!
//! Left out on purpose: relaying onwards, pipelining, client certificates.
//!
//! Port: TCP 587. Faults it reacts to: crashes of the smtp host (applied by the world:
//! power-off, every connect times out; process, every connect is refused); and the
//! scenario's `smtp = { answer = ... }` steps, read from the [`Answering`] switch at each
//! command: `auth-rejected` answers `535 5.7.8` to every `AUTH` however right the
//! credentials, `temporary` answers `451 4.3.0` to every `MAIL FROM` (after a successful
//! `AUTH`), `slow` sends every reply, the greeting included, `delay` late (the client's
//! own session timeout decides whether it waits), `normal` undoes them. The mail queue
//! ([`super::mail`]) retries each failure with its backoff and never gives up.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use smtp_proto::{AUTH_PLAIN, Request};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::Semaphore;

use crate::env::Env;
use crate::events::EventKind;
use crate::faults::service::SmtpAnswer;
use crate::net::Net;

pub mod client;
pub mod wire;

pub use client::{Outgoing, check_address, send};
use wire::{Body, Line, read_data, read_line};
pub use wire::{MAX_LINE_BYTES, MAX_MESSAGE_BYTES};

/// The submission port.
pub const PORT: u16 = 587;
/// How long the relay waits for the next command line (RFC 5321 section 4.5.3.2.7).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// How long a message may take to arrive, from `354` to its terminator (RFC 5321
/// section 4.5.3.2.6).
pub const DATA_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How long one session may last in all, however busy: a client sending a `NOOP` every
/// few minutes cannot hold a session slot for ever.
pub const SESSION_MAX: Duration = Duration::from_secs(30 * 60);
/// How long a STARTTLS handshake may take.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Sessions served at once; one more is told `421` and closed.
pub const MAX_SESSIONS: usize = 100;
/// How long telling a connection over [`MAX_SESSIONS`] its `421` may take before it is
/// closed unanswered: the reply fits any socket buffer, so only a peer that reads nothing
/// and has filled its window waits this long.
pub const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);
/// Refused commands (`5xx` replies) a session may collect before it is closed with `421`.
pub const MAX_ERRORS: u32 = 10;
/// Recipients per message (RFC 5321 section 4.5.3.1.8 asks servers to take at least 100).
pub const MAX_RECIPIENTS: usize = 100;

/// The relay's configuration.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// The name it greets with.
    pub hostname: String,
    pub username: String,
    pub password: String,
    /// The certificate STARTTLS upgrades with; `None`: STARTTLS is not offered (`454`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// How the relay answers now: the scenario's `smtp` step sets it (the world holds a
/// clone), every session reads it at each command. Starts [`SmtpAnswer::Normal`].
#[derive(Debug, Clone)]
pub struct Answering(Arc<std::sync::Mutex<SmtpAnswer>>);

impl Default for Answering {
    fn default() -> Self {
        Self(Arc::new(std::sync::Mutex::new(SmtpAnswer::Normal)))
    }
}

impl Answering {
    /// From now on the relay answers so.
    pub fn set(&self, answer: SmtpAnswer) {
        *self
            .0
            .lock()
            .expect("no code panics while holding the switch") = answer;
    }

    /// How the relay answers now.
    pub fn get(&self) -> SmtpAnswer {
        *self
            .0
            .lock()
            .expect("no code panics while holding the switch")
    }
}

/// What the connection does after a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read the next command line.
    Command,
    /// Read the message body, up to `<CRLF>.<CRLF>`.
    Data,
    /// Start TLS, then a fresh session inside it.
    StartTls,
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
    /// The session runs inside TLS (after STARTTLS).
    in_tls: bool,
    authenticated: bool,
    /// An `AUTH PLAIN` without credentials is waiting for them on the next line.
    awaiting_credentials: bool,
    from: Option<String>,
    to: Vec<String>,
    accepted: u64,
    /// Commands refused so far (`5xx`).
    errors: u32,
    /// The scenario's fault in force, read at each command.
    answering: Answering,
}

impl Session {
    pub fn new(config: SmtpConfig) -> Self {
        Self {
            config,
            in_tls: false,
            authenticated: false,
            awaiting_credentials: false,
            from: None,
            to: Vec::new(),
            accepted: 0,
            errors: 0,
            answering: Answering::default(),
        }
    }

    /// The session, answering as `answering` says at each command.
    pub fn answering(self, answering: Answering) -> Self {
        Self { answering, ..self }
    }

    /// How late each reply is to come now (`slow`; zero otherwise).
    pub fn delay(&self) -> Duration {
        self.answering.get().delay()
    }

    /// The session after a STARTTLS handshake: nothing of the clear-text session is kept
    /// (RFC 3207 section 4.2), and STARTTLS is not offered again.
    pub fn in_tls(config: SmtpConfig) -> Self {
        Self {
            in_tls: true,
            ..Self::new(config)
        }
    }

    pub fn greeting(&self) -> String {
        format!("220 {} ESMTP\r\n", self.config.hostname)
    }

    /// Handles one command line (CRLF included). Past [`MAX_ERRORS`] refused commands the
    /// answer is `421` and the connection closes.
    pub fn command(&mut self, line: &[u8]) -> (String, Next) {
        let (reply, next) = if std::mem::take(&mut self.awaiting_credentials) {
            let credentials = String::from_utf8_lossy(line);
            (self.authenticate(credentials.trim()), Next::Command)
        } else {
            match Request::parse(&mut line.iter()) {
                Ok(request) => self.dispatch(request),
                Err(_) => line_reply("500 5.5.2 Syntax error, command unrecognized"),
            }
        };
        self.count(reply, next)
    }

    /// The answer to a line over [`MAX_LINE_BYTES`], which was not read as a command.
    pub fn line_too_long(&mut self) -> (String, Next) {
        self.count("500 5.5.2 Line too long\r\n".to_string(), Next::Command)
    }

    /// The answer to a message body over [`MAX_MESSAGE_BYTES`]; the transaction ends.
    pub fn message_too_large(&mut self) -> String {
        self.from = None;
        self.to.clear();
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n".to_string()
    }

    /// The last words to a client that let a bound run out.
    pub fn timed_out(&self) -> String {
        format!(
            "421 4.4.2 {} Timeout exceeded, closing connection\r\n",
            self.config.hostname
        )
    }

    fn count(&mut self, reply: String, next: Next) -> (String, Next) {
        if !reply.starts_with('5') {
            return (reply, next);
        }
        self.errors += 1;
        if self.errors < MAX_ERRORS {
            return (reply, next);
        }
        (
            format!(
                "{reply}421 4.7.0 {} Too many errors, closing connection\r\n",
                self.config.hostname
            ),
            Next::Close,
        )
    }

    fn dispatch(&mut self, request: Request<String>) -> (String, Next) {
        match request {
            Request::Ehlo { .. } => (self.ehlo(), Next::Command),
            Request::Helo { .. } => (format!("250 {}\r\n", self.config.hostname), Next::Command),
            Request::StartTls if self.in_tls => line_reply("503 5.5.1 TLS already active"),
            Request::StartTls if self.config.tls.is_none() => {
                line_reply("454 4.7.0 TLS not available")
            }
            Request::StartTls => (
                "220 2.0.0 Ready to start TLS\r\n".to_string(),
                Next::StartTls,
            ),
            Request::Auth {
                mechanism,
                initial_response,
            } if mechanism == AUTH_PLAIN => {
                if initial_response.is_empty() {
                    self.awaiting_credentials = true;
                    return line_reply("334 ");
                }
                (self.authenticate(&initial_response), Next::Command)
            }
            Request::Auth { .. } => line_reply("504 5.5.4 Unrecognized authentication type"),
            other => self.transaction(other),
        }
    }

    /// The mail transaction's commands, and the rest.
    fn transaction(&mut self, request: Request<String>) -> (String, Next) {
        match request {
            Request::Mail { .. } if !self.authenticated => {
                line_reply("530 5.7.0 Authentication required")
            }
            Request::Mail { .. } if self.answering.get() == SmtpAnswer::Temporary => {
                line_reply("451 4.3.0 Temporary local problem, try again later")
            }
            Request::Mail { from } => {
                self.from = Some(from.address);
                self.to.clear();
                line_reply("250 2.1.0 OK")
            }
            Request::Rcpt { .. } if self.from.is_none() => {
                line_reply("503 5.5.1 Need MAIL command")
            }
            Request::Rcpt { .. } if self.to.len() >= MAX_RECIPIENTS => {
                line_reply("452 4.5.3 Too many recipients")
            }
            Request::Rcpt { to } => {
                self.to.push(to.address);
                line_reply("250 2.1.5 OK")
            }
            Request::Data if self.to.is_empty() => line_reply("503 5.5.1 Need RCPT command"),
            Request::Data => (
                "354 Start mail input; end with <CRLF>.<CRLF>\r\n".to_string(),
                Next::Data,
            ),
            Request::Rset => {
                self.from = None;
                self.to.clear();
                line_reply("250 2.0.0 OK")
            }
            Request::Noop { .. } => line_reply("250 2.0.0 OK"),
            Request::Quit => ("221 2.0.0 Bye\r\n".to_string(), Next::Close),
            _ => line_reply("502 5.5.1 Command not implemented"),
        }
    }

    fn ehlo(&self) -> String {
        let host = &self.config.hostname;
        let starttls = if self.config.tls.is_some() && !self.in_tls {
            "250-STARTTLS\r\n"
        } else {
            ""
        };
        format!(
            "250-{host}\r\n{starttls}250-SIZE {MAX_MESSAGE_BYTES}\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
        )
    }

    fn authenticate(&mut self, encoded: &str) -> String {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_default();
        // AUTH PLAIN: authorization identity, NUL, user, NUL, password (RFC 4616).
        let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
        let rejecting = self.answering.get() == SmtpAnswer::AuthRejected;
        let ok = !rejecting
            && matches!(parts.as_slice(), [_, user, password]
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

/// A one-line reply that leaves the session reading commands.
fn line_reply(text: &str) -> (String, Next) {
    (format!("{text}\r\n"), Next::Command)
}

/// Runs the relay: binds its port, then serves every connection for as long as the host
/// runs (a failed accept is waited out by [`crate::net::accept_next`]). Sessions over
/// [`MAX_SESSIONS`] are told `421` at once, as RFC 5321 section 3.8 allows, rather than
/// left waiting unanswered.
pub async fn run<N: Net>(env: Env<N>, config: SmtpConfig) -> std::io::Result<()> {
    run_answering(env, (config, Answering::default())).await
}

/// [`run`], answering as `answering` says at each command (the simulation's relay, whose
/// answers the scenario's steps change).
pub async fn run_answering<N: Net>(
    env: Env<N>,
    (config, answering): (SmtpConfig, Answering),
) -> std::io::Result<()> {
    let mut listener = env.net.listen(PORT).await?;
    env.record(EventKind::ServiceStarted {
        service: "smtp".to_string(),
        port: PORT,
    });
    let sessions = Arc::new(Semaphore::new(MAX_SESSIONS));
    loop {
        let (mut stream, _peer) = crate::net::accept_next(&mut listener).await;
        let (env, config, answering) = (env.clone(), config.clone(), answering.clone());
        let Ok(slot) = sessions.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                let busy = format!(
                    "421 4.3.2 {} Too many connections, try again later\r\n",
                    config.hostname
                );
                // A client that cannot take the refusal is refused all the same.
                let told =
                    crate::timers::timeout(REFUSAL_TIMEOUT, stream.write_all(busy.as_bytes()))
                        .await;
                drop(told);
            });
            continue;
        };
        tokio::spawn(async move {
            // A client that breaks off has no one to hear about it.
            if let Err(gone) = serve(&env, (config, answering), stream).await {
                drop(gone);
            }
            drop(slot);
        });
    }
}

/// How a dialogue ended.
enum End {
    /// The session is over; close the connection.
    Close,
    /// The client asked for TLS and was told to go ahead.
    StartTls,
}

/// Serves one connection: the clear-text dialogue, then, after STARTTLS, a fresh one
/// inside TLS; the whole bounded by [`SESSION_MAX`].
async fn serve<N: Net>(
    env: &Env<N>,
    (config, answering): (SmtpConfig, Answering),
    mut stream: N::Stream,
) -> std::io::Result<()> {
    let accept = |accepted: Accepted| {
        env.record(EventKind::MailAccepted {
            message_id: accepted.message_id.unwrap_or_default(),
            to: accepted.to.join(", "),
        });
    };
    let mut session = Session::new(config.clone()).answering(answering.clone());
    let last_words = session.timed_out();
    let whole = async {
        let greeting = session.greeting();
        reply(&session, &mut stream, &greeting).await?;
        let mut pending = Vec::new();
        match dialogue(&mut session, &mut stream, &mut pending, &accept).await? {
            End::Close => Ok::<_, std::io::Error>(None),
            // What the client sent after STARTTLS is dropped with `pending`, unread.
            End::StartTls => Ok(config.tls.clone()),
        }
    };
    let upgrade = match crate::timers::timeout(SESSION_MAX, whole).await {
        Ok(result) => result?,
        Err(_elapsed) => return stream.write_all(last_words.as_bytes()).await,
    };
    let Some(tls) = upgrade else { return Ok(()) };
    let handshake = tokio_rustls::TlsAcceptor::from(tls).accept(stream);
    let mut stream = crate::timers::timeout(TLS_HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake"))??;
    let mut session = Session::in_tls(config).answering(answering);
    let mut pending = Vec::new();
    let inside = dialogue(&mut session, &mut stream, &mut pending, &accept);
    match crate::timers::timeout(SESSION_MAX, inside).await {
        Ok(result) => result.map(drop),
        Err(_elapsed) => stream.write_all(last_words.as_bytes()).await,
    }
}

/// Reads commands and answers them until the session closes or asks for TLS. Each wait
/// is bounded: [`COMMAND_TIMEOUT`] for a command line, [`DATA_TIMEOUT`] for a message;
/// either running out is answered `421` and ends the session.
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    stream: &mut S,
    pending: &mut Vec<u8>,
    accept: &impl Fn(Accepted),
) -> std::io::Result<End> {
    loop {
        let Ok(line) = crate::timers::timeout(COMMAND_TIMEOUT, read_line(stream, pending)).await
        else {
            stream.write_all(session.timed_out().as_bytes()).await?;
            return Ok(End::Close);
        };
        let (text, next) = match line? {
            Line::Text(line) => session.command(&line),
            Line::TooLong => session.line_too_long(),
        };
        reply(session, stream, &text).await?;
        match next {
            Next::Command => {}
            Next::Close => return Ok(End::Close),
            Next::StartTls => return Ok(End::StartTls),
            Next::Data => {
                let Ok(body) =
                    crate::timers::timeout(DATA_TIMEOUT, read_data(stream, pending)).await
                else {
                    stream.write_all(session.timed_out().as_bytes()).await?;
                    return Ok(End::Close);
                };
                let text = match body? {
                    Body::Message(body) => {
                        let (text, accepted) = session.message(&body);
                        accept(accepted);
                        text
                    }
                    Body::TooLarge => session.message_too_large(),
                };
                reply(session, stream, &text).await?;
            }
        }
    }
}

/// Writes a reply, as late as the scenario's `slow` fault says.
async fn reply<S: AsyncWrite + Unpin>(
    session: &Session,
    stream: &mut S,
    text: &str,
) -> std::io::Result<()> {
    let delay = session.delay();
    if !delay.is_zero() {
        crate::timers::sleep(delay).await;
    }
    stream.write_all(text.as_bytes()).await
}

#[cfg(test)]
mod tests;
