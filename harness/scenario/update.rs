//! Checking a scenario's planned rolling update (`update = { ... }` in a step).
//!
//! An update is an operation, not a fault: it is not one of the scenario's `steps` (which
//! the draw, the nemesis and `harness shrink` move around) but a plan the world's
//! operator carries out from its time on, one node after another
//! (`world::update`). So it is checked here, apart: at most one per scenario, alone in
//! its step, at a fixed time (no range: an operator's schedule), nodes that exist, each
//! once, bounds with their units.

use std::collections::BTreeSet;
use std::time::Duration;

use super::invalid::{Invalid, Seg, key};
use super::spec::{ScenarioSpec, StepSpec, UpdateSpec};
use crate::duration::span;
use crate::topology::Topology;

/// The longest a node may be out of service during an update when it names no
/// `downtime_max`: the appliance's documentation states at most 30 s per node
/// for a multi-node cluster.
pub const DOWNTIME_MAX_DEFAULT: Duration = Duration::from_secs(30);

/// The longest install and the longest wait per phase a scenario may set.
pub const PHASE_MAX: Duration = Duration::from_secs(600);

pub use super::spec::Update;

/// The scenario's update, if a step asks for one.
pub(super) fn check(spec: &ScenarioSpec, topology: &Topology) -> Result<Option<Update>, Invalid> {
    let mut found: Option<Update> = None;
    for (i, step) in spec.steps.iter().enumerate() {
        let Some(u) = &step.update else {
            continue;
        };
        let at = |k: &[&str]| path(i, k);
        if found.is_some() {
            let message = "a second update; expected at most one per scenario".to_string();
            return Err((at(&["update"]), message));
        }
        alone(step).map_err(|(k, m)| (at(&k), m))?;
        if step.at.hi >= spec.duration || step.at.lo != step.at.hi {
            let message = format!(
                "expected one time before the run's end (duration {}), not {}",
                span(spec.duration),
                step.at.text()
            );
            return Err((at(&["at"]), message));
        }
        let mut update = plan(u, topology).map_err(|(k, m)| (at(&k), m))?;
        update.at = step.at.lo;
        update.origin = i;
        found = Some(update);
    }
    Ok(found)
}

type StepInvalid = (Vec<&'static str>, String);

/// The update is its step's only action, and has no `for`.
fn alone(step: &StepSpec) -> Result<(), StepInvalid> {
    if super::steps::given(step).iter().any(|g| *g) {
        return Err((vec![], "expected exactly one action beside update".into()));
    }
    if step.lasts.is_some() {
        let message = "for goes with a fault; an update ends when its last node is back";
        return Err((vec!["for"], message.to_string()));
    }
    Ok(())
}

fn plan(u: &UpdateSpec, topology: &Topology) -> Result<Update, StepInvalid> {
    let nodes = topology.node_names();
    if let Some(order) = &u.order {
        let mut seen = BTreeSet::new();
        if order.is_empty() {
            return Err((vec!["update", "order"], "expected at least one node".into()));
        }
        for n in order {
            if !nodes.contains(n) {
                let message = format!("unknown node {n:?}; expected one of {}", nodes.join(", "));
                return Err((vec!["update", "order"], message));
            }
            if !seen.insert(n) {
                let message = format!("{n} is listed twice; expected each node once");
                return Err((vec!["update", "order"], message));
            }
        }
    }
    for (value, name) in [(u.install, "install"), (u.wait_max, "wait_max")] {
        if value.is_zero() || value > PHASE_MAX {
            let message = format!("expected above 0s and at most {}", span(PHASE_MAX));
            return Err((vec!["update", name], message));
        }
    }
    if let Some(b) = &u.broken {
        let listed = u.order.as_ref().is_none_or(|o| o.contains(b));
        if !nodes.contains(b) || !listed {
            let message = format!("{b:?} is not a node the update reaches");
            return Err((vec!["update", "broken"], message));
        }
    }
    let downtime_max = u.downtime_max.unwrap_or(DOWNTIME_MAX_DEFAULT);
    if downtime_max.is_zero() {
        let message = "expected a duration above 0s".to_string();
        return Err((vec!["update", "downtime_max"], message));
    }
    let version = u
        .version
        .clone()
        .unwrap_or_else(|| crate::services::internet::LATEST_VERSION.to_string());
    if version.trim().is_empty() {
        return Err((vec!["update", "version"], "expected a version".into()));
    }
    Ok(Update {
        at: Duration::ZERO,
        origin: 0,
        order: u.order.clone(),
        drain: u.drain,
        install: u.install,
        wait_max: u.wait_max,
        version,
        broken: u.broken.clone(),
        downtime_max,
    })
}

fn path(i: usize, k: &[&str]) -> Vec<Seg> {
    let mut p = vec![Seg::Key("steps".to_string()), Seg::Index(i)];
    p.extend(key(k));
    p
}
