//! A scenario's variation, drawn for one seed: the steps a run applies, in order.
//!
//! Everything here is a function of the checked scenario and the run's seed, so `harness
//! run FILE --seed N` applies exactly what any other run of seed N applies (a sweep's, a
//! shrink's). Two streams of the run's seed ([`crate::seed`]) are used, and only when the
//! file asks for variation, so a file without any draws nothing and its runs stay as they
//! were:
//!
//! - [`Component::Variation`]: first, in file order, one draw per `[[steps]]` entry whose
//!   `at` is a range (to [`super::nemesis::RESOLUTION_MS`]; the whole entry moves by it: a strobe's flips together) and one per
//!   `for` that is a range; then, while the run goes, one per node named `"a-secondary"`
//!   or `"any"` ([`Plan::resolve`], called by the executor when the step runs, since only
//!   then does the world know which nodes are up and which is primary);
//! - [`Component::Nemesis`]: the `[nemesis]` schedule ([`super::nemesis::schedule`]).
//!
//! Each draw is kept as a [`Drawn`] note on the step it moved, for the timeline.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::nemesis::uniform;
use super::spec::{Action, Range, Role, Scenario, Step};
use super::steps::{bridge_shape, isolate_shape};
use crate::duration::{clock, span};
use crate::faults::{Partition, PartitionShape};
use crate::seed::{self, Component};

/// One value drawn for a run: where in the file it was asked for, what it was drawn
/// from, and what came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drawn {
    /// `steps[2].at`, `steps[0].crash.node`, `nemesis fault 3`.
    pub key: String,
    /// `30s..40s`, `primary`, `crash`.
    pub from: String,
    /// `0:34.120`, `node-1`, `crash node-2 (power-off) for 12.3s`.
    pub value: String,
}

/// A step with its time drawn, and what was drawn for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub step: Step,
    pub drawn: Vec<Drawn>,
}

/// The steps of one run, and the stream that resolves roles as they run.
pub struct Plan {
    /// In the order they run: by drawn time, steps drawn at the same time in file order.
    pub steps: Vec<Planned>,
    roles: ChaCha8Rng,
    /// What each `[[steps]]` entry's role resolved to (`None`: nothing, the step skipped),
    /// so a strobe's flips and a fault's closing steps act on the node its first step hit.
    resolved: BTreeMap<usize, Option<String>>,
}

/// The nodes as a role is resolved against them, when the step runs.
pub struct Nodes {
    /// Every node, in topology order.
    pub all: Vec<String>,
    /// The nodes that are up, in topology order.
    pub up: Vec<String>,
    /// The primary, if there is one and it is up.
    pub primary: Option<String>,
}

/// The run of `scenario` with `seed`: every step time drawn, the nemesis expanded.
pub fn plan(scenario: &Scenario, seed: u64) -> Plan {
    let mut rng = ChaCha8Rng::seed_from_u64(seed::stream(seed, Component::Variation));
    let moves = draw_times(&scenario.steps, &mut rng);
    let mut noted = std::collections::BTreeSet::new();
    let mut steps: Vec<Planned> = scenario
        .steps
        .iter()
        .map(|s| {
            let (shift, extra, notes) = &moves[&s.origin];
            let mut step = s.clone();
            step.at += *shift
                + if s.lasts.is_some() {
                    *extra
                } else {
                    Duration::ZERO
                };
            let drawn = if noted.insert(s.origin) {
                notes.clone()
            } else {
                Vec::new()
            };
            Planned { step, drawn }
        })
        .collect();
    if let Some(nemesis) = &scenario.nemesis {
        steps.extend(nemesis_steps(nemesis, scenario, seed));
    }
    steps.sort_by_key(|p| p.step.at);
    Plan {
        steps,
        roles: rng,
        resolved: BTreeMap::new(),
    }
}

/// Per `[[steps]]` entry: how much later its steps run, how much longer its `for` lasts,
/// and the notes that say so (drawn in file order).
type Moves = BTreeMap<usize, (Duration, Duration, Vec<Drawn>)>;

fn draw_times(steps: &[Step], rng: &mut ChaCha8Rng) -> Moves {
    let mut entries: BTreeMap<usize, (Range, Option<Range>)> = BTreeMap::new();
    for s in steps {
        let entry = entries.entry(s.origin).or_insert((s.when, None));
        if s.lasts.is_some() {
            entry.1 = s.lasts;
        }
    }
    let mut moves = Moves::new();
    for (origin, (when, lasts)) in entries {
        let mut notes = Vec::new();
        let shift = uniform(rng, when.spread());
        if !when.spread().is_zero() {
            notes.push(Drawn {
                key: format!("steps[{origin}].at"),
                from: when.text(),
                value: clock(when.lo + shift),
            });
        }
        let extra = lasts.map_or(Duration::ZERO, |l| uniform(rng, l.spread()));
        if let Some(l) = lasts.filter(|l| !l.spread().is_zero()) {
            notes.push(Drawn {
                key: format!("steps[{origin}].for"),
                from: l.text(),
                value: span(l.lo + extra),
            });
        }
        moves.insert(origin, (shift, extra, notes));
    }
    moves
}

