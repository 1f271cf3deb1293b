//! The checks on `[topology.access]`: windows only with the jumphost deployed, in order
//! and each ending after it starts; with the jumphost, SSH admitted only from hosts the
//! topology has (without it, `ssh_from` is not read: its default names the jumphost).
//!
//! Whether the settings meet the security and access requirements (a window declared,
//! SSH only through the jumphost, disabled outside the windows) is `harness check`'s
//! question, not the loader's: a run honours whatever the topology says.

use super::deployment::{Host, TopologyError};
use super::settings::{ACCESS_WINDOWS_MAX, AccessSettings};

/// The jumphost's name, and the name `access.ssh_from` admits by default.
pub const JUMPHOST: &str = "jumphost";

/// Checks `access` against the deployment's `hosts`.
pub(super) fn check(access: &AccessSettings, hosts: &[Host]) -> Result<(), TopologyError> {
    let fail = |key: String, message: String| Err(TopologyError { key, message });
    if !access.jumphost && !access.windows.is_empty() {
        let message = "expected access.jumphost = true with maintenance windows: without the jumphost there is no remote access to open";
        return fail("access.windows".into(), message.into());
    }
    if access.windows.len() > ACCESS_WINDOWS_MAX {
        let message = format!(
            "expected at most {ACCESS_WINDOWS_MAX} windows, found {}",
            access.windows.len()
        );
        return fail("access.windows".into(), message);
    }
    for (i, w) in access.windows.iter().enumerate() {
        if w.end <= w.start {
            let message = "expected an end after the window's start".to_string();
            return fail(format!("access.windows[{i}].end"), message);
        }
        if i > 0 && w.start < access.windows[i - 1].end {
            let message = "expected the window to start at or after the previous one's end (windows in order, not overlapping)".to_string();
            return fail(format!("access.windows[{i}].start"), message);
        }
    }
    // Without the jumphost nothing listens on 22, and `ssh_from` names no one.
    if !access.jumphost {
        return Ok(());
    }
    for (i, name) in access.ssh_from.iter().enumerate() {
        if !hosts.iter().any(|h| &h.name == name) {
            let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
            let message = format!(
                "unknown host {name:?}; expected one of {}",
                names.join(", ")
            );
            return fail(format!("access.ssh_from[{i}]"), message);
        }
    }
    Ok(())
}
