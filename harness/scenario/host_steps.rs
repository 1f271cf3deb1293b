//! Checking the steps that act on one host's software: `pause`, `resume` and `slow`
//! (issue 18). Called from `steps.rs`: the host named, the factor within its bounds,
//! and the sequence (no pause of a host down or already paused, no resume of one that
//! is not paused).

use std::collections::BTreeSet;

use super::spec::{Action, Role, StepSpec};
use crate::faults::{HostFault, SLOW_FACTOR_MAX};

/// A key path inside one step, and what is wrong there.
type StepInvalid = (Vec<&'static str>, String);

/// The host fault a step names, if it names one: `Ok(None)` when it holds none of
/// `pause`, `resume`, `slow`. `pausable` are the hosts whose software can stop (every
/// host but the users), `nodes` the nodes (slow acts on a node's service times).
pub(super) fn action(
    step: &StepSpec,
    nodes: &[String],
    pausable: &[String],
) -> Result<Option<Action>, StepInvalid> {
    if let Some(p) = &step.pause {
        super::names::target(&p.node, nodes, pausable, &["pause", "node"])?;
        let node = p.node.clone();
        return Ok(Some(Action::Host(HostFault::Pause { node })));
    }
    if let Some(r) = &step.resume {
        if Role::parse(&r.node).is_some() {
            let message = format!(
                "{:?} is a role; expected a host's name (to resume a host paused by role, give its pause a `for`)",
                r.node
            );
            return Err((vec!["resume", "node"], message));
        }
        super::names::target(&r.node, nodes, pausable, &["resume", "node"])?;
        let node = r.node.clone();
        return Ok(Some(Action::Host(HostFault::Resume { node })));
    }
    if let Some(s) = &step.slow {
        super::names::target(&s.node, nodes, nodes, &["slow", "node"])?;
        if !(1.0..=SLOW_FACTOR_MAX).contains(&s.factor) {
            let message = format!(
                "factor {} is out of range; expected 1 to {SLOW_FACTOR_MAX} (1 restores the node)",
                s.factor
            );
            return Err((vec!["slow", "factor"], message));
        }
        let (node, factor) = (s.node.clone(), s.factor);
        return Ok(Some(Action::Host(HostFault::Slow { node, factor })));
    }
    Ok(None)
}

/// The step that undoes a host fault given a `for`: a resume, or the factor set to 1.
pub(super) fn closing(fault: &HostFault) -> Vec<Action> {
    let node = fault.node().to_string();
    match fault {
        HostFault::Pause { .. } => vec![Action::Host(HostFault::Resume { node })],
        HostFault::Slow { .. } => vec![Action::Host(HostFault::Slow { node, factor: 1.0 })],
        HostFault::Resume { .. } => unreachable!("times() allows for on faults only"),
    }
}

/// What a host fault acts on, for the order its draws must keep: a pause shares the
/// node's power with crashes (a pause and a crash of one node keep their order); a slow
/// has its own.
pub(super) fn subject(fault: &HostFault) -> String {
    match fault {
        HostFault::Pause { node } | HostFault::Resume { node } => format!("node {node}"),
        HostFault::Slow { node, .. } => format!("speed of {node}"),
    }
}

/// The hosts paused at each point of the sequence, and what is wrong with a step there:
/// `down` are the hosts crashed at that time (a crash ends a pause: the world powers the
/// stopped machine off).
#[derive(Debug, Default)]
pub(super) struct Paused(BTreeSet<String>);

impl Paused {
    /// The problem with `fault` after the steps before it, as the step key and message.
    pub(super) fn check(
        &mut self,
        fault: &HostFault,
        down: &BTreeSet<String>,
    ) -> Option<(&'static str, String)> {
        match fault {
            HostFault::Pause { node } if down.contains(node) => Some((
                "pause",
                format!("{node} is down at that time; expected a restart before it is paused"),
            )),
            HostFault::Pause { node } => (!self.0.insert(node.clone())).then(|| {
                let message = format!(
                    "{node} is already paused at that time; expected a resume before it is paused again"
                );
                ("pause", message)
            }),
            HostFault::Resume { node } => (!self.0.remove(node)).then(|| {
                (
                    "resume",
                    format!("{node} is not paused at that time; expected an earlier pause"),
                )
            }),
            HostFault::Slow { .. } => None,
        }
    }

    /// A crash of `node` ends its pause.
    pub(super) fn crashed(&mut self, node: &str) {
        self.0.remove(node);
    }
}
