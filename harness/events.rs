//! The event log: what services and the world saw happen, stamped with simulated time.
//!
//! Everything a report says is derived from this log (docs/ARCHITECTURE.md section 3:
//! "the outcome is a pure function of the event log"). Services append through
//! [`crate::env::Env::record`], which stamps the host's name and the simulated time; the
//! world appends the faults it applies (and what the executor has it record) with
//! [`Recorder::record_at`] under the host name [`EXECUTOR`], because steps run between
//! ticks, outside any host.
//!
//! The log is a [`LogBuilder`] behind a mutex: appends happen in the order the single
//! simulation thread executes them, so the order itself is deterministic. Readers sort by
//! time with a stable sort, keeping that order among events of the same tick. The three
//! kinds every user request appends (`Request`, `Forwarded`, `ClientSeen`) are folded
//! into compact rows as they come, so an hour's run does not hold 180,000 of each whole,
//! and the token and mail events into compact rows that give them back exactly;
//! [`log`] says what the finished [`Log`] holds.
//!
//! Ordering rule within one tick (one simulated instant): the scenario's step is recorded
//! before anything it causes, then hosts in their execution order. The world records a
//! step's events with [`Recorder::record_step_at`], and the sorted log puts them
//! first among the events stamped with the same time: a host whose timer fired at the
//! very end of the previous tick stamps that instant too, but ran before the step.

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub mod access;
pub mod cluster;
pub mod log;
pub mod monitoring;
pub mod update;

pub use log::{Log, LogBuilder};

use schemars::JsonSchema;
use serde::{Serialize, Serializer};

use crate::clock::ClockSetting;
use crate::faults::{Block, CrashMode, HostFault, LinkFault, Partition};

/// The host name faults injected by the scenario are recorded under.
pub const EXECUTOR: &str = "scenario";

