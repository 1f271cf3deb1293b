//! The simulated world: turmoil's network with the harness's hosts, clocks and fault layer.
//!
//! [`sim::World`] builds a turmoil `Sim` from a [`crate::topology::Topology`], runs each
//! host's service on it through [`net::SimNet`], gives every host a [`clock::SimClock`],
//! and applies faults between ticks.
//!
//! The world holds only the simulation: hosts, links, clocks, the socket layer and the
//! fault driver. Each service's configuration comes from [`crate::wiring`]; whether the
//! replica set has converged, and every verdict, is [`crate::checkers`]' to say. The
//! world records what happened in the event log and lends the checkers a view of the
//! members ([`sim::World::up_members`]).

pub mod clock;
pub mod net;
pub mod sim;
pub mod update;
pub mod view;
