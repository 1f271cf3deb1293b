//! One seed of a sweep, run exactly as `harness run FILE --seed N` runs it: the loaded
//! scenario with its seed replaced, [`executor::run`], the [`Outcome`] of its events.
//! Nothing else is changed, so whatever the file draws per seed is drawn here the same
//! way, and the record's reproduce command replays the seed byte for byte.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::record::{Figures, SeedRecord, Status, VerdictLine};
use crate::checkers::availability::failure_windows;
use crate::events::Log;
use crate::executor;
use crate::report::{Outcome, json};
use crate::scenario::Scenario;

/// The harness's version: the crate version and, when built from a git checkout, the
/// commit (build.rs). Every reproduce command carries it, since another version may run
/// the same scenario and seed differently.
pub const VERSION: &str = env!("HARNESS_VERSION");

/// The command a reproduce line gives: the README's run command (the shared dev profile).
pub const RUN_COMMAND: &str = "cargo run -- run";

/// The key of the verdict `--check-determinism` adds to each seed.
pub const DETERMINISM_KEY: &str = "deterministic";

/// The command that replays `file` with `seed`; the version goes after a `#`, so the
/// line still pastes into a shell as it is.
pub fn reproduce(file: &Path, seed: u64) -> String {
    format!(
        "{RUN_COMMAND} {} --seed {seed}  # harness {VERSION}",
        file.display()
    )
}

/// Runs `scenario` with `seed` and keeps its record; with `twice`, runs it again and
/// adds the [`DETERMINISM_KEY`] verdict: both runs' digests must be equal.
pub fn run_seed(scenario: &Scenario, seed: u64, twice: bool) -> SeedRecord {
    let reproduce = reproduce(&scenario.path, seed);
    let mut record = match attempt(scenario, seed) {
        Ok(record) => record,
        Err(error) => return SeedRecord::failed(seed, error, reproduce),
    };
    record.reproduce = reproduce;
    if twice {
        let again = attempt(scenario, seed).map(|r| r.digest);
        let (status, observed) = match again {
            Ok(digest) if digest == record.digest => (
                Status::Pass,
                format!("the same event log twice (sha256 {})", &digest[..16]),
            ),
            Ok(digest) => (
                Status::Fail,
                format!(
                    "the second run's event log differs (sha256 {} then {})",
                    &record.digest[..16],
                    &digest[..16]
                ),
            ),
            Err(error) => (Status::Fail, format!("the second run failed: {error}")),
        };
        record.passed &= status == Status::Pass;
        record.verdicts.push(VerdictLine {
            key: DETERMINISM_KEY.to_string(),
            expectation: "the same event log when run again".to_string(),
            status,
            observed,
        });
    }
    record
}

/// One run of `scenario` with `seed`; `Err` when the simulation failed or panicked (a
/// harness bug: `run` exits 3).
fn attempt(scenario: &Scenario, seed: u64) -> Result<SeedRecord, String> {
    let result = std::panic::catch_unwind(|| executor::run(scenario, seed));
    let run = match result {
        Ok(Ok(run)) => run,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_panic) => {
            return Err("the harness panicked (a bug in the harness, not the scenario)".into());
        }
    };
    let outcome = Outcome::new(scenario, seed, &run.events);
    Ok(record(scenario, &outcome, &run))
}

/// The record of `run`, whose outcome is `outcome` (the reproduce command left empty).
pub fn record(scenario: &Scenario, outcome: &Outcome, run: &executor::Run) -> SeedRecord {
    let simulated_ms = u64::try_from(run.simulated.as_millis()).unwrap_or(u64::MAX);
    let figures = figures(scenario, outcome, &run.events);
    let mut record = SeedRecord::new(outcome, figures, simulated_ms);
    record.digest = digest(outcome, &run.events);
    record
}

/// The summary's four figures for one run.
pub fn figures(scenario: &Scenario, outcome: &Outcome, events: &Log) -> Figures {
    let observed_ms = |key: &str| {
        outcome
            .verdicts
            .iter()
            .filter(|v| v.key == key)
            .filter_map(|v| v.observed_ms)
            .max()
    };
    let requests = events.requests();
    let ok = requests.iter().filter(|r| r.outcome.is_ok()).count();
    let windows = failure_windows(&requests, scenario.expect.failure_gap());
    Figures {
        failover_ms: observed_ms("failover_max"),
        detection_ms: observed_ms("detection_max"),
        availability_pct: (!requests.is_empty()).then(|| ok as f64 * 100.0 / requests.len() as f64),
        longest_failure_window_ms: windows
            .iter()
            .map(|w| u64::try_from(w.length().as_millis()).unwrap_or(u64::MAX))
            .max(),
    }
}

/// SHA-256, hex, of every event and request of the log (as JSON lines) and of the full
/// JSON report, signups included: two runs with equal digests told the same story.
pub fn digest(outcome: &Outcome, events: &Log) -> String {
    let mut hasher = Sha256::new();
    for event in events.all() {
        hasher.update(serde_json::to_vec(&*event).expect("an event is plain data"));
        hasher.update(b"\n");
    }
    for request in events.requests() {
        hasher.update(serde_json::to_vec(&request).expect("a request is plain data"));
        hasher.update(b"\n");
    }
    hasher.update(json::render(outcome, json::Options { signups: true }));
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
