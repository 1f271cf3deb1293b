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

use crate::faults::{Block, ClockStep, CrashMode, Disposition, Partition, Protocol};
use crate::topology::{LoadSettings, Topology, TopologySpec};

/// The tick when a scenario names none: 1 ms, the resolution of the hosts' timers
/// (tokio's), fine enough for LAN latencies and service times of a few milliseconds (see
/// README, "Choosing a tick").
pub const DEFAULT_TICK: Duration = Duration::from_millis(1);

/// The version of the scenario format this harness reads: every file says
/// `format_version = 1`. Required, with no default: a file written for another version of
/// the format is refused by name instead of being read with a guess
/// ([`crate::scenario::Source::new`] checks it before anything else).
pub const FORMAT_VERSION: i64 = 1;

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// The format's version, [`FORMAT_VERSION`]; checked before the rest of the file is
    /// read ([`crate::scenario::Source::new`]). Required.
    pub format_version: i64,
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
    /// The resolution of simulated time: a whole number of milliseconds, `"1ms"` (the
    /// default) or `"2ms"` (`load::TICK_RANGE` says why no other).
    #[serde(default = "default_tick", with = "crate::duration")]
    pub tick: Duration,
    /// The users' load.
    #[serde(default)]
    pub load: LoadSettings,
    /// Overrides of the reference deployment `ha-3`.
    #[serde(default)]
    pub topology: TopologySpec,
    /// Faults, in any order; they are applied in time order. At most 100,000 once each
    /// strobe is counted as its flips.
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
    /// Cut one node off from the other nodes (the load balancer still reaches it).
    pub isolate: Option<IsolateSpec>,
    /// Cut the listed groups of hosts off from each other.
    pub split: Option<SplitSpec>,
    /// Cut traffic in one direction only.
    pub one_way: Option<OneWaySpec>,
    /// Split the other nodes into two halves that only this node still joins.
    pub bridge: Option<BridgeSpec>,
    /// Remove every partition (firewall rules stay): `heal = {}`.
    pub heal: Option<HealSpec>,
    /// Set or jump a host's wall clock.
    pub clock: Option<ClockSpec>,
    /// Add firewall rules.
    pub block: Option<BlockSpec>,
    /// Remove the firewall rules a `block` added.
    pub unblock: Option<UnblockSpec>,
}

/// `isolate = { node = "node-1", mode = "drop" }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsolateSpec {
    pub node: String,
    /// `"drop"` (silence: callers time out) or `"reject"` (refused at once). Required.
    pub mode: Disposition,
}

/// `split = { groups = [["node-1"], ["node-2", "node-3"]], mode = "drop" }`: minority and
/// majority, halves, or any grouping; hosts may be nodes, `lb`, `dns` or `users`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitSpec {
    /// At least two disjoint, non-empty groups of host names.
    pub groups: Vec<Vec<String>>,
    /// `"drop"` or `"reject"`. Required.
    pub mode: Disposition,
}

/// `one_way = { from = ["node-1"], to = ["node-2", "node-3"], mode = "drop" }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneWaySpec {
    pub from: Vec<String>,
    pub to: Vec<String>,
    /// `"drop"` or `"reject"`. Required.
    pub mode: Disposition,
}

/// `bridge = { node = "node-2", mode = "drop" }`: with three nodes, node-1 and node-3 lose
/// each other and node-2 still talks to both.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeSpec {
    pub node: String,
    /// `"drop"` or `"reject"`. Required.
    pub mode: Disposition,
}

