//! Checking the steps that act on a service: `dns = { answer = ... }` and `lb = { drain =
//! ... }` / `lb = { ready = ... }`. Each names real hosts and makes sense after the steps
//! before it (no node drained twice, none put back that was not drained, no DNS fault
//! undone that was not in force).

use std::collections::BTreeSet;

use super::spec::{Action, StepSpec};
use crate::faults::service::{DnsAnswer, DnsAnswerKind, ServiceStep};
use crate::topology::Topology;

/// A key path inside one step, and what is wrong there.
type StepInvalid = (Vec<&'static str>, String);

/// The service action of `step`, if it has one (the caller has checked it has exactly
/// one action).
pub(super) fn action(step: &StepSpec, topology: &Topology) -> Option<Result<Action, StepInvalid>> {
    if let Some(d) = &step.dns {
        return Some(dns(d).map(|a| Action::Service(ServiceStep::Dns(a))));
    }
    let lb = step.lb.as_ref()?;
    Some(drain(lb, &topology.node_names()).map(Action::Service))
}

fn dns(d: &super::spec::DnsSpec) -> Result<DnsAnswer, StepInvalid> {
    let answer = match (d.answer, d.address) {
        (DnsAnswerKind::WrongAddress, Some(address)) => DnsAnswer::WrongAddress { address },
        (DnsAnswerKind::WrongAddress, None) => {
            let message =
                "expected an address with \"wrong-address\", such as address = \"10.0.1.99\"";
            return Err((vec!["dns", "address"], message.to_string()));
        }
        (_, Some(_)) => {
            let message = "address goes with \"wrong-address\" only; expected it only there";
            return Err((vec!["dns", "address"], message.to_string()));
        }
        (DnsAnswerKind::Normal, None) => DnsAnswer::Normal,
        (DnsAnswerKind::Servfail, None) => DnsAnswer::Servfail,
        (DnsAnswerKind::Nxdomain, None) => DnsAnswer::Nxdomain,
        (DnsAnswerKind::Silence, None) => DnsAnswer::Silence,
    };
    Ok(answer)
}

fn drain(lb: &super::spec::LbSpec, nodes: &[String]) -> Result<ServiceStep, StepInvalid> {
    let (node, key, step): (&String, _, fn(String) -> ServiceStep) = match (&lb.drain, &lb.ready) {
        (Some(n), None) => (n, "drain", |node| ServiceStep::Drain { node }),
        (None, Some(n)) => (n, "ready", |node| ServiceStep::Ready { node }),
        _ => {
            let message = "expected exactly one of drain and ready";
            return Err((vec!["lb"], message.to_string()));
        }
    };
    if !nodes.contains(node) {
        let message = format!(
            "unknown node {node:?}; expected one of {}",
            nodes.join(", ")
        );
        return Err((vec!["lb", key], message));
    }
    Ok(step(node.clone()))
}

/// Whether a `for` may go with this step: a fault a later step can undo.
pub(super) fn undoable(step: &StepSpec) -> bool {
    let dns = step
        .dns
        .as_ref()
        .is_some_and(|d| d.answer != DnsAnswerKind::Normal);
    dns || step.lb.as_ref().is_some_and(|lb| lb.drain.is_some())
}

/// The service faults in force as the steps run in order.
#[derive(Default)]
pub(super) struct InForce {
    faults: BTreeSet<String>,
}

impl InForce {
    /// Applies `s`; the step key and what is wrong when it makes no sense now.
    pub(super) fn next(&mut self, s: &ServiceStep) -> Option<(&'static str, String)> {
        let key = match s {
            ServiceStep::Dns(_) => "dns",
            ServiceStep::Drain { .. } | ServiceStep::Ready { .. } => "lb",
        };
        if let Some(f) = s.opens() {
            // A DNS fault may replace another; a drained node cannot be drained again.
            if !self.faults.insert(f.clone()) && key == "lb" {
                return Some((
                    key,
                    format!("{f} is already in force at that time; expected a ready first"),
                ));
            }
        }
        if let Some(f) = s.undoes()
            && !self.faults.remove(&f)
        {
            let what = s.name();
            return Some((
                key,
                format!(
                    "{what} at a time when no {f} is in force; expected an earlier fault to undo"
                ),
            ));
        }
        None
    }
}
