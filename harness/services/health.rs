//! The load balancer's rise/fall health state of one backend.
//!
//! HAProxy's rule, which nginx Plus and most L7 balancers share: an up backend goes down
//! after `fall` consecutive failed checks; a down backend comes back after `rise`
//! consecutive passed checks; a result that breaks a streak resets its count. Backends
//! start up (the deployment is healthy when the balancer starts).
//!
//! Plain code: no I/O, no clock. The checker in [`super::load_balancer`] feeds it results.
//!
//! Faults it reacts to: only the check results it is fed (whatever made a check fail) and
//! an operator's change of `rise` and `fall` (`lb = { rise, fall }`, [`Health::retune`]),
//! which applies from the next result with the state and the counts kept.

use crate::events::CheckEffect;

/// Where a backend stands, as HAProxy's `srv_getinter` tells its check intervals apart:
/// fully up (`inter`), fully down (`downinter`), or between the two with results counted
/// towards a change (`fastinter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Up, no failure counted.
    Up,
    /// Up with failures counted, or down with passes counted.
    Transition,
    /// Down, no pass counted.
    Down,
}

/// One backend's health as the balancer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    rise: u32,
    fall: u32,
    up: bool,
    /// Consecutive failures while up.
    failures: u32,
    /// Consecutive passes while down.
    passes: u32,
}

impl Health {
    /// A backend that starts in rotation. `rise` and `fall` are at least 1 (checked with
    /// the topology).
    pub fn new(rise: u32, fall: u32) -> Self {
        assert!(
            rise >= 1 && fall >= 1,
            "rise and fall are checked to be at least 1"
        );
        Self {
            rise,
            fall,
            up: true,
            failures: 0,
            passes: 0,
        }
    }

    /// Takes new thresholds (an operator's change during the run): the state and the
    /// counts so far are kept, the next check is judged against them. At least 1 each.
    pub fn retune(&mut self, rise: u32, fall: u32) {
        assert!(
            rise >= 1 && fall >= 1,
            "rise and fall are checked to be at least 1"
        );
        (self.rise, self.fall) = (rise, fall);
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Where the backend stands between checks, which sets the time to the next one.
    pub fn phase(&self) -> Phase {
        match (self.up, self.failures, self.passes) {
            (true, 0, _) => Phase::Up,
            (false, _, 0) => Phase::Down,
            _ => Phase::Transition,
        }
    }

    /// Takes one check result; returns what it changed, or `None` when it changed nothing
    /// (another pass on a clean up backend, another failure on a clean down one).
    pub fn observe(&mut self, passed: bool) -> Option<CheckEffect> {
        match (self.up, passed) {
            (true, true) if self.failures == 0 => None,
            (true, true) => {
                let count = std::mem::take(&mut self.failures);
                Some(CheckEffect::FailuresReset { count })
            }
            (true, false) => {
                self.failures += 1;
                if self.failures < self.fall {
                    return Some(CheckEffect::FailCounted {
                        count: self.failures,
                        fall: self.fall,
                    });
                }
                self.up = false;
                self.failures = 0;
                Some(CheckEffect::WentDown { fall: self.fall })
            }
            (false, false) if self.passes == 0 => None,
            (false, false) => {
                let count = std::mem::take(&mut self.passes);
                Some(CheckEffect::PassesReset { count })
            }
            (false, true) => {
                self.passes += 1;
                if self.passes < self.rise {
                    return Some(CheckEffect::PassCounted {
                        count: self.passes,
                        rise: self.rise,
                    });
                }
                self.up = true;
                self.passes = 0;
                Some(CheckEffect::WentUp { rise: self.rise })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CheckEffect::*;

    /// Proves a backend goes down on exactly the `fall`-th consecutive failure and comes
    /// back on exactly the `rise`-th consecutive pass, reporting each step.
    #[test]
    fn fall_then_rise() {
        let mut h = Health::new(2, 3);
        assert_eq!(h.observe(true), None);
        assert_eq!(h.observe(false), Some(FailCounted { count: 1, fall: 3 }));
        assert_eq!(h.observe(false), Some(FailCounted { count: 2, fall: 3 }));
        assert!(h.is_up());
        assert_eq!(h.observe(false), Some(WentDown { fall: 3 }));
        assert!(!h.is_up());
        assert_eq!(h.observe(false), None);
        assert_eq!(h.observe(true), Some(PassCounted { count: 1, rise: 2 }));
        assert_eq!(h.observe(true), Some(WentUp { rise: 2 }));
        assert!(h.is_up());
        assert_eq!(h.observe(true), None);
    }

    /// Proves a broken streak starts over: a pass forgives counted failures, a failure
    /// loses counted passes.
    #[test]
    fn streaks_reset() {
        let mut h = Health::new(2, 3);
        h.observe(false);
        h.observe(false);
        assert_eq!(h.observe(true), Some(FailuresReset { count: 2 }));
        assert_eq!(h.observe(false), Some(FailCounted { count: 1, fall: 3 }));
        h.observe(false);
        h.observe(false);
        assert!(!h.is_up());
        h.observe(true);
        assert_eq!(h.observe(false), Some(PassesReset { count: 1 }));
        assert_eq!(h.observe(true), Some(PassCounted { count: 1, rise: 2 }));
    }

    /// Proves the phase that picks the next check's interval: up until a failure is
    /// counted, in transition while results count towards a change, down once down with
    /// no pass counted.
    #[test]
    fn phases_follow_the_counts() {
        let mut h = Health::new(2, 2);
        assert_eq!(h.phase(), Phase::Up);
        h.observe(false);
        assert_eq!(h.phase(), Phase::Transition);
        h.observe(false);
        assert_eq!(h.phase(), Phase::Down);
        h.observe(true);
        assert_eq!(h.phase(), Phase::Transition);
        h.observe(true);
        assert_eq!(h.phase(), Phase::Up);
    }

    /// Proves an operator's retune keeps the state and the counts and judges the next
    /// result against the new thresholds: two failures counted against fall 3, then fall
    /// lowered to 2, and the next failure takes the backend down; rise raised to 3 needs
    /// three passes.
    #[test]
    fn retune_keeps_counts() {
        let mut h = Health::new(2, 3);
        assert_eq!(h.observe(false), Some(FailCounted { count: 1, fall: 3 }));
        h.retune(2, 1);
        assert_eq!(h.observe(false), Some(WentDown { fall: 1 }));
        h.retune(3, 1);
        assert_eq!(h.observe(true), Some(PassCounted { count: 1, rise: 3 }));
        assert_eq!(h.observe(true), Some(PassCounted { count: 2, rise: 3 }));
        assert_eq!(h.observe(true), Some(WentUp { rise: 3 }));
    }

    /// Proves fall = 1 and rise = 1 act on the first result.
    #[test]
    fn single_check_thresholds() {
        let mut h = Health::new(1, 1);
        assert_eq!(h.observe(false), Some(WentDown { fall: 1 }));
        assert_eq!(h.observe(true), Some(WentUp { rise: 1 }));
    }
}
