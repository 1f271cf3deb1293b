//! The client half of SMTP, what the nodes' mail queue speaks to the relay: one message
//! per session, every reply checked, the whole session bounded by the caller's timeout.
//!
//! Nothing the caller passes can add a command: addresses and header values are checked
//! ([`check_address`]) before the connection is opened, so a CR or LF (or a `>` that
//! would close the path early) never reaches the wire.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::AsyncWriteExt;

use super::wire::{Line, read_line};
use crate::net::Net;

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
    crate::timers::timeout(timeout, dialogue)
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
        let line = match read_line(stream, pending).await {
            Ok(Line::Text(line)) => line,
            Ok(Line::TooLong) => return Err("a reply line over the line bound".to_string()),
            Err(e) => return Err(format!("no reply: {e}")),
        };
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
mod tests {
    use super::*;

    /// Proves a leading "." is doubled on every line, so no line of a body can end the
    /// message early.
    #[test]
    fn dot_stuffing() {
        assert_eq!(dot_stuff("a\r\n.b\r\n."), "a\r\n..b\r\n..");
    }

    /// Proves the address checks: RFC 5321's lengths at their edges, and no byte that
    /// could close the path or the command.
    #[test]
    fn addresses() {
        let local = "l".repeat(MAX_LOCAL_PART_BYTES);
        assert_eq!(check_address(&format!("{local}@example.com")), Ok(()));
        assert!(check_address(&format!("{local}l@example.com")).is_err());
        let domain = "d".repeat(MAX_ADDRESS_BYTES - 2);
        assert_eq!(check_address(&format!("a@{domain}")), Ok(()));
        assert!(check_address(&format!("a@{domain}d")).is_err());
        for bad in [
            "a@b>\r\nDATA",
            "a\n@b",
            "a b@c",
            "<a@b",
            "a@b@c",
            "@b",
            "a@",
            "ab",
        ] {
            assert!(check_address(bad).is_err(), "{bad:?}");
        }
    }
}
