//! The ticks a scenario may choose. Every shipped scenario, run at the coarsest tick the
//! loader accepts, completes without a panic and reaches the verdicts reviewed at the
//! default tick (the `expectations` section of its snapshot in `snapshots/`); the finest
//! accepted tick is the default, which `tests/scenarios.rs` runs. Any other tick is refused
//! with an error naming the key and the ticks accepted (README, "Choosing a tick", says
//! why the range is what it is).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::executor;
use harness::report::{Outcome, text};
use harness::scenario::{self, load::TICK_RANGE, spec::DEFAULT_TICK};

/// Threads the scenarios are spread over (CI has two cores).
const THREADS: usize = 2;

/// Proves the coarsest accepted tick keeps every shipped scenario's verdicts.
#[test]
fn coarsest_tick_keeps_every_verdict() {
    let coarsest = TICK_RANGE.1;
    let paths = shipped_scenarios();
    let wrong: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|first| {
                let mine: Vec<&PathBuf> = paths.iter().skip(first).step_by(THREADS).collect();
                s.spawn(move || {
                    mine.into_iter()
                        .filter_map(|path| wrong_verdicts(path, coarsest))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a worker reports, it does not panic"))
            .collect()
    });
    let tick = humantime::format_duration(coarsest);
    assert!(
        wrong.is_empty(),
        "at tick = \"{tick}\":\n{}",
        wrong.join("\n")
    );
}

/// Proves that the finest accepted tick is the default, and that a tick below it, above
/// the coarsest, or not a whole number of milliseconds is refused, with an error at the
/// `tick` key that names the ticks accepted.
#[test]
fn other_ticks_are_refused_naming_the_range() {
    assert_eq!(TICK_RANGE.0, DEFAULT_TICK);
    let path = Path::new("scenarios/node-loss.toml");
    for tick in ["100us", "999us", "1500us", "3ms", "10ms", "100ms"] {
        let error = scenario::parse(path, &with_tick(path, tick))
            .err()
            .unwrap_or_else(|| panic!("tick = \"{tick}\" was accepted"));
        assert_eq!(
            (error.key.as_str(), error.message.as_str()),
            (
                "tick",
                "expected a whole number of milliseconds from 1ms to 2ms \
                 (README, \"Choosing a tick\", says why)"
            ),
            "tick = \"{tick}\""
        );
    }
}

fn shipped_scenarios() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir("scenarios")
        .expect("the scenarios directory")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no scenario in scenarios/");
    paths
}

/// What is wrong with the scenario at `tick`: a panic, a refusal, or other verdicts than
/// its snapshot's; `None` when nothing is.
fn wrong_verdicts(path: &Path, tick: Duration) -> Option<String> {
    let name = path.file_name().expect("a file").to_string_lossy();
    let expected = expectations(&snapshot(&name));
    match catch_unwind(AssertUnwindSafe(|| report_at(path, tick))) {
        Ok(Ok(report)) if expectations(&report) == expected => None,
        Ok(Ok(report)) => Some(format!(
            "{name}: verdicts differ from the default tick's\n  expected: {expected:#?}\n{report}"
        )),
        Ok(Err(refused)) => Some(format!("{name}: {refused}")),
        Err(_panic) => Some(format!("{name}: panicked (its message is above)")),
    }
}

/// The scenario's text with its `tick` set to `tick`.
fn with_tick(path: &Path, tick: &str) -> String {
    let text = std::fs::read_to_string(path).expect("a readable scenario");
    let mut doc: toml_edit::DocumentMut = text.parse().expect("a shipped scenario is TOML");
    doc["tick"] = toml_edit::value(tick);
    doc.to_string()
}

/// The scenario's report at `tick`, or why the loader or the run refused it.
fn report_at(path: &Path, tick: Duration) -> Result<String, String> {
    let tick = humantime::format_duration(tick).to_string();
    let scenario = scenario::parse(path, &with_tick(path, &tick)).map_err(|e| e.to_string())?;
    let run = executor::run(&scenario, scenario.seed).map_err(|e| e.to_string())?;
    let outcome = Outcome::new(&scenario, scenario.seed, &run.events);
    Ok(text::render(&outcome, "reproduce"))
}

fn snapshot(file: &str) -> String {
    let path = format!("snapshots/report@{file}.snap");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The lines of a report's `expectations` section, each its status and expectation
/// (what was observed may differ with the tick; the verdicts may not). A time in an
/// expectation's words (`within 30s of the last fault (1:58.720)`) is masked: where the
/// last disturbance is one the model timed (a rolling update ends when its last node
/// passes `/testall`), it moves with the tick as any observed figure does.
fn expectations(report: &str) -> Vec<String> {
    report
        .lines()
        .skip_while(|line| *line != "expectations")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .map(|line| {
            let judged = line.split("observed:").next().unwrap_or(line);
            judged
                .split_whitespace()
                .map(mask_time)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// `(1:58.720)` as `(m:ss.mmm)`; any other word as it is.
fn mask_time(word: &str) -> &str {
    let Some(inner) = word.strip_prefix('(').and_then(|w| w.strip_suffix(')')) else {
        return word;
    };
    let shape = |c: char| c.is_ascii_digit() || c == ':' || c == '.';
    if inner.contains(':') && inner.contains('.') && inner.chars().all(shape) {
        "(m:ss.mmm)"
    } else {
        word
    }
}
