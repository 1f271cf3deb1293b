//! Clock arithmetic: how a host's wall clock stands and how it moves, as plain values.
//!
//! Elapsed time is the run's simulated time (the same on every host). The wall clock is
//! the run's fixed epoch plus elapsed time plus the host's offset, and the offset moves
//! with time: a [`ClockSetting`] holds the offset at the moment it was set, the clock's
//! frequency error (drift, in parts per billion), and a slew in progress (an extra rate
//! until a deadline, as ntpd's `adjtime` applies it). An [`Adjustment`] changes it.
//!
//! Whoever changes a clock records the whole new setting in the event log (the world for
//! scenario steps, the node for its NTP corrections), so the checkers can reconstruct any
//! host's offset at any moment from the log alone with [`ClockSetting::offset_at`].
//!
//! [`Clock`] is what a service reads time through: the simulation's shared, adjustable
//! clocks (`world::clock`) and a real machine's (`net::real`) implement it. This module
//! imports nothing of the crate.

use std::time::Duration;

use serde::Serialize;

/// The wall-clock time every simulated run starts at: 2026-01-01T00:00:00Z. Every
/// simulated host's clock starts here, and a generated certificate is valid from an hour
/// before it.
pub const EPOCH_UNIX_S: u64 = 1_767_225_600;

/// Nanoseconds in a second, for rates in parts per billion (ns per s).
const NS_PER_S: i128 = 1_000_000_000;

/// How a host's wall clock stands from `since` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ClockSetting {
    /// Simulated time the setting was made.
    pub since: Duration,
    /// The offset from true time at `since`, in nanoseconds (positive: ahead).
    pub offset_ns: i64,
    /// Frequency error: nanoseconds gained per second (parts per billion; 1 ppm = 1000).
    pub drift_ppb: i64,
    /// Extra rate of a slew in progress, in parts per billion, until `slew_until`.
    pub slew_ppb: i64,
    pub slew_until: Duration,
}

impl ClockSetting {
    /// The offset at simulated time `t` (not before `since`), in nanoseconds.
    pub fn offset_at(&self, t: Duration) -> i64 {
        let ns = |d: Duration| i128::try_from(d.as_nanos()).expect("simulated time fits i128");
        let run = ns(t.saturating_sub(self.since));
        let slewing = ns(t.min(self.slew_until).saturating_sub(self.since));
        let moved =
            (run * i128::from(self.drift_ppb) + slewing * i128::from(self.slew_ppb)) / NS_PER_S;
        let offset = i128::from(self.offset_ns) + moved;
        i64::try_from(offset).expect("offsets are bounded by the scenario format")
    }

    /// The setting carried forward to `now`: the same clock, re-based.
    fn at(&self, now: Duration) -> Self {
        let slewing = now < self.slew_until;
        Self {
            since: now,
            offset_ns: self.offset_at(now),
            drift_ppb: self.drift_ppb,
            slew_ppb: if slewing { self.slew_ppb } else { 0 },
            slew_until: if slewing { self.slew_until } else { now },
        }
    }

    /// The setting after `change` is applied at simulated time `now`.
    pub fn adjusted(&self, now: Duration, change: Adjustment) -> Self {
        let mut next = self.at(now);
        match change {
            Adjustment::Offset(ns) | Adjustment::Step(ns) => {
                next.offset_ns = match change {
                    Adjustment::Step(_) => next.offset_ns + ns,
                    _ => ns,
                };
                next.slew_ppb = 0;
                next.slew_until = now;
            }
            Adjustment::Drift(ppb) => next.drift_ppb = ppb,
            Adjustment::Slew(ns, over) => {
                let over_ns = i128::try_from(over.as_nanos().max(1)).expect("fits i128");
                let ppb = i128::from(ns) * NS_PER_S / over_ns;
                next.slew_ppb = i64::try_from(ppb).expect("slews are bounded by MAX_SLEW_PPM");
                next.slew_until = now + over;
            }
        }
        next
    }
}

/// A change to a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    /// Set the offset (cancels a slew in progress).
    Offset(i64),
    /// Move the offset by this much at once (cancels a slew in progress).
    Step(i64),
    /// Set the frequency error, in parts per billion.
    Drift(i64),
    /// Move the offset by this much gradually, finishing after the given time.
    Slew(i64, Duration),
}

/// The wall time of a clock whose offset is `offset_ns` at true time `epoch + elapsed`.
pub fn wall(epoch: Duration, elapsed: Duration, offset_ns: i64) -> Duration {
    let base = epoch + elapsed;
    let magnitude = Duration::from_nanos(offset_ns.unsigned_abs());
    if offset_ns >= 0 {
        base + magnitude
    } else {
        base.saturating_sub(magnitude)
    }
}

/// A host's clocks.
pub trait Clock: Send + Sync + 'static {
    /// Simulated time since the run began; the same on every host. Used to stamp events
    /// and measure latencies.
    fn elapsed(&self) -> Duration;

    /// This host's wall clock, as time since the Unix epoch: the run's epoch plus elapsed
    /// time plus the host's offset.
    fn wall(&self) -> Duration;

    /// Adjusts this host's wall clock (a time discipline such as NTP's), returning the new
    /// setting; `None` where the clock cannot be adjusted (a real machine's clock belongs
    /// to its operating system, not to the harness).
    fn adjust(&self, change: Adjustment) -> Option<ClockSetting> {
        let _ = change;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    /// Proves drift accumulates at its rate, a slew moves the offset by exactly its amount
    /// over its time and then stops, and a step or an offset cancels a slew in progress.
    #[test]
    fn offsets_follow_drift_slew_and_steps() {
        let clock = ClockSetting::default().adjusted(s(0), Adjustment::Drift(200_000)); // 200 ppm
        assert_eq!(clock.offset_at(s(10)), 2_000_000);
        let clock = clock.adjusted(s(10), Adjustment::Slew(-2_000_000, s(8)));
        assert_eq!(clock.offset_ns, 2_000_000);
        // After the slew: its 2 ms are gone, the drift's 8 s x 200 ppm remain.
        assert_eq!(clock.offset_at(s(18)), 1_600_000);
        assert_eq!(clock.offset_at(s(28)), 3_600_000);
        let clock = clock.adjusted(s(20), Adjustment::Slew(-1_000_000, s(10)));
        let stepped = clock.adjusted(s(25), Adjustment::Step(600_000_000_000));
        assert_eq!(stepped.slew_ppb, 0);
        assert_eq!(stepped.offset_ns, 600_000_000_000 + 2_500_000);
        let reset = stepped.adjusted(s(30), Adjustment::Offset(0));
        assert_eq!(reset.offset_at(s(40)), 2_000_000);
        assert_eq!(
            wall(s(100), s(1), -500_000_000),
            Duration::from_millis(100_500)
        );
    }
}
