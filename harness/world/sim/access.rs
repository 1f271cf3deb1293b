//! Remote maintenance access in the world: the SSH clients a topology with
//! `[topology.access] jumphost = true` runs (on the jumphost, and on the users' host for
//! a direct attempt from the internet), and the `ssh` step that asks one for a session.

use std::collections::BTreeMap;

use super::{Wires, World};
use crate::events::EventKind;
use crate::events::access::SshEvent;
use crate::faults::access::SshSession;
use crate::services::ssh::{ClientConfig, SshRequests};
use crate::topology::{Host, Topology};
use crate::wiring;

/// The hosts that run an SSH client, each with its requests: none unless the topology
/// deploys remote access.
pub(super) fn clients(topology: &Topology) -> BTreeMap<String, SshRequests> {
    if !topology.access.jumphost {
        return BTreeMap::new();
    }
    topology
        .hosts
        .iter()
        .filter(|h| h.role.runs_ssh_client())
        .map(|h| (h.name.clone(), SshRequests::default()))
        .collect()
}

/// `host`'s SSH client configuration, if it runs one.
pub(super) fn client_config(
    topology: &Topology,
    wires: &Wires,
    host: &Host,
) -> Option<ClientConfig> {
    let requests = wires.ssh_clients.get(&host.name)?.clone();
    Some(wiring::ssh_client_config(topology, requests))
}

/// The jumphost's SSH client configuration (it always runs one).
pub(super) fn jumphost_client(topology: &Topology, wires: &Wires, host: &Host) -> ClientConfig {
    client_config(topology, wires, host).expect("the jumphost runs an SSH client")
}

impl World {
    /// Records an `ssh` step; its session goes to the client on its `from` host at
    /// the next [`World::operate`].
    ///
    /// The request wakes the client from outside turmoil, and a host skipped as idle
    /// runs what such a wake-up starts while its clock catches up, at the time it was
    /// last polled (its connect timeout would then start in the past). So, as with a
    /// step-down, the session is passed on one tick later, once every host was made to
    /// poll (the executor wakes them all after a step) and so caught up.
    pub fn ssh(&mut self, session: &SshSession) {
        // Recorded first: whatever the attempt causes is its effect.
        self.record(EventKind::Ssh(SshEvent::Asked(session.clone())));
        self.ssh_due.push(session.clone());
    }

    /// Hands the sessions asked for in an earlier tick to their clients.
    pub(super) fn pass_on_sessions(&mut self) {
        if self.ssh_due.is_empty() {
            return;
        }
        for session in std::mem::take(&mut self.ssh_due) {
            let client = self.ssh_clients.get(&session.from);
            let client = client.expect("the loader checks that ssh steps start from a client host");
            client.ask(session);
        }
        self.wake_all();
    }
}
