//! `harness serve` whose event output (its stdout, one JSON line per event) nobody
//! reads: the service must go on serving, say what it dropped, and stop on a signal.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::http::{self, Events, STOP, Served};

/// Requests the flood sends, each recording one event (a `ClientSeen` line of about 130
/// bytes): together far more than a pipe (64 KiB) and any queue in front of it hold.
const FLOOD: usize = 20_000;

/// How long a reader that starts reading at last may wait for the line saying how many
/// events were dropped.
const CATCH_UP: Duration = Duration::from_secs(10);

/// Sends [`FLOOD`] `GET /flood` requests over one kept-alive connection, each answered
/// (404) before the next is sent; stops at the first that gets no answer within
/// [`http::ANSWER`]. Returns how many were answered.
fn flood(addr: SocketAddr) -> usize {
    let mut stream = http::connect(addr);
    for sent in 0..FLOOD {
        let request = b"GET /flood HTTP/1.1\r\nHost: login.example.com\r\n\r\n";
        if stream.write_all(request).is_err() || http::read_one_response(&mut stream) != Some(404) {
            return sent;
        }
    }
    FLOOD
}

/// Proves a served node whose stdout pipe nobody reads, flooded with requests that each
/// record an event, still answers `/testall`; that a reader who starts reading at last
/// is told, in the JSON lines, how many events were dropped; and that the node stops on
/// SIGTERM with exit 0, saying on stderr how many it dropped in all. Before the fix each
/// event was written to stdout as it happened: with the pipe full the node stopped
/// answering (even `/testall`) and ignored SIGTERM.
#[test]
fn a_node_whose_events_nobody_reads_still_answers_and_stops() {
    let https = http::fixture("serve/https.toml");
    let mut node = Served::start("node", &https, &[], None, Events::Unread);
    let answered = flood(node.addr);
    let (code, _) = http::get(node.addr, "/testall");
    if (answered, code) != (FLOOD, Some(200)) {
        let status = node.terminate();
        panic!(
            "{answered} of {FLOOD} requests answered, then /testall: {code:?}; SIGTERM: \
             {status:?} (None: still running after {STOP:?}, then killed)"
        );
    }

    // The reader comes back: the events still queued arrive, then (with the next event)
    // the count of those that were not.
    let mut events = BufReader::new(node.take_unread()).lines();
    let reader = std::thread::spawn(move || {
        let deadline = Instant::now() + CATCH_UP;
        while Instant::now() < deadline {
            let line = events.next()?.ok()?;
            if line.contains("dropped_events") {
                return Some(line);
            }
        }
        None
    });
    let deadline = Instant::now() + CATCH_UP;
    while !reader.is_finished() && Instant::now() < deadline {
        assert_eq!(http::get(node.addr, "/after").0, Some(404));
        std::thread::sleep(Duration::from_millis(100));
    }
    let said = reader.join().expect("the reader thread ends");
    let said = said.unwrap_or_else(|| panic!("no dropped_events line within {CATCH_UP:?}"));
    let line: serde_json::Value = serde_json::from_str(&said).expect("a JSON line");
    let dropped = line["dropped_events"].as_u64().expect("a count");
    assert!(dropped > 0, "{said}");

    let status = node.terminate();
    if !status.is_some_and(|s| s.success()) {
        node.drain();
        panic!(
            "SIGTERM: {status:?} (None: still running after {STOP:?}); its output:\n{}",
            node.output()
        );
    }
    node.wait_for(STOP, "the count of dropped events", |out, l| {
        !out && l.starts_with("events: ") && l.contains(" dropped")
    });
}
