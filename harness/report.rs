//! The outcome of a run and its renderings.
//!
//! [`outcome::Outcome`] is a pure function of the scenario and the event log: the
//! timeline of significant events, requests per window, and the verdicts (judged by
//! [`crate::checkers`], phrased by [`verdicts`]). It is what the snapshots hold (as text,
//! [`text::render`]) and what `--format json` prints as a view with a published schema ([`json`]).

pub mod access;
pub mod cluster_ports;
pub mod consent;
pub mod faults;
pub mod front;
pub mod html;
pub mod json;
pub mod monitoring;
pub mod outcome;
pub mod outside;
pub mod retries;
pub mod text;
pub mod update;
pub mod verdicts;

pub use outcome::Outcome;
