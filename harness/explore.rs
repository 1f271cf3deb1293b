//! Exploring failures: `harness shrink`, which reduces a failing run to a smaller
//! scenario that fails the same way.
//!
//! The variation a run draws (step times from ranges, nodes by role, the `[nemesis]`
//! schedule) is the scenario's own (`scenario::draw`), applied by the executor; this room
//! only runs scenarios and compares their verdicts. [`shrink`] searches, [`toml`] writes
//! a candidate as an ordinary scenario file.

pub mod shrink;
pub mod toml;
