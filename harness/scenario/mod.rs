//! Scenario scripts: the file format (with the thresholds a run is judged by, in
//! [`spec::Expectations`]), loading with precise errors and the step executor. The
//! checkers that judge a run are [`crate::checkers`].

pub mod executor;
pub(crate) mod invalid;
pub mod load;
pub mod spec;
pub(crate) mod steps;

pub use load::{ScenarioError, Source, load, parse};
pub use spec::{Action, Scenario, Step};