/// One thing that happened, at a simulated time, on a host.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Event {
    /// Simulated time since the run began (`at_ms` in JSON).
    #[serde(rename = "at_ms", serialize_with = "as_ms")]
    #[schemars(with = "u64")]
    pub at: Duration,
    /// The host that recorded it (`"scenario"` for faults the scenario injected).
    pub host: String,
    /// What happened (its `kind` and fields, flattened into the event's object).
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The vocabulary of the event log.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A service bound its port and is serving.
    ServiceStarted { service: String, port: u16 },
    /// The scenario crashed a node.
    Crashed { node: String, mode: CrashMode },
    /// The scenario restarted a crashed node.
    Restarted { node: String },
    /// The scenario paused, resumed or slowed a host's software.
    Host(HostFault),
    /// The scenario impaired or restored links.
    Link(LinkFault),
    /// A value the scenario let the run's seed draw (`scenario::draw`), recorded when the
    /// step it moved runs, just before it.
    Drawn {
        /// Where the file asked for it: `steps[2].at`, `steps[0].crash.node`, `nemesis
        /// fault 3`.
        key: String,
        /// What it was drawn from: a range (`30s..40s`), a role (`primary`), a nemesis
        /// kind (`crash`).
        from: String,
        /// What came out: a time (`0:34.120`), a node, a fault.
        value: String,
    },
    /// The load balancer's health checker started watching its backends.
    ChecksStarted {
        backends: Vec<String>,
        #[serde(rename = "interval_ms", serialize_with = "as_ms")]
        #[schemars(with = "u64")]
        interval: Duration,
        #[serde(rename = "connect_timeout_ms", serialize_with = "as_ms")]
        #[schemars(with = "u64")]
        connect_timeout: Duration,
        #[serde(rename = "timeout_ms", serialize_with = "as_ms")]
        #[schemars(with = "u64")]
        timeout: Duration,
        rise: u32,
        fall: u32,
    },
    /// A health check whose result moved a backend's counters (checks that change nothing,
    /// such as another pass on a healthy backend, are not recorded).
    Check {
        backend: String,
        effect: CheckEffect,
        /// Why the check failed, or `"200 OK"` when it passed.
        detail: String,
    },
    /// The load balancer forwarded (or failed to forward) one client request.
    Forwarded {
        /// The client's `X-Request-Id`, when it sent a number.
        request_id: Option<u64>,
        /// The backend that produced the response; `None` when no backend was reached.
        backend: Option<String>,
        /// Status returned to the client.
        status: u16,
        /// Backends that refused the connection before one answered.
        refused_by: Vec<String>,
    },
    /// A user request finished (or gave up).
    Request(RequestRecord),
    /// A node served a request from outside the cluster (anything but `/testall`) and
    /// took this to be the client's address: what it would log for the login and use for
    /// geo-location (the network requirements).
    ClientSeen {
        /// The client's `X-Request-Id`, when it sent a number.
        request_id: Option<u64>,
        client: std::net::IpAddr,
        /// Where the address came from: `"x-forwarded-for"`, `"proxy v1"`, `"proxy v2"`,
        /// or `"connection"` (the TCP peer).
        via: &'static str,
    },
    /// A TCP-mode balancer passed a connection through to a backend (or to none).
    Relayed {
        client: std::net::IpAddr,
        /// The backend the bytes went to; `None` when no backend took the connection and
        /// the client's connection was closed.
        backend: Option<String>,
        /// Backends that refused the connection before one took it.
        refused_by: Vec<String>,
    },
    /// The balancer turned a client away: a connection from outside `lb.allow`, or a path
    /// outside `lb.public_paths` from outside `lb.admin_networks` (403).
    LbDenied {
        client: std::net::IpAddr,
        /// The path refused; `None` for a connection refused by the allow-list.
        path: Option<String>,
    },
    /// Something a replica-set member reported.
    ReplicaSet(RsEvent),
    /// A phase of a planned rolling update, as the operator carried it out (under the
    /// host [`update::OPERATOR`]).
    Update(update::UpdatePhase),
    /// Remote maintenance access: an SSH attempt a step asked for, and what became of
    /// it (`access`).
    Ssh(access::SshEvent),
    /// A host's wall clock was set, moved or re-rated (by the scenario or by the host's
    /// NTP discipline); `setting` is the whole new state, so the log alone tells any
    /// host's offset at any time.
    ClockChanged {
        node: String,
        #[serde(serialize_with = "setting_view")]
        #[schemars(with = "ClockSettingView")]
        setting: ClockSetting,
        cause: ClockCause,
    },
    /// A node measured its clock against an NTP server and corrected it (the correction
    /// itself is the `ClockChanged` recorded with it).
    NtpSynced {
        server: String,
        /// How far the node's clock was behind the server's (negative: ahead), in ns.
        offset_ns: i64,
        /// Round-trip delay, in ns.
        delay_ns: i64,
    },
    /// A node's NTP poll got no usable answer.
    NtpFailed { server: String, reason: String },
    /// The scenario changed the network: a partition, a heal, firewall rules.
    Network(NetworkChange),
    /// The scenario injected a fault into a service, or undid one: the DNS server's
    /// answers, an operator's drain of a backend on the load balancer.
    Service(crate::faults::service::ServiceStep),
    /// A step left the replica set's primary down or unable to reach a majority on 27017:
    /// the set must elect another.
    PrimaryLost {
        node: String,
        term: u64,
        why: PrimaryLoss,
    },
    /// A node's mail queue had a message accepted by the relay.
    MailSent {
        message_id: String,
        attempts: u32,
        waited_ms: u64,
    },
    /// A node's delivery attempt failed; it retries after `retry_in_ms`.
    MailFailed {
        message_id: String,
        attempt: u32,
        reason: String,
        retry_in_ms: u64,
    },
    /// The SMTP relay accepted a message (it answered 250 to its DATA).
    MailAccepted { message_id: String, to: String },
    /// The egress decided on one request, connection or datagram from a node.
    Egress(EgressRecord),
    /// An internet host served a request; `from` is the address it came from (the egress,
    /// unless something bypassed it).
    SiteServed {
        from: std::net::IpAddr,
        what: String,
        /// The HTTP status answered; `None` for NTP.
        status: Option<u16>,
    },
    /// A node's periodic call out (the update check, the extensions refresh) and how it
    /// went: `Ok` with what it got, `Err` with why not.
    Outbound {
        purpose: String,
        result: Result<String, String>,
    },
    /// A node's update check found the update mirror's newest version, `latest`, newer
    /// than the one it runs, `installed` (recorded at every such check, only where the
    /// topology's `updates.notify` is on or the scenario plans an update).
    UpdateAvailable { installed: String, latest: String },
    /// A node issued a token (at login); `iat` is its clock's reading, in seconds.
    TokenIssued { jti: String, iat: u64 },
    /// A node validated a token (at `/userinfo`), by its clock's reading `now_s`.
    TokenChecked {
        jti: String,
        issuer: String,
        iat: u64,
        exp: u64,
        now_s: u64,
        /// `None` when accepted; the rejection's text otherwise.
        rejected: Option<String>,
    },
    /// A node refused a token it could not read: a bad signature or a malformed token.
    TokenRefused { reason: String },
    /// The monitoring host polled, answered, raised or cleared an alert.
    Monitoring(monitoring::MonitorEvent),
    /// A member's data at the end of the run, for the checkers.
    MemberFinal(MemberFinal),
    /// After a step had made the set unhealthy, the members that are up last became a
    /// healthy set (one primary, followed by every member up, no member missing an entry
    /// older than a heartbeat) and stayed so to the end; recorded under
    /// `executor::SET_HOST`.
    Converged,
    /// A node accepted the AD/LDAP connector's websocket (it answered 101 to
    /// `GET /connector` and the connection was upgraded); the host is the node.
    ConnectorOpened,
    /// A node's connector websocket ended: closed or failed, or the connector left three
    /// heartbeats unanswered.
    ConnectorClosed { reason: String },
    /// The connector (on the users' host) got the first heartbeat over a new websocket:
    /// it is connected, to `node`.
    ConnectorConnected { node: String },
    /// The connector's open websocket broke: the node it was on (`None` when no heartbeat
    /// had named one yet) and why. It reconnects 1s later.
    ConnectorBroken {
        node: Option<String>,
        reason: String,
    },
    /// A connection attempt of the connector failed before the websocket opened: the HTTP
    /// status when one was answered (426 from a node behind a balancer that strips
    /// upgrades), and why. It tries again 1s later.
    ConnectorRefused { status: Option<u16>, reason: String },
    /// A connection or datagram between the dev/test LAN and anything outside it, in
    /// either direction (the network requirements: production and dev/test on completely isolated
    /// networks). Recorded by the sender's socket layer; traffic within one side is not.
    Boundary(BoundaryRecord),
    /// The dev/test instance's data at the end of the run (it is not a member of
    /// production's set, so it has no [`EventKind::MemberFinal`]).
    DevFinal {
        /// Signups in its log.
        signups: usize,
        /// Verification mail committed and never delivered.
        mail_queued: usize,
    },
    /// After the last step, the members that are up became a healthy set at this moment
    /// and stayed so to the end, and no step had made the set unhealthy: nothing to
    /// recover from, so the timeline says nothing (see [`EventKind::Converged`]).
    HealthyUnbroken,
    /// A node lost or regained contact with a peer on a cluster port (7777, 8721, 8701).
    ClusterPort(cluster::ClusterPortEvent),
    /// After the last step, from this moment to the end there was a primary and its mail
    /// queue held no committed message that had waited `checkers::convergence::MAIL_STALE`
    /// or longer.
    MailFlowing,
}

