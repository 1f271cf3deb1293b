//! The annotated reference scenario documents the whole format: it parses, and it names
//! every key of every table a scenario may set.

use std::path::Path;

use harness::scenario;
use harness::scenario::spec::Expectations;
use harness::topology::{LoadSettings, TopologySpec};

fn keys(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
    if let toml::Value::Table(t) = value {
        for (k, v) in t {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            keys(v, &path, out);
            out.push(path);
        }
    }
}

/// Proves `scenarios/node-loss.toml` loads and sets every key of `[load]`, `[topology]`
/// (with its sub-tables) and `[expect]`, so a new setting cannot go undocumented there.
#[test]
fn reference_scenario_names_every_key() {
    let path = Path::new("scenarios/node-loss.toml");
    scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(path).unwrap();
    let written: toml::Value = toml::from_str(&text).unwrap();
    let mut present = Vec::new();
    keys(&written, "", &mut present);

    let all_expectations = Expectations {
        availability_pct_min: Some(1.0),
        failure_window_max: Some(Default::default()),
        failure_gap: Some(Default::default()),
        detection_max: Some(Default::default()),
        recovery_max: Some(Default::default()),
        failover_max: Some(Default::default()),
        converge_within: Some(Default::default()),
        mail_exactly_once: Some(true),
    };
    let mut known = Vec::new();
    keys(
        &toml::Value::try_from(TopologySpec::default()).unwrap(),
        "topology",
        &mut known,
    );
    keys(
        &toml::Value::try_from(LoadSettings::default()).unwrap(),
        "load",
        &mut known,
    );
    keys(
        &toml::Value::try_from(all_expectations).unwrap(),
        "expect",
        &mut known,
    );
    for top in ["name", "description", "seed", "duration", "tick", "steps"] {
        known.push(top.to_string());
    }
    let missing: Vec<_> = known.iter().filter(|k| !present.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "the reference scenario does not show {missing:?}"
    );
}
