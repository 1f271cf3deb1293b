//! Building the outcome from the event log.
//!
//! Each timeline line keeps what it tells ([`Happened`]): the event itself, or what the
//! report derived from events (a host's services, a failure window), so that the JSON
//! rendering ([`super::json`]) gives scripts typed fields beside the line's text.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use crate::checkers::{self, availability::FailureWindow};
use crate::clock::ClockSetting;
use crate::duration::{self, span};
use crate::events::RsEvent;
use crate::events::{
    BoundaryVerdict, CheckEffect, ClockCause, EgressVerdict, Event, EventKind, Log, MemberFinal,
    RequestOutcome, RequestRecord,
};
use crate::report::faults::{host_line, link_line, network_line, primary_loss};
use crate::scenario::Scenario;

/// Requests are counted in windows of this length.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Everything a report says about a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub scenario: String,
    pub description: String,
    pub seed: u64,
    pub duration_ms: u64,
    pub tick_us: u64,
    pub topology: String,
    /// `name address` of every host (the text report's header).
    pub hosts: Vec<String>,
    /// Every host's name, address and role.
    pub host_details: Vec<Host>,
    pub rate_per_s: f64,
    pub timeline: Vec<Line>,
    pub windows: Vec<Window>,
    pub totals: Totals,
    /// Each member at the end of the run, and the entries rolled back over the run.
    pub members: Vec<MemberFinal>,
    pub rolled_back: u64,
    /// Verification mail: delivered, failed attempts, and the longest wait from queue to
    /// delivery.
    pub mail_sent: usize,
    pub mail_failed_attempts: usize,
    pub mail_longest_wait_ms: u64,
    /// Messages the relay accepted more than once (at-least-once delivery, see
    /// `services::mail`).
    pub mail_duplicates: usize,
    /// Clocks, NTP, tokens, the egress and the nodes' calls out.
    pub outside: super::outside::OutsideSummary,
    /// The balancer's mode, the clients as the nodes saw them, denials, TLS failures.
    pub front: super::front::FrontSummary,
    /// The dev/test instance and its boundary; `None` when it is not deployed.
    pub dev: Option<super::outside::DevSummary>,
    /// The planned rolling update, if the scenario has one.
    pub update: Option<super::update::UpdateSummary>,
    /// The egress's decisions against consent, where the topology declares it.
    pub consent: Option<super::consent::ConsentSummary>,
    /// The monitoring host's alerts, if it ran.
    pub monitoring: Option<super::monitoring::MonitoringSummary>,
    /// Every verdict, typed, as the checkers judged it (the renderings use `verdicts`).
    pub judged: Vec<checkers::Verdict>,
    /// Every verdict in the report's words.
    pub verdicts: Vec<super::verdicts::Phrased>,
    pub passed: bool,
}

/// One host of the topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Host {
    pub name: String,
    pub address: std::net::IpAddr,
    /// Its role in the deployment, snake_case (`load_balancer`, `node`, `dev_node`, ...).
    pub role: String,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub at_ms: u64,
    pub host: String,
    /// What the line tells, as data.
    pub what: Happened,
    /// The line as the text report prints it.
    pub text: String,
}

/// What a timeline line tells: an event of the log, or what the report derived from
/// events. Both carry their own `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Happened {
    Event(EventKind),
    Derived(Derived),
}

/// A service a host started serving, and its port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Serving {
    pub service: String,
    pub port: u16,
}

/// Timeline lines the report derives from several events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Derived {
    /// A host started serving these services at one moment (one `service_started` event
    /// each).
    Serving { services: Vec<Serving> },
    /// A failure window opened: its first failure observed (the failed request that
    /// ended first) ended now.
    FailureWindowOpened {
        /// The window's number, from 1.
        window: usize,
        request_id: u64,
        endpoint: String,
        outcome: RequestOutcome,
        /// When that request was sent.
        sent_at_ms: u64,
    },
    /// A failure window closed: its last failed request ended now.
    FailureWindowClosed {
        window: usize,
        failed: usize,
        sent: usize,
        /// From the first failure observed to the end of the last.
        length_ms: u64,
        median_failure_latency_ms: u64,
        last_request_id: u64,
        endpoint: String,
        outcome: RequestOutcome,
    },
}

