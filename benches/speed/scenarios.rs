//! The scenarios the benches run: the reference file as committed, and variants of it
//! built from its text.
//!
//! A variant is `scenarios/node-loss.toml` with its steps and expectations removed and a
//! few keys set (`duration`, `load.rate_per_s`, `topology.nodes`), edited with `toml_edit`
//! and read by the scenario loader like any file: every variant is a scenario the loader
//! accepts, with the reference's topology, settings and seed except for the keys named.

use std::path::{Path, PathBuf};

use harness::scenario::{self, spec::Scenario};

/// The reference scenario, relative to the package root.
pub const REFERENCE: &str = "scenarios/node-loss.toml";

/// The reference file's path, wherever the bench runs from.
pub fn reference_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(REFERENCE)
}

/// `scenarios/node-loss.toml` as committed.
pub fn reference() -> Scenario {
    scenario::load(&reference_path()).expect("the reference scenario loads")
}

/// What a variant changes in the reference.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// How long the users send requests (the run adds its drain).
    pub duration: &'static str,
    /// Mean arrivals per second.
    pub rate_per_s: f64,
    /// Nodes in the replica set (the loader allows 1 to 7).
    pub nodes: u8,
}

impl Variant {
    /// The variant's scenario: the reference file without steps, with this variant's keys.
    pub fn scenario(self) -> Scenario {
        let path = reference_path();
        let text = std::fs::read_to_string(&path).expect("the reference scenario is readable");
        let mut doc: toml_edit::DocumentMut = text.parse().expect("the reference scenario is TOML");
        // Without steps the fault expectations (detection, recovery) have nothing to
        // measure, and the loader refuses them; the rest judge nothing a bench reads.
        doc.remove("steps");
        doc.remove("expect");
        doc["name"] = toml_edit::value(format!(
            "bench-{}-per-s-{}-nodes-{}",
            self.rate_per_s, self.nodes, self.duration
        ));
        doc["duration"] = toml_edit::value(self.duration);
        doc["load"]["rate_per_s"] = toml_edit::value(self.rate_per_s);
        doc["topology"]["nodes"] = toml_edit::value(i64::from(self.nodes));
        scenario::parse(&path, &doc.to_string()).unwrap_or_else(|e| {
            panic!("the variant {self:?} of the reference is a valid scenario: {e}")
        })
    }
}
