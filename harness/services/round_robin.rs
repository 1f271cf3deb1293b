//! Round robin over the healthy backends, without stickiness.
//!
//! The cursor walks the backend list in order and hands out the next healthy backend the
//! request has not tried yet; unhealthy and already-tried backends are skipped without
//! losing the rotation. So with node-2 out, traffic alternates node-1, node-3, and when
//! node-2 returns it simply takes its turn again. This is HAProxy's `balance roundrobin`
//! with equal weights.
//!
//! Plain code: the load balancer owns one [`RoundRobin`] behind a mutex.
//!
//! Faults it reacts to: only through the backends the balancer passes as healthy and not
//! drained (its health checks, an operator's `lb = { drain }`): the rotation skips them
//! and they take their turn again when back.

/// The rotation cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundRobin {
    next: usize,
}

impl RoundRobin {
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of the next backend for which `eligible(index)` holds, or `None` when
    /// none does. Advances the cursor past the one returned.
    pub fn pick(&mut self, backends: usize, eligible: impl Fn(usize) -> bool) -> Option<usize> {
        (0..backends)
            .map(|k| (self.next + k) % backends)
            .find(|&i| eligible(i))
            .inspect(|&i| self.next = (i + 1) % backends)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves every healthy backend gets its turn in order, an unhealthy one is skipped,
    /// and a returning one rejoins the rotation.
    #[test]
    fn rotates_over_healthy() {
        let mut rr = RoundRobin::new();
        let all = |_: usize| true;
        let picks: Vec<_> = (0..4).filter_map(|_| rr.pick(3, all)).collect();
        assert_eq!(picks, [0, 1, 2, 0]);

        let without_1 = |i: usize| i != 1;
        let picks: Vec<_> = (0..4).filter_map(|_| rr.pick(3, without_1)).collect();
        assert_eq!(picks, [2, 0, 2, 0]);

        let picks: Vec<_> = (0..3).filter_map(|_| rr.pick(3, all)).collect();
        assert_eq!(picks, [1, 2, 0]);
    }

    /// Proves a request's retry never lands on a backend it already tried, and that no
    /// eligible backend means no pick.
    #[test]
    fn retries_skip_tried() {
        let mut rr = RoundRobin::new();
        let tried = [0usize];
        assert_eq!(rr.pick(3, |i| !tried.contains(&i)), Some(1));
        assert_eq!(rr.pick(3, |_| false), None);
        assert_eq!(rr.pick(0, |_| true), None);
    }
}
