//! How the report tells the cluster ports (7777, 8721, 8701): each loss and regain of a
//! peer in the timeline, in the words of what the port carries
//! (`services::cluster_ports`).

use std::time::Duration;

use crate::duration::span;
use crate::events::cluster::ClusterPortEvent;

/// The timeline's words for one change (the timeline's host column names the node that
/// noticed).
pub fn timeline_line(event: &ClusterPortEvent) -> String {
    match event {
        ClusterPortEvent::Lost {
            service,
            port,
            peer,
            silent_ms,
            why,
            backlog,
        } => {
            let silent = span(Duration::from_millis(*silent_ms));
            let what = lost_what(service, peer, *backlog);
            format!("{what}: no exchange on {port} for {silent} ({why})")
        }
        ClusterPortEvent::Regained {
            service,
            port,
            peer,
            silent_ms,
            shipped,
            dropped,
        } => {
            let silent = span(Duration::from_millis(*silent_ms));
            let what = regained_what(service, peer, *shipped, *dropped);
            format!("{what} on {port} after {silent}")
        }
    }
}

/// What a loss means on `service`'s port.
fn lost_what(service: &str, peer: &str, backlog: u32) -> String {
    match service {
        "cluster-control" => format!("lost cluster control with {peer}"),
        "webtask-logs" => {
            format!("webtask logs for {peer} backing up ({backlog} batches waiting)")
        }
        "webtask-control" => format!("lost webtask control of {peer}"),
        other => format!("lost {other} with {peer}"),
    }
}

/// What a regain means on `service`'s port.
fn regained_what(service: &str, peer: &str, shipped: u32, dropped: u32) -> String {
    match service {
        "cluster-control" => format!("regained cluster control with {peer}"),
        "webtask-logs" if dropped > 0 => format!(
            "shipped {shipped} backed-up webtask log batches to {peer} ({dropped} dropped past the backlog's bound)"
        ),
        "webtask-logs" => format!("shipped {shipped} backed-up webtask log batches to {peer}"),
        "webtask-control" => format!("regained webtask control of {peer}"),
        other => format!("regained {other} with {peer}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves each port's loss and regain read as what the port carries, with the
    /// silence, the reason and the log backlog.
    #[test]
    fn lines() {
        let lost = ClusterPortEvent::Lost {
            service: "cluster-control".into(),
            port: 7777,
            peer: "node-2".into(),
            silent_ms: 16_001,
            why: "connect timed out after 1s".into(),
            backlog: 0,
        };
        assert_eq!(
            timeline_line(&lost),
            "lost cluster control with node-2: no exchange on 7777 for 16.001s (connect timed out after 1s)"
        );
        let logs = ClusterPortEvent::Regained {
            service: "webtask-logs".into(),
            port: 8721,
            peer: "node-3".into(),
            silent_ms: 60_000,
            shipped: 12,
            dropped: 0,
        };
        assert_eq!(
            timeline_line(&logs),
            "shipped 12 backed-up webtask log batches to node-3 on 8721 after 1m"
        );
    }
}
