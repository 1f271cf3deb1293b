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
//!
//! Variation belongs to the file, so that `harness run FILE --seed N` replays exactly
//! what any sweep ran for seed N: `at = "30s..40s"` draws the step's time per seed, `for =
//! "10s..20s"` on a fault step closes the fault (restart, heal, unblock, clock set right)
//! that long after it, and `node = "primary"`, `"a-secondary"` or `"any"` names a node by
//! its role when the step runs ([`Role`]). A `[nemesis]` table ([`NemesisSpec`]) draws a
//! whole fault schedule from the seed instead of listing steps. What a run drew is in its
//! timeline (`scenario::draw`).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::faults::{
    Block, ClockStep, CrashMode, Disposition, HostFault, LinkFault, Partition, Protocol,
};
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
    /// A random fault schedule drawn from the seed instead of `steps` (the two do not mix).
    pub nemesis: Option<NemesisSpec>,
    /// What must hold for the run to pass.
    #[serde(default)]
    pub expect: Expectations,
}

fn default_tick() -> Duration {
    DEFAULT_TICK
}

/// A time or a span written as one (`"30s"`), or a range to draw from per seed
/// (`"30s..40s"`, both ends included, drawn to 10 milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub lo: Duration,
    pub hi: Duration,
}

impl Range {
    /// A range of one value.
    pub fn exactly(at: Duration) -> Self {
        Self { lo: at, hi: at }
    }

    /// How much later than `lo` a draw may land.
    pub fn spread(self) -> Duration {
        self.hi - self.lo
    }

    /// `"30s..40s"`, or `"30s"` for a range of one value.
    pub fn text(self) -> String {
        let span = crate::duration::span;
        if self.lo == self.hi {
            return span(self.lo);
        }
        format!("{}..{}", span(self.lo), span(self.hi))
    }

    fn parse(text: &str) -> Result<Self, String> {
        let Some((lo, hi)) = text.split_once("..") else {
            return crate::duration::parse(text).map(Self::exactly);
        };
        let (lo, hi) = (
            crate::duration::parse(lo.trim())?,
            crate::duration::parse(hi.trim())?,
        );
        if hi < lo {
            return Err(format!(
                "the range {text:?} runs backwards; expected the earlier end first (\"{}..{}\")",
                crate::duration::span(hi),
                crate::duration::span(lo)
            ));
        }
        Ok(Self { lo, hi })
    }
}

impl<'de> Deserialize<'de> for Range {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Range;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration such as \"30s\", or a range such as \"30s..40s\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Range, E> {
                Range::parse(v).map_err(E::custom)
            }
        }
        de.deserialize_str(Visitor)
    }
}

/// A node named by what it is when the step runs, not by name: resolved then, among the
/// nodes that are up, and recorded in the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `"primary"`: the replica set's primary (the step is skipped when none is up).
    Primary,
    /// `"a-secondary"`: a node that is up and not the primary, drawn per seed.
    Secondary,
    /// `"any"`: a node that is up, drawn per seed.
    Any,
}

impl Role {
    /// The words a scenario may write.
    pub const WORDS: [&'static str; 3] = ["primary", "a-secondary", "any"];

    /// The role a node name stands for, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "primary" => Some(Self::Primary),
            "a-secondary" => Some(Self::Secondary),
            "any" => Some(Self::Any),
            _ => None,
        }
    }
}

