//! How the report tells a planned rolling update: its phases in the timeline, and a
//! section of its own (each node's downtime, the versions the cluster ran, what the
//! users saw while it went on), from the operator's events alone.

use std::time::Duration;

use crate::checkers;
use crate::duration::{clock, span};
use crate::events::update::UpdatePhase;
use crate::events::{Event, RequestRecord};

/// The timeline's words for one phase.
pub fn timeline_line(phase: &UpdatePhase) -> String {
    match phase {
        UpdatePhase::Began {
            order,
            from,
            version,
            drain,
        } => {
            let running: Vec<String> = from.iter().map(|(n, v)| format!("{n} {v}")).collect();
            let drain = if *drain {
                "each node drained first"
            } else {
                "no draining"
            };
            format!(
                "rolling update to {version} begins: {}; {drain}; running {}",
                order.join(", then "),
                running.join(", ")
            )
        }
        UpdatePhase::Drained { node } => {
            format!("{node} drained: out of the balancer's rotation, its checks go on")
        }
        UpdatePhase::Idle { node, in_flight: 0 } => {
            format!("{node} has no request in flight")
        }
        UpdatePhase::Idle { node, in_flight } => format!(
            "{node} still has {in_flight} requests in flight after the wait; stopping it all the same"
        ),
        UpdatePhase::StepDownAsked { node } => {
            format!("{node}, the primary, asked to step down and hand over")
        }
        UpdatePhase::Stopped { node } => format!("{node} stopped for its install"),
        UpdatePhase::Started { node, version } => format!("{node} started with {version}"),
        UpdatePhase::CaughtUp { node } => {
            format!("{node} holds everything the primary has committed")
        }
        UpdatePhase::Passing { node } => {
            format!("{node} passes /testall again (the balancer's checks)")
        }
        UpdatePhase::Returned { node } => format!("{node} back in the balancer's rotation"),
        UpdatePhase::Halted { node, why } => {
            format!("rolling update stopped at {node}: {why}")
        }
        UpdatePhase::Finished => "rolling update finished: every node in its order updated".into(),
    }
}

/// The words of an update's expectation (empty for any other).
pub fn expectation(e: &checkers::Expectation) -> String {
    match e {
        checkers::Expectation::UpdateDowntime { max, node } => {
            format!("update kept {node} out of service <= {}", span(*max))
        }
        checkers::Expectation::UpdateNoFailure => {
            "no request failed during the drained update".into()
        }
        _ => String::new(),
    }
}

/// The update as the report's own section tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateSummary {
    /// The version installed.
    pub version: String,
    /// Whether each node was drained first.
    pub drain: bool,
    /// When it began.
    pub began: Duration,
    /// How it ended.
    pub ended: Ended,
    /// Each node in the update's order.
    pub nodes: Vec<NodeUpdate>,
    /// User requests that started while the update went on, and how many failed.
    pub sent: usize,
    pub failed: usize,
}

/// How an update ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Every node updated, at this time.
    Finished(Duration),
    /// Stopped at `node` at this time, for `why`.
    Halted {
        at: Duration,
        node: String,
        why: String,
    },
    /// Still going when the run ended.
    Running,
}

/// One node of the update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeUpdate {
    pub node: String,
    /// The version it ran before.
    pub from: String,
    /// The version it runs at the end (`from` when the update did not reach it).
    pub now: String,
    /// When the update stopped it, if it did.
    pub stopped: Option<Duration>,
    /// From its stop until it passed `/testall` again; `None`: it never did.
    pub downtime: Option<Duration>,
    /// User requests that started while it was out of service, and how many failed.
    pub sent_while_down: usize,
    pub failed_while_down: usize,
}

impl UpdateSummary {
    /// The update in `events`, if one began.
    pub fn new(events: &[Event], requests: &[RequestRecord]) -> Option<Self> {
        let (began, end) = checkers::update::span(events)?;
        let mut summary = Self {
            version: String::new(),
            drain: false,
            began,
            ended: Ended::Running,
            nodes: Vec::new(),
            sent: 0,
            failed: 0,
        };
        for (at, phase) in checkers::update::phases(events) {
            summary.apply(at, phase);
        }
        let seen = checkers::update::seen(events, requests)?;
        (summary.sent, summary.failed) = (seen.sent, seen.failed);
        let run_end = end.unwrap_or(Duration::MAX);
        for n in &mut summary.nodes {
            let Some(from) = n.stopped else { continue };
            let to = n.downtime.map_or(run_end, |d| from + d);
            let down: Vec<_> = requests
                .iter()
                .filter(|r| r.started >= from && r.started < to)
                .collect();
            n.sent_while_down = down.len();
            n.failed_while_down = down.iter().filter(|r| !r.outcome.is_ok()).count();
        }
        Some(summary)
    }

