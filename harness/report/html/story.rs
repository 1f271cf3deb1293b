//! "What happened and why": the timeline's causal story in plain sentences, for a
//! trainee.
//!
//! Written from the outcome's timeline (itself built from the event log): each scenario
//! step opens a paragraph, and what followed it until the next step is told in order —
//! the primary it lost, how the load balancer noticed, how long users saw failures,
//! which election followed, rollbacks, when the set was healthy again — each with the
//! model's own figures and the delay since the step. It judges nothing: the closing
//! paragraph repeats the verdicts the outcome holds.

use std::time::Duration;

use serde::Serialize;

use crate::duration::{clock, span};
use crate::events::{CheckEffect, EXECUTOR, EventKind, RsEvent};
use crate::report::faults::primary_loss;
use crate::report::outcome::{Derived, Happened, Line, Outcome};
use crate::report::verdicts::Mark;

/// One paragraph: when it starts and its sentences.
#[derive(Debug, Clone, Serialize)]
pub struct Paragraph {
    pub at: String,
    pub sentences: Vec<String>,
}

fn at(ms: u64) -> String {
    clock(Duration::from_millis(ms))
}

fn after(from_ms: u64, to_ms: u64) -> String {
    span(Duration::from_millis(to_ms.saturating_sub(from_ms)))
}

/// True for a line a scenario step recorded (the primary it lost belongs to the step
/// before it, not a paragraph of its own).
fn is_step(l: &Line) -> bool {
    l.host == EXECUTOR && !matches!(l.what, Happened::Event(EventKind::PrimaryLost { .. }))
}

/// The story of `o`'s run.
pub fn story(o: &Outcome) -> Vec<Paragraph> {
    let all = &o.timeline;
    let starts: Vec<usize> = (0..all.len()).filter(|&i| is_step(&all[i])).collect();
    let mut out = Vec::new();
    // Before the first step: only the failures users saw, if any.
    let first = starts.first().copied().unwrap_or(all.len());
    let windows = window_sentences(all, &all[..first]);
    if starts.is_empty() || !windows.is_empty() {
        let mut sentences = Vec::new();
        if starts.is_empty() {
            sentences.push("The scenario injected no fault.".to_string());
        } else {
            sentences.push("Before any fault:".to_string());
        }
        if windows.is_empty() {
            sentences.push("No user request failed.".to_string());
        }
        sentences.extend(windows);
        out.push(Paragraph {
            at: at(0),
            sentences,
        });
    }
    let mut k = 0;
    while k < starts.len() {
        // Steps of one instant make one paragraph.
        let t = all[starts[k]].at_ms;
        let mut j = k;
        while j + 1 < starts.len() && all[starts[j + 1]].at_ms == t {
            j += 1;
        }
        let end = starts.get(j + 1).copied().unwrap_or(all.len());
        out.push(episode(all, &all[starts[k]..end], t));
        k = j + 1;
    }
    out.push(closing(o));
    out
}

/// One step (or several at one instant) and what followed until the next; `all` is the
/// whole timeline (a failure window that opens here is told whole, to its close).
fn episode(all: &[Line], lines: &[Line], t: u64) -> Paragraph {
    let mut sentences = Vec::new();
    let mut lost_at = None;
    for l in lines {
        match &l.what {
            Happened::Event(kind) if l.host == EXECUTOR => {
                if matches!(kind, EventKind::PrimaryLost { .. }) {
                    lost_at = Some(l.at_ms);
                }
                sentences.push(step_sentence(kind, &l.text));
            }
            Happened::Derived(Derived::FailureWindowOpened { .. }) => {
                sentences.extend(window_sentences(all, std::slice::from_ref(l)));
            }
            Happened::Event(kind) => {
                if let Some(s) = host_sentence(kind, l, t, lost_at) {
                    sentences.push(s);
                }
            }
            Happened::Derived(_) => {}
        }
    }
    if !lines.iter().any(|l| {
        matches!(
            l.what,
            Happened::Derived(Derived::FailureWindowOpened { .. })
        )
    }) {
        sentences.push("No new failure window opened in this stretch.".to_string());
    }
    Paragraph {
        at: at(t),
        sentences,
    }
}

