//! What the security and access requirements (docs/ARCHITECTURE.md section 1) ask of
//! remote maintenance access, when the topology deploys it (`[topology.access]
//! jumphost = true`): SSH through the jumphost only, enabled for the agreed time frames
//! and disabled after. A topology without remote access has nothing to judge here.

use super::Finding;
use crate::topology::{JUMPHOST, Topology};

const VIA_JUMPHOST: &str = "security and access requirements: remote access is SSH access via Jumphost (the preferred method) or via VPN";
const TIME_FRAMES: &str = "security and access requirements: this connection may be enabled for and disabled after the agreed-upon time frames for work";

/// Remote access without a window, SSH admitted from anywhere but the jumphost, or left
/// enabled outside the windows.
pub fn check(topology: &Topology, checked: &mut Vec<String>) -> Vec<Finding> {
    let access = &topology.access;
    if !access.jumphost {
        return Vec::new();
    }
    let mut findings = Vec::new();
    if access.windows.is_empty() {
        findings.push(Finding::new(
            "topology.access.jumphost",
            "remote access is deployed with no maintenance window (access.windows): no agreed time frame to enable it for",
            TIME_FRAMES,
        ));
    }
    if !access.closed_outside_windows {
        findings.push(Finding::new(
            "topology.access.closed_outside_windows",
            "SSH to the nodes stays enabled outside the maintenance windows",
            TIME_FRAMES,
        ));
    }
    for (i, host) in access.ssh_from.iter().enumerate() {
        if host != JUMPHOST {
            findings.push(Finding::new(
                format!("topology.access.ssh_from[{i}]"),
                format!("SSH to the nodes is reachable from {host}, not through the jumphost"),
                VIA_JUMPHOST,
            ));
        }
    }
    checked.push(format!(
        "remote access through the jumphost in {} maintenance window(s)",
        access.windows.len()
    ));
    findings
}