/// Something a replica-set member reported, worth a line in the timeline (terms and log
/// indexes as the member counts them, from 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RsEvent {
    /// A dry run succeeded and the member stands for election.
    StoodForElection {
        term: u64,
    },
    Elected {
        term: u64,
        votes: Vec<String>,
    },
    SteppedDown {
        term: u64,
        reason: String,
    },
    /// Entries removed because they conflict with the primary's log.
    RolledBack {
        entries: u64,
        first_index: u64,
        signups: Vec<String>,
    },
    /// A secondary's replication lag crossed the threshold (up when `lagging`).
    Lag {
        member: String,
        lagging: bool,
        lag_ms: u64,
    },
}

/// Why a step's primary counts as lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrimaryLoss {
    /// Its host is down.
    Down,
    /// Its host is paused (`SIGSTOP`): it runs nothing, its heartbeats stop.
    Paused,
    /// It reaches `reaches` of the `members` on the database port, not a majority.
    Cut { reaches: usize, members: usize },
}

/// One attempt to cross the dev/test boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct BoundaryRecord {
    /// The sender's address (the event's host is its name).
    pub from: std::net::IpAddr,
    /// The destination address and port.
    pub to: std::net::SocketAddr,
    /// `"tcp"` (a connect) or `"udp"` (a datagram).
    pub protocol: &'static str,
    pub verdict: BoundaryVerdict,
}

