//! The simulated world: turmoil's network with the harness's hosts, clocks and fault layer.
//!
//! [`sim::World`] builds a turmoil `Sim` from a [`crate::topology::Topology`], runs each
//! host's service on it through [`net::SimNet`], gives every host a [`clock::SimClock`],
//! and applies faults between ticks.

pub mod clock;
pub mod net;
pub mod sim;
