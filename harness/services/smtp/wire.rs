//! Reading SMTP off a byte stream, for both halves: CRLF-terminated lines and a DATA
//! body up to `<CRLF>.<CRLF>`, each with a size bound that is answered rather than
//! treated as a broken connection (RFC 5321 section 4.5.3.1: a server replies 500 to a
//! line too long and 552 to a message too large, and the session goes on).

use smtp_proto::request::receiver::DataReceiver;
use tokio::io::{AsyncRead, AsyncReadExt};

/// A line longer than this, CRLF included, is not kept. RFC 5321 bounds a command line
/// at 512 octets and a text line at 1,000 (section 4.5.3.1.4 and .6); `AUTH PLAIN` with
/// its credentials may exceed 512 (RFC 4954 section 4), so the larger bound holds for
/// every line.
pub const MAX_LINE_BYTES: usize = 1000;
/// A message body longer than this is read to its end and refused (`552`).
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// The line end that precedes a body (the one ending `DATA`).
const CRLF: &[u8] = b"\r\n";
/// What the DATA receiver cuts from the body when the terminator arrives.
const RECEIVER_TAIL_BYTES: usize = 3;
/// How much is read from the stream at a time.
const READ_CHUNK_BYTES: usize = 4096;

/// One line off the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The line, CRLF included.
    Text(Vec<u8>),
    /// A line over [`MAX_LINE_BYTES`]: read up to its CRLF and thrown away.
    TooLong,
}

/// A message body off the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// The body, dot-unstuffed, terminator removed.
    Message(Vec<u8>),
    /// A body over [`MAX_MESSAGE_BYTES`]: read up to its terminator and thrown away.
    TooLarge,
}

/// Reads one line from `stream`, keeping what follows it in `pending`. A line over
/// [`MAX_LINE_BYTES`] is discarded up to and including its CRLF, so the next read starts
/// at the next line; memory stays within the bound whatever the peer sends.
pub async fn read_line<S: AsyncRead + Unpin>(
    stream: &mut S,
    pending: &mut Vec<u8>,
) -> std::io::Result<Line> {
    let mut overflowed = false;
    loop {
        if let Some(end) = pending.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = pending.drain(..end + 2).collect();
            return Ok(if overflowed || line.len() > MAX_LINE_BYTES {
                Line::TooLong
            } else {
                Line::Text(line)
            });
        }
        if pending.len() > MAX_LINE_BYTES {
            // Keep the last byte: it may be the CR of the CRLF that ends the line.
            let keep = pending.split_off(pending.len() - 1);
            *pending = keep;
            overflowed = true;
        }
        fill(stream, pending).await?;
    }
}

/// Reads a message body up to `<CRLF>.<CRLF>`, dot-unstuffed; what follows the
/// terminator stays in `pending`. A body over [`MAX_MESSAGE_BYTES`] is read to its
/// terminator and discarded as it arrives.
pub async fn read_data<S: AsyncRead + Unpin>(
    stream: &mut S,
    pending: &mut Vec<u8>,
) -> std::io::Result<Body> {
    let mut receiver = DataReceiver::new();
    let mut body = Vec::new();
    // The body starts right after a CRLF: let the receiver know, so a "." on the first
    // line ends an empty message. The CRLF stays in `body` until the end: the receiver
    // removes the terminator by cutting `body`'s last three bytes, which must be there
    // (smtp-proto 0.1.7 subtracts without checking).
    receiver.ingest(&mut CRLF.iter(), &mut body);
    let mut too_large = false;
    loop {
        let mut bytes = pending.iter();
        let done = receiver.ingest(&mut bytes, &mut body);
        let rest = bytes.as_slice().to_vec();
        *pending = rest;
        if body.len() > MAX_MESSAGE_BYTES + CRLF.len() {
            too_large = true;
            // Keep the tail the receiver may still cut.
            body.drain(..body.len() - RECEIVER_TAIL_BYTES);
        }
        if done {
            if too_large {
                return Ok(Body::TooLarge);
            }
            // An empty message took the leading CRLF with the terminator.
            if body.len() >= CRLF.len() {
                body.drain(..CRLF.len());
            }
            return Ok(Body::Message(body));
        }
        fill(stream, pending).await?;
    }
}

