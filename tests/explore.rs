//! Variation, the nemesis and shrinking, end to end: what a seed draws is the same in
//! every run of that seed and shown in the report; a nemesis schedule is a function of the
//! seed; `harness shrink` turns a real failure into a smaller ordinary scenario that
//! `harness run` still fails the same way.

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::events::EventKind;
use harness::executor;
use harness::explore::shrink::shrink;
use harness::report::verdicts::Mark;
use harness::report::{Outcome, text};
use harness::scenario;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/explore")
        .join(name)
}

fn write(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).expect("the target tmp dir is writable");
    path
}

/// A short scenario with every kind of variation: a range, a `for` range, roles.
const VARIED: &str = r#"format_version = 1
name = "varied"
seed = 1
duration = "30s"

[load]
rate_per_s = 2.0

[topology.tls]
enabled = false

[[steps]]
at = "5s..10s"
for = "3s..6s"
crash = { node = "primary" }

[[steps]]
at = "18s..20s"
for = "2s"
isolate = { node = "a-secondary", mode = "drop" }

[[steps]]
at = "22s"
clock = { node = "any", jump = "1m" }
"#;

/// The `Drawn` events of a run, as (key, from, value).
fn drawn(path: &Path, seed: u64) -> (Vec<(String, String, String)>, String) {
    let s = scenario::load(path).expect("loads");
    let run = executor::run(&s, seed).expect("runs");
    let outcome = Outcome::new(&s, seed, &run.events);
    let notes = run
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Drawn { key, from, value } => {
                Some((key.clone(), from.clone(), value.clone()))
            }
            _ => None,
        })
        .collect();
    (notes, text::render(&outcome, "repro"))
}

/// Proves a seed draws the same times and nodes in every run of it (byte-identical
/// reports), that another seed draws others, that each draw is within its range or role,
/// and that the report's timeline shows every one.
#[test]
fn variation_is_drawn_per_seed_and_reported() {
    let path = write("varied.toml", VARIED);
    let (a, report_a) = drawn(&path, 7);
    let (again, report_again) = drawn(&path, 7);
    assert_eq!(a, again);
    assert_eq!(report_a, report_again, "same seed, byte-identical report");
    let keys: Vec<&str> = a.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "steps[0].at",
            "steps[0].for",
            "steps[0].crash.node",
            "steps[1].at",
            "steps[1].isolate.node",
            "steps[2].clock.node"
        ]
    );
    let at = &a[0].2;
    assert!(("0:05.000".."0:10.001").contains(&at.as_str()), "{at}");
    assert!(
        ["node-1", "node-2", "node-3"].contains(&a[2].2.as_str()),
        "{a:?}"
    );
    for (key, from, value) in &a {
        let line = format!("drawn: {key} = {value} (from {from})");
        assert!(report_a.contains(&line), "{line} not in the report");
    }
    let others: Vec<_> = (8..12).map(|seed| drawn(&path, seed).0).collect();
    assert!(others.iter().any(|o| *o != a), "other seeds draw otherwise");
}

/// Proves a nemesis schedule is a function of the seed alone, lists every fault in the
/// timeline, heals everything before the convergence phase, and that a seed's run is
/// reproduced exactly by `harness run --seed` (the binary) as by the library.
#[test]
fn nemesis_schedule_is_the_seeds() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/nemesis-mixed.toml");
    let s = scenario::load(&path).expect("loads");
    let nemesis = s.nemesis.as_ref().expect("has a nemesis");
    let a = scenario::nemesis::schedule(nemesis, &s.topology, 3);
    assert_eq!(a, scenario::nemesis::schedule(nemesis, &s.topology, 3));
    assert_ne!(a, scenario::nemesis::schedule(nemesis, &s.topology, 4));
    assert!(!a.is_empty());
    let phase_end = nemesis.start + nemesis.phase;
    for fault in &a {
        assert!(
            fault
                .steps
                .iter()
                .all(|(at, _)| *at >= nemesis.start && *at <= phase_end),
            "{fault:?}"
        );
    }
    let run = executor::run(&s, 3).expect("runs");
    let notes = run
        .events
        .iter()
        .filter(
            |e| matches!(&e.kind, EventKind::Drawn { key, .. } if key.starts_with("nemesis fault")),
        )
        .count();
    assert_eq!(notes, a.len(), "every fault is in the timeline");
    let applied: usize = a.iter().map(|f| f.steps.len()).sum();
    assert_eq!(run.steps.len(), applied);
}

/// Proves `harness shrink` on a real failure (a failover bound of 5s, where an election
/// takes about 10s, among three faults that have nothing to do with it) keeps the
/// primary's crash, drops the rest, and writes a scenario that `harness run` fails on
/// the same verdict; and that the search stays within its bound of runs.
#[test]
fn shrink_finds_the_crash_that_fails_failover() {
    let path = fixture("tight-failover.toml");
    let mut lines = Vec::new();
    let max_runs = 10;
    let shrunk = shrink(&path, 1, max_runs, &mut |l| lines.push(l)).expect("the run fails");
    assert_eq!(shrunk.failing, ["failover_max"]);
    assert!(shrunk.runs <= max_runs, "{lines:#?}");
    assert_eq!(
        shrunk.original.steps.len(),
        9,
        "four faults as drawn, nine steps"
    );
    let crashes: Vec<_> = shrunk
        .result
        .steps
        .iter()
        .filter(|s| matches!(&s.action, scenario::Action::Crash { node, .. } if node == "node-1"))
        .collect();
    assert_eq!(crashes.len(), 1, "{lines:#?}");
    assert!(
        shrunk.result.steps.len() < shrunk.original.steps.len(),
        "{lines:#?}"
    );
    let out = write("tight-failover-shrunk.toml", &shrunk.text);
    let loaded = scenario::load(&out).expect("an ordinary scenario file");
    let run = executor::run(&loaded, loaded.seed).expect("runs");
    let outcome = Outcome::new(&loaded, loaded.seed, &run.events);
    let failing: Vec<_> = outcome
        .verdicts
        .iter()
        .filter(|v| v.status == Mark::Fail)
        .map(|v| v.key)
        .collect();
    assert_eq!(failing, ["failover_max"]);
    let cli = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["run", out.to_str().expect("utf-8")])
        .output()
        .expect("runs the binary");
    assert_eq!(cli.status.code(), Some(1), "harness run fails it");
}
