//! What the pictures draw, read from the event log: fault windows (a crash until its
//! restart, a partition until the heal, firewall rules until they are removed), instants
//! (health-check DOWN/UP, elections, step-downs, rollbacks, clock steps) and each
//! member's role over time.
//!
//! Nothing here judges: every interval is the span between two events the log holds, and
//! a fault still in force when the log ends is drawn to the axis's end.

mod steps;

use crate::events::{
    CheckEffect, ClockCause, EXECUTOR, Event, EventKind, Log, NetworkChange, RsEvent,
};
use crate::faults::{Partition, PartitionShape};
use crate::report::faults::{crash_mode, network_line};
use crate::report::outcome::Host;

/// The kinds of fault window, each with its own colour and legend entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shade {
    Crash,
    Partition,
    Firewall,
    Egress,
    Clock,
    Pause,
    Slow,
    Link,
    Service,
}

impl Shade {
    /// The CSS class (and the key of its colour).
    pub fn class(self) -> &'static str {
        match self {
            Shade::Crash => "crash",
            Shade::Partition => "partition",
            Shade::Firewall => "firewall",
            Shade::Egress => "egress",
            Shade::Clock => "clock",
            Shade::Pause => "pause",
            Shade::Slow => "slow",
            Shade::Link => "link",
            Shade::Service => "service",
        }
    }

    /// The legend's words.
    pub fn legend(self) -> &'static str {
        match self {
            Shade::Crash => "host down (crash until restart)",
            Shade::Partition => "partition (until healed)",
            Shade::Firewall => "firewall rules in force",
            Shade::Egress => "egress to the internet blocked",
            Shade::Clock => "clock set off true time by the scenario",
            Shade::Pause => "host paused (until resumed)",
            Shade::Slow => "node slowed (service times multiplied)",
            Shade::Link => "links impaired (latency, jitter, loss or bandwidth)",
            Shade::Service => "service fault (dns or smtp answers, lb drain)",
        }
    }

    /// Fill colour (Okabe-Ito: vermillion, orange, reddish purple, yellow, sky blue, blue,
    /// bluish green, black; the service faults a mid grey of black, which the lanes tell
    /// from the links' black by its dashed outline).
    pub fn colour(self) -> (u8, u8, u8) {
        match self {
            Shade::Crash => (0xD5, 0x5E, 0x00),
            Shade::Partition => (0xE6, 0x9F, 0x00),
            Shade::Firewall => (0xCC, 0x79, 0xA7),
            Shade::Egress => (0xF0, 0xE4, 0x42),
            Shade::Clock => (0x56, 0xB4, 0xE9),
            Shade::Pause => (0x00, 0x72, 0xB2),
            Shade::Slow => (0x00, 0x9E, 0x73),
            Shade::Link => (0x00, 0x00, 0x00),
            Shade::Service => (0x99, 0x99, 0x99),
        }
    }

    /// Whether its colour is in [`STEP_STYLE`](super::STEP_STYLE) (issue 18's faults),
    /// not the page's own style sheet.
    pub fn from_steps(self) -> bool {
        matches!(
            self,
            Shade::Pause | Shade::Slow | Shade::Link | Shade::Service
        )
    }
}

/// One fault window on the hosts it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub hosts: Vec<String>,
    pub from_ms: u64,
    /// The end, or the axis's end when the fault was still in force.
    pub to_ms: u64,
    pub shade: Shade,
    /// What the timeline says of the fault.
    pub label: String,
    /// The few words drawn on its lane (`power off`, `partition`).
    pub short: String,
    /// The links it cut, as (from, to) host pairs (none for a crash).
    pub cuts: Vec<(String, String)>,
}

/// The kinds of instant drawn on a lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    Down,
    Up,
    Elected,
    SteppedDown,
    RolledBack,
    ClockStep,
    PrimaryLost,
    /// An operator's or administrator's setting change (lb checks, egress rules).
    Setting,
}