/// `clock = { node = "node-3", offset = "10m" }` sets the host's wall clock that far ahead
/// of true time (`"-10m"`: behind); `jump = "30s"` moves it by that much from where it is;
/// `drift = "200ppm"` makes it gain that much per second from now on (`"-50ppm"`: lose);
/// `strobe = ["0s", "10m"], period = "5s", for = "1m"` sets the first offset, flips to
/// the other every `period`, and sets the first again after `for`. Exactly one of
/// `offset`, `jump`, `drift` and `strobe`; `period` and `for` go with `strobe` only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSpec {
    pub node: String,
    /// A signed duration: `"10m"`, `"-2s"`, `"+500ms"`; at most a day either way.
    pub offset: Option<String>,
    /// A signed duration to add to the current offset.
    pub jump: Option<String>,
    /// A frequency error in parts per million, such as `"200ppm"` or `"-12.5ppm"`; at
    /// most 100000ppm (10%) either way.
    pub drift: Option<String>,
    /// Two signed offsets to alternate between.
    pub strobe: Option<Vec<String>>,
    /// Time between two flips of a strobe: at least 100ms.
    #[serde(default, with = "crate::duration::option")]
    pub period: Option<std::time::Duration>,
    /// How long a strobe lasts: at most 10000 flips, ending before the run does.
    #[serde(default, rename = "for", with = "crate::duration::option")]
    pub lasts: Option<std::time::Duration>,
}

/// `heal = {}`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealSpec {}

/// `block = { id = "db", from = ["node-1"], to = ["node-2", "node-3"], ports = [27017], action = "drop" }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockSpec {
    /// Names the rules so an `unblock` can remove them.
    pub id: String,
    pub from: Vec<String>,
    pub to: Vec<String>,
    /// Destination ports; all ports when empty. Default: all.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// `"tcp"`, `"udp"` or `"any"`. Default `"tcp"`.
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
    /// `"drop"` or `"reject"`. Required.
    pub action: Disposition,
    /// Also block `to` -> `from` on the same ports. Default true.
    #[serde(default = "default_true")]
    pub both_ways: bool,
}

fn default_protocol() -> Protocol {
    Protocol::Tcp
}

fn default_true() -> bool {
    true
}

/// `unblock = { id = "db" }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnblockSpec {
    pub id: String,
}

/// `crash = { node = "node-2", mode = "power-off" }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashSpec {
    /// The host: a node (`node-1` .. `node-N`), or `lb`, `dns`, `smtp`.
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
    /// A host that an earlier step crashed.
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
    /// The gap that separates two failure windows. Default `"2s"`; above 0s, at most 1h.
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
    /// Every time a step leaves the primary down or cut off from a majority on 27017, a
    /// new primary must be elected within this time (holds, and says so, when no step
    /// did).
    #[serde(default, with = "crate::duration::option")]
    pub failover_max: Option<Duration>,
    /// Judge that no verification mail was delivered twice. Mail is delivered at least
    /// once by design (a primary that loses its majority between the relay's 250 and the
    /// commit of `MailSent` leaves the mail to its successor, which sends it again), so
    /// this holds only where no primary fails over. Default false; duplicates are always
    /// counted in the report.
    pub mail_exactly_once: Option<bool>,
    /// The liveness bound: after the last step, the members that are up must agree (one
    /// primary, one log, all of it committed) within this time. Always judged. Default
    /// `"30s"`.
    #[serde(default, with = "crate::duration::option")]
    pub converge_within: Option<Duration>,
}

/// The failure gap when a scenario names none.
pub const DEFAULT_FAILURE_GAP: Duration = Duration::from_secs(2);

/// The convergence bound when a scenario names none.
pub const DEFAULT_CONVERGE_WITHIN: Duration = Duration::from_secs(30);

impl Expectations {
    pub fn failure_gap(&self) -> Duration {
        self.failure_gap.unwrap_or(DEFAULT_FAILURE_GAP)
    }

    pub fn converge_within(&self) -> Duration {
        self.converge_within.unwrap_or(DEFAULT_CONVERGE_WITHIN)
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
    Crash {
        node: String,
        mode: CrashMode,
    },
    Restart {
        node: String,
    },
    /// Any partition, as its step declared it.
    Partition(Partition),
    Heal,
    /// Firewall rules under an id.
    Block(Block),
    Unblock {
        id: String,
    },
    /// Set, move or re-rate a host's clock (a strobe is a series of these).
    Clock {
        node: String,
        change: ClockStep,
    },
}