/// What the network did with an attempt to cross the dev/test boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BoundaryVerdict {
    /// It went through: the two LANs are routed (`dev.network = "routed"`).
    Crossed,
    /// No route between the two sides: silence, a connect never completes.
    NoRoute,
    /// Routed, but a firewall rule stopped it.
    Firewall,
}

/// A member's data when the run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct MemberFinal {
    pub node: String,
    /// False when the node was down at the end (its data is what it had when it crashed).
    pub up: bool,
    /// `"primary"`, `"secondary"` or `"candidate"` (what it was when it went down, if down).
    pub role: String,
    /// The member's term.
    pub term: u64,
    pub last_index: u64,
    pub last_term: u64,
    /// Users whose signup is in its log, in log order.
    pub signups: Vec<String>,
    /// The deployment's domain (verification mail ids are built from it).
    pub domain: String,
}

/// One decision of the egress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct EgressRecord {
    /// The client (a node's name).
    pub client: String,
    /// `"http"` (the proxy), `"tcp"` (NAT) or `"udp"`.
    pub protocol: String,
    /// The name asked for (HTTP `Host`) or the destination's host name.
    pub target: String,
    /// The original destination.
    pub destination: std::net::SocketAddr,
    pub verdict: EgressVerdict,
}

/// What the egress did with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EgressVerdict {
    /// Refused by a rule: the HTTP status answered (none for a dropped datagram) and why.
    Denied { status: Option<u16>, reason: String },
    /// Let through by the rules; the upstream is being called (a second record says how
    /// it went).
    Forwarding,
    /// Forwarded and answered: the upstream's HTTP status, when it spoke HTTP.
    Delivered { status: Option<u16> },
    /// Allowed, but the upstream could not be reached or did not answer.
    UpstreamFailed { reason: String },
}

/// Why a clock changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClockCause {
    /// A scenario step set the offset (a strobe's flips too).
    Set,
    /// A scenario step moved the offset.
    Jump,
    /// A scenario step set the frequency error.
    Drift,
    /// NTP found the offset above the step threshold and moved the clock by `by_ns` at
    /// once.
    NtpStep { by_ns: i64 },
    /// NTP found the offset below the step threshold and slews the clock by `by_ns` over
    /// the poll interval.
    NtpSlew { by_ns: i64 },
}

/// A change the scenario made to the network, as data (the report phrases it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum NetworkChange {
    /// A partition's cuts are in place.
    Partitioned(Partition),
    /// Every partition was removed (firewall rules stay).
    Healed,
    /// A block's firewall rules are in place.
    Blocked(Block),
    /// The firewall rules added under `id` were removed: `removed` of them.
    Unblocked { id: String, removed: usize },
}

/// What one health check did to its backend's rise/fall counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckEffect {
    /// A failed check on an up backend: `count` of `fall` toward taking it out.
    FailCounted { count: u32, fall: u32 },
    /// The failed check that reached `fall`: the backend is out of rotation.
    WentDown { fall: u32 },
    /// A passed check on an up backend that had failures counted: they are forgiven.
    FailuresReset { count: u32 },
    /// A passed check on a down backend: `count` of `rise` toward putting it back.
    PassCounted { count: u32, rise: u32 },
    /// The passed check that reached `rise`: the backend is back in rotation.
    WentUp { rise: u32 },
    /// A failed check on a down backend that had passes counted: they are lost.
    PassesReset { count: u32 },
}

