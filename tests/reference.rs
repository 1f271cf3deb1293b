//! The annotated reference scenario documents the whole format: it parses, and it names
//! every key of every table a scenario may set, and every step kind with its keys.
//!
//! A key whose use would change the reference run (an expectation that adds a verdict,
//! a step kind beyond its crash and restart) is shown in a comment: `# p99_max = "1s"`,
//! `#   dns = { answer = "servfail" }`. node-loss's own behaviour stays as it is.

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
        mail_backoff: Some(true),
        p99_max: Some(Default::default()),
        failed_per_fault_max: Some(1),
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
    let missing: Vec<_> = known
        .iter()
        .filter(|k| !present.contains(k) && !commented(&text, k))
        .collect();
    assert!(
        missing.is_empty(),
        "the reference scenario does not show {missing:?}"
    );
}

/// True when `dotted`'s last key is shown in a comment line, as `# key = ...`.
fn commented(text: &str, dotted: &str) -> bool {
    let leaf = dotted.rsplit('.').next().expect("a key has a last part");
    text.lines().any(|line| {
        line.trim_start()
            .strip_prefix('#')
            .is_some_and(|rest| rest.trim_start().starts_with(&format!("{leaf} =")))
    })
}

/// The words in backticks after `expected` in a loader error: the keys serde lists for
/// an unknown field (`expected one of `at`, `for`, ...`, `expected `a` or `b``).
fn listed(message: &str) -> Vec<String> {
    let Some((_, list)) = message.split_once("expected") else {
        return Vec::new();
    };
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

/// The loader's error for a minimal scenario ending in `tail`, which must not load.
fn probe_error(tail: &str) -> String {
    let text = format!("format_version = 1\nname = \"t\"\nseed = 1\nduration = \"1m\"\n{tail}");
    match scenario::parse(Path::new("probe.toml"), &text) {
        Ok(_) => panic!("the probe {tail:?} loaded"),
        Err(e) => e.to_string(),
    }
}

/// The step kinds that take no keys (`heal = {}`): the only ones whose unknown-key error
/// lists none.
const FIELDLESS_KINDS: [&str; 1] = ["heal"];

/// The loader's error for a scenario whose one step is `step`.
fn step_error(step: &str) -> String {
    probe_error(&format!("[[steps]]\nat = \"1s\"\n{step}\n"))
}

/// The lines of the reference that show step kind `kind`: every line that writes `kind =
/// {` (in a comment or a step) and the comment lines that continue each, up to the next
/// step kind.
fn shown(text: &str, kind: &str, kinds: &[String]) -> Option<String> {
    let starts = |line: &str, k: &str| {
        let body = line.trim_start().trim_start_matches('#').trim_start();
        body.strip_prefix(k)
            .is_some_and(|rest| rest.trim_start().starts_with("= {"))
    };
    let lines: Vec<&str> = text.lines().collect();
    let blocks: Vec<String> = (0..lines.len())
        .filter(|&first| starts(lines[first], kind))
        .map(|first| {
            let more = lines[first + 1..]
                .iter()
                .take_while(|l| {
                    l.trim_start().starts_with('#')
                        && l.starts_with("#  ")
                        && !kinds.iter().any(|k| starts(l, k))
                })
                .count();
            lines[first..=first + more].join("\n")
        })
        .collect();
    (!blocks.is_empty()).then(|| blocks.join("\n"))
}

/// The loader's error for a `[nemesis]` table whose one kind is `kind`.
fn nemesis_error(kind: &str) -> String {
    probe_error(&format!(
        "[nemesis]\nphase = \"5s\"\nfaults = [\"{kind}\"]\n"
    ))
}

/// Proves `scenarios/node-loss.toml`'s `[nemesis]` comment names every kind of fault the
/// nemesis draws (the kinds taken from the loader's own error for an unknown kind, so a
/// new kind cannot go undocumented).
#[test]
fn reference_scenario_names_every_nemesis_kind() {
    let text = std::fs::read_to_string("scenarios/node-loss.toml").unwrap();
    let kinds = listed(&nemesis_error("not-a-kind"));
    assert!(kinds.len() >= 17, "the loader listed {kinds:?}");
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("[nemesis]"))
        .take_while(|l| l.starts_with('#'))
        .collect();
    let words: Vec<&str> = block
        .iter()
        .flat_map(|l| l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')))
        .collect();
    let missing: Vec<&String> = kinds
        .iter()
        .filter(|k| !words.contains(&k.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "the reference's [nemesis] comment does not name {missing:?}"
    );
}

/// Proves `scenarios/node-loss.toml` shows every step kind the loader accepts (the kinds
/// are taken from the loader's own error for an unknown step key, so a new kind cannot go
/// undocumented), each with every key its table takes.
#[test]
fn reference_scenario_names_every_step_kind() {
    let text = std::fs::read_to_string("scenarios/node-loss.toml").unwrap();
    let kinds: Vec<String> = listed(&step_error("not_a_step_kind = {}"))
        .into_iter()
        .filter(|k| k != "at" && k != "for")
        .collect();
    assert!(kinds.len() >= 12, "the loader listed {kinds:?}");
    let mut missing = Vec::new();
    for kind in &kinds {
        let Some(lines) = shown(&text, kind, &kinds) else {
            missing.push(kind.clone());
            continue;
        };
        let keys = listed(&step_error(&format!("{kind} = {{ not_a_key = 1 }}")));
        // A loader error worded so that `listed` finds no keys would check nothing.
        if keys.is_empty() && !FIELDLESS_KINDS.contains(&kind.as_str()) {
            missing.push(format!("{kind} (the loader listed none of its keys)"));
        }
        for key in keys {
            if !lines.contains(&format!("{key} =")) {
                missing.push(format!("{kind}.{key}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the reference scenario does not show {missing:?}"
    );
}