    fn apply(&mut self, at: Duration, phase: &UpdatePhase) {
        match phase {
            UpdatePhase::Began {
                order,
                from,
                version,
                drain,
            } => {
                self.version.clone_from(version);
                self.drain = *drain;
                self.nodes = order
                    .iter()
                    .map(|n| {
                        let v = from.iter().find(|(m, _)| m == n).map(|(_, v)| v.clone());
                        let v = v.unwrap_or_default();
                        NodeUpdate {
                            node: n.clone(),
                            from: v.clone(),
                            now: v,
                            stopped: None,
                            downtime: None,
                            sent_while_down: 0,
                            failed_while_down: 0,
                        }
                    })
                    .collect();
            }
            UpdatePhase::Stopped { node } => self.node(node).stopped = Some(at),
            UpdatePhase::Started { node, version } => self.node(node).now.clone_from(version),
            UpdatePhase::Passing { node } => {
                let n = self.node(node);
                n.downtime = n.stopped.map(|s| at.saturating_sub(s));
            }
            UpdatePhase::Finished => self.ended = Ended::Finished(at),
            UpdatePhase::Halted { node, why } => {
                self.ended = Ended::Halted {
                    at,
                    node: node.clone(),
                    why: why.clone(),
                };
            }
            _ => {}
        }
    }

    fn node(&mut self, name: &str) -> &mut NodeUpdate {
        self.nodes
            .iter_mut()
            .find(|n| n.node == name)
            .expect("the operator's phases name nodes of its order")
    }

    /// The versions the nodes run at the end, when they differ (a mixed cluster).
    pub fn mixed(&self) -> Option<Vec<String>> {
        let versions: std::collections::BTreeSet<&str> =
            self.nodes.iter().map(|n| n.now.as_str()).collect();
        (versions.len() > 1).then(|| {
            self.nodes
                .iter()
                .map(|n| format!("{} {}", n.node, n.now))
                .collect()
        })
    }

    /// The section's lines, for the text report.
    pub fn lines(&self) -> Vec<String> {
        let drain = if self.drain { "drained" } else { "not drained" };
        let ended = match &self.ended {
            Ended::Finished(at) => format!("finished at {}", clock(*at)),
            Ended::Halted { at, node, why } => {
                format!("STOPPED at {node} at {}: {why}", clock(*at))
            }
            Ended::Running => "still going at the end of the run".to_string(),
        };
        let mut out = vec![format!(
            "rolling update to {} ({drain}), from {}: {ended}",
            self.version,
            clock(self.began)
        )];
        out.extend(self.nodes.iter().map(node_line));
        out.push(format!(
            "  users while it went on: {} requests, {} failed",
            self.sent, self.failed
        ));
        if let Some(mixed) = self.mixed() {
            out.push(format!(
                "  versions at the end (mixed): {}",
                mixed.join(", ")
            ));
        }
        out
    }
}

fn node_line(n: &NodeUpdate) -> String {
    let versions = if n.now == n.from {
        format!("{} (not updated)", n.from)
    } else {
        format!("{} -> {}", n.from, n.now)
    };
    let down = match (n.stopped, n.downtime) {
        (None, _) => "never stopped".to_string(),
        (Some(s), Some(d)) => format!(
            "out of service {} to {} ({})",
            clock(s),
            clock(s + d),
            span(d)
        ),
        (Some(s), None) => format!("out of service from {} to the end", clock(s)),
    };
    let users = if n.stopped.is_some() {
        format!(
            "; meanwhile {} requests, {} failed",
            n.sent_while_down, n.failed_while_down
        )
    } else {
        String::new()
    };
    format!("  {}  {versions}  {down}{users}", n.node)
}
