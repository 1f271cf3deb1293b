//! Each host's clocks inside the simulation.
//!
//! Elapsed time is turmoil's global simulated time (the same on every host, and precise
//! within a tick); the wall clock is the run's fixed epoch plus elapsed time plus the
//! host's offset, whose arithmetic is [`crate::clock`]'s. A [`ClockHandle`] is one host's
//! shared, adjustable [`ClockSetting`]: the world moves it for scenario steps, the host's
//! own time discipline (NTP) through [`Clock::adjust`]. A [`SimClock`] reads it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Clock;
use crate::clock::{self, Adjustment, ClockSetting};

/// The shared, adjustable state of one host's clock.
#[derive(Debug, Clone, Default)]
pub struct ClockHandle {
    setting: Arc<Mutex<ClockSetting>>,
}

impl ClockHandle {
    fn lock(&self) -> std::sync::MutexGuard<'_, ClockSetting> {
        self.setting
            .lock()
            .expect("no code panics while holding a clock")
    }

    /// The clock's current setting.
    pub fn setting(&self) -> ClockSetting {
        *self.lock()
    }

    /// Applies `change` at simulated time `now`; returns the new setting.
    pub fn adjust(&self, now: Duration, change: Adjustment) -> ClockSetting {
        let mut setting = self.lock();
        *setting = setting.adjusted(now, change);
        *setting
    }
}

/// A host's clocks in the simulation.
#[derive(Debug, Clone)]
pub struct SimClock {
    /// The run's epoch as time since the Unix epoch.
    epoch: Duration,
    handle: ClockHandle,
}

impl SimClock {
    pub fn new(epoch: Duration) -> Self {
        Self {
            epoch,
            handle: ClockHandle::default(),
        }
    }

    /// The handle the world (and the host's own time discipline) moves this clock with.
    pub fn handle(&self) -> ClockHandle {
        self.handle.clone()
    }
}

impl Clock for SimClock {
    fn elapsed(&self) -> Duration {
        turmoil::sim_elapsed().expect("services read their clock only while their host runs")
    }

    fn wall(&self) -> Duration {
        let now = self.elapsed();
        clock::wall(self.epoch, now, self.handle.lock().offset_at(now))
    }

    fn adjust(&self, change: Adjustment) -> Option<ClockSetting> {
        Some(self.handle.adjust(self.elapsed(), change))
    }
}
