//! A browser: one user's keep-alive connections to the balancer and its TLS session tickets.
//!
//! Real component: a web browser (Chrome, Firefox) speaking HTTP/1.1 to a site. After a
//! response it keeps the connection open for the next request (keep-alive); a request that
//! finds every open connection busy gets another one, up to [`MAX_CONNECTIONS_PER_HOST`]
//! per host, and beyond that waits for one to free up. When it connects again (the server
//! closed an idle connection, a connection broke) it offers a TLS session ticket from an
//! earlier handshake, and the handshake resumes that session: no certificate is sent or
//! verified (see [`crate::tls`] for what that means when a certificate expires).
//!
//! Modelled:
//! - Connections per dialed name (`login.<domain>`, `manage.<domain>`): HTTP/1.1
//!   connections belong to one origin. One request at a time on each.
//! - A kept connection is reused if it is still open (hyper's client tells, once the
//!   server's close has arrived); the most recently used first. One that closed is let go.
//! - A connection that carried a failed request (a timeout, a broken connection) is closed,
//!   not kept; so is one whose response said `Connection: close`.
//! - Session tickets in memory, per browser, for as long as the browser lives
//!   ([`crate::tls::browser`]): a new browser has none, so its first handshake with each
//!   name is a full one.
//!
//! Left out on purpose: HTTP/2 (one multiplexed connection), the browser's own idle
//! timeout (Chrome keeps an idle used socket 5 minutes, Firefox 115 s: the balancer's
//! shorter keep-alive timeout closes it first), and resending a request that failed on a
//! kept connection the server closed at the same moment (browsers resend it; here it
//! fails as `reset`, which needs a request to leave within a packet's flight of the
//! balancer's idle timeout).
//!
//! Plain code with no timer of its own: the caller bounds every wait.
//!
//! Faults it reacts to: none of its own; it meets them on its connections. A crashed or
//! paused balancer, or a link fault on the users' link (latency, loss), makes a request
//! on a kept connection fail or come late, and a failed request closes its connection; the
//! next opens a new one (resolving the name again once its cached answer expired, so a
//! `dns` fault is felt then, [`super::users`]). An lb drain never closes a kept connection:
//! the balancer picks a backend per request.

use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::events::ConnectionUse;
use crate::services::http::Sender;

/// The most connections a browser keeps open to one host at once, busy or idle; a request
/// that finds them all busy waits for one. 6: the per-host limit of Chrome and Firefox
/// (`network.http.max-persistent-connections-per-server`) for HTTP/1.1.
pub const MAX_CONNECTIONS_PER_HOST: usize = 6;

/// One browser: its kept connections by dialed name, and (inside `tls`) its tickets.
pub struct Browser {
    /// TLS with this browser's own ticket store; `None`: plain HTTP.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    hosts: Mutex<Vec<(String, Arc<Host>)>>,
}

/// The connections to one dialed name.
struct Host {
    /// Open and idle, the most recently used last.
    idle: Mutex<Vec<Kept>>,
    /// One permit per open connection (busy or idle).
    slots: Arc<Semaphore>,
    /// Told when a connection goes idle or closes, for a request waiting for one.
    changed: Notify,
}

/// An idle connection and the permit it holds.
struct Kept {
    sender: Sender,
    slot: Slot,
}

/// Room for one open connection to a host; gives the room back, and tells a waiting
/// request, when the connection is let go.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    host: Arc<Host>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.host.changed.notify_one();
    }
}

/// What a request gets from its browser: a kept connection, or room to open one.
pub enum Checkout {
    /// An open connection kept from an earlier request.
    Kept(Lease),
    /// No idle connection, but room for a new one: open it and [`Lease::opened`].
    Room(Slot),
}

/// A connection a request is using; [`Browser::keep`] it after a good response, drop it
/// (closing the connection) otherwise.
pub struct Lease {
    pub sender: Sender,
    slot: Slot,
    /// How this connection came to the request.
    pub used: ConnectionUse,
}

impl Lease {
    /// A new connection in `slot`, opened with a handshake of `kind` (`None`: no TLS).
    pub fn opened(slot: Slot, sender: Sender, kind: Option<rustls::HandshakeKind>) -> Self {
        let used = match kind {
            None => ConnectionUse::Plain,
            Some(rustls::HandshakeKind::Resumed) => ConnectionUse::Resumed,
            Some(_) => ConnectionUse::Full,
        };
        Lease { sender, slot, used }
    }
}

impl Browser {
    /// A new browser, with no connection and no ticket; `tls`: the users' TLS client
    /// (`None`: plain HTTP), given a ticket store of this browser's own.
    pub fn new(tls: Option<&Arc<rustls::ClientConfig>>) -> Self {
        Browser {
            tls: tls.map(crate::tls::browser),
            hosts: Mutex::new(Vec::new()),
        }
    }

    fn host(&self, name: &str) -> Arc<Host> {
        let mut hosts = self
            .hosts
            .lock()
            .expect("no code panics while holding a browser's hosts");
        if let Some((_, host)) = hosts.iter().find(|(n, _)| n == name) {
            return host.clone();
        }
        let host = Arc::new(Host {
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(MAX_CONNECTIONS_PER_HOST)),
            changed: Notify::new(),
        });
        hosts.push((name.to_string(), host.clone()));
        host
    }

    /// A connection to `name` for one request: the most recently used idle one still
    /// open, else room for a new one; when neither (every connection busy), waits until a
    /// connection goes idle or closes. Unbounded in time: the request's timeout bounds it.
    pub async fn checkout(&self, name: &str) -> Checkout {
        let host = self.host(name);
        loop {
            let changed = host.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(kept) = host.take_idle() {
                return Checkout::Kept(Lease {
                    sender: kept.sender,
                    slot: kept.slot,
                    used: ConnectionUse::Reused,
                });
            }
            if let Ok(permit) = host.slots.clone().try_acquire_owned() {
                return Checkout::Room(Slot {
                    _permit: permit,
                    host: host.clone(),
                });
            }
            changed.await;
        }
    }

    /// Keeps `lease`'s connection for a later request, unless the server has closed it
    /// (then it is let go).
    pub fn keep(&self, lease: Lease) {
        if lease.sender.is_closed() {
            return;
        }
        let host = lease.slot.host.clone();
        host.idle
            .lock()
            .expect("no code panics while holding a browser's connections")
            .push(Kept {
                sender: lease.sender,
                slot: lease.slot,
            });
        host.changed.notify_one();
    }
}

impl Drop for Browser {
    /// Lets every idle connection go (a kept connection's room refers to its host, so
    /// they would otherwise keep each other alive).
    fn drop(&mut self) {
        let hosts = self
            .hosts
            .get_mut()
            .expect("no code panics while holding a browser's hosts");
        for (_, host) in hosts.iter() {
            host.idle
                .lock()
                .expect("no code panics while holding a browser's connections")
                .clear();
        }
    }
}

impl Host {
    /// The most recently used idle connection still open; closed ones are let go.
    fn take_idle(&self) -> Option<Kept> {
        let mut idle = self
            .idle
            .lock()
            .expect("no code panics while holding a browser's connections");
        while let Some(kept) = idle.pop() {
            if !kept.sender.is_closed() {
                return Some(kept);
            }
        }
        None
    }
}
