//! `harness shrink FILE --seed N`: from a failing run, a smaller scenario that fails the
//! same verdicts.
//!
//! The run of seed N is replayed first with its steps explicit: the times drawn from
//! ranges, the nodes named by role resolved, the `[nemesis]` schedule expanded (the
//! executor's `Run::steps`), with `seed = N` in the file, so the result needs no `--seed`.
//! Then, greedily, one candidate per run, each kept when its run fails exactly the same
//! set of verdict keys (`failover_max`, `no_write_lost`...) and dropped otherwise:
//!
//! 1. drop steps: a fault and the steps that undo it go together (crash and restart,
//!    block and unblock, a partition and its heal, a clock fault until its clock is set
//!    right); halves of the list first, then quarters, down to one fault at a time;
//! 2. shorten faults: the undoing steps moved halfway towards the fault's start;
//! 3. later faults: the fault's start moved halfway towards its end;
//! 4. a shorter run: half the time after the last step (at least [`MIN_TAIL`]);
//! 5. lower load: half the rate (at least [`MIN_RATE_PER_S`]).
//!
//! The passes repeat until one whole round changes nothing, or the runs allowed
//! (`--max-runs`, [`DEFAULT_MAX_RUNS`]) are used up: the search is bounded in runs, not
//! in time, so its result depends on nothing but the file, the seed and the bound. A
//! candidate the loader refuses (a restart left without its crash) costs no run.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use super::toml::{Edits, write};
use crate::duration::{clock, span};
use crate::executor;
use crate::faults::{ClockStep, HostFault, PartitionShape};
use crate::report::Outcome;
use crate::report::verdicts::Mark;
use crate::scenario::{self, Action, Scenario, ScenarioError, Step};

/// Runs a shrink may use when `--max-runs` is not given, the first (the original run)
/// included.
pub const DEFAULT_MAX_RUNS: usize = 200;

/// The shortest a fault is shortened to.
pub const MIN_FAULT: Duration = Duration::from_secs(1);

/// The least time a shorter run keeps after its last step.
pub const MIN_TAIL: Duration = Duration::from_secs(5);

/// The lowest rate the load is lowered to, in requests per second.
pub const MIN_RATE_PER_S: f64 = 1.0;

/// Why there is nothing to shrink.
#[derive(Debug)]
pub enum ShrinkError {
    /// The file does not load.
    Scenario(ScenarioError),
    /// The run of that seed fails no verdict.
    Passes { seed: u64 },
    /// The simulation itself failed (a harness error, exit 3).
    Run(String),
    /// The steps made explicit no longer fail the same verdicts (a harness bug: a run
    /// is a function of its steps and seed).
    NotReproduced { wanted: String, got: String },
}

impl fmt::Display for ShrinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scenario(e) => write!(f, "{e}"),
            Self::Passes { seed } => write!(
                f,
                "seed {seed} fails no verdict; expected a failing run to shrink"
            ),
            Self::Run(e) => write!(f, "the simulation failed: {e}"),
            Self::NotReproduced { wanted, got } => write!(
                f,
                "the run's steps made explicit fail {got}, not {wanted} (a harness bug)"
            ),
        }
    }
}

/// What a shrink found.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The smaller scenario, as TOML: an ordinary file that `harness run` fails.
    pub text: String,
    /// The verdict keys it fails, as the original run did.
    pub failing: Vec<String>,
    /// Runs used, the original's included.
    pub runs: usize,
    /// The original run, its steps explicit.
    pub original: Edits,
    /// The smaller one.
    pub result: Edits,
}

/// The verdict keys a run of `scenario` with `seed` fails, and its steps as applied.
fn judge(scenario: &Scenario, seed: u64) -> Result<(BTreeSet<String>, Vec<Step>), String> {
    let run = std::panic::catch_unwind(|| executor::run(scenario, seed))
        .map_err(|_| "the harness panicked".to_string())?
        .map_err(|e| e.to_string())?;
    let outcome = Outcome::new(scenario, seed, &run.events);
    let failing = outcome
        .verdicts
        .iter()
        .filter(|v| v.status == Mark::Fail)
        .map(|v| v.key.to_string())
        .collect();
    Ok((failing, run.steps))
}