/// Requests that started in one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Window {
    pub start_ms: u64,
    pub sent: usize,
    pub ok: usize,
    /// Failed requests by class (`5xx`, `timeout`, ...).
    pub failed: BTreeMap<String, usize>,
    /// Latency percentiles of the window's successful requests (nearest rank).
    pub p50_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    /// Median latency of the window's failed requests: fast refusals or slow timeouts.
    pub failed_p50_ms: Option<u64>,
    /// Of the requests that started in this window, how many the balancer routed to each
    /// node, whatever their outcome.
    pub routed_to: BTreeMap<String, usize>,
    /// Of the requests that started in this window, how many the balancer moved to another
    /// node after a refusal.
    pub retried: usize,
}

/// The whole run's request counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Totals {
    pub sent: usize,
    pub ok: usize,
    pub failed: BTreeMap<String, usize>,
    pub p50_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    pub failed_p50_ms: Option<u64>,
    pub failure_windows: usize,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).expect("runs are at most an hour")
}

impl Outcome {
    /// The outcome of `events`, a run of `scenario` with `seed`.
    pub fn new(scenario: &Scenario, seed: u64, events: &Log) -> Self {
        // By start time then id.
        let requests = events.requests();
        let failure_windows =
            checkers::availability::failure_windows(&requests, scenario.expect.failure_gap());
        let judged = checkers::judge(
            scenario.update.as_ref(),
            &scenario.expect,
            &scenario.topology,
            events,
            &requests,
            &failure_windows,
        );
        let nodes = scenario.topology.node_names();
        let dev = dev_hosts(scenario);
        let mail = MailCounts::new(events, &dev);
        Self {
            scenario: scenario.name.clone(),
            description: scenario.description.clone(),
            seed,
            duration_ms: ms(scenario.duration),
            tick_us: u64::try_from(scenario.tick.as_micros()).expect("ticks are at most 100ms"),
            topology: scenario.topology.name.clone(),
            hosts: host_lines(scenario),
            host_details: host_details(scenario),
            rate_per_s: scenario.load.rate_per_s,
            timeline: timeline(events, &failure_windows, &nodes, &dev),
            windows: windows(scenario.duration, &requests, events, &nodes),
            totals: totals(&requests, failure_windows.len()),
            members: members(events),
            mail_sent: mail.sent,
            mail_failed_attempts: mail.failed_attempts,
            mail_longest_wait_ms: mail.longest_wait_ms,
            mail_duplicates: mail.duplicates,
            front: super::front::FrontSummary::new(
                events,
                &scenario.topology,
                scenario.load.connector,
            ),
            outside: super::outside::OutsideSummary::new(events, &nodes, events.end()),
            dev: super::outside::DevSummary::new(events, &scenario.topology),
            update: super::update::UpdateSummary::new(events, &requests),
            consent: super::consent::ConsentSummary::new(events, &scenario.topology),
            monitoring: super::monitoring::MonitoringSummary::new(events),
            rolled_back: rolled_back(events),
            passed: judged.iter().all(checkers::Verdict::holds),
            verdicts: judged.iter().map(super::verdicts::phrase).collect(),
            judged,
        }
    }
}

/// The names of the dev/test instance's nodes.
fn dev_hosts(scenario: &Scenario) -> Vec<String> {
    scenario
        .topology
        .with_role(crate::topology::Role::DevNode)
        .map(|h| h.name.clone())
        .collect()
}

