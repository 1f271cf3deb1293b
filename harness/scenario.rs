//! Scenario scripts: the file format (with the thresholds a run is judged by, in
//! [`spec::Expectations`]) and loading with precise errors. The run itself is
//! [`crate::executor`]; the checkers that judge it are [`crate::checkers`].

mod access_steps;
pub mod draw;
mod host_steps;
pub(crate) mod invalid;
mod link_steps;
pub mod load;
mod names;
pub mod nemesis;
mod service_steps;
pub mod spec;
pub(crate) mod steps;
pub mod update;

pub use load::{ScenarioError, Source, load, parse};
pub use spec::{Action, Scenario, Step};
