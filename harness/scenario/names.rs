//! Checking the hosts a step names: a host of the topology or a role some node can
//! have, groups of known hosts, disjoint groups. Shared by `steps.rs` and the step
//! modules beside it (`host_steps.rs`, `link_steps.rs`), which import this rather than
//! `steps.rs` (which imports them).

use std::collections::BTreeSet;

use super::spec::Role;

/// A key path inside one step, and what is wrong there.
type StepInvalid = (Vec<&'static str>, String);

/// A host a step may act on: one of `hosts`, or a role among the `nodes` that some node
/// can have (a secondary needs two nodes).
pub(super) fn target(
    name: &str,
    nodes: &[String],
    hosts: &[String],
    path: &[&'static str],
) -> Result<(), StepInvalid> {
    match Role::parse(name) {
        Some(Role::Secondary) if nodes.len() < 2 => Err((
            path.to_vec(),
            format!(
                "no node can be a secondary with {} node(s); expected \"primary\", \"any\" or one of {}",
                nodes.len(),
                nodes.join(", ")
            ),
        )),
        Some(_) => Ok(()),
        None if hosts.iter().any(|h| h == name) => Ok(()),
        None => Err((
            path.to_vec(),
            format!(
                "unknown {} {name:?}; expected one of {}, or a role: {}",
                if hosts == nodes { "node" } else { "host" },
                hosts.join(", "),
                Role::WORDS.join(", ")
            ),
        )),
    }
}

pub(super) fn host(name: &str, hosts: &[String], path: &[&'static str]) -> Result<(), StepInvalid> {
    if hosts.iter().any(|h| h == name) {
        return Ok(());
    }
    Err((
        path.to_vec(),
        format!(
            "unknown host {name:?}; expected one of {}",
            hosts.join(", ")
        ),
    ))
}

pub(super) fn group(
    names: &[String],
    hosts: &[String],
    path: &[&'static str],
) -> Result<(), StepInvalid> {
    if names.is_empty() {
        return Err((path.to_vec(), "expected at least one host".to_string()));
    }
    match names.iter().find(|n| !hosts.contains(n)) {
        None => Ok(()),
        Some(bad) => Err((
            path.to_vec(),
            format!("unknown host {bad:?}; expected one of {}", hosts.join(", ")),
        )),
    }
}

pub(super) fn disjoint(groups: &[Vec<String>], path: &[&'static str]) -> Result<(), StepInvalid> {
    let mut seen = BTreeSet::new();
    match groups.iter().flatten().find(|n| !seen.insert(n.as_str())) {
        None => Ok(()),
        Some(twice) => Err((
            path.to_vec(),
            format!("{twice} is on both sides; expected disjoint groups"),
        )),
    }
}