/// One timed step as written: `at` and exactly one action.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// When the step happens, as simulated time since the start: a time, or a range
    /// drawn per seed (`"30s..40s"`); before `duration` either way.
    pub at: Range,
    /// On a fault step (crash, a partition, block, clock offset, jump or drift): how long
    /// the fault lasts, a duration or a range drawn per seed; a closing step (restart,
    /// heal, unblock, the clock set right: drift 0 and offset 0) follows that long after.
    /// Default: the fault lasts until a step undoes it.
    #[serde(rename = "for")]
    pub lasts: Option<Range>,
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
    /// Stop a host's software as `SIGSTOP` does: `pause = { node = "node-1" }`.
    pub pause: Option<HostSpec>,
    /// Let a paused host run again: `resume = { node = "node-1" }`.
    pub resume: Option<HostSpec>,
    /// Multiply a node's service times: `slow = { node = "node-2", factor = 4.0 }`.
    pub slow: Option<SlowSpec>,
    /// Impair or restore links: `link = { between = ["node-1"], and = ["node-2"], loss = 0.1 }`.
    pub link: Option<LinkSpec>,
    /// A planned rolling update of the nodes ([`UpdateSpec`]); at most one per scenario.
    pub update: Option<UpdateSpec>,
    /// Change how the DNS server answers for the appliance's names (`answer = "normal"`
    /// undoes it).
    pub dns: Option<DnsSpec>,
    /// Change how the SMTP relay answers the nodes (`answer = "normal"` undoes it).
    pub smtp: Option<SmtpSpec>,
    /// An operator's action on the load balancer: drain a node, put it back.
    pub lb: Option<LbSpec>,
    /// An administrator's change of the egress proxy's allow-list or the nodes' exception.
    pub egress: Option<EgressSpec>,
    /// A maintenance session over SSH: `ssh = { from = "jumphost", to = "node-2",
    /// duration = "30s" }` ([`SshSpec`]).
    pub ssh: Option<SshSpec>,
}

/// `ssh = { from = "jumphost", to = "node-2", duration = "30s" }`: `from` opens an SSH
/// session to the node and keeps it `duration`, then logs out. The node accepts it only
/// from the hosts `[topology.access] ssh_from` admits and inside a maintenance window;
/// otherwise it refuses, and the event log says why. Needs `[topology.access] jumphost
/// = true`. No `for` (the session ends by itself).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshSpec {
    /// Where the session starts: `"jumphost"`, or `"users"` for a direct attempt from
    /// the internet. Required.
    pub from: String,
    /// The node, by name (not a role). Required.
    pub to: String,
    /// How long the session lasts once accepted: whole milliseconds, above 0s, at most
    /// 1h. Required.
    #[serde(with = "crate::duration")]
    pub duration: Duration,
}

/// `egress = { allow = ["cdn.auth0.com"] }` replaces the proxy's allow-list from now on;
/// `egress = { exception = false }` withdraws the nodes' exception (every request then
/// gets `407`), `true` grants it again. Either or both; no `for` (a later step sets them
/// again). Proxy mode only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressSpec {
    /// The new allow-list: domains, each allowing the names under it. May be empty.
    pub allow: Option<Vec<String>>,
    /// The nodes' exception: `false` withdraws it, `true` grants it.
    pub exception: Option<bool>,
}

/// `smtp = { answer = "auth-rejected" }`: from now on the relay answers `535` to the
/// nodes' `AUTH`; `"temporary"` answers `451` to every `MAIL FROM`; `"slow"` with `delay =
/// "2s"` sends every reply that late; `"normal"` undoes any of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSpec {
    /// `"normal"`, `"auth-rejected"`, `"temporary"` or `"slow"`. Required.
    pub answer: crate::faults::service::SmtpAnswerKind,
    /// How late each reply comes, with `"slow"` only (required there): above 0s, at most
    /// 1h.
    #[serde(default, with = "crate::duration::option")]
    pub delay: Option<Duration>,
}

/// `dns = { answer = "servfail" }`: from now on the DNS server answers SERVFAIL to every
/// query; `"nxdomain"` for the appliance's names; `"silence"` (no answer); `"wrong-address"`
/// with `address = "10.0.1.99"` (the names point there); `"normal"` undoes any of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSpec {
    /// `"normal"`, `"servfail"`, `"nxdomain"`, `"silence"` or `"wrong-address"`. Required.
    pub answer: crate::faults::service::DnsAnswerKind,
    /// The address the names resolve to, with `"wrong-address"` only (required there).
    pub address: Option<std::net::Ipv4Addr>,
}

/// `lb = { drain = "node-2" }`: the operator drains the node (no new requests, those in
/// flight finish); `lb = { ready = "node-2" }` puts it back; `lb = { interval = "1s",
/// rise = 3, fall = 2 }` changes the health checks (any of the three). One of the three
/// forms.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LbSpec {
    /// A node to drain.
    pub drain: Option<String>,
    /// A drained node to put back in rotation.
    pub ready: Option<String>,
    /// The checks' new interval (`inter`), from the next check on; no shorter than
    /// `lb.connect_timeout + lb.timeout`, at most 1h.
    #[serde(default, with = "crate::duration::option")]
    pub interval: Option<Duration>,
    /// The new `rise`: at least 1, at most 100.
    pub rise: Option<u32>,
    /// The new `fall`: at least 1, at most 100.
    pub fall: Option<u32>,
}

