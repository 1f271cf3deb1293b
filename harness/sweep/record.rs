//! One seed's result as a sweep keeps it: the JSON line `--out DIR` writes per seed,
//! and what the summary, the JUnit report and `harness merge` are made from.
//!
//! A record is a view of the run's [`Outcome`]: each verdict's key, status and words, the
//! four figures the summary spreads out, and the one command that replays the seed. It
//! round-trips through JSON, so that shards' records merge into exactly the summary
//! one machine would have printed.

use serde::{Deserialize, Serialize};

use crate::report::Outcome;
use crate::report::verdicts::Mark;

/// A verdict's status, as records carry it (the report's words: `pass`, `FAIL`,
/// `not judged`, `vacuous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Status {
    #[serde(rename = "pass")]
    Pass,
    #[serde(rename = "vacuous")]
    Vacuous,
    #[serde(rename = "not judged")]
    NotJudged,
    #[serde(rename = "FAIL")]
    Fail,
}

impl Status {
    /// The status's word, as the report prints it.
    pub fn word(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Vacuous => "vacuous",
            Self::NotJudged => "not judged",
            Self::Fail => "FAIL",
        }
    }
}

impl From<Mark> for Status {
    fn from(mark: Mark) -> Self {
        match mark {
            Mark::Pass => Self::Pass,
            Mark::Fail => Self::Fail,
            Mark::NotJudged => Self::NotJudged,
            Mark::Vacuous => Self::Vacuous,
        }
    }
}

/// One verdict of one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictLine {
    /// The scenario key (`failover_max`) or the check's stable name (`no_write_lost`);
    /// the summary groups seeds by it, since the words may name what a seed drew.
    pub key: String,
    /// The expectation in the report's words.
    pub expectation: String,
    pub status: Status,
    /// What the run measured, or why the check was not judged or was vacuous.
    pub observed: String,
}

/// The figures the summary spreads out over the seeds; absent when the run did not
/// measure one (no failover without a lost primary, no window without a failure).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// From the primary's loss to a new primary (the `failover_max` verdict's figure).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failover_ms: Option<u64>,
    /// From a crash to the balancer taking the node out (`detection_max`; the longest,
    /// when the scenario crashes more than one).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detection_ms: Option<u64>,
    /// Requests that succeeded, in percent of those sent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub availability_pct: Option<f64>,
    /// The longest failure window the users saw (the report's windows, by the scenario's
    /// `failure_gap`); absent when no request failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub longest_failure_window_ms: Option<u64>,
}

/// One seed of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedRecord {
    pub seed: u64,
    /// No verdict failed (the run's exit would be 0 without `--strict`) and the
    /// simulation ran.
    pub passed: bool,
    /// Why the simulation itself failed (a harness error or panic: `run` exits 3).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    pub verdicts: Vec<VerdictLine>,
    pub figures: Figures,
    /// Simulated time the run covered, drain included.
    pub simulated_ms: u64,
    /// SHA-256 of the event log and the full JSON report, hex: equal digests are equal
    /// runs (`--check-determinism` compares two).
    pub digest: String,
    /// The command that replays this seed, with the harness's version.
    pub reproduce: String,
}

impl SeedRecord {
    /// The record of a run that produced `outcome`.
    pub fn new(outcome: &Outcome, figures: Figures, simulated_ms: u64) -> Self {
        Self {
            seed: outcome.seed,
            passed: outcome.passed,
            error: None,
            verdicts: outcome
                .verdicts
                .iter()
                .map(|v| VerdictLine {
                    key: v.key.to_string(),
                    expectation: v.expectation.clone(),
                    status: v.status.into(),
                    observed: v.observed.clone(),
                })
                .collect(),
            figures,
            simulated_ms,
            digest: String::new(),
            reproduce: String::new(),
        }
    }

    /// The record of a seed whose simulation failed with `error`.
    pub fn failed(seed: u64, error: String, reproduce: String) -> Self {
        Self {
            seed,
            passed: false,
            error: Some(error),
            verdicts: Vec::new(),
            figures: Figures::default(),
            simulated_ms: 0,
            digest: String::new(),
            reproduce,
        }
    }

    /// The verdicts that failed, by key, in report order, each key once.
    pub fn failed_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::new();
        for v in self.verdicts.iter().filter(|v| v.status == Status::Fail) {
            if !keys.contains(&v.key.as_str()) {
                keys.push(&v.key);
            }
        }
        keys
    }

    /// The verdicts not judged or vacuous: what `--strict` refuses.
    pub fn unpassed(&self) -> impl Iterator<Item = &VerdictLine> {
        self.verdicts
            .iter()
            .filter(|v| matches!(v.status, Status::NotJudged | Status::Vacuous))
    }

    /// The record as one JSON line (no newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a record is plain data")
    }
}
