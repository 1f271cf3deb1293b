//! `harness check FILE`: a static preflight of a deployment against the source documents'
//! requirements, before anything runs.
//!
//! The file is a scenario, or a topology-only file (a TOML holding only `format_version`
//! and `[topology]`). It is read with the scenario loader's passes, so a file that is not
//! valid gets the loader's one error line (file:line:column: key: message). A valid file is
//! then judged requirement by requirement; each miss is a [`Finding`] naming the key it
//! comes from, what is wrong, and the requirement with its source (the source documents
//! docs/ARCHITECTURE.md section 1 names):
//!
//! - one NIC per host (`topology.addresses` lists one address per host): the loader
//!   refuses a second address for a run, so the check reads the addresses from the spec
//!   and judges the rest of the file with the first one of each (`check::network`);
//! - the nodes on the balancer's segment (one /24), `dev-1` off it and isolated
//!   (`check::network`);
//! - ports 7777, 27017, 8721 and 8701 open between every two nodes both ways, and 443
//!   from every node to the balancer, under the standing `[[topology.firewall]]` rules
//!   (a scenario's `block` steps are faults it means to inject, and are not judged)
//!   (`check::network`);
//! - the balancer's health check on `/testall`, the four DNS records at the balancer,
//!   SMTP authentication, NTP (`check::services`);
//! - the certificate: every published name covered (SAN or wildcard), valid at the run's
//!   epoch (2026-01-01), an unencrypted RSA key for PEM, the intermediates included
//!   (`check::certificate`);
//! - remote access, when the topology deploys it: a maintenance window declared, SSH
//!   admitted only from the jumphost, disabled outside the windows (`check::access`).
//!
//! Exit codes (see `main.rs`): 0 clean, 1 with findings, 2 when the file cannot be read or
//! is invalid.

mod access;
mod certificate;
mod network;
mod services;

use std::path::Path;

use serde::Deserialize;

use crate::scenario::spec::ScenarioSpec;
use crate::scenario::{ScenarioError, Source};
use crate::topology::{Topology, TopologySpec};

/// One requirement the file misses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The dotted key the finding is about (`topology.tls.certificate`).
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// The requirement and where it comes from (`security and access requirements: ...`).
    pub requirement: String,
}

impl Finding {
    fn new(key: impl Into<String>, message: impl Into<String>, requirement: &str) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
            requirement: requirement.to_string(),
        }
    }
}

/// The verdict on one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// One line per finding: `FILE[:line:column]: key: message (requirement)`. The
    /// position is given when the file holds the key itself (a default has none).
    pub findings: Vec<String>,
    /// One line naming what was checked, for a clean file.
    pub summary: String,
}

/// A topology-only file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopologyFile {
    /// Checked by [`Source::new`]; named here so that the file may hold it.
    #[expect(dead_code, reason = "the loader's first pass has judged it already")]
    format_version: i64,
    topology: TopologySpec,
}

/// Reads and checks a file; `Err` is the loader's error (exit 2).
pub fn check_file(path: &Path) -> Result<Checked, ScenarioError> {
    let bytes = crate::scenario::load::read(path)?;
    check_text(path, crate::scenario::load::decode(path, &bytes)?)
}

/// Checks file text; `path` names the file and is where relative certificate paths start.
pub fn check_text(path: &Path, text: &str) -> Result<Checked, ScenarioError> {
    let source = Source::new(path, text)?;
    let mut roots = source.root_keys();
    roots.retain(|k| k != "format_version");
    let topology_only = roots == ["topology"];
    let (mut spec, scenario) = if topology_only {
        (source.deserialize::<TopologyFile>()?.topology, None)
    } else {
        let scenario: ScenarioSpec = source.deserialize()?;
        (scenario.topology.clone(), Some(scenario))
    };
    let mut findings = network::nics(&mut spec);
    let topology: Topology = match scenario {
        Some(mut scenario) => {
            scenario.topology = spec.clone();
            source.check(scenario)?.topology
        }
        None => source.topology(&spec)?,
    };
    let mut checked = Vec::new();
    findings.extend(network::check(&topology, &mut checked));
    findings.extend(services::check(&topology, &mut checked));
    findings.extend(certificate::check(&source, &topology, &mut checked)?);
    findings.extend(access::check(&topology, &mut checked));
    let findings = findings
        .iter()
        .map(|f| {
            let at = source
                .position_of(&f.key)
                .map_or(String::new(), |(line, column)| format!(":{line}:{column}"));
            format!(
                "{}{at}: {}: {} ({})",
                path.display(),
                f.key,
                f.message,
                f.requirement
            )
        })
        .collect();
    let what = if topology_only {
        "topology"
    } else {
        "scenario"
    };
    let summary = format!("{}: clean {what}: {}", path.display(), checked.join("; "));
    Ok(Checked { findings, summary })
}