/// `link = { between = ["node-1", "node-2", "node-3"], latency = "100ms", jitter =
/// "20ms", loss = 0.05, bandwidth_kb_per_s = 100 }`: from this step on, the links among
/// `between`'s hosts (or between them and `and`'s) add `latency` each way, move it by up
/// to `jitter`, lose `loss` of the segments and datagrams (a lost TCP segment arrives
/// after retransmission timeouts, a lost datagram never) and carry at most
/// `bandwidth_kb_per_s` each way, replacing what an earlier `link` set on them;
/// `clear = true` (or the end of its `for`) restores them. At least one of the four,
/// or `clear`. Toxiproxy's vocabulary (`faults::link`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// Host names (not roles). Without `and`: at least two, and every link among them.
    pub between: Vec<String>,
    /// Host names, none of them in `between`: the links from each of `between`'s hosts
    /// to each of these. Default: none (the links among `between`).
    #[serde(default)]
    pub and: Vec<String>,
    /// Latency added to each link's own, each way: whole milliseconds, at most 1m.
    /// Default 0ms.
    #[serde(default, with = "crate::duration::option")]
    pub latency: Option<Duration>,
    /// Each message's latency moves by a uniform draw within this, either way: whole
    /// milliseconds, at most 1m. Default 0ms.
    #[serde(default, with = "crate::duration::option")]
    pub jitter: Option<Duration>,
    /// The probability each TCP segment or UDP datagram is lost: 0 to 1. Default 0.
    pub loss: Option<f64>,
    /// Each direction's limit in kilobytes (1000 bytes) a second: 1 to 10000000.
    /// Default: none.
    pub bandwidth_kb_per_s: Option<u64>,
    /// `true` restores the links (with no other setting). Default false.
    #[serde(default)]
    pub clear: bool,
}

/// `pause = { node = "node-1" }`, `resume = { node = "node-1" }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// The host: a node (`node-1` .. `node-N`, or a role for `pause`), or `lb`, `dns`,
    /// `smtp`, `egress`.
    pub node: String,
}

/// `slow = { node = "node-2", factor = 4.0 }`: from this step on, every modelled service
/// time of the node (a request's work, a database write) takes `factor` times as long;
/// `factor = 1.0` (or the end of its `for`) restores it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowSpec {
    /// A node (`node-1` .. `node-N`) or a role.
    pub node: String,
    /// How many times slower: 1 to 1000 (`faults::SLOW_FACTOR_MAX`). Required.
    pub factor: f64,
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

/// `update = { order = ["node-3", "node-2", "node-1"], drain = true, install = "20s" }`:
/// a planned rolling update, one node after another (the deployment guide's monthly
/// update cycle; [`crate::scenario::update`]). For each node in turn: out of the
/// balancer's rotation (with `drain`) and its requests finished, the primary steps down
/// (when its turn comes), stopped, installed, started with the new version, caught up
/// with the primary and passing `/testall`, back in rotation; then the next.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSpec {
    /// The nodes in the order they are updated, each once. Default: every node, the
    /// secondaries in name order and then the primary, as they are when the update starts.
    pub order: Option<Vec<String>>,
    /// Take each node out of the balancer's rotation and wait for its requests before
    /// stopping it. Default true.
    #[serde(default = "default_true")]
    pub drain: bool,
    /// How long the install takes on each node, the node stopped meanwhile. Default
    /// `"20s"`; above 0s, at most 10m.
    #[serde(default = "default_install", with = "crate::duration")]
    pub install: Duration,
    /// How long the update waits for a node, per phase (its requests to finish, catching
    /// up and passing `/testall`) before it stops there. Default `"60s"`; above 0s, at
    /// most 10m.
    #[serde(default = "default_wait_max", with = "crate::duration")]
    pub wait_max: Duration,
    /// The version installed. Default: the update mirror's newest
    /// (`services::internet::LATEST_VERSION`).
    pub version: Option<String>,
    /// A node whose install fails, so that it does not start again (a modelled bad
    /// install): the update waits `wait_max` for it and stops there. Default: none.
    pub broken: Option<String>,
    /// The expectation on the update: the longest a node may be out of service, from
    /// its stop until it passes `/testall` again. Default `"30s"` (the appliance's
    /// documentation: at most 30 s per node in a multi-node cluster); above 0s.
    #[serde(default, with = "crate::duration::option")]
    pub downtime_max: Option<Duration>,
}

