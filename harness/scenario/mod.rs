//! Scenario scripts: the file format, loading with precise errors, the step executor and
//! the expectations a run is judged by.

pub mod executor;
pub mod expect;
pub(crate) mod invalid;
pub mod isolation;
pub mod load;
pub mod outside;
pub mod spec;
pub(crate) mod steps;

pub use load::{ScenarioError, Source, load, parse};
pub use spec::{Action, Scenario, Step};