impl MarkKind {
    pub fn class(self) -> &'static str {
        match self {
            MarkKind::Down => "down",
            MarkKind::Up => "up",
            MarkKind::Elected => "elected",
            MarkKind::SteppedDown => "stepped-down",
            MarkKind::RolledBack => "rolled-back",
            MarkKind::ClockStep => "clock-step",
            MarkKind::PrimaryLost => "primary-lost",
            MarkKind::Setting => "setting",
        }
    }
}

/// One instant on a host's lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub host: String,
    pub at_ms: u64,
    pub kind: MarkKind,
    /// The short text drawn beside it (`DOWN`, `term 2`).
    pub short: String,
    /// The tooltip: the whole story of the instant.
    pub text: String,
}

/// Every fault window and instant of a run.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub windows: Vec<Window>,
    pub marks: Vec<Mark>,
}

fn ms(e: &Event) -> u64 {
    u64::try_from(e.at.as_millis()).expect("runs are at most an hour")
}

/// The fault windows and instants of `log`; `end_ms` closes what is still open.
pub fn faults(log: &Log, hosts: &[Host], end_ms: u64) -> Faults {
    let mut open: Vec<(String, Window)> = Vec::new();
    let mut out = Faults::default();
    for e in log {
        let at = ms(e);
        match &e.kind {
            EventKind::Crashed { node, mode } => {
                let mut w = window(
                    vec![node.clone()],
                    at,
                    Shade::Crash,
                    crash_label(node, *mode),
                );
                w.short = crash_short(*mode).to_string();
                open.push((format!("crash {node}"), w));
            }
            EventKind::ClockChanged {
                node,
                setting,
                cause,
            } if e.host == EXECUTOR => {
                close(&mut open, &mut out, &format!("clock {node}"), at);
                mark(e, at, &mut out.marks);
                if setting.offset_ns != 0 || setting.drift_ppb != 0 {
                    let label = clock_text(node, *cause, setting.offset_ns);
                    let w = window(vec![node.clone()], at, Shade::Clock, label);
                    open.push((format!("clock {node}"), w));
                }
            }
            EventKind::Restarted { node } => {
                close(&mut open, &mut out, &format!("crash {node}"), at)
            }
            EventKind::Network(change) => network(change, at, hosts, &mut open, &mut out),
            EventKind::Host(fault) => steps::host(fault, at, &mut open, &mut out),
            EventKind::Link(fault) => steps::link(fault, at, &mut open, &mut out),
            EventKind::Service(step) => steps::service(step, at, hosts, &mut open, &mut out),
            _ => mark(e, at, &mut out.marks),
        }
    }
    for (_, mut w) in open {
        w.to_ms = end_ms;
        out.windows.push(w);
    }
    out.windows.sort_by_key(|w| (w.from_ms, w.shade));
    out
}

/// A crash's kind, in the few words its lane shows.
fn crash_short(mode: crate::faults::CrashMode) -> &'static str {
    match mode {
        crate::faults::CrashMode::PowerOff => "power off",
        crate::faults::CrashMode::Process => "process killed",
    }
}

fn crash_label(node: &str, mode: crate::faults::CrashMode) -> String {
    format!("{node} crashed ({})", crash_mode(mode))
}

fn window(hosts: Vec<String>, from_ms: u64, shade: Shade, label: String) -> Window {
    Window {
        hosts,
        from_ms,
        to_ms: from_ms,
        shade,
        short: shade.class().to_string(),
        label,
        cuts: Vec::new(),
    }
}

/// Closes the open windows under `key` at `at`.
fn close(open: &mut Vec<(String, Window)>, out: &mut Faults, key: &str, at: u64) {
    let (closing, kept): (Vec<_>, Vec<_>) = open.drain(..).partition(|(k, _)| k == key);
    *open = kept;
    for (_, mut w) in closing {
        w.to_ms = at;
        out.windows.push(w);
    }
}

