//! The simulation's TLS secrets in the `SSLKEYLOGFILE` format (NSS's key log: one
//! `LABEL <client random> <secret>` line per secret, hex), which Wireshark reads to
//! decrypt a capture (`harness run --tls-keylog`).
//!
//! Every TLS server the simulation builds ([`super::server`]) logs through rustls's
//! [`KeyLog`] while a run on this thread asks for it ([`log_keys_this_thread`]): every
//! TLS connection in the simulation has a server of the harness's own at one end, so the
//! servers' secrets cover them all. Served processes never log.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use rustls::KeyLog;

thread_local! {
    /// Where this thread's TLS servers log their secrets, while a run asks for it.
    static KEYS: RefCell<Option<Arc<KeyLogLines>>> = const { RefCell::new(None) };
}

/// Makes every TLS server built on this thread from now on log to `keys` (`None`: stop).
pub fn log_keys_this_thread(keys: Option<Arc<KeyLogLines>>) {
    KEYS.with(|k| *k.borrow_mut() = keys);
}

/// The key log servers built on this thread now write to, if any.
pub(super) fn current() -> Option<Arc<dyn KeyLog>> {
    KEYS.with(|k| k.borrow().clone().map(|k| k as Arc<dyn KeyLog>))
}

/// A key log's lines, in the order the secrets were made.
#[derive(Debug, Default)]
pub struct KeyLogLines(Mutex<String>);

impl KeyLogLines {
    /// The file's text.
    pub fn text(&self) -> String {
        self.0.lock().expect("no logger panics").clone()
    }
}

impl KeyLog for KeyLogLines {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let mut text = self.0.lock().expect("no logger panics");
        let mut line = format!("{label} ");
        for b in client_random {
            write!(line, "{b:02x}").expect("writing to a String cannot fail");
        }
        line.push(' ');
        for b in secret {
            write!(line, "{b:02x}").expect("writing to a String cannot fail");
        }
        text.push_str(&line);
        text.push('\n');
    }
}
