//! What a service may touch: its network, its clocks and the event log.
//!
//! A service gets an [`Env`] and its typed configuration, nothing else: it reads no files,
//! no real time and no OS randomness (docs/ARCHITECTURE.md section 4). Monotonic waits
//! (sleeps, timeouts) use `tokio::time`, which the simulation drives; every *wall-clock*
//! read goes through [`Clock::wall`] (the trait is the ground floor's [`crate::clock`]),
//! so a scenario can skew one node's clock without touching the others.

use std::sync::Arc;

use crate::clock::Clock;
use crate::events::{EventKind, Recorder};
use crate::net::Net;

/// Everything a running service may use.
#[derive(Clone)]
pub struct Env<N: Net> {
    /// The host's name in the topology (`"node-2"`), used in events and headers.
    pub host: Arc<str>,
    pub net: N,
    pub clock: Arc<dyn Clock>,
    recorder: Recorder,
}

impl<N: Net> Env<N> {
    pub fn new(host: &str, net: N, clock: Arc<dyn Clock>, recorder: Recorder) -> Self {
        Self {
            host: host.into(),
            net,
            clock,
            recorder,
        }
    }

    /// Appends an event stamped with this host's name and the current simulated time.
    pub fn record(&self, kind: EventKind) {
        self.recorder
            .record_at(self.clock.elapsed(), &self.host, kind);
    }
}
