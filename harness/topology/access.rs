//! The checks on `[topology.access]`: windows only with the jumphost deployed, in order
//! and each ending after it starts; with the jumphost, SSH admitted only from hosts the
//! topology has (without it, `ssh_from` is not read: its default names the jumphost).
//!
//! Whether the settings meet the security and access requirements (a window declared,
//! SSH only through the jumphost, disabled outside the windows) is `harness check`'s
//! question, not the loader's: a run honours whatever the topology says.

use super::settings::{ACCESS_WINDOW_END_MAX, ACCESS_WINDOWS_MAX, AccessSettings};

/// Checks `access` against the names of the deployment's hosts, `hosts`. A miss is the
/// key it comes from (relative to `[topology]`) and what was expected; the deployment
/// makes it a `TopologyError` (this module does not import the deployment, which calls
/// it).
pub(super) fn check(access: &AccessSettings, hosts: &[&str]) -> Result<(), (String, String)> {
    let fail = |key: String, message: String| Err((key, message));
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
        if w.end > ACCESS_WINDOW_END_MAX {
            let message = format!(
                "expected a time at most {}h (no run lasts longer: at most 1h of load and 1m of drain)",
                ACCESS_WINDOW_END_MAX.as_secs() / 3600
            );
            return fail(format!("access.windows[{i}].end"), message);
        }
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
        if !hosts.contains(&name.as_str()) {
            let message = format!(
                "unknown host {name:?}; expected one of {}",
                hosts.join(", ")
            );
            return fail(format!("access.ssh_from[{i}]"), message);
        }
    }
    Ok(())
}
