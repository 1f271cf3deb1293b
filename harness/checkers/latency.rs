//! Latency and failures per fault: the `p99_max` and `failed_per_fault_max`
//! expectations.
//!
//! A *fault window* is where a fault's effects are expected: it opens at a step that
//! injects a fault (the executor's event: a crash, a partition, a block, a DNS or SMTP
//! fault, a drained backend, ...) and stays open while any injected fault is still in
//! force; once the last one is undone (restart, heal, unblock, the service restored) it
//! stays open [`SETTLE_MARGIN`] more, and until the replica set's `Converged` moment when
//! that comes later (before the next fault). A step that is not undone by another (a
//! clock set or jumped, a load-balancer setting changed) counts as in force for an
//! instant: its window is that margin. Faults that overlap share one window.
//!
//! `p99_max` is judged twice: over every successful request of the run (nearest-rank
//! p99), and per [`QUIET_WINDOW`] of requests started wholly outside fault windows, the
//! worst such window against the same bound (vacuous when the run has none with a
//! successful request). `failed_per_fault_max` is judged once per fault window: the
//! failed requests that started in it (vacuous when no step injected a fault). Failures
//! outside every fault window are availability's concern, not this bound's.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{Expectation, Observed, Vacuity, Verdict};
use crate::events::{EXECUTOR, Event, EventKind, NetworkChange, RequestRecord};

/// How long a fault window stays open after the last fault in it is undone: the time
/// the cluster is given to settle (the balancer's `rise` checks at the default 2 s
/// interval, a catch-up of the replica set, browsers reconnecting), so that the tail of a
/// fault's effects is not judged as steady-state latency.
pub const SETTLE_MARGIN: Duration = Duration::from_secs(15);

/// The length of the windows `p99_max` judges outside fault windows: the report's own
/// request windows (`report::outcome::WINDOW`), so the figure judged is one the report's
/// window table prints.
pub const QUIET_WINDOW: Duration = Duration::from_secs(10);

/// One fault window: from the step that opened it to its settled end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultWindow {
    pub start: Duration,
    pub end: Duration,
    /// What opened it, in a few words (`crash node-2`, `partition`, `dns servfail`).
    pub opened_by: String,
}

/// What a step's event does to the set of faults in force.
enum Effect {
    /// A fault under this key is in force from now on.
    Opens(String),
    /// The fault under this key is undone.
    Closes(String),
    /// A change in force for an instant (a clock step, a setting changed).
    Instant(String),
}

/// What an executor event does to the faults in force, if it is a step at all.
fn effect(kind: &EventKind) -> Option<Effect> {
    Some(match kind {
        EventKind::Crashed { node, .. } => Effect::Opens(format!("crash {node}")),
        EventKind::Restarted { node } => Effect::Closes(format!("crash {node}")),
        EventKind::Network(NetworkChange::Partitioned(_)) => Effect::Opens("partition".into()),
        EventKind::Network(NetworkChange::Healed) => Effect::Closes("partition".into()),
        EventKind::Network(NetworkChange::Blocked(b)) => Effect::Opens(format!("block {}", b.id)),
        EventKind::Network(NetworkChange::Unblocked { id, .. }) => {
            Effect::Closes(format!("block {id}"))
        }
        EventKind::ClockChanged { .. } => Effect::Instant("clock change".into()),
        EventKind::Service(step) => match (step.opens(), step.undoes()) {
            (Some(key), _) => Effect::Opens(key),
            (None, Some(key)) => Effect::Closes(key),
            (None, None) => Effect::Instant("service change".into()),
        },
        _ => return None,
    })
}

/// The run's fault windows, in time order, from the executor's events.
pub fn fault_windows(events: &[Event]) -> Vec<FaultWindow> {
    let converged = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Converged))
        .map(|e| e.at);
    let mut windows: Vec<FaultWindow> = Vec::new();
    let mut in_force: BTreeSet<String> = BTreeSet::new();
    for e in events.iter().filter(|e| e.host == EXECUTOR) {
        let Some(effect) = effect(&e.kind) else {
            continue;
        };
        let label = match effect {
            Effect::Opens(key) => {
                in_force.insert(key.clone());
                key
            }
            Effect::Closes(prefix) => {
                in_force.retain(|k| *k != prefix);
                prefix
            }
            Effect::Instant(what) => what,
        };
        let open = windows.last_mut().filter(|w| e.at <= w.end);
        let quiet_end = e.at + SETTLE_MARGIN;
        // Open-ended while anything is in force; an instant change opens nothing lasting.
        let end = if in_force.is_empty() {
            quiet_end
        } else {
            Duration::MAX
        };
        match open {
            Some(w) if end == Duration::MAX || w.end == Duration::MAX => w.end = end,
            Some(w) => w.end = w.end.max(end),
            None => windows.push(FaultWindow {
                start: e.at,
                end,
                opened_by: label,
            }),
        }
    }
    for w in &mut windows {
        if let Some(c) = converged.filter(|c| *c > w.start) {
            w.end = w.end.max(c);
        }
    }
    merge(windows)
}

