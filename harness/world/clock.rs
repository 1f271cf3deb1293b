//! Each host's clocks inside the simulation.
//!
//! Elapsed time is turmoil's global simulated time (the same on every host, and precise
//! within a tick). The wall clock is the run's fixed epoch plus elapsed time plus the
//! host's offset. The offset is shared with the world so that a clock fault can move it
//! while the host runs; it stays 0 until the clock faults arrive.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::env::Clock;

/// A host's clocks in the simulation.
#[derive(Debug, Clone)]
pub struct SimClock {
    /// The run's epoch as time since the Unix epoch.
    epoch: Duration,
    /// This host's wall-clock offset in milliseconds (may be negative).
    offset_ms: Arc<AtomicI64>,
}

impl SimClock {
    pub fn new(epoch: Duration) -> Self {
        Self {
            epoch,
            offset_ms: Arc::new(AtomicI64::new(0)),
        }
    }

    /// The handle the world uses to move this clock.
    pub fn offset_ms(&self) -> Arc<AtomicI64> {
        self.offset_ms.clone()
    }
}

impl Clock for SimClock {
    fn elapsed(&self) -> Duration {
        turmoil::sim_elapsed().expect("services read their clock only while their host runs")
    }

    fn wall(&self) -> Duration {
        let base = self.epoch + self.elapsed();
        let offset = self.offset_ms.load(Ordering::Relaxed);
        let magnitude = Duration::from_millis(offset.unsigned_abs());
        if offset >= 0 {
            base + magnitude
        } else {
            base.saturating_sub(magnitude)
        }
    }
}