/// One user request as the load generator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RequestRecord {
    /// Sequence number in arrival order.
    pub id: u64,
    /// `"POST /signup"`, `"POST /login"` or `"GET /userinfo"`.
    pub endpoint: &'static str,
    /// The user a signup created (what the checkers look for in every member's data).
    pub user: Option<String>,
    /// Simulated time the request arrived (was due to be sent).
    #[serde(rename = "started_ms", serialize_with = "as_ms")]
    #[schemars(with = "u64")]
    pub started: Duration,
    /// Time from arrival to outcome, including name resolution.
    #[serde(rename = "latency_ms", serialize_with = "as_ms")]
    #[schemars(with = "u64")]
    pub latency: Duration,
    pub outcome: RequestOutcome,
    /// The connection the request went on: one its browser kept from an earlier request,
    /// or one opened for it (and how its TLS handshake went), or none.
    pub connection: ConnectionUse,
}

/// The connection a user request went on (the users are browsers that keep their
/// connections: [`crate::services::browser`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionUse {
    /// None: the request failed before a connection was open (name resolution, a refusal,
    /// a connect timeout, a failed TLS handshake) or timed out waiting for one.
    None,
    /// A connection its browser kept open from an earlier request.
    Reused,
    /// A new connection without TLS (the topology has TLS off).
    Plain,
    /// A new connection with a full TLS handshake (the certificate sent and verified).
    Full,
    /// A new connection whose TLS handshake resumed an earlier session with a ticket (no
    /// certificate sent or verified).
    Resumed,
}

/// How a user request ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestOutcome {
    /// A 2xx response.
    Ok,
    /// A non-2xx response, with the reason phrase the load balancer or node gave.
    Status { code: u16, reason: String },
    /// The connection to the load balancer was refused.
    Refused,
    /// The connection was closed or reset before a response arrived.
    Reset,
    /// No response within the users' request timeout.
    Timeout,
    /// `login.<domain>` did not resolve (NXDOMAIN, SERVFAIL or no answer).
    Dns { reason: String },
    /// The TLS handshake failed: the certificate was not accepted by the users' clock,
    /// trust or the name dialed, or TLS itself failed (rustls's reason).
    Tls { reason: String },
}

impl RequestOutcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, RequestOutcome::Ok)
    }

    /// The column a failure is counted under in the per-window table: the HTTP status
    /// code, or how the request failed without one.
    pub fn failure_class(&self) -> Option<String> {
        let class = match self {
            RequestOutcome::Ok => return None,
            RequestOutcome::Status { code, .. } => return Some(code.to_string()),
            RequestOutcome::Refused => "refused",
            RequestOutcome::Reset => "reset",
            RequestOutcome::Timeout => "timeout",
            RequestOutcome::Dns { .. } => "dns",
            RequestOutcome::Tls { .. } => "tls",
        };
        Some(class.to_string())
    }

    /// One line for the timeline.
    pub fn describe(&self) -> String {
        match self {
            RequestOutcome::Ok => "ok".to_string(),
            RequestOutcome::Status { code, reason } => format!("{code} ({reason})"),
            RequestOutcome::Refused => "connection refused".to_string(),
            RequestOutcome::Reset => "connection closed before the response".to_string(),
            RequestOutcome::Timeout => "no response within the timeout".to_string(),
            RequestOutcome::Dns { reason } => format!("name resolution failed: {reason}"),
            RequestOutcome::Tls { reason } => reason.clone(),
        }
    }
}

/// A duration as whole milliseconds (the JSON's `_ms` fields).
fn as_ms<S: Serializer>(d: &Duration, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A duration as whole microseconds.
fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A clock's setting as the JSON gives it: simulated times in microseconds.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub struct ClockSettingView {
    /// Simulated time the setting was made, in microseconds.
    pub since_us: u64,
    /// The offset from true time at `since_us`, in nanoseconds (positive: ahead).
    pub offset_ns: i64,
    /// Frequency error, in parts per billion (1 ppm = 1000).
    pub drift_ppb: i64,
    /// Extra rate of a slew in progress, in parts per billion, until `slew_until_us`.
    pub slew_ppb: i64,
    pub slew_until_us: u64,
}