fn keys(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// Shrinks the run of `path` with `seed`, using at most `max_runs` runs; `progress`
/// hears one line per run.
pub fn shrink(
    path: &Path,
    seed: u64,
    max_runs: usize,
    progress: &mut dyn FnMut(String),
) -> Result<Shrunk, ShrinkError> {
    let bytes = scenario::load::read(path).map_err(ShrinkError::Scenario)?;
    let text = scenario::load::decode(path, &bytes).map_err(ShrinkError::Scenario)?;
    let loaded = scenario::parse(path, text).map_err(ShrinkError::Scenario)?;
    let (want, steps) = judge(&loaded, seed).map_err(ShrinkError::Run)?;
    if want.is_empty() {
        return Err(ShrinkError::Passes { seed });
    }
    progress(format!(
        "run 1/{max_runs}: seed {seed} fails {}, with {} steps applied",
        keys(&want),
        steps.len()
    ));
    let original = Edits {
        seed,
        duration: loaded.duration,
        rate_per_s: loaded.load.rate_per_s,
        steps,
    };
    let mut search = Search {
        path,
        text,
        want,
        runs: 1,
        max_runs: max_runs.max(2),
        best: original.clone(),
        progress,
    };
    if !search.attempt(original.clone(), "the same run, its steps explicit")? {
        return Err(ShrinkError::NotReproduced {
            wanted: keys(&search.want),
            got: "other verdicts".to_string(),
        });
    }
    while search.round()? {}
    Ok(Shrunk {
        text: write(text, &search.best),
        failing: search.want.iter().cloned().collect(),
        runs: search.runs,
        original,
        result: search.best,
    })
}

/// The search's state: the smallest failing candidate so far and the runs used.
struct Search<'a> {
    path: &'a Path,
    text: &'a str,
    want: BTreeSet<String>,
    runs: usize,
    max_runs: usize,
    best: Edits,
    progress: &'a mut dyn FnMut(String),
}

impl Search<'_> {
    fn budget(&self) -> bool {
        self.runs < self.max_runs
    }

    /// Runs `candidate` (unless the loader refuses it) and keeps it when it fails the same
    /// verdicts. True when kept.
    fn attempt(&mut self, candidate: Edits, what: &str) -> Result<bool, ShrinkError> {
        if !self.budget() {
            return Ok(false);
        }
        let text = write(self.text, &candidate);
        let Ok(scenario) = scenario::parse(self.path, &text) else {
            return Ok(false);
        };
        self.runs += 1;
        let (failing, _) = judge(&scenario, candidate.seed).map_err(ShrinkError::Run)?;
        let same = failing == self.want;
        let verdict = if same {
            "fails the same: kept".to_string()
        } else if failing.is_empty() {
            "passes: dropped".to_string()
        } else {
            format!("fails {} instead: dropped", keys(&failing))
        };
        (self.progress)(format!(
            "run {}/{}: {what}: {verdict}",
            self.runs, self.max_runs
        ));
        if same {
            self.best = candidate;
        }
        Ok(same)
    }

    /// One round of every pass; true when something was kept and runs remain.
    fn round(&mut self) -> Result<bool, ShrinkError> {
        let mut changed = self.drop_faults()?;
        changed |= self.move_faults(true)?;
        changed |= self.move_faults(false)?;
        changed |= self.shorter_run()?;
        changed |= self.lower_load()?;
        Ok(changed && self.budget())
    }

    /// Pass 1: drop faults, in chunks from half of them down to one.
    fn drop_faults(&mut self) -> Result<bool, ShrinkError> {
        let mut changed = false;
        let mut size = faults(&self.best.steps).len().div_ceil(2);
        while size > 0 && self.budget() {
            let mut i = 0;
            loop {
                let all = faults(&self.best.steps);
                if i >= all.len() || !self.budget() {
                    break;
                }
                let chunk: BTreeSet<usize> = all[i..(i + size).min(all.len())]
                    .iter()
                    .flatten()
                    .copied()
                    .collect();
                let mut candidate = self.best.clone();
                candidate.steps = (self.best.steps.iter().enumerate())
                    .filter(|(k, _)| !chunk.contains(k))
                    .map(|(_, s)| s.clone())
                    .collect();
                let what = format!("without {}", describe(&self.best.steps, &chunk));
                if self.attempt(candidate, &what)? {
                    changed = true;
                } else {
                    i += size;
                }
            }
            size /= 2;
        }
        Ok(changed)
    }

    /// Passes 2 and 3: each fault shortened (its undoing steps halfway to its start) or
    /// started later (its start halfway to its end).
    fn move_faults(&mut self, shorten: bool) -> Result<bool, ShrinkError> {
        let mut changed = false;
        let mut i = 0;
        while self.budget() {
            let all = faults(&self.best.steps);
            let Some(fault) = all.get(i) else { break };
            i += 1;
            let steps = &self.best.steps;
            let start = steps[fault[0]].at;
            let end = fault.iter().map(|k| steps[*k].at).max().unwrap_or(start);
            // Faults whose opening is one step and whose end is later than it.
            let (opening, undoing): (Vec<usize>, Vec<usize>) =
                fault.iter().partition(|k| steps[**k].at < end);
            if opening.len() != 1 || end - start < MIN_FAULT * 2 {
                continue;
            }
            let half = whole_ms((end - start) / 2);
            let mut candidate = self.best.clone();
            let what = if shorten {
                for k in &undoing {
                    candidate.steps[*k].at = start + half;
                }
                format!("{} lasting {}", describe_one(&steps[fault[0]]), span(half))
            } else {
                candidate.steps[fault[0]].at = start + half;
                format!(
                    "{} starting at {}",
                    describe_one(&steps[fault[0]]),
                    clock(start + half)
                )
            };
            candidate.steps.sort_by_key(|s| s.at);
            changed |= self.attempt(candidate, &what)?;
        }
        Ok(changed)
    }

    /// Pass 4: half the time after the last step, in whole seconds.
    fn shorter_run(&mut self) -> Result<bool, ShrinkError> {
        let last = self
            .best
            .steps
            .iter()
            .map(|s| s.at)
            .max()
            .unwrap_or_default();
        let tail = self.best.duration.saturating_sub(last);
        let shorter = last + (tail / 2).max(MIN_TAIL);
        let shorter = Duration::from_secs(shorter.as_secs() + 1);
        if shorter >= self.best.duration {
            return Ok(false);
        }
        let mut candidate = self.best.clone();
        candidate.duration = shorter;
        self.attempt(candidate, &format!("a run of {}", span(shorter)))
    }

    /// Pass 5: half the load.
    fn lower_load(&mut self) -> Result<bool, ShrinkError> {
        let lower = (self.best.rate_per_s / 2.0).max(MIN_RATE_PER_S);
        if lower >= self.best.rate_per_s {
            return Ok(false);
        }
        let mut candidate = self.best.clone();
        candidate.rate_per_s = lower;
        self.attempt(candidate, &format!("{lower} requests/s"))
    }
}