/// The nemesis's faults as steps, each fault's first step carrying its note.
fn nemesis_steps(
    nemesis: &super::spec::NemesisSpec,
    scenario: &Scenario,
    seed: u64,
) -> Vec<Planned> {
    let faults = super::nemesis::schedule(nemesis, &scenario.topology, seed);
    let mut steps = Vec::new();
    for (k, fault) in faults.into_iter().enumerate() {
        let number = k + 1;
        for (i, (at, action)) in fault.steps.into_iter().enumerate() {
            let drawn = if i == 0 {
                vec![Drawn {
                    key: format!("nemesis fault {number}"),
                    from: kind_word(fault.kind),
                    value: fault.text.clone(),
                }]
            } else {
                Vec::new()
            };
            steps.push(Planned {
                step: Step::fixed(at, action, k),
                drawn,
            });
        }
    }
    steps
}

/// A nemesis kind as the file writes it (`crash-process`).
fn kind_word(kind: super::spec::NemesisFault) -> String {
    let debug = format!("{kind:?}");
    let mut word = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            word.push('-');
        }
        word.push(c.to_ascii_lowercase());
    }
    word
}

impl Plan {
    /// The action `step` takes in the world as it is now: a node named by role resolved
    /// among `nodes` (once per `[[steps]]` entry; its later steps follow the first), with
    /// the note that says what it resolved to; `None` when the role matched no node then,
    /// and the step is skipped (the note says so).
    pub fn resolve(&mut self, step: &Step, nodes: &Nodes) -> (Option<Action>, Option<Drawn>) {
        let Some((verb, name)) = named(&step.action) else {
            return (Some(step.action.clone()), None);
        };
        let Some(role) = Role::parse(name) else {
            return (Some(step.action.clone()), None);
        };
        if let Some(resolved) = self.resolved.get(&step.origin) {
            return (
                resolved
                    .as_ref()
                    .map(|n| with_node(&step.action, n, &nodes.all)),
                None,
            );
        }
        let candidates: Vec<&String> = match role {
            Role::Primary => nodes.primary.iter().collect(),
            Role::Secondary => nodes
                .up
                .iter()
                .filter(|n| Some(*n) != nodes.primary.as_ref())
                .collect(),
            Role::Any => nodes.up.iter().collect(),
        };
        let picked = match candidates.len() {
            0 => None,
            1 => Some(candidates[0].clone()),
            n => Some(candidates[self.roles.random_range(0..n)].clone()),
        };
        self.resolved.insert(step.origin, picked.clone());
        let note = Drawn {
            key: format!("steps[{}].{verb}.node", step.origin),
            from: name.to_string(),
            value: picked
                .clone()
                .unwrap_or_else(|| format!("no node was {name} then: the step is skipped")),
        };
        (
            picked.map(|n| with_node(&step.action, &n, &nodes.all)),
            Some(note),
        )
    }
}

/// The node an action names, with its verb as the file writes it.
fn named(action: &Action) -> Option<(&'static str, &str)> {
    match action {
        Action::Crash { node, .. } => Some(("crash", node)),
        Action::Restart { node } => Some(("restart", node)),
        Action::Clock { node, .. } => Some(("clock", node)),
        Action::Host(fault) => Some((fault.verb(), fault.node())),
        Action::Partition(Partition {
            shape: PartitionShape::Isolate { node, .. },
            ..
        }) => Some(("isolate", node)),
        Action::Partition(Partition {
            shape: PartitionShape::Bridge { node, .. },
            ..
        }) => Some(("bridge", node)),
        _ => None,
    }
}

/// `action` acting on `node` instead of the role it named.
fn with_node(action: &Action, node: &str, nodes: &[String]) -> Action {
    let node_owned = node.to_string();
    match action {
        Action::Crash { mode, .. } => Action::Crash {
            node: node_owned,
            mode: *mode,
        },
        Action::Restart { .. } => Action::Restart { node: node_owned },
        Action::Host(fault) => Action::Host(fault.on(node)),
        Action::Clock { change, .. } => Action::Clock {
            node: node_owned,
            change: *change,
        },
        Action::Partition(p) => {
            let shape = match p.shape {
                PartitionShape::Isolate { .. } => isolate_shape(node, nodes),
                _ => bridge_shape(node, nodes),
            };
            Action::Partition(Partition {
                shape,
                disposition: p.disposition,
            })
        }
        other => other.clone(),
    }
}
