//! The fault windows of issue 18's steps: a paused host until it resumes, a slowed node
//! until its factor is 1 again, impaired links until they are restored, and the service
//! faults a later step undoes (dns and smtp answers, an lb drain); the operator's and
//! the administrator's setting changes that nothing undoes (lb checks, egress rules) are
//! instants.
//!
//! A drain is shaded on the drained node's lane, not the lb's: the node is what stops
//! getting requests, the nodes' lanes are always drawn, and two drains at once would
//! overlap on the lb's one lane.

use super::{Faults, Mark, MarkKind, Shade, close, window};
use crate::faults::link::LinkImpairment;
use crate::faults::service::ServiceStep;
use crate::faults::{HostFault, LinkFault};
use crate::report::faults::{host_line, link_line, service_line};
use crate::report::outcome::Host;

/// The windows still open, each under the key that closes it.
type Open = Vec<(String, super::Window)>;

/// A pause opens a window on the paused host's lane, its resume closes it; a slowing
/// replaces the node's earlier one, and factor 1 ends it.
pub(super) fn host(fault: &HostFault, at: u64, open: &mut Open, out: &mut Faults) {
    let label = host_line(fault);
    match fault {
        HostFault::Pause { node } => {
            let mut w = window(vec![node.clone()], at, Shade::Pause, label);
            w.short = "paused".to_string();
            open.push((format!("pause {node}"), w));
        }
        HostFault::Resume { node } => close(open, out, &format!("pause {node}"), at),
        HostFault::Slow { node, factor } => {
            close(open, out, &format!("slow {node}"), at);
            if *factor != 1.0 {
                let mut w = window(vec![node.clone()], at, Shade::Slow, label);
                w.short = format!("slow x{factor}");
                open.push((format!("slow {node}"), w));
            }
        }
    }
}

/// A link change replaces the window of the earlier change to the same ends (named by
/// the same groups) and, unless it restores them, opens one on the lanes of every host
/// at either end.
pub(super) fn link(fault: &LinkFault, at: u64, open: &mut Open, out: &mut Faults) {
    let key = format!("link {}", fault.ends());
    close(open, out, &key, at);
    let Some(impairment) = fault.impairment else {
        return;
    };
    let mut hosts: Vec<String> = Vec::new();
    for h in fault.between.iter().chain(&fault.and) {
        if !hosts.contains(h) {
            hosts.push(h.clone());
        }
    }
    let mut w = window(hosts, at, Shade::Link, link_line(fault));
    w.short = link_short(&impairment);
    open.push((key, w));
}

/// What a link got, in the few words its lanes show: `+50ms ±10ms 20% loss`.
fn link_short(i: &LinkImpairment) -> String {
    let mut parts = Vec::new();
    if i.latency_ms > 0 {
        parts.push(format!("+{}ms", i.latency_ms));
    }
    if i.jitter_ms > 0 {
        parts.push(format!("±{}ms", i.jitter_ms));
    }
    if i.loss > 0.0 {
        // To 2 decimals of a percent: 0.2 prints 20, not 20.000000000000004.
        parts.push(format!("{}% loss", (i.loss * 10_000.0).round() / 100.0));
    }
    if let Some(kb) = i.bandwidth_kb_per_s {
        parts.push(format!("{kb}KB/s"));
    }
    if parts.is_empty() {
        parts.push("link".to_string());
    }
    parts.join(" ")
}

/// A service fault opens a window on its host's lane (the drained node's for a drain)
/// under [`ServiceStep::opens`]'s key, and the step that [`ServiceStep::undoes`] it
/// closes it; a setting change is an instant on the lb's or the egress's lane.
pub(super) fn service(
    step: &ServiceStep,
    at: u64,
    hosts: &[Host],
    open: &mut Open,
    out: &mut Faults,
) {
    if let Some(key) = step.undoes() {
        close(open, out, &key, at);
    }
    let label = service_line(step);
    if let Some(key) = step.opens() {
        close(open, out, &key, at);
        let lanes = match step {
            ServiceStep::Drain { node } => vec![node.clone()],
            ServiceStep::Dns(_) => role_hosts(hosts, "dns"),
            _ => role_hosts(hosts, "smtp"),
        };
        let mut w = window(lanes, at, Shade::Service, label);
        w.short = match step {
            ServiceStep::Drain { .. } => "drained".to_string(),
            _ => step.name(),
        };
        open.push((key, w));
        return;
    }
    let role = match step {
        ServiceStep::Checks(_) => "load_balancer",
        ServiceStep::Egress(_) => "egress",
        _ => return,
    };
    for host in role_hosts(hosts, role) {
        out.marks.push(Mark {
            host,
            at_ms: at,
            kind: MarkKind::Setting,
            short: "set".to_string(),
            text: label.clone(),
        });
    }
}

/// The names of the hosts of `role` (`dns`, `load_balancer`).
fn role_hosts(hosts: &[Host], role: &str) -> Vec<String> {
    hosts
        .iter()
        .filter(|h| h.role == role)
        .map(|h| h.name.clone())
        .collect()
}
