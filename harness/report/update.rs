//! How the report tells a planned rolling update: its phases in the timeline, and a
//! section of its own (each node's downtime, the versions the cluster ran and while when
//! it ran more than one, what the users saw while it went on), from the operator's
//! events alone; and the nodes' "update available" in the timeline.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::checkers;
use crate::duration::{clock, span};
use crate::events::update::UpdatePhase;
use crate::events::{Event, EventKind, RequestRecord};

/// The timeline's words for a node's update check finding a newer version: the first
/// time each node finds each (installed, latest) pair; every check is in the event log.
pub fn available_line(e: &Event, seen: &mut BTreeSet<(String, String, String)>) -> Option<String> {
    let EventKind::UpdateAvailable { installed, latest } = &e.kind else {
        return None;
    };
    seen.insert((e.host.clone(), installed.clone(), latest.clone()))
        .then(|| format!("update available: {latest} (running {installed})"))
}

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
    /// Every node's version as the update goes (from its beginning's list).
    versions: Vec<(String, String)>,
    /// When the cluster began running more than one version, and when it ran one again
    /// (`None`: mixed to the end); `None` when it never ran two.
    pub mixed_span: Option<(Duration, Option<Duration>)>,
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
        let mut summary = Self::empty(began);
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

    /// An update that began at `began` and has seen nothing since.
    fn empty(began: Duration) -> Self {
        Self {
            version: String::new(),
            drain: false,
            began,
            ended: Ended::Running,
            nodes: Vec::new(),
            sent: 0,
            failed: 0,
            versions: Vec::new(),
            mixed_span: None,
        }
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
                self.versions.clone_from(from);
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
            UpdatePhase::Started { node, version } => {
                self.node(node).now.clone_from(version);
                self.started(at, node, version);
            }
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

    /// Follows the cluster's versions through `node` starting with `version` at `at`.
    fn started(&mut self, at: Duration, node: &str, version: &str) {
        if let Some((_, v)) = self.versions.iter_mut().find(|(n, _)| n == node) {
            *v = version.to_string();
        }
        let distinct: BTreeSet<&str> = self.versions.iter().map(|(_, v)| v.as_str()).collect();
        match (self.mixed_span, distinct.len() > 1) {
            (None, true) => self.mixed_span = Some((at, None)),
            (Some((from, None)), false) => self.mixed_span = Some((from, Some(at))),
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
        if let Some(line) = self.mixed_line() {
            out.push(line);
        }
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

impl UpdateSummary {
    /// The line that tells how long the cluster ran mixed versions, if it did.
    fn mixed_line(&self) -> Option<String> {
        let (from, until) = self.mixed_span?;
        let until = match until {
            Some(at) => format!("{} ({})", clock(at), span(at.saturating_sub(from))),
            None => "the end of the run".to_string(),
        };
        Some(format!(
            "  versions mixed (old and {} side by side) from {} to {until}",
            self.version,
            clock(from)
        ))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn started(s: &mut UpdateSummary, secs: u64, node: &str) {
        let phase = UpdatePhase::Started {
            node: node.into(),
            version: "2026.11.1".into(),
        };
        s.apply(Duration::from_secs(secs), &phase);
    }

    /// Proves the cluster counts as mixed from the first node started with the new
    /// version until the last one is, and stays mixed to the end when the update stops
    /// half-way; the section says so in a line of its own.
    #[test]
    fn mixed_versions_span() {
        let order: Vec<String> = ["node-2", "node-3", "node-1"].map(String::from).to_vec();
        let began = UpdatePhase::Began {
            from: order
                .iter()
                .map(|n| (n.clone(), "2026.10.1".into()))
                .collect(),
            order,
            version: "2026.11.1".into(),
            drain: true,
        };
        let mut s = UpdateSummary::empty(Duration::ZERO);
        s.apply(Duration::from_secs(1), &began);
        assert_eq!(s.mixed_span, None);
        started(&mut s, 10, "node-2");
        let halted = s.clone();
        started(&mut s, 20, "node-3");
        started(&mut s, 30, "node-1");
        let secs = Duration::from_secs;
        assert_eq!(s.mixed_span, Some((secs(10), Some(secs(30)))));
        assert!(s.lines().iter().any(|l| l
            == "  versions mixed (old and 2026.11.1 side by side) from 0:10.000 to 0:30.000 (20s)"));
        assert_eq!(halted.mixed_span, Some((secs(10), None)));
        assert!(
            halted
                .mixed_line()
                .unwrap()
                .ends_with("to the end of the run")
        );
    }
}