fn network(
    change: &NetworkChange,
    at: u64,
    hosts: &[Host],
    open: &mut Vec<(String, Window)>,
    out: &mut Faults,
) {
    let label = network_line(change);
    match change {
        NetworkChange::Partitioned(p) => {
            let mut w = window(partition_hosts(p), at, Shade::Partition, label);
            w.cuts = p
                .cuts()
                .iter()
                .flat_map(|c| pairs(&c.from, &c.to))
                .collect();
            open.push(("partition".to_string(), w));
        }
        NetworkChange::Healed => close(open, out, "partition", at),
        NetworkChange::Blocked(b) => {
            let mut names: Vec<String> = b.from.iter().chain(&b.to).cloned().collect();
            names.dedup();
            let egress = names
                .iter()
                .any(|n| hosts.iter().any(|h| &h.name == n && h.role == "egress"));
            let shade = if egress {
                Shade::Egress
            } else {
                Shade::Firewall
            };
            let mut w = window(names, at, shade, label);
            w.cuts = pairs(&b.from, &b.to);
            open.push((format!("block {}", b.id), w));
        }
        NetworkChange::Unblocked { id, .. } => close(open, out, &format!("block {id}"), at),
    }
}

/// Every (from, to) pair of two groups.
fn pairs(from: &[String], to: &[String]) -> Vec<(String, String)> {
    from.iter()
        .flat_map(|a| to.iter().map(move |b| (a.clone(), b.clone())))
        .collect()
}

/// Every host a partition names, in the order it names them.
pub fn partition_hosts(p: &Partition) -> Vec<String> {
    match &p.shape {
        PartitionShape::Isolate { node, rest } => {
            std::iter::once(node).chain(rest).cloned().collect()
        }
        PartitionShape::Split { groups } => groups.iter().flatten().cloned().collect(),
        PartitionShape::OneWay { from, to } => from.iter().chain(to).cloned().collect(),
        PartitionShape::Bridge { node, left, right } => std::iter::once(node)
            .chain(left)
            .chain(right)
            .cloned()
            .collect(),
    }
}

/// The instant `e` draws, if it draws one.
fn mark(e: &Event, at: u64, marks: &mut Vec<Mark>) {
    let (host, kind, short, text) = match &e.kind {
        EventKind::Check {
            backend,
            effect,
            detail,
        } => match effect {
            CheckEffect::WentDown { .. } => (
                backend.clone(),
                MarkKind::Down,
                "DOWN".to_string(),
                format!("lb took {backend} out: {detail}"),
            ),
            CheckEffect::WentUp { .. } => (
                backend.clone(),
                MarkKind::Up,
                "UP".to_string(),
                format!("lb put {backend} back"),
            ),
            _ => return,
        },
        EventKind::ReplicaSet(rs) => match rs_mark(&e.host, rs) {
            Some(m) => m,
            None => return,
        },
        EventKind::PrimaryLost { node, term, .. } => (
            node.clone(),
            MarkKind::PrimaryLost,
            "lost".to_string(),
            format!("primary {node} of term {term} lost"),
        ),
        EventKind::ClockChanged {
            node,
            cause,
            setting,
        } => match cause {
            ClockCause::NtpSlew { .. } => return,
            _ => (
                node.clone(),
                MarkKind::ClockStep,
                "clock".to_string(),
                clock_text(node, *cause, setting.offset_ns),
            ),
        },
        _ => return,
    };
    marks.push(Mark {
        host,
        at_ms: at,
        kind,
        short,
        text,
    });
}

fn rs_mark(host: &str, rs: &RsEvent) -> Option<(String, MarkKind, String, String)> {
    let h = host.to_string();
    Some(match rs {
        RsEvent::Elected { term, votes } => (
            h,
            MarkKind::Elected,
            format!("term {term}"),
            format!(
                "{host} elected primary for term {term}, votes: {}",
                votes.join(", ")
            ),
        ),
        RsEvent::SteppedDown { term, reason } => (
            h,
            MarkKind::SteppedDown,
            "stepped down".to_string(),
            format!("{host} stepped down as primary of term {term}: {reason}"),
        ),
        RsEvent::RolledBack { entries, .. } => (
            h,
            MarkKind::RolledBack,
            format!("rolled back {entries}"),
            format!("{host} rolled back {entries} unreplicated entries"),
        ),
        RsEvent::StoodForElection { .. } | RsEvent::Lag { .. } => return None,
    })
}