/// A duration rounded down to the millisecond.
fn whole_ms(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).expect("under an hour"))
}

/// The steps in faults: each step that opens one with the steps that undo it (a crash's
/// restart, a block's unblock, a partition's next heal, a clock's steps until it is set
/// to true time again), and every other step alone. Indices into `steps`, in order.
fn faults(steps: &[Step]) -> Vec<Vec<usize>> {
    let mut used = vec![false; steps.len()];
    let mut found = Vec::new();
    for i in 0..steps.len() {
        if used[i] {
            continue;
        }
        used[i] = true;
        let mut fault = vec![i];
        let undoes = |j: usize| match (&steps[i].action, &steps[j].action) {
            (Action::Crash { node, .. }, Action::Restart { node: n }) => node == n,
            (Action::Block(b), Action::Unblock { id }) => b.id == *id,
            (Action::Partition(_), Action::Heal) => true,
            (Action::Clock { node, .. }, Action::Clock { node: n, .. }) => node == n,
            (Action::Service(s), Action::Service(t)) => s.closing().as_ref() == Some(t),
            (
                Action::Host(HostFault::Pause { node }),
                Action::Host(HostFault::Resume { node: n }),
            ) => node == n,
            (
                Action::Host(HostFault::Slow { node, .. }),
                Action::Host(HostFault::Slow { node: n, factor }),
            ) => node == n && *factor == 1.0,
            (Action::Link(l), Action::Link(cleared)) => {
                l.impairment.is_some() && *cleared == l.cleared()
            }
            _ => false,
        };
        for j in i + 1..steps.len() {
            if used[j] || !undoes(j) {
                continue;
            }
            used[j] = true;
            fault.push(j);
            // A clock fault ends when the clock is set to true time; the others at once.
            if !matches!(steps[j].action, Action::Clock { change, .. } if change != ClockStep::Offset(0))
            {
                break;
            }
        }
        found.push(fault);
    }
    found
}

/// A step as the progress lines name it: `crash node-2 at 0:30.000`.
fn describe_one(step: &Step) -> String {
    let what = match &step.action {
        Action::Crash { node, .. } => format!("crash {node}"),
        Action::Restart { node } => format!("restart {node}"),
        Action::Host(fault) => format!("{} {}", fault.verb(), fault.node()),
        Action::Partition(p) => match &p.shape {
            PartitionShape::Isolate { node, .. } => format!("isolate {node}"),
            PartitionShape::Bridge { node, .. } => format!("bridge {node}"),
            PartitionShape::Split { .. } => "split".to_string(),
            PartitionShape::OneWay { .. } => "one_way".to_string(),
        },
        Action::Heal => "heal".to_string(),
        Action::Block(b) => format!("block {:?}", b.id),
        Action::Unblock { id } => format!("unblock {id:?}"),
        Action::Clock { node, .. } => format!("clock {node}"),
        Action::Service(s) => s.name(),
        Action::Link(l) => format!("link {}", l.ends()),
        Action::Ssh(session) => format!("ssh {} -> {}", session.from, session.to),
    };
    format!("{what} at {}", clock(step.at))
}

/// Several steps, named in order (at most a few, then how many more).
fn describe(steps: &[Step], which: &BTreeSet<usize>) -> String {
    const NAMED: usize = 4;
    let mut names: Vec<String> = which
        .iter()
        .take(NAMED)
        .map(|k| describe_one(&steps[*k]))
        .collect();
    if which.len() > NAMED {
        names.push(format!("{} more", which.len() - NAMED));
    }
    names.join(", ")
}
