//! How the report tells the monitoring host's story: its alerts in the timeline, and a
//! section of its own listing every alert with the time it was raised and cleared, from
//! the monitor's events alone.

use std::time::Duration;

use crate::duration::{clock, span};
use crate::events::monitoring::MonitorEvent;
use crate::events::{Event, EventKind};

/// What an alert on `check` of `node` is about, in words: `node-2 unreachable`,
/// `node-1 /testall`, `node-1 replicaset`.
fn subject(node: &str, check: &str) -> String {
    match check {
        crate::services::monitor::UNREACHABLE => format!("{node} unreachable"),
        crate::services::monitor::TESTALL => format!("{node} /testall"),
        subsystem => format!("{node} {subsystem}"),
    }
}

/// The timeline's words for one monitor event; `None` for the answers it records (the
/// checker's, not the story's).
pub fn timeline_line(event: &MonitorEvent) -> Option<String> {
    Some(match event {
        MonitorEvent::Started {
            nodes,
            endpoints,
            interval,
            raise_after,
            clear_after,
        } => format!(
            "monitoring {} every {}: /testall and {} status endpoints; alert after {raise_after} failed polls, clear after {clear_after} passed",
            nodes.join(", "),
            span(*interval),
            endpoints.len()
        ),
        MonitorEvent::Raised {
            node,
            check,
            detail,
        } => format!("alert: {}: {detail}", subject(node, check)),
        MonitorEvent::Cleared { node, check } => format!("cleared: {}", subject(node, check)),
        MonitorEvent::Answer { .. } => return None,
    })
}

/// One alert: what, when raised with what words, and when cleared (`None`: still raised
/// at the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub subject: String,
    pub detail: String,
    pub raised: Duration,
    pub cleared: Option<Duration>,
}

/// The monitoring section: what was polled and every alert, in the order raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitoringSummary {
    pub nodes: Vec<String>,
    pub interval: Duration,
    pub alerts: Vec<Alert>,
}

impl MonitoringSummary {
    /// The monitor's story in `events`, if it ran.
    pub fn new(events: &[Event]) -> Option<Self> {
        let mut summary: Option<Self> = None;
        let mut open: Vec<(String, String, usize)> = Vec::new();
        for e in events {
            let EventKind::Monitoring(m) = &e.kind else {
                continue;
            };
            match m {
                MonitorEvent::Started {
                    nodes, interval, ..
                } => {
                    summary.get_or_insert_with(|| Self {
                        nodes: nodes.clone(),
                        interval: *interval,
                        alerts: Vec::new(),
                    });
                }
                MonitorEvent::Raised {
                    node,
                    check,
                    detail,
                } => {
                    let Some(s) = summary.as_mut() else { continue };
                    open.push((node.clone(), check.clone(), s.alerts.len()));
                    s.alerts.push(Alert {
                        subject: subject(node, check),
                        detail: detail.clone(),
                        raised: e.at,
                        cleared: None,
                    });
                }
                MonitorEvent::Cleared { node, check } => {
                    let Some(s) = summary.as_mut() else { continue };
                    if let Some(i) = open.iter().position(|(n, c, _)| n == node && c == check) {
                        let (_, _, index) = open.remove(i);
                        s.alerts[index].cleared = Some(e.at);
                    }
                }
                MonitorEvent::Answer { .. } => {}
            }
        }
        summary
    }

    /// The section's lines.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "monitoring alerts: {} polled every {}; {} raised",
            self.nodes.join(", "),
            span(self.interval),
            self.alerts.len()
        )];
        for a in &self.alerts {
            let cleared = match a.cleared {
                Some(at) => format!("cleared at {} (after {})", clock(at), span(at - a.raised)),
                None => "still raised at the end".to_string(),
            };
            lines.push(format!(
                "  {}  alert: {}: {}; {cleared}",
                clock(a.raised),
                a.subject,
                a.detail
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64, m: MonitorEvent) -> Event {
        Event {
            at: Duration::from_millis(ms),
            host: "monitor".into(),
            kind: EventKind::Monitoring(m),
        }
    }

    /// Proves each alert is paired with its own clearing, one left raised says so, and
    /// the section names the times.
    #[test]
    fn pairs_alerts_with_their_clearing() {
        let raised = |node: &str, check: &str| MonitorEvent::Raised {
            node: node.into(),
            check: check.into(),
            detail: "connect timed out after 1s".into(),
        };
        let events = [
            at(
                0,
                MonitorEvent::Started {
                    nodes: vec!["node-1".into(), "node-2".into()],
                    endpoints: vec!["/status/db".into()],
                    interval: Duration::from_secs(5),
                    raise_after: 2,
                    clear_after: 2,
                },
            ),
            at(35_600, raised("node-2", "unreachable")),
            at(40_000, raised("node-1", "replicaset")),
            at(
                92_700,
                MonitorEvent::Cleared {
                    node: "node-2".into(),
                    check: "unreachable".into(),
                },
            ),
        ];
        let s = MonitoringSummary::new(&events).expect("the monitor ran");
        assert_eq!(s.alerts.len(), 2);
        assert_eq!(s.alerts[0].cleared, Some(Duration::from_millis(92_700)));
        assert_eq!(s.alerts[1].cleared, None);
        let lines = s.lines();
        assert!(
            lines[1].contains("0:35.600  alert: node-2 unreachable"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains("cleared at 1:32.700"), "{}", lines[1]);
        assert!(
            lines[2].ends_with("still raised at the end"),
            "{}",
            lines[2]
        );
        assert_eq!(MonitoringSummary::new(&events[1..]), None);
    }
}