/// Windows that now overlap (a convergence moment moved one's end) become one.
fn merge(windows: Vec<FaultWindow>) -> Vec<FaultWindow> {
    let mut merged: Vec<FaultWindow> = Vec::new();
    for w in windows {
        match merged.last_mut() {
            Some(last) if w.start <= last.end => last.end = last.end.max(w.end),
            _ => merged.push(w),
        }
    }
    merged
}

/// What `p99_max` measured: the p99 and over how many successful requests, and for the
/// quiet windows, the worst one's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct P99 {
    pub p99: Duration,
    /// Successful requests it was taken over.
    pub ok: usize,
    /// The worst quiet window's start (`None` for the overall figure).
    pub window: Option<Duration>,
    /// How many quiet windows were judged (0 for the overall figure).
    pub windows: usize,
}

/// Nearest-rank p99 of the successful requests among `requests`, with their count.
fn p99_of<'a>(requests: impl Iterator<Item = &'a RequestRecord>) -> Option<(Duration, usize)> {
    let mut l: Vec<Duration> = requests
        .filter(|r| r.outcome.is_ok())
        .map(|r| r.latency)
        .collect();
    l.sort_unstable();
    let rank = (l.len() * 99).div_ceil(100).max(1);
    l.get(rank - 1).map(|p| (*p, l.len()))
}

/// The two `p99_max` verdicts: the whole run, then the worst window outside every fault
/// window.
pub fn p99(max: Duration, requests: &[RequestRecord], faults: &[FaultWindow]) -> [Verdict; 2] {
    let overall = match p99_of(requests.iter()) {
        Some((p99, ok)) => Verdict::judged(
            Expectation::P99 { max },
            Observed::P99(P99 {
                p99,
                ok,
                window: None,
                windows: 0,
            }),
            p99 <= max,
        ),
        None => Verdict::vacuous(
            Expectation::P99 { max },
            Observed::Nothing,
            Vacuity::NoSuccess,
        ),
    };
    [overall, quiet(max, requests, faults)]
}

/// The worst p99 over the [`QUIET_WINDOW`]s that overlap no fault window.
fn quiet(max: Duration, requests: &[RequestRecord], faults: &[FaultWindow]) -> Verdict {
    let expectation = Expectation::P99Quiet {
        max,
        margin: SETTLE_MARGIN,
    };
    let last = requests.iter().map(|r| r.started).max().unwrap_or_default();
    let mut worst: Option<P99> = None;
    let mut judged = 0;
    let mut start = Duration::ZERO;
    while start <= last {
        let end = start + QUIET_WINDOW;
        let clear = faults.iter().all(|f| f.end <= start || f.start >= end);
        let inside = requests
            .iter()
            .filter(|r| r.started >= start && r.started < end);
        if let Some((p99, ok)) = p99_of(inside).filter(|_| clear) {
            judged += 1;
            if worst.is_none_or(|w| p99 > w.p99) {
                worst = Some(P99 {
                    p99,
                    ok,
                    window: Some(start),
                    windows: 0,
                });
            }
        }
        start = end;
    }
    match worst {
        Some(w) => Verdict::judged(
            expectation,
            Observed::P99(P99 {
                windows: judged,
                ..w
            }),
            w.p99 <= max,
        ),
        None => Verdict::vacuous(expectation, Observed::Nothing, Vacuity::NoQuietWindow),
    }
}

/// What `failed_per_fault_max` counted in one fault window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed {
    pub failed: usize,
    /// Requests that started in the window.
    pub sent: usize,
}