/// `name address` of every host of the scenario's topology.
fn host_lines(scenario: &Scenario) -> Vec<String> {
    scenario
        .topology
        .hosts
        .iter()
        .map(|h| format!("{} {}", h.name, h.address))
        .collect()
}

/// Every host of the scenario's topology, with its role.
fn host_details(scenario: &Scenario) -> Vec<Host> {
    scenario
        .topology
        .hosts
        .iter()
        .map(|h| Host {
            name: h.name.clone(),
            address: h.address,
            role: role_name(h.role),
        })
        .collect()
}

/// A role's name in snake_case (`LoadBalancer` -> `load_balancer`).
fn role_name(role: crate::topology::Role) -> String {
    let mut name = String::new();
    for (i, c) in format!("{role:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

/// Each member at the end of the run.
fn members(events: &[Event]) -> Vec<MemberFinal> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MemberFinal(f) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

/// The entries the replica set rolled back over the run.
fn rolled_back(events: &[Event]) -> u64 {
    events
        .iter()
        .map(|e| match &e.kind {
            EventKind::ReplicaSet(RsEvent::RolledBack { entries, .. }) => *entries,
            _ => 0,
        })
        .sum()
}

/// Production's verification mail over the run (the dev/test instance's queue is summed
/// apart, in its own summary).
struct MailCounts {
    /// Messages delivered.
    sent: usize,
    /// Delivery attempts that failed.
    failed_attempts: usize,
    /// The longest wait from queue to delivery.
    longest_wait_ms: u64,
    /// Messages the relay accepted more than once.
    duplicates: usize,
}

impl MailCounts {
    /// The mail counts of `events`, leaving out those of the `dev` hosts (except
    /// duplicates, which the relay counts for everyone).
    fn new(events: &Log, dev: &[String]) -> Self {
        let mut counts = Self {
            sent: 0,
            failed_attempts: 0,
            longest_wait_ms: 0,
            duplicates: 0,
        };
        let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
        for e in events.tokens_and_mail() {
            let prod = !dev.contains(&e.host);
            match e.kind {
                EventKind::MailSent { waited_ms, .. } if prod => {
                    counts.sent += 1;
                    counts.longest_wait_ms = counts.longest_wait_ms.max(waited_ms);
                }
                EventKind::MailFailed { .. } if prod => counts.failed_attempts += 1,
                EventKind::MailAccepted { message_id, .. } => {
                    *accepted.entry(message_id).or_default() += 1;
                }
                _ => {}
            }
        }
        counts.duplicates = accepted.values().filter(|n| **n > 1).count();
        counts
    }
}

/// The timeline: one line per event worth telling, the failure windows' openings and
/// closings, by time.
fn timeline(
    events: &Log,
    failure_windows: &[FailureWindow],
    nodes: &[String],
    dev: &[String],
) -> Vec<Line> {
    let mut up: Vec<&String> = nodes.iter().collect();
    let mut lines: Vec<Line> = Vec::new();
    // Production's mail streak, and the dev/test instance's apart from it.
    let mut mail_failing = false;
    let mut dev_mail_failing = false;
    let mut boundary_seen = BTreeSet::new();
    let mut available_seen = BTreeSet::new();
    let mut failing: BTreeMap<(String, String), bool> = BTreeMap::new();
    for e in events.all() {
        let e = &*e;
        if let EventKind::ServiceStarted { service, port } = &e.kind {
            let serving = Serving {
                service: service.clone(),
                port: *port,
            };
            push_serving(&mut lines, e, serving);
            continue;
        }
        update_rotation(&mut up, &e.kind, nodes);
        push_line(&mut lines, e, streak_line(e, &mut failing));
        let failing = if dev.contains(&e.host) {
            &mut dev_mail_failing
        } else {
            &mut mail_failing
        };
        push_line(&mut lines, e, mail_line(&e.kind, failing));
        push_line(&mut lines, e, boundary_line(e, &mut boundary_seen));
        push_line(
            &mut lines,
            e,
            super::update::available_line(e, &mut available_seen),
        );
        push_line(&mut lines, e, event_line(&e.kind, &up));
    }
    for (i, w) in failure_windows.iter().enumerate() {
        lines.extend(failure_window_lines(i + 1, w));
    }
    lines.sort_by_key(|l| l.at_ms);
    lines
}

/// Adds `piece` (`service :port`) to the timeline: one line per host and moment,
/// "serving appliance :443, db :27017, ...".
fn push_serving(lines: &mut Vec<Line>, e: &Event, serving: Serving) {
    let piece = format!("{} :{}", serving.service, serving.port);
    match lines.last_mut() {
        Some(Line {
            at_ms,
            host,
            what: Happened::Derived(Derived::Serving { services }),
            text,
        }) if *at_ms == ms(e.at) && *host == e.host => {
            text.push_str(&format!(", {piece}"));
            services.push(serving);
        }
        _ => lines.push(Line {
            at_ms: ms(e.at),
            host: e.host.clone(),
            what: Happened::Derived(Derived::Serving {
                services: vec![serving],
            }),
            text: format!("serving {piece}"),
        }),
    }
}

/// Follows the balancer's rotation `up` (in `nodes`' order) through a health check's
/// verdict.
fn update_rotation<'a>(up: &mut Vec<&'a String>, kind: &EventKind, nodes: &'a [String]) {
    if let EventKind::Check {
        backend, effect, ..
    } = kind
    {
        match effect {
            CheckEffect::WentDown { .. } => up.retain(|n| *n != backend),
            CheckEffect::WentUp { .. } => {
                *up = nodes
                    .iter()
                    .filter(|n| *n == backend || up.contains(n))
                    .collect();
            }
            _ => {}
        }
    }
}

/// Adds `text`, if any, to the timeline as a line of `e`'s host at `e`'s time.
fn push_line(lines: &mut Vec<Line>, e: &Event, text: Option<String>) {
    if let Some(text) = text {
        lines.push(Line {
            at_ms: ms(e.at),
            host: e.host.clone(),
            what: Happened::Event(e.kind.clone()),
            text,
        });
    }
}

/// The timeline's words for [`EventKind::Converged`]: no claim that every member caught
/// up (a member may still lack entries younger than one heartbeat; its catch-up line can
/// come later).
const HEALTHY_AGAIN: &str =
    "the replica set is healthy again: one primary, followed by every member up";

/// The timeline's words for [`EventKind::ChecksStarted`] (`None` for any other kind).
fn checks_started_line(kind: &EventKind) -> Option<String> {
    let EventKind::ChecksStarted {
        backends,
        interval,
        connect_timeout,
        timeout,
        rise,
        fall,
    } = kind
    else {
        return None;
    };
    Some(format!(
        "health checks every {}: connect within {}, answer within {}, rise {rise}, fall {fall}; on {}",
        span(*interval),
        span(*connect_timeout),
        span(*timeout),
        backends.join(", ")
    ))
}

/// The timeline's text for one event; `up` is the rotation after it. `None` for events
/// the timeline leaves to the tables (requests, routing, final states).
fn event_line(kind: &EventKind, up: &[&String]) -> Option<String> {
    let text = match kind {
        EventKind::ServiceStarted { service, port } => format!("serving {service} :{port}"),
        EventKind::Crashed { node, mode } => crate::report::faults::crash_line(node, *mode),
        EventKind::Restarted { node } => format!("{node} restarted"),
        EventKind::Host(fault) => host_line(fault),
        EventKind::Link(fault) => link_line(fault),
        EventKind::Drawn { key, from, value } => format!("drawn: {key} = {value} (from {from})"),
        EventKind::ChecksStarted { .. } => checks_started_line(kind)?,
        EventKind::Check {
            backend,
            effect,
            detail,
        } => check_line(backend, *effect, detail, up),
        EventKind::ReplicaSet(event) => replica_set_line(event),
        EventKind::Network(change) => network_line(change),
        EventKind::Service(step) => crate::report::faults::service_line(step),
        EventKind::ClockChanged {
            node,
            setting,
            cause,
        } => return clock_line(node, setting, *cause),
        EventKind::PrimaryLost { node, why, .. } => {
            format!(
                "the primary {node} is lost ({}): the set must elect another",
                primary_loss(*why)
            )
        }
        EventKind::Converged => HEALTHY_AGAIN.to_string(),
        EventKind::Update(phase) => super::update::timeline_line(phase),
        EventKind::Ssh(event) => super::access::timeline_line(event),
        EventKind::ClusterPort(change) => super::cluster_ports::timeline_line(change),
        EventKind::Monitoring(m) => return super::monitoring::timeline_line(m),
        EventKind::ConnectorConnected { node } => format!("AD/LDAP connector connected to {node}"),
        EventKind::ConnectorBroken { node, reason } => match node {
            Some(node) => format!("AD/LDAP connector lost {node}: {reason}"),
            None => format!("AD/LDAP connector lost its websocket: {reason}"),
        },
        EventKind::Forwarded { .. }
        | EventKind::ClientSeen { .. }
        | EventKind::Relayed { .. }
        | EventKind::LbDenied { .. }
        | EventKind::Request(_)
        | EventKind::MemberFinal(_)
        | EventKind::HealthyUnbroken
        | EventKind::MailFlowing
        | EventKind::MailAccepted { .. }
        | EventKind::MailSent { .. }
        | EventKind::MailFailed { .. }
        | EventKind::NtpSynced { .. }
        | EventKind::NtpFailed { .. }
        | EventKind::Egress(_)
        | EventKind::SiteServed { .. }
        | EventKind::Outbound { .. }
        | EventKind::UpdateAvailable { .. }
        | EventKind::TokenIssued { .. }
        | EventKind::TokenChecked { .. }
        | EventKind::TokenRefused { .. }
        | EventKind::Boundary(_)
        | EventKind::DevFinal { .. }
        | EventKind::ConnectorOpened
        | EventKind::ConnectorClosed { .. }
        | EventKind::ConnectorRefused { .. } => {
            return None;
        }
    };
    Some(text)
}

/// A clock change as the timeline tells it; `None` for NTP slews under a millisecond,
/// which a healthy clock makes every poll (they stay in the event log).
fn clock_line(node: &str, s: &ClockSetting, cause: ClockCause) -> Option<String> {
    let now = |ns: i64| {
        let by = duration::offset(ns)
            .trim_start_matches(['+', '-'])
            .to_string();
        match ns.signum() {
            0 => "true time".to_string(),
            1 => format!("{by} ahead of true time"),
            _ => format!("{by} behind true time"),
        }
    };
    let text = match cause {
        ClockCause::Set | ClockCause::Jump => format!(
            "{node}'s clock set {}",
            match s.offset_ns {
                0 => "to true time".to_string(),
                ns => now(ns),
            }
        ),
        ClockCause::Drift => {
            let ppm = s.drift_ppb as f64 / 1000.0;
            match s.drift_ppb.signum() {
                0 => format!("{node}'s clock stops drifting"),
                1 => format!(
                    "{node}'s clock drifts {ppm}ppm fast (gains {} per minute)",
                    duration::offset(s.drift_ppb * 60).trim_start_matches('+')
                ),
                _ => format!(
                    "{node}'s clock drifts {}ppm slow (loses {} per minute)",
                    -ppm,
                    duration::offset(-s.drift_ppb * 60).trim_start_matches('+')
                ),
            }
        }
        ClockCause::NtpStep { by_ns } => format!(
            "NTP stepped {node}'s clock by {}: now {}",
            duration::offset(by_ns),
            now(s.offset_ns)
        ),
        ClockCause::NtpSlew { by_ns } => {
            if by_ns.unsigned_abs() < 1_000_000 {
                return None;
            }
            format!(
                "NTP slews {node}'s clock by {} over {} (it was {} off true time)",
                duration::offset(by_ns),
                span(s.slew_until.saturating_sub(s.since)),
                duration::offset(s.offset_ns)
            )
        }
    };
    Some(text)
}

/// NTP polls, periodic outbound checks and the egress's upstreams as the timeline tells
/// them: the first failure of a streak and the first success after one, per host and
/// purpose (every attempt is in the event log).
fn streak_line(e: &Event, failing: &mut BTreeMap<(String, String), bool>) -> Option<String> {
    let (what, failure, success) = match &e.kind {
        EventKind::NtpFailed { server, reason } => (
            "ntp".to_string(),
            Some(format!(
                "NTP failing: {server}: {reason}; the clock runs free"
            )),
            None,
        ),
        EventKind::NtpSynced { server, .. } => (
            "ntp".to_string(),
            None,
            Some(format!("NTP works again: {server} answered")),
        ),
        EventKind::Outbound { purpose, result } => match result {
            Err(why) => (
                purpose.clone(),
                Some(format!("{purpose} failing: {why}")),
                None,
            ),
            Ok(_) => (
                purpose.clone(),
                None,
                Some(format!("{purpose} works again")),
            ),
        },
        EventKind::Egress(r) => {
            let key = format!("egress {}", r.target);
            match &r.verdict {
                EgressVerdict::Denied { status, reason } => {
                    let status = status.map_or("dropped".to_string(), |s| s.to_string());
                    let text = format!("egress denies {} ({status}): {reason}", r.target);
                    (key, Some(text), None)
                }
                EgressVerdict::UpstreamFailed { reason } => {
                    let text = format!(
                        "egress cannot reach {} ({}): {reason}",
                        r.target, r.destination
                    );
                    (key, Some(text), None)
                }
                EgressVerdict::Forwarding => return None,
                EgressVerdict::Delivered { .. } => (
                    key,
                    None,
                    Some(format!("egress reaches {} again", r.target)),
                ),
            }
        }
        _ => return None,
    };
    let was = failing.entry((e.host.clone(), what)).or_insert(false);
    match (failure, success) {
        (Some(text), _) if !*was => {
            *was = true;
            Some(text)
        }
        (_, Some(text)) if *was => {
            *was = false;
            Some(text)
        }
        _ => None,
    }
}

/// Mail delivery as the timeline tells it: the first failure of a streak, and the first
/// success after one (each attempt is in the event log; the summary counts them).
fn mail_line(kind: &EventKind, failing: &mut bool) -> Option<String> {
    match kind {
        EventKind::MailFailed { reason, .. } if !*failing => {
            *failing = true;
            Some(format!(
                "mail delivery failing ({reason}); queued mail retries with backoff"
            ))
        }
        EventKind::MailSent {
            message_id,
            attempts,
            waited_ms,
        } if *failing => {
            *failing = false;
            let waited = span(Duration::from_millis(*waited_ms));
            Some(format!(
                "mail delivery works again: {message_id} sent on attempt {attempts}, {waited} after it was queued"
            ))
        }
        _ => None,
    }
}

/// The dev/test boundary as the timeline tells it: the first attempt of each kind (sender,
/// destination, protocol, what the network did); the report's summary counts them all.
fn boundary_line(
    e: &Event,
    seen: &mut BTreeSet<(String, std::net::SocketAddr, &'static str, BoundaryVerdict)>,
) -> Option<String> {
    let EventKind::Boundary(r) = &e.kind else {
        return None;
    };
    if !seen.insert((e.host.clone(), r.to, r.protocol, r.verdict)) {
        return None;
    }
    let what = match r.verdict {
        BoundaryVerdict::NoRoute => "stopped at the dev/test boundary: no route",
        BoundaryVerdict::Firewall => {
            "routed across the dev/test boundary, stopped by a firewall rule"
        }
        BoundaryVerdict::Crossed => "CROSSED the dev/test boundary: the two LANs are routed",
    };
    Some(format!(
        "{} {} -> {} {what} (first such attempt; all are counted at the end)",
        r.protocol, r.from, r.to
    ))
}

/// The two lines of failure window `n`: where it opens (the first failure observed, and
/// when that request was sent) and where it closes.
fn failure_window_lines(n: usize, w: &FailureWindow) -> [Line; 2] {
    let opens = format!(
        "failure window {n} opens: {} -> {}, sent {}",
        w.first.endpoint,
        w.first.outcome.describe(),
        duration::clock(w.first.started)
    );
    let closes = format!(
        "failure window {n} closes: {} of {} requests failed over {} (median failure took {}); last: {} -> {}",
        w.failed,
        w.sent,
        span(w.length()),
        span(w.median_failure_latency),
        w.last.endpoint,
        w.last.outcome.describe()
    );
    let opened = Derived::FailureWindowOpened {
        window: n,
        request_id: w.first.id,
        endpoint: w.first.endpoint.to_string(),
        outcome: w.first.outcome.clone(),
        sent_at_ms: ms(w.first.started),
    };
    let closed = Derived::FailureWindowClosed {
        window: n,
        failed: w.failed,
        sent: w.sent,
        length_ms: ms(w.length()),
        median_failure_latency_ms: ms(w.median_failure_latency),
        last_request_id: w.last.id,
        endpoint: w.last.endpoint.to_string(),
        outcome: w.last.outcome.clone(),
    };
    [
        Line {
            at_ms: ms(w.start()),
            host: "users".to_string(),
            what: Happened::Derived(opened),
            text: opens,
        },
        Line {
            at_ms: ms(w.end()),
            host: "users".to_string(),
            what: Happened::Derived(closed),
            text: closes,
        },
    ]
}

fn replica_set_line(event: &RsEvent) -> String {
    match event {
        RsEvent::StoodForElection { term } => format!("stands for election in term {term}"),
        RsEvent::Elected { term, votes } => format!(
            "elected primary for term {term}, votes: {}",
            votes.join(", ")
        ),
        RsEvent::SteppedDown { term, reason } => {
            format!("stepped down as primary of term {term}: {reason}")
        }
        RsEvent::RolledBack {
            entries,
            first_index,
            signups,
        } => {
            let mut line =
                format!("rolled back {entries} unreplicated entries from index {first_index}");
            if !signups.is_empty() {
                let shown: Vec<&str> = signups.iter().take(5).map(String::as_str).collect();
                let more = if signups.len() > shown.len() {
                    format!(" and {} more", signups.len() - shown.len())
                } else {
                    String::new()
                };
                line.push_str(&format!(" (signups {}{more})", shown.join(", ")));
            }
            line
        }
        RsEvent::Lag {
            member,
            lagging: true,
            lag_ms,
        } => {
            format!(
                "{member} lags behind the primary by {}",
                span(Duration::from_millis(*lag_ms))
            )
        }
        RsEvent::Lag {
            member,
            lagging: false,
            ..
        } => format!("{member} caught up with the primary"),
    }
}

fn check_line(backend: &str, effect: CheckEffect, detail: &str, up: &[&String]) -> String {
    let rotation = if up.is_empty() {
        "no backend left in rotation".to_string()
    } else {
        format!(
            "in rotation: {}",
            up.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        )
    };
    match effect {
        CheckEffect::FailCounted { count, fall } => {
            format!("{backend} check failed {count}/{fall}: {detail}")
        }
        CheckEffect::WentDown { fall } => {
            format!("{backend} DOWN, check failed {fall}/{fall}: {detail}; {rotation}")
        }
        CheckEffect::FailuresReset { count } => {
            format!("{backend} check passed; {count} counted failure(s) forgiven")
        }
        CheckEffect::PassCounted { count, rise } => {
            format!("{backend} check passed {count}/{rise}")
        }
        CheckEffect::WentUp { rise } => {
            format!("{backend} UP, check passed {rise}/{rise}; {rotation}")
        }
        CheckEffect::PassesReset { count } => {
            format!("{backend} check failed: {detail}; {count} counted pass(es) lost")
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: u64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() as u64 * p).div_ceil(100).max(1);
    Some(sorted[usize::try_from(rank).expect("fits") - 1])
}

fn latencies(requests: &[&RequestRecord]) -> Vec<u64> {
    let mut l: Vec<u64> = requests
        .iter()
        .filter(|r| r.outcome.is_ok())
        .map(|r| ms(r.latency))
        .collect();
    l.sort_unstable();
    l
}

fn failure_latencies(requests: &[&RequestRecord]) -> Vec<u64> {
    let mut l: Vec<u64> = requests
        .iter()
        .filter(|r| !r.outcome.is_ok())
        .map(|r| ms(r.latency))
        .collect();
    l.sort_unstable();
    l
}

fn failed_by_class<'a>(
    requests: impl Iterator<Item = &'a RequestRecord>,
) -> BTreeMap<String, usize> {
    let mut failed = BTreeMap::new();
    for class in requests.filter_map(|r| r.outcome.failure_class()) {
        *failed.entry(class).or_insert(0) += 1;
    }
    failed
}

fn windows(
    duration: Duration,
    requests: &[RequestRecord],
    events: &Log,
    nodes: &[String],
) -> Vec<Window> {
    let count = duration.as_millis().div_ceil(WINDOW.as_millis());
    (0..count)
        .map(|i| {
            let start = WINDOW * u32::try_from(i).expect("at most 360 windows");
            let end = start + WINDOW;
            let inside: Vec<&RequestRecord> = requests
                .iter()
                .filter(|r| r.started >= start && r.started < end)
                .collect();
            let lat = latencies(&inside);
            let mut routed_to: BTreeMap<String, usize> =
                nodes.iter().map(|n| (n.clone(), 0)).collect();
            let mut retried = 0;
            // The balancer's routing: a TCP-mode balancer cannot read the request id (the
            // bytes are encrypted); there the node that served the request says which it
            // was (its `ClientSeen`).
            for route in inside.iter().filter_map(|r| events.route(r.id)) {
                if let Some(b) = route.backend {
                    *routed_to.entry(b.clone()).or_insert(0) += 1;
                }
                retried += usize::from(route.retried);
            }
            Window {
                start_ms: ms(start),
                sent: inside.len(),
                ok: inside.iter().filter(|r| r.outcome.is_ok()).count(),
                failed: failed_by_class(inside.iter().copied()),
                p50_ms: percentile(&lat, 50),
                p99_ms: percentile(&lat, 99),
                failed_p50_ms: percentile(&failure_latencies(&inside), 50),
                routed_to,
                retried,
            }
        })
        .collect()
}

fn totals(requests: &[RequestRecord], failure_windows: usize) -> Totals {
    let all: Vec<&RequestRecord> = requests.iter().collect();
    let lat = latencies(&all);
    Totals {
        sent: requests.len(),
        ok: requests.iter().filter(|r| r.outcome.is_ok()).count(),
        failed: failed_by_class(requests.iter()),
        p50_ms: percentile(&lat, 50),
        p99_ms: percentile(&lat, 99),
        failed_p50_ms: percentile(&failure_latencies(&all), 50),
        failure_windows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves percentiles use the nearest rank: p50 of 1..=4 is 2, p99 of 1..=100 is 99.
    #[test]
    fn nearest_rank() {
        assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 99), Some(99));
        assert_eq!(percentile(&[7], 99), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }
}