fn clock_text(node: &str, cause: ClockCause, offset_ns: i64) -> String {
    let offset = crate::duration::offset(offset_ns);
    match cause {
        ClockCause::Set => format!("{node}'s clock set to {offset}"),
        ClockCause::Jump => format!("{node}'s clock jumped to {offset}"),
        ClockCause::Drift => format!("{node}'s clock drift changed (offset {offset})"),
        ClockCause::NtpStep { by_ns } => {
            format!(
                "NTP stepped {node}'s clock by {}",
                crate::duration::offset(by_ns)
            )
        }
        ClockCause::NtpSlew { .. } => format!("NTP slews {node}'s clock"),
    }
}

/// A member's role over one interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSpan {
    pub member: String,
    pub from_ms: u64,
    pub to_ms: u64,
    /// `primary`, `secondary`, `candidate`, `down`, or `unknown` before the log says.
    pub role: &'static str,
    pub term: Option<u64>,
}

/// Each member's role over time, from the events that change it: elections,
/// step-downs, candidacies, crashes and restarts. Before any of those, the member the
/// log shows was primary of term 1 (the first lost or stepped-down primary of term 1,
/// or the final primary when nothing changed) is drawn primary, the others secondary.
pub fn roles(log: &Log, members: &[String], end_ms: u64) -> Vec<RoleSpan> {
    let first = initial_primary(log);
    let mut state: Vec<(&'static str, Option<u64>, u64)> = members
        .iter()
        .map(|m| match &first {
            Some(p) if p == m => ("primary", Some(1), 0),
            Some(_) => ("secondary", Some(1), 0),
            None => ("unknown", None, 0),
        })
        .collect();
    let mut out = Vec::new();
    for e in log {
        let Some((member, role, term)) = role_change(e) else {
            continue;
        };
        let Some(i) = members.iter().position(|m| m == &member) else {
            continue;
        };
        let (old, old_term, since) = state[i];
        let term = term.or(old_term);
        if old != role || old_term != term {
            out.push(span(&members[i], since, ms(e), old, old_term));
            state[i] = (role, term, ms(e));
        }
    }
    for (i, (role, term, since)) in state.into_iter().enumerate() {
        out.push(span(&members[i], since, end_ms, role, term));
    }
    out.retain(|s| s.to_ms > s.from_ms);
    out.sort_by(|a, b| (a.from_ms, &a.member).cmp(&(b.from_ms, &b.member)));
    out
}

fn span(member: &str, from_ms: u64, to_ms: u64, role: &'static str, term: Option<u64>) -> RoleSpan {
    RoleSpan {
        member: member.to_string(),
        from_ms,
        to_ms,
        role,
        term,
    }
}

/// The member, its new role and (when the event tells) its term.
fn role_change(e: &Event) -> Option<(String, &'static str, Option<u64>)> {
    Some(match &e.kind {
        EventKind::ReplicaSet(RsEvent::Elected { term, .. }) => {
            (e.host.clone(), "primary", Some(*term))
        }
        EventKind::ReplicaSet(RsEvent::SteppedDown { term, .. }) => {
            (e.host.clone(), "secondary", Some(*term))
        }
        EventKind::ReplicaSet(RsEvent::StoodForElection { term }) => {
            (e.host.clone(), "candidate", Some(*term))
        }
        EventKind::Crashed { node, .. } => (node.clone(), "down", None),
        EventKind::Restarted { node } => (node.clone(), "secondary", None),
        _ => return None,
    })
}

/// The primary of term 1 as the log shows it, if it does.
fn initial_primary(log: &Log) -> Option<String> {
    for e in log {
        match &e.kind {
            EventKind::PrimaryLost { node, term: 1, .. } => return Some(node.clone()),
            EventKind::ReplicaSet(RsEvent::SteppedDown { term: 1, .. }) => {
                return Some(e.host.clone());
            }
            EventKind::ReplicaSet(RsEvent::StoodForElection { .. } | RsEvent::Elected { .. }) => {
                return None;
            }
            _ => {}
        }
    }
    log.iter().find_map(|e| match &e.kind {
        EventKind::MemberFinal(m) if m.role == "primary" && m.term == 1 => Some(m.node.clone()),
        _ => None,
    })
}
