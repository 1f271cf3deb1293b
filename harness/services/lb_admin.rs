//! The balancer's runtime administration: what an operator sees and sets on a running
//! balancer, per backend.
//!
//! Real component: HAProxy's runtime API (`set server be/node-2 state drain`, `show
//! servers state`, `show stat`'s current sessions and check results), or nginx's
//! equivalents.
//!
//! Modelled: the balancer counts the requests in flight on each backend (in `https` mode
//! a request from being sent to its answer; in `tcp` mode a connection while it
//! connects) and the checks each backend has passed in a row. The world holds one of
//! these beside the balancer's software and the update's operator reads it
//! (`world::update`) to know when a drained node is idle and when a restarted one is
//! healthy. The drain itself is the balancer's [`super::load_balancer::Operator`], which
//! the scenario's `lb = { drain = ... }` steps set too.
//!
//! Plain data behind atomics: the simulation runs on one thread, so nothing here races.
//!
//! Faults it reacts to: none of its own; it counts what the balancer does under any fault
//! (a request in flight counts until the balancer has its answer or gives up, a failed
//! check resets the passes in a row). The scenario's `lb = { drain }` / `{ ready }`
//! steps act on the balancer's [`super::load_balancer::Operator`], not here.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// The runtime state of the balancer's backends, in the balancer's backend order.
#[derive(Debug, Default)]
pub struct LbAdmin {
    in_flight: Vec<AtomicUsize>,
    passes: Vec<AtomicU32>,
}

impl LbAdmin {
    /// State for `backends` backends: nothing in flight, no check passed.
    pub fn new(backends: usize) -> Self {
        Self {
            in_flight: (0..backends).map(|_| AtomicUsize::new(0)).collect(),
            passes: (0..backends).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// Requests (or connections being made) in flight on backend `i`.
    pub fn in_flight(&self, i: usize) -> usize {
        self.in_flight[i].load(Ordering::Relaxed)
    }

    /// Checks backend `i` passed in a row, up to now.
    pub fn passes(&self, i: usize) -> u32 {
        self.passes[i].load(Ordering::Relaxed)
    }

    /// A check of backend `i` ended: passed or not.
    pub fn checked(&self, i: usize, passed: bool) {
        if let Some(p) = self.passes.get(i) {
            if passed {
                p.fetch_add(1, Ordering::Relaxed);
            } else {
                p.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Counts a request on backend `i` until the guard is dropped.
    pub fn begin(&self, i: usize) -> InFlight<'_> {
        if let Some(n) = self.in_flight.get(i) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        InFlight { admin: self, i }
    }
}

/// One request in flight on a backend; dropping it ends the count, however it ends.
pub struct InFlight<'a> {
    admin: &'a LbAdmin,
    i: usize,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(n) = self.admin.in_flight.get(self.i) {
            n.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves the counts: a guard counts its request until dropped, a failed check
    /// resets the passes in a row.
    #[test]
    fn counts_and_drain() {
        let admin = LbAdmin::new(2);
        let guard = admin.begin(1);
        assert_eq!((admin.in_flight(0), admin.in_flight(1)), (0, 1));
        drop(guard);
        assert_eq!(admin.in_flight(1), 0);
        admin.checked(0, true);
        admin.checked(0, true);
        assert_eq!(admin.passes(0), 2);
        admin.checked(0, false);
        assert_eq!(admin.passes(0), 0);
    }
}