/// Appends what the stream has next to `pending`; the peer closing is an error.
async fn fill<S: AsyncRead + Unpin>(stream: &mut S, pending: &mut Vec<u8>) -> std::io::Result<()> {
    let mut buf = [0u8; READ_CHUNK_BYTES];
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves a line over the bound is swallowed up to its CRLF (even when the CRLF is
    /// split across reads) and the next line is read whole.
    #[tokio::test]
    async fn an_over_long_line_is_skipped_to_its_end() {
        let long = vec![b'x'; MAX_LINE_BYTES * 3];
        let mut stream = tokio_test::io::Builder::new()
            .read(&long)
            .read(b"\r")
            .read(b"\nNOOP\r\n")
            .build();
        let mut pending = Vec::new();
        assert_eq!(
            read_line(&mut stream, &mut pending).await.unwrap(),
            Line::TooLong
        );
        assert_eq!(
            read_line(&mut stream, &mut pending).await.unwrap(),
            Line::Text(b"NOOP\r\n".to_vec())
        );
    }

    /// Proves a line of exactly the bound is kept and one byte more is not.
    #[tokio::test]
    async fn the_line_bound_is_exact() {
        let at = [vec![b'a'; MAX_LINE_BYTES - 2], b"\r\n".to_vec()].concat();
        let over = [vec![b'a'; MAX_LINE_BYTES - 1], b"\r\n".to_vec()].concat();
        let mut stream = tokio_test::io::Builder::new().read(&at).read(&over).build();
        let mut pending = Vec::new();
        assert_eq!(
            read_line(&mut stream, &mut pending).await.unwrap(),
            Line::Text(at.clone())
        );
        assert_eq!(
            read_line(&mut stream, &mut pending).await.unwrap(),
            Line::TooLong
        );
    }

    /// Proves the body ends at <CRLF>.<CRLF>, lines starting with "." are unstuffed, and
    /// what follows the terminator stays for the next command.
    #[tokio::test]
    async fn data_is_dot_unstuffed() {
        let mut input: &[u8] = b"line one\r\n..leading dot\r\n.\r\nQUIT\r\n";
        let mut pending = Vec::new();
        let body = read_data(&mut input, &mut pending).await.unwrap();
        assert_eq!(body, Body::Message(b"line one\r\n.leading dot".to_vec()));
        assert_eq!(
            read_line(&mut input, &mut pending).await.unwrap(),
            Line::Text(b"QUIT\r\n".to_vec())
        );
    }

    /// Proves an empty message (the terminator right after `DATA`) and one whose only
    /// line is a stuffed dot are read, not a panic (smtp-proto cuts three bytes from the
    /// body when the terminator arrives).
    #[tokio::test]
    async fn empty_and_tiny_bodies() {
        for (input, body) in [
            (&b".\r\n"[..], &b""[..]),
            (b"..\r\n.\r\n", b"."),
            (b"\r\n.\r\n", b""),
            (b"x\r\n.\r\n", b"x"),
        ] {
            let mut input = input;
            let mut pending = Vec::new();
            let read = read_data(&mut input, &mut pending).await.unwrap();
            assert_eq!(read, Body::Message(body.to_vec()), "{input:?}");
        }
    }

    /// Proves a body over the bound is read to its terminator, reported too large, and
    /// the command after it is read whole.
    #[tokio::test]
    async fn an_over_large_body_is_read_to_its_end() {
        let line = [vec![b'y'; 998], b"\r\n".to_vec()].concat();
        let mut input = line.repeat(MAX_MESSAGE_BYTES / 1000 + 2);
        input.extend_from_slice(b".\r\nNOOP\r\n");
        let mut input: &[u8] = &input;
        let mut pending = Vec::new();
        assert_eq!(
            read_data(&mut input, &mut pending).await.unwrap(),
            Body::TooLarge
        );
        assert_eq!(
            read_line(&mut input, &mut pending).await.unwrap(),
            Line::Text(b"NOOP\r\n".to_vec())
        );
    }
}
