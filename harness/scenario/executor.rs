//! The step executor: builds the world, applies each step at its simulated time, and runs
//! the simulation to the end of the load plus a drain.
//!
//! A step due at time `t` is applied before the first tick that starts at or after `t`, so
//! with a 1 ms tick it lands within 1 ms of its time. After `duration` the users send
//! nothing new, and the run continues for [`drain`] so that every request already sent
//! reaches an outcome: the report never has to guess about unfinished requests.

use std::time::Duration;

use super::spec::{Action, Scenario};
use crate::events::Event;
use crate::world::sim::{RunSetup, World, WorldError};

/// Time after the end of the load for in-flight requests to finish: the users' timeout
/// bounds every request end to end, plus one second for the last outcome to be recorded.
pub fn drain(scenario: &Scenario) -> Duration {
    scenario.load.timeout + Duration::from_secs(1)
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Run {
    /// The event log, in time order.
    pub events: Vec<Event>,
    /// Simulated time covered, drain included.
    pub simulated: Duration,
}

/// Runs a scenario with its own seed, or `seed` when given.
pub fn run(scenario: &Scenario, seed: Option<u64>) -> Result<Run, WorldError> {
    let end = scenario.duration + drain(scenario);
    let setup = RunSetup {
        seed: seed.unwrap_or(scenario.seed),
        tick: scenario.tick,
        load_for: scenario.duration,
        // turmoil errors past this; the loop below stops at `end`, one tick earlier.
        max_duration: end + scenario.tick,
        load: scenario.load.clone(),
    };
    let mut world = World::new(&scenario.topology, &setup);
    let mut steps = scenario.steps.iter().peekable();
    while world.elapsed() < end {
        while let Some(step) = steps.next_if(|s| s.at <= world.elapsed()) {
            match &step.action {
                Action::Crash { node, mode } => world.crash(node, *mode),
                Action::Restart { node } => world.restart(node),
            }
        }
        world.step()?;
    }
    Ok(Run {
        events: world.recorder().snapshot(),
        simulated: world.elapsed(),
    })
}