/// One verdict per fault window: at most `max` failed requests started in it.
pub fn per_fault(max: u64, requests: &[RequestRecord], faults: &[FaultWindow]) -> Vec<Verdict> {
    if faults.is_empty() {
        return vec![Verdict::vacuous(
            Expectation::FailedPerFault { max, fault: None },
            Observed::Nothing,
            Vacuity::NoFault,
        )];
    }
    faults
        .iter()
        .map(|f| {
            let inside: Vec<&RequestRecord> = requests
                .iter()
                .filter(|r| r.started >= f.start && r.started < f.end)
                .collect();
            let failed = inside.iter().filter(|r| !r.outcome.is_ok()).count();
            Verdict::judged(
                Expectation::FailedPerFault {
                    max,
                    fault: Some(f.clone()),
                },
                Observed::FailedPerFault(Failed {
                    failed,
                    sent: inside.len(),
                }),
                u64::try_from(failed).unwrap_or(u64::MAX) <= max,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::availability::tests::req;
    use crate::checkers::{Status, event_at};
    use crate::faults::CrashMode;

    fn crash(secs: u64) -> Event {
        let kind = EventKind::Crashed {
            node: "node-2".into(),
            mode: CrashMode::PowerOff,
        };
        event_at(EXECUTOR, secs, kind)
    }

    fn restart(secs: u64) -> Event {
        let kind = EventKind::Restarted {
            node: "node-2".into(),
        };
        event_at(EXECUTOR, secs, kind)
    }

    /// Proves a fault window runs from the crash to the restart plus the settle margin,
    /// and is stretched to a later convergence moment.
    #[test]
    fn window_from_fault_to_undo_plus_margin() {
        let ws = fault_windows(&[crash(30), restart(90)]);
        assert_eq!(ws.len(), 1);
        assert_eq!(ws[0].start, Duration::from_secs(30));
        assert_eq!(ws[0].end, Duration::from_secs(90) + SETTLE_MARGIN);
        assert_eq!(ws[0].opened_by, "crash node-2");
        let late = event_at("replica-set", 200, EventKind::Converged);
        let ws = fault_windows(&[crash(30), restart(90), late]);
        assert_eq!(ws[0].end, Duration::from_secs(200));
    }

    /// Proves a fault never undone keeps its window open to the end of the run, and
    /// that events of hosts other than the executor open none.
    #[test]
    fn fault_never_undone_stays_open() {
        let ws = fault_windows(&[crash(30)]);
        assert_eq!(ws[0].end, Duration::MAX);
        let mut other = crash(30);
        other.host = "node-1".into();
        assert!(fault_windows(&[other]).is_empty());
    }

    /// Proves the per-fault bound counts only the failures that started inside the
    /// window, fails above the bound, and is vacuous without a fault.
    #[test]
    fn failures_per_fault() {
        let rs = [
            req(0, 1_000, 5, false),
            req(1, 31_000, 5, false),
            req(2, 32_000, 5, false),
            req(3, 33_000, 5, true),
        ];
        let ws = fault_windows(&[crash(30), restart(40)]);
        let v = per_fault(1, &rs, &ws);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].status, Status::Fail);
        assert_eq!(
            v[0].observed,
            Observed::FailedPerFault(Failed { failed: 2, sent: 3 })
        );
        assert!(per_fault(2, &rs, &ws)[0].passes());
        let none = per_fault(2, &rs, &[]);
        assert_eq!(none[0].status, Status::Vacuous(Vacuity::NoFault));
    }

    /// Proves p99 is judged overall and on the worst quiet window, windows touching a
    /// fault window being left out: a slow request inside the fault fails the overall
    /// bound only.
    #[test]
    fn p99_overall_and_outside_faults() {
        let mut rs: Vec<RequestRecord> = (0..100).map(|i| req(i, i * 1_000, 50, true)).collect();
        rs[35] = req(35, 35_000, 900, true);
        rs[36] = req(36, 36_000, 900, true);
        let ws = fault_windows(&[crash(30), restart(40)]);
        let [overall, quiet] = p99(Duration::from_millis(100), &rs, &ws);
        assert_eq!(overall.status, Status::Fail);
        assert_eq!(quiet.status, Status::Pass);
        let Observed::P99(q) = quiet.observed else {
            panic!("a p99 was measured")
        };
        // Windows 0-2 and 6-9 (30 s .. 55 s + margin touch 3, 4, 5).
        assert_eq!(q.windows, 7);
        let [_, fails] = p99(Duration::from_millis(10), &rs, &ws);
        assert_eq!(fails.status, Status::Fail);
        let [none, _] = p99(Duration::from_millis(10), &[], &ws);
        assert_eq!(none.status, Status::Vacuous(Vacuity::NoSuccess));
    }
}