/// A sentence for each failure window that opens in `lines`, told to its close in `all`.
fn window_sentences(all: &[Line], lines: &[Line]) -> Vec<String> {
    let mut out = Vec::new();
    for l in lines {
        let Happened::Derived(Derived::FailureWindowOpened {
            window,
            endpoint,
            outcome,
            sent_at_ms,
            ..
        }) = &l.what
        else {
            continue;
        };
        let first = format!(
            "the first failure was {endpoint} sent at {}, answered {}",
            at(*sent_at_ms),
            outcome.describe()
        );
        let closed = all.iter().find_map(|c| match &c.what {
            Happened::Derived(Derived::FailureWindowClosed {
                window: w,
                failed,
                sent,
                length_ms,
                median_failure_latency_ms,
                ..
            }) if w == window => Some((
                c.at_ms,
                *failed,
                *sent,
                *length_ms,
                *median_failure_latency_ms,
            )),
            _ => None,
        });
        out.push(match closed {
            Some((to, failed, sent, length_ms, median_ms)) => format!(
                "Users saw failures from {} to {} ({}): {failed} of {sent} requests failed, and the median failure took {}; {first}.",
                at(l.at_ms),
                at(to),
                span(Duration::from_millis(length_ms)),
                span(Duration::from_millis(median_ms)),
            ),
            None => format!("Users saw failures from {}; {first}.", at(l.at_ms)),
        });
    }
    out
}

/// A scenario step, in the timeline's words.
fn step_sentence(kind: &EventKind, text: &str) -> String {
    match kind {
        EventKind::PrimaryLost { node, term, why } => format!(
            "That lost the replica set's primary, {node} of term {term} ({}), so the set had to elect another.",
            primary_loss(*why)
        ),
        _ => format!("The scenario: {text}."),
    }
}

/// A host's event that tells the story, as a sentence; `t` is the step's time and
/// `lost_at` when the primary was lost.
fn host_sentence(kind: &EventKind, l: &Line, t: u64, lost_at: Option<u64>) -> Option<String> {
    let when = at(l.at_ms);
    Some(match kind {
        EventKind::Check {
            backend,
            effect: CheckEffect::WentDown { fall },
            detail,
        } => format!(
            "The load balancer noticed: after {fall} failed health checks in a row ({detail}) it took {backend} out of rotation at {when}, {} after the step.",
            after(t, l.at_ms)
        ),
        EventKind::Check {
            backend,
            effect: CheckEffect::WentUp { rise },
            ..
        } => format!(
            "After {rise} passed health checks the load balancer put {backend} back into rotation at {when}, {} after the step.",
            after(t, l.at_ms)
        ),
        EventKind::ReplicaSet(RsEvent::SteppedDown { term, reason }) => format!(
            "{} stepped down as primary of term {term} at {when}: {reason}.",
            l.host
        ),
        EventKind::ReplicaSet(RsEvent::Elected { term, votes }) => format!(
            "{} was elected primary for term {term} at {when} with the votes of {}, {} after the primary was lost.",
            l.host,
            votes.join(", "),
            after(lost_at.unwrap_or(t), l.at_ms)
        ),
        EventKind::ReplicaSet(RsEvent::RolledBack {
            entries,
            first_index,
            ..
        }) => format!(
            "{} rolled back {entries} entries from index {first_index} at {when}: writes it had taken as primary that no majority ever held.",
            l.host
        ),
        EventKind::ReplicaSet(RsEvent::Lag {
            member,
            lagging: true,
            lag_ms,
        }) => format!(
            "{member} fell behind the primary (by {} at {when}).",
            span(Duration::from_millis(*lag_ms))
        ),
        EventKind::Converged => format!(
            "The replica set was healthy again at {when} (one primary, followed by every member up), {} after the step.",
            after(t, l.at_ms)
        ),
        EventKind::ClockChanged {
            cause: crate::events::ClockCause::NtpStep { .. },
            ..
        } => format!("At {when}: {}.", l.text),
        _ => return None,
    })
}

/// The run in totals, and the verdicts as the outcome holds them.
fn closing(o: &Outcome) -> Paragraph {
    let t = &o.totals;
    let mut sentences = vec![format!(
        "Over the whole run {} of {} requests succeeded, in {} failure window(s).",
        t.ok, t.sent, t.failure_windows
    )];
    let count = |m: Mark| o.verdicts.iter().filter(|v| v.status == m).count();
    sentences.push(format!(
        "The checks: {} pass, {} FAIL, {} not judged, {} vacuous; the run {}.",
        count(Mark::Pass),
        count(Mark::Fail),
        count(Mark::NotJudged),
        count(Mark::Vacuous),
        if o.passed { "passes" } else { "FAILS" }
    ));
    for v in o.verdicts.iter().filter(|v| v.status == Mark::Fail) {
        sentences.push(format!(
            "Failed: {} (observed: {}).",
            v.expectation, v.observed
        ));
    }
    Paragraph {
        at: at(o.duration_ms),
        sentences,
    }
}
