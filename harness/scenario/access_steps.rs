//! Checking `ssh = { from, to, duration }` steps: remote access deployed
//! (`[topology.access] jumphost = true`), a host that runs an SSH client (the jumphost,
//! or the users' host for a direct attempt from the internet), a node by name and a
//! session length within its bound.

use std::time::Duration;

use super::spec::{Action, StepSpec};
use crate::faults::access::SshSession;
use crate::topology::Topology;

/// A key path inside one step, and what is wrong there.
type StepInvalid = (Vec<&'static str>, String);

/// The longest maintenance session a step may ask for.
pub const SESSION_MAX: Duration = Duration::from_secs(3600);

/// The `ssh` action of `step`, if it has one (the caller has checked it has exactly one
/// action).
pub(super) fn action(step: &StepSpec, topology: &Topology) -> Option<Result<Action, StepInvalid>> {
    let ssh = step.ssh.as_ref()?;
    Some(session(ssh, topology).map(Action::Ssh))
}

fn session(ssh: &super::spec::SshSpec, topology: &Topology) -> Result<SshSession, StepInvalid> {
    if !topology.access.jumphost {
        let message = "expected [topology.access] jumphost = true: without remote access no host runs an SSH client and no node listens on 22";
        return Err((vec!["ssh"], message.to_string()));
    }
    let clients: Vec<&str> = topology
        .hosts
        .iter()
        .filter(|h| h.role.runs_ssh_client())
        .map(|h| h.name.as_str())
        .collect();
    if !clients.contains(&ssh.from.as_str()) {
        let message = format!(
            "unknown SSH client host {:?}; expected one of {}",
            ssh.from,
            clients.join(", ")
        );
        return Err((vec!["ssh", "from"], message));
    }
    let nodes = topology.node_names();
    if !nodes.contains(&ssh.to) {
        let message = format!(
            "unknown node {:?}; expected a node's name: {}",
            ssh.to,
            nodes.join(", ")
        );
        return Err((vec!["ssh", "to"], message));
    }
    if ssh.duration.is_zero()
        || ssh.duration > SESSION_MAX
        || !ssh.duration.subsec_nanos().is_multiple_of(1_000_000)
    {
        let message = "expected a session length in whole milliseconds, above 0s and at most 1h";
        return Err((vec!["ssh", "duration"], message.to_string()));
    }
    Ok(SshSession {
        from: ssh.from.clone(),
        to: ssh.to.clone(),
        duration_ms: u64::try_from(ssh.duration.as_millis()).expect("at most an hour"),
    })
}