impl From<&ClockSetting> for ClockSettingView {
    fn from(s: &ClockSetting) -> Self {
        Self {
            since_us: us(s.since),
            offset_ns: s.offset_ns,
            drift_ppb: s.drift_ppb,
            slew_ppb: s.slew_ppb,
            slew_until_us: us(s.slew_until),
        }
    }
}

fn setting_view<S: Serializer>(s: &ClockSetting, ser: S) -> Result<S::Ok, S::Error> {
    ClockSettingView::from(s).serialize(ser)
}

/// The shared, append-only event log.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    /// The log being recorded (the per-request kinds folded as they come, see [`log`]).
    events: Arc<Mutex<LogBuilder>>,
    /// Where a streaming recorder hands each event instead of keeping it.
    sink: Option<Sink>,
}

/// A function each event is handed to as it happens.
#[derive(Clone)]
struct Sink(Arc<dyn Fn(&Event) + Send + Sync>);

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A recorder that hands every event to `sink` as it is recorded and keeps none, for
    /// a service that runs for as long as its user wants (`harness serve`): its memory
    /// does not grow with its age. [`Recorder::snapshot`] of it is always empty.
    pub fn streaming(sink: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        Self {
            events: Arc::default(),
            sink: Some(Sink(Arc::new(sink))),
        }
    }

    /// Appends an event at an explicit simulated time.
    pub fn record_at(&self, at: Duration, host: &str, kind: EventKind) {
        self.append(at, host, kind, false);
    }

    /// Appends an event a scenario step caused directly (a crash, a partition, a clock
    /// set, the primary it lost): it sorts before every host's event of the same time.
    pub fn record_step_at(&self, at: Duration, host: &str, kind: EventKind) {
        self.append(at, host, kind, true);
    }

    fn append(&self, at: Duration, host: &str, kind: EventKind, step: bool) {
        let event = Event {
            at,
            host: host.to_string(),
            kind,
        };
        if let Some(Sink(sink)) = &self.sink {
            sink(&event);
            return;
        }
        self.log().push(event, step);
    }

    fn log(&self) -> std::sync::MutexGuard<'_, LogBuilder> {
        self.events
            .lock()
            .expect("the event log is never left poisoned: no code panics while holding it")
    }

    /// The events so far but the per-request kinds [`log`] folds (the token and mail
    /// events rebuilt), sorted by time, a step's events first among those of one time
    /// (stable: otherwise same-tick events keep the order they were recorded in).
    pub fn snapshot(&self) -> Vec<Event> {
        self.log().sorted_events()
    }

    /// The whole log, sorted, taken out of the recorder (which is left empty): a run's
    /// end hands it to the report without a copy.
    pub fn take_log(&self) -> Log {
        self.take_unfinished().finish()
    }

    /// The log as recorded so far, not yet sorted, leaving this recorder empty: a run
    /// hands it on to be finished once the world is gone ([`LogBuilder::finish`]).
    pub fn take_unfinished(&self) -> LogBuilder {
        std::mem::take(&mut *self.log())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves the ordering rule: at one simulated time a scenario step's event comes
    /// before a host's event recorded earlier with the same stamp, and events of the
    /// same kind keep the order they were recorded in.
    #[test]
    fn step_sorts_before_hosts_at_the_same_time() {
        let recorder = Recorder::new();
        let t = Duration::from_millis(30_000);
        let restarted = |node: &str| EventKind::Restarted {
            node: node.to_string(),
        };
        recorder.record_at(t, "lb", restarted("a"));
        recorder.record_at(Duration::from_millis(29_999), "lb", restarted("b"));
        recorder.record_step_at(t, EXECUTOR, restarted("c"));
        recorder.record_at(t, "node-2", restarted("d"));
        let order: Vec<String> = recorder
            .snapshot()
            .into_iter()
            .map(|e| match e.kind {
                EventKind::Restarted { node } => node,
                _ => String::new(),
            })
            .collect();
        assert_eq!(order, ["b", "c", "a", "d"]);
    }
}
