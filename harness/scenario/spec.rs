//! The scenario format (TOML): these types are its specification.
//!
//! `scenarios/node-loss.toml` is the annotated reference; a test parses it, so the two
//! cannot drift. Every table refuses unknown keys. Durations are strings such as `"30s"`,
//! `"1m30s"` or `"250ms"`.
//!
//! A step is a table with `at` and exactly one action key, so the file reads as a list of
//! timed verbs:
//!
//! ```toml
//! [[steps]]
//! at = "30s"
//! crash = { node = "node-2", mode = "power-off" }
//!
//! [[steps]]
//! at = "1m30s"
//! restart = { node = "node-2" }
//! ```
//!
//! (Action keys instead of an internally tagged `kind`, because serde's internally tagged
//! enums lose the position an error needs.)

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::events::CrashMode;
use crate::topology::{LoadSettings, Topology, TopologySpec};

/// The tick when a scenario names none: 1 ms, fine enough for LAN latencies and service
/// times of a few milliseconds (see README, "Choosing a tick").
pub const DEFAULT_TICK: Duration = Duration::from_millis(1);

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Short name, shown first in the report.
    pub name: String,
    /// What the scenario shows, for the report's reader. Default empty.
    #[serde(default)]
    pub description: String,
    /// Seed of every random choice in the run (arrivals, choices, turmoil).
    pub seed: u64,
    /// How long the users send requests. Requests still in flight at the end get up to
    /// `load.timeout` more to finish. At most one hour.
    #[serde(with = "crate::duration")]
    pub duration: Duration,
    /// The resolution of simulated time. Default `"1ms"`; from `"100us"` to `"100ms"`.
    #[serde(default = "default_tick", with = "crate::duration")]
    pub tick: Duration,
    /// The users' load.
    #[serde(default)]
    pub load: LoadSettings,
    /// Overrides of the reference deployment `ha-3`.
    #[serde(default)]
    pub topology: TopologySpec,
    /// Faults, in any order; they are applied in time order.
    #[serde(default)]
    pub steps: Vec<StepSpec>,
    /// What must hold for the run to pass.
    #[serde(default)]
    pub expect: Expectations,
}

fn default_tick() -> Duration {
    DEFAULT_TICK
}

/// One timed step as written: `at` and exactly one action.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// When the step happens, as simulated time since the start; before `duration`.
    #[serde(with = "crate::duration")]
    pub at: Duration,
    /// Crash a node.
    pub crash: Option<CrashSpec>,
    /// Restart a crashed node.
    pub restart: Option<RestartSpec>,
}

/// `crash = { node = "node-2", mode = "power-off" }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashSpec {
    /// The node, `node-1` .. `node-N`.
    pub node: String,
    /// `"power-off"` (default: nothing answers, callers time out) or `"process"` (the
    /// machine stays up and refuses connections).
    #[serde(default = "default_crash_mode")]
    pub mode: CrashMode,
}

fn default_crash_mode() -> CrashMode {
    CrashMode::PowerOff
}

/// `restart = { node = "node-2" }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartSpec {
    /// A node that an earlier step crashed.
    pub node: String,
}

/// What must hold for the run to pass. Every expectation is optional; a scenario with
/// none passes when it runs to the end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// Minimum share of user requests that succeed, in percent (0 to 100).
    pub availability_pct_min: Option<f64>,
    /// Longest allowed failure window: from the start of a window's first failed request
    /// to the end of its last. Failed requests belong to one window while each starts
    /// within `failure_gap` of the previous one's end.
    #[serde(default, with = "crate::duration::option")]
    pub failure_window_max: Option<Duration>,
    /// The gap that separates two failure windows. Default `"2s"`.
    #[serde(default, with = "crate::duration::option")]
    pub failure_gap: Option<Duration>,
    /// For every crashed node: the load balancer must take it out of rotation within this
    /// time of the crash. Needs a crash step.
    #[serde(default, with = "crate::duration::option")]
    pub detection_max: Option<Duration>,
    /// For every restarted node: the load balancer must put it back within this time of
    /// the restart. Needs a restart step.
    #[serde(default, with = "crate::duration::option")]
    pub recovery_max: Option<Duration>,
}

/// The failure gap when a scenario names none.
pub const DEFAULT_FAILURE_GAP: Duration = Duration::from_secs(2);

impl Expectations {
    pub fn failure_gap(&self) -> Duration {
        self.failure_gap.unwrap_or(DEFAULT_FAILURE_GAP)
    }
}

/// A checked scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it came from, as given.
    pub path: PathBuf,
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub duration: Duration,
    pub tick: Duration,
    pub load: LoadSettings,
    pub topology: Topology,
    /// In time order (steps at the same time keep their file order).
    pub steps: Vec<Step>,
    pub expect: Expectations,
}

/// A checked step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: Duration,
    pub action: Action,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Crash { node: String, mode: CrashMode },
    Restart { node: String },
}