fn default_install() -> Duration {
    Duration::from_secs(20)
}

fn default_wait_max() -> Duration {
    Duration::from_secs(60)
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
    /// Judge the mail queue's retries (`checkers::retries`): every failed delivery's
    /// delay is the backoff's (`smtp.retry_initial`, doubled after each further failure,
    /// at most `smtp.retry_max`), its next attempt comes no sooner, and none is given up.
    /// Default false.
    pub mail_backoff: Option<bool>,
    /// The liveness bound: after the last step, the members that are up must agree (one
    /// primary, one log, all of it committed) within this time. Always judged. Default
    /// `"30s"`.
    #[serde(default, with = "crate::duration::option")]
    pub converge_within: Option<Duration>,
    /// Latency bound on successful requests (nearest-rank p99), judged over the whole
    /// run and over every 10 s window outside the fault windows (from a fault step until
    /// it is undone and `checkers::latency::SETTLE_MARGIN`, 15 s, more, or the replica
    /// set converged). Above 0s, at most 1h.
    #[serde(default, with = "crate::duration::option")]
    pub p99_max: Option<Duration>,
    /// The most requests that may fail per fault window (the requests that started in
    /// it), one verdict per window. At most 1000000.
    pub failed_per_fault_max: Option<u64>,
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
    /// In time order (steps at the same time keep their file order), each at the
    /// earliest time it can have (`scenario::draw` draws the rest per seed).
    pub steps: Vec<Step>,
    /// The nemesis, if the file has one (its schedule is drawn per seed).
    pub nemesis: Option<NemesisSpec>,
    pub expect: Expectations,
    /// The planned rolling update, if a step asks for one (not a fault: it is not among
    /// `steps`; [`crate::scenario::update`]).
    pub update: Option<Update>,
}

/// A checked rolling update, ready for the world's operator.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// When it starts.
    pub at: Duration,
    /// The `[[steps]]` entry it came from (0-based).
    pub origin: usize,
    /// The nodes in order; `None`: the secondaries in name order, then the primary, as
    /// they are when the update starts.
    pub order: Option<Vec<String>>,
    /// Out of rotation, and its requests finished, before each node stops.
    pub drain: bool,
    /// How long each node's install takes.
    pub install: Duration,
    /// How long the operator waits for a node in each phase before stopping the update.
    pub wait_max: Duration,
    /// The version installed.
    pub version: String,
    /// A node whose install fails (it does not start again).
    pub broken: Option<String>,
    /// The per-node downtime bound (`downtime_max`, or `scenario::update::DOWNTIME_MAX_DEFAULT`).
    pub downtime_max: Duration,
}

/// A checked step. Its time is the earliest it can have; a run may draw it later (by the
/// same amount for every step of one `[[steps]]` entry, the flips of a strobe included).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: Duration,
    pub action: Action,
    /// The `[[steps]]` entry it came from (0-based).
    pub origin: usize,
    /// The entry's `at` as written.
    pub when: Range,
    /// For the closing step of a fault with `for`: the `for` as written.
    pub lasts: Option<Range>,
}

impl Step {
    /// A step at a fixed time, drawn from nothing.
    pub fn fixed(at: Duration, action: Action, origin: usize) -> Self {
        Self {
            at,
            action,
            origin,
            when: Range::exactly(at),
            lasts: None,
        }
    }

    /// The latest time a draw can give it.
    pub fn latest(&self) -> Duration {
        self.at + self.when.spread() + self.lasts.map_or(Duration::ZERO, Range::spread)
    }
}

/// `[nemesis]`: a fault schedule drawn from the run's seed (TigerBeetle's VOPR's two
/// phases): from `start`, for `phase`, faults of the listed kinds begin at random (gaps
/// drawn with mean `mean_gap`) and each is undone after a time drawn from `fault_for`
/// (and by the phase's end at the latest); then everything is healed and the
/// convergence phase must reach liveness within `expect.converge_within`. The schedule
/// becomes ordinary steps before the run, listed in the timeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NemesisSpec {
    /// The kinds of fault that may be drawn (see [`NemesisFault`]). Default: every kind.
    #[serde(default = "NemesisFault::all")]
    pub faults: Vec<NemesisFault>,
    /// When the fault phase begins. Default `"10s"`.
    #[serde(default = "default_nemesis_start", with = "crate::duration")]
    pub start: Duration,
    /// How long the fault phase lasts: every fault begins and is undone within it; it
    /// ends before `duration`. Required.
    #[serde(with = "crate::duration")]
    pub phase: Duration,
    /// The mean time between two faults' beginnings (gaps drawn from an exponential
    /// distribution). Default `"15s"`; at least 1s.
    #[serde(default = "default_mean_gap", with = "crate::duration")]
    pub mean_gap: Duration,
    /// How long each fault lasts, drawn per fault. Default `"5s..20s"`; above 0s.
    #[serde(default = "default_fault_for")]
    pub fault_for: Range,
}

fn default_nemesis_start() -> Duration {
    Duration::from_secs(10)
}

fn default_mean_gap() -> Duration {
    Duration::from_secs(15)
}

fn default_fault_for() -> Range {
    Range {
        lo: Duration::from_secs(5),
        hi: Duration::from_secs(20),
    }
}

/// A kind of fault the nemesis may draw: every fault the harness has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NemesisFault {
    /// A node loses power, then restarts.
    Crash,
    /// A node's processes die (the machine refuses connections), then it restarts.
    CrashProcess,
    /// One node cut off from the other nodes (drop or reject, drawn), then healed.
    Isolate,
    /// A minority of the nodes, with the load balancer, split from the rest, then healed.
    Split,
    /// A node's traffic to the other nodes dropped, the way back open, then healed.
    OneWay,
    /// The other nodes in two halves only one node still joins (three nodes or more).
    Bridge,
    /// A firewall DROP on the cluster ports (27017, 7777, 8721, 8701) between one node and
    /// the others, then removed.
    FirewallDrop,
    /// The same with REJECT.
    FirewallReject,
    /// A node's wall clock set up to 10 minutes off, then set right.
    ClockJump,
    /// A node's wall clock flipping between true time and up to 10 minutes off, then
    /// set right.
    ClockStrobe,
    /// A node's clock gaining or losing up to 500ppm, then set right.
    ClockDrift,
    /// The egress refuses every internet site, then lets them through again.
    EgressBlocked,
    /// The SMTP relay's processes die, then it restarts.
    SmtpDown,
    /// The DNS server loses power, then restarts.
    DnsDown,
    /// A node's software stopped as by `SIGSTOP`, then resumed.
    Pause,
    /// Latency added to a node's links to the other nodes (20ms to 500ms, with a jitter of
    /// up to half of it), then the links restored.
    LinkLatency,
    /// A share of the packets on a node's links to the other nodes lost (1% to 20%: TCP
    /// retransmits them late, `faults::link`), then the links restored.
    LinkLoss,
}

impl NemesisFault {
    /// Every kind, in declaration order.
    pub fn all() -> Vec<Self> {
        use NemesisFault::*;
        vec![
            Crash,
            CrashProcess,
            Isolate,
            Split,
            OneWay,
            Bridge,
            FirewallDrop,
            FirewallReject,
            ClockJump,
            ClockStrobe,
            ClockDrift,
            EgressBlocked,
            SmtpDown,
            DnsDown,
            Pause,
            LinkLatency,
            LinkLoss,
        ]
    }
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
    /// A fault injected into a service (DNS answers, the load balancer's operator), or
    /// its undoing.
    Service(crate::faults::service::ServiceStep),
    /// Pause, resume or slow one host's software.
    Host(HostFault),
    /// Impair or restore links.
    Link(LinkFault),
    /// A maintenance session over SSH (not a fault: an operation, judged by the access
    /// checker).
    Ssh(crate::faults::access::SshSession),
}
