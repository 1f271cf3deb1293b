//! Checking a scenario's steps: each names exactly one action, real hosts, a time inside
//! the run, and makes sense after the steps before it (no restart of a node that is up,
//! no unblock of rules never added, no heal without a partition).

use std::collections::BTreeSet;
use std::time::Duration;

use super::invalid::{Invalid, Seg, key};
use super::spec::{Action, ClockSpec, ScenarioSpec, Step, StepSpec};
use crate::duration::span;
use crate::faults::{Block, ClockStep, PARTITION, Partition, PartitionShape};
use crate::topology::Topology;

/// The action keys a step may hold, for the error message.
const ACTIONS: &str =
    "crash, restart, isolate, split, one_way, bridge, heal, block, unblock, clock";

pub(super) fn check(spec: &ScenarioSpec, topology: &Topology) -> Result<Vec<Step>, Invalid> {
    let mut steps = Vec::new();
    for (i, step) in spec.steps.iter().enumerate() {
        let at = |k: &[&str]| {
            let mut p = vec![Seg::Key("steps".to_string()), Seg::Index(i)];
            p.extend(key(k));
            p
        };
        if step.at >= spec.duration {
            let message = format!(
                "{} is at or past the run's end (duration {}); expected a time before it",
                span(step.at),
                span(spec.duration)
            );
            return Err((at(&["at"]), message));
        }
        if let Some(c) = &step.clock
            && step_count(step) == 1
        {
            let changes =
                clock(c, step.at, spec.duration, topology).map_err(|(k, m)| (at(&k), m))?;
            if steps.len() + changes.len() > MAX_STEPS {
                return Err((at(&["clock", "for"]), too_many(steps.len() + changes.len())));
            }
            steps.extend(changes.into_iter().map(|(when, change)| {
                let node = c.node.clone();
                (
                    i,
                    Step {
                        at: when,
                        action: Action::Clock { node, change },
                    },
                )
            }));
            continue;
        }
        let action = action(step, topology).map_err(|(k, m)| (at(&k), m))?;
        if steps.len() >= MAX_STEPS {
            return Err((at(&["at"]), too_many(steps.len() + 1)));
        }
        steps.push((
            i,
            Step {
                at: step.at,
                action,
            },
        ));
    }
    steps.sort_by_key(|(_, s)| s.at);
    sequence(&steps)?;
    Ok(steps.into_iter().map(|(_, s)| s).collect())
}

/// Most steps a scenario may hold once its strobes are expanded into their flips: ten
/// strobes of nearly [`MAX_STROBE_FLIPS`] each. Without it a 1 MiB file of strobes, each
/// within its own bounds, expands to about 126 million steps (tens of gigabytes).
pub const MAX_STEPS: usize = 100_000;

fn too_many(count: usize) -> String {
    format!(
        "the steps come to {count} with this one, strobe flips included; expected at most {MAX_STEPS} in all (fewer or shorter strobes, or longer periods)"
    )
}

/// A key path inside one step, and what is wrong there.
type StepInvalid = (Vec<&'static str>, String);

/// How many action keys a step holds (exactly one is valid).
fn step_count(step: &StepSpec) -> usize {
    given(step).iter().filter(|g| **g).count()
}

fn given(step: &StepSpec) -> [bool; 10] {
    [
        step.crash.is_some(),
        step.restart.is_some(),
        step.isolate.is_some(),
        step.split.is_some(),
        step.one_way.is_some(),
        step.bridge.is_some(),
        step.heal.is_some(),
        step.block.is_some(),
        step.clock.is_some(),
        step.unblock.is_some(),
    ]
}

fn action(step: &StepSpec, topology: &Topology) -> Result<Action, StepInvalid> {
    if step_count(step) != 1 {
        return Err((vec![], format!("expected exactly one action: {ACTIONS}")));
    }
    let nodes = topology.node_names();
    let hosts: Vec<String> = topology.hosts.iter().map(|h| h.name.clone()).collect();
    // Any host but the users can crash: nodes, and the infrastructure (lb, dns, smtp).
    let crashable: Vec<String> = hosts.iter().filter(|h| *h != "users").cloned().collect();
    if let Some(c) = &step.crash {
        host(&c.node, &crashable, &["crash", "node"])?;
        return Ok(Action::Crash {
            node: c.node.clone(),
            mode: c.mode,
        });
    }
    if let Some(r) = &step.restart {
        host(&r.node, &crashable, &["restart", "node"])?;
        return Ok(Action::Restart {
            node: r.node.clone(),
        });
    }
    if let Some(b) = &step.block {
        return block(b, &hosts);
    }
    if let Some(u) = &step.unblock {
        return Ok(Action::Unblock { id: u.id.clone() });
    }
    partition(step, &nodes, &hosts)
}

/// The partition verbs: isolate, split, one_way, bridge, heal.
fn partition(step: &StepSpec, nodes: &[String], hosts: &[String]) -> Result<Action, StepInvalid> {
    let partition = |shape, disposition| Ok(Action::Partition(Partition { shape, disposition }));
    if let Some(p) = &step.isolate {
        node(&p.node, nodes, &["isolate", "node"])?;
        let rest: Vec<String> = nodes.iter().filter(|n| **n != p.node).cloned().collect();
        let node = p.node.clone();
        return partition(PartitionShape::Isolate { node, rest }, p.mode);
    }
    if let Some(p) = &step.split {
        split(&p.groups, hosts)?;
        let groups = p.groups.clone();
        return partition(PartitionShape::Split { groups }, p.mode);
    }
    if let Some(p) = &step.one_way {
        group(&p.from, hosts, &["one_way", "from"])?;
        group(&p.to, hosts, &["one_way", "to"])?;
        disjoint(&[p.from.clone(), p.to.clone()], &["one_way", "to"])?;
        let (from, to) = (p.from.clone(), p.to.clone());
        return partition(PartitionShape::OneWay { from, to }, p.mode);
    }
    if let Some(p) = &step.bridge {
        node(&p.node, nodes, &["bridge", "node"])?;
        let rest: Vec<String> = nodes.iter().filter(|n| **n != p.node).cloned().collect();
        if rest.len() < 2 {
            return Err((
                vec!["bridge", "node"],
                "expected at least three nodes for a bridge".to_string(),
            ));
        }
        let (left, right) = rest.split_at(rest.len().div_ceil(2));
        let shape = PartitionShape::Bridge {
            node: p.node.clone(),
            left: left.to_vec(),
            right: right.to_vec(),
        };
        return partition(shape, p.mode);
    }
    assert!(
        step.heal.is_some(),
        "exactly one action is present, and every other was handled"
    );
    Ok(Action::Heal)
}

/// Shortest time between two flips of a strobe.
pub const MIN_STROBE_PERIOD: Duration = Duration::from_millis(100);
/// Most flips one strobe may make.
pub const MAX_STROBE_FLIPS: u128 = 10_000;
/// Largest drift a clock step may set, in parts per million either way.
pub const MAX_DRIFT_PPM: f64 = 100_000.0;

/// A clock step's changes and when each applies: one for `offset`, `jump` and `drift`;
/// the flips of a `strobe`, then its return to the first offset.
fn clock(
    c: &ClockSpec,
    at: Duration,
    run: Duration,
    topology: &Topology,
) -> Result<Vec<(Duration, ClockStep)>, StepInvalid> {
    // Every host keeps time: nodes, the infrastructure, the internet's hosts, and the users
    // (whose clock judges the certificate's validity).
    let hosts: Vec<String> = topology.hosts.iter().map(|h| h.name.clone()).collect();
    host(&c.node, &hosts, &["clock", "node"])?;
    one_clock_action(c)?;
    if let Some(text) = &c.offset {
        let ns = signed_ns(text).map_err(|m| (vec!["clock", "offset"], m))?;
        return Ok(vec![(at, ClockStep::Offset(ns))]);
    }
    if let Some(text) = &c.jump {
        let ns = signed_ns(text).map_err(|m| (vec!["clock", "jump"], m))?;
        return Ok(vec![(at, ClockStep::Jump(ns))]);
    }
    if let Some(text) = &c.drift {
        let ppb = ppm(text).map_err(|m| (vec!["clock", "drift"], m))?;
        return Ok(vec![(at, ClockStep::Drift(ppb))]);
    }
    strobe(c, at, run)
}

/// Exactly one of `offset`, `jump`, `drift` and `strobe` in a clock step, and `period`
/// and `for` only with `strobe`.
fn one_clock_action(c: &ClockSpec) -> Result<(), StepInvalid> {
    let chosen = [
        c.offset.is_some(),
        c.jump.is_some(),
        c.drift.is_some(),
        c.strobe.is_some(),
    ];
    if chosen.iter().filter(|g| **g).count() != 1 {
        return Err((
            vec!["clock"],
            "expected exactly one of offset, jump, drift and strobe".to_string(),
        ));
    }
    if c.strobe.is_none() {
        for (given, key) in [(c.period.is_some(), "period"), (c.lasts.is_some(), "for")] {
            if given {
                let message = format!("{key} goes with strobe only; expected it only with strobe");
                return Err((vec!["clock", key], message));
            }
        }
    }
    Ok(())
}

/// A strobe step starting at `at`: a flip between its two offsets every period, then a
/// return to the first offset when it ends (before the run's end, `run`).
fn strobe(
    c: &ClockSpec,
    at: Duration,
    run: Duration,
) -> Result<Vec<(Duration, ClockStep)>, StepInvalid> {
    let (a, b) = strobe_offsets(c)?;
    let (period, lasts) = strobe_timing(c, at, run)?;
    let flips = lasts.as_nanos().div_ceil(period.as_nanos());
    if flips > MAX_STROBE_FLIPS {
        let message = format!(
            "{flips} flips; expected at most {MAX_STROBE_FLIPS} (a longer period or a shorter for)"
        );
        return Err((vec!["clock", "for"], message));
    }
    let mut changes: Vec<(Duration, ClockStep)> = (0..flips)
        .map(|k| {
            let when = at + period * u32::try_from(k).expect("flips are bounded");
            (when, ClockStep::Offset(if k % 2 == 0 { a } else { b }))
        })
        .collect();
    changes.push((at + lasts, ClockStep::Offset(a)));
    Ok(changes)
}

/// The strobe's two offsets, in nanoseconds.
fn strobe_offsets(c: &ClockSpec) -> Result<(i64, i64), StepInvalid> {
    let offsets = c.strobe.as_ref().expect("the one action left is strobe");
    let [a, b] = offsets.as_slice() else {
        return Err((
            vec!["clock", "strobe"],
            format!(
                "expected two offsets to alternate between, found {}",
                offsets.len()
            ),
        ));
    };
    let a = signed_ns(a).map_err(|m| (vec!["clock", "strobe"], m))?;
    let b = signed_ns(b).map_err(|m| (vec!["clock", "strobe"], m))?;
    Ok((a, b))
}

/// The strobe's period (at least [`MIN_STROBE_PERIOD`]) and how long it lasts (at least
/// a period, ending before the run's end, `run`, when it starts at `at`).
fn strobe_timing(
    c: &ClockSpec,
    at: Duration,
    run: Duration,
) -> Result<(Duration, Duration), StepInvalid> {
    let Some(period) = c.period else {
        return Err((
            vec!["clock", "period"],
            "expected a period with strobe".to_string(),
        ));
    };
    if period < MIN_STROBE_PERIOD {
        let message = format!("expected at least {}", span(MIN_STROBE_PERIOD));
        return Err((vec!["clock", "period"], message));
    }
    let Some(lasts) = c.lasts else {
        return Err((
            vec!["clock", "for"],
            "expected how long the strobe lasts (for)".to_string(),
        ));
    };
    if lasts < period {
        let message = format!("expected at least one period ({})", span(period));
        return Err((vec!["clock", "for"], message));
    }
    match at.checked_add(lasts) {
        Some(end) if end < run => Ok((period, lasts)),
        end => {
            let ends = end.map_or_else(
                || "beyond any run".to_string(),
                |e| format!("at {}", span(e)),
            );
            let message = format!(
                "the strobe ends {ends}, at or past the run's end ({}); expected it to end before",
                span(run)
            );
            Err((vec!["clock", "for"], message))
        }
    }
}

/// A drift such as "200ppm" or "-12.5ppm", in parts per billion.
fn ppm(text: &str) -> Result<i64, String> {
    let expected = "expected parts per million such as \"200ppm\" or \"-12.5ppm\"";
    let number = text
        .strip_suffix("ppm")
        .ok_or_else(|| format!("{text:?}: {expected}"))?;
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: {expected}"))?;
    if !value.is_finite() || value.abs() > MAX_DRIFT_PPM {
        return Err(format!(
            "{text:?}: expected at most {MAX_DRIFT_PPM}ppm either way"
        ));
    }
    #[allow(
        clippy::cast_possible_truncation,
        reason = "bounded by MAX_DRIFT_PPM above"
    )]
    Ok((value * 1000.0).round() as i64)
}

/// A signed duration such as "10m", "-2s" or "+500ms", in nanoseconds (at most a day).
pub(crate) fn signed_ns(text: &str) -> Result<i64, String> {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let d = crate::duration::parse(rest)
        .map_err(|e| e.replace("a duration string", "a signed duration string"))?;
    if d > std::time::Duration::from_secs(86_400) {
        return Err("expected at most a day either way".to_string());
    }
    Ok(sign * i64::try_from(d.as_nanos()).expect("a day fits"))
}

fn node(name: &str, nodes: &[String], path: &[&'static str]) -> Result<(), StepInvalid> {
    if nodes.iter().any(|n| n == name) {
        return Ok(());
    }
    Err((
        path.to_vec(),
        format!(
            "unknown node {name:?}; expected one of {}",
            nodes.join(", ")
        ),
    ))
}

fn host(name: &str, hosts: &[String], path: &[&'static str]) -> Result<(), StepInvalid> {
    if hosts.iter().any(|h| h == name) {
        return Ok(());
    }
    Err((
        path.to_vec(),
        format!(
            "unknown host {name:?}; expected one of {}",
            hosts.join(", ")
        ),
    ))
}

fn group(names: &[String], hosts: &[String], path: &[&'static str]) -> Result<(), StepInvalid> {
    if names.is_empty() {
        return Err((path.to_vec(), "expected at least one host".to_string()));
    }
    match names.iter().find(|n| !hosts.contains(n)) {
        None => Ok(()),
        Some(bad) => Err((
            path.to_vec(),
            format!("unknown host {bad:?}; expected one of {}", hosts.join(", ")),
        )),
    }
}

fn disjoint(groups: &[Vec<String>], path: &[&'static str]) -> Result<(), StepInvalid> {
    let mut seen = BTreeSet::new();
    match groups.iter().flatten().find(|n| !seen.insert(n.as_str())) {
        None => Ok(()),
        Some(twice) => Err((
            path.to_vec(),
            format!("{twice} is on both sides; expected disjoint groups"),
        )),
    }
}

/// A split's groups: at least two, of known hosts, disjoint.
fn split(groups: &[Vec<String>], hosts: &[String]) -> Result<(), StepInvalid> {
    if groups.len() < 2 {
        return Err((
            vec!["split", "groups"],
            "expected at least two groups".to_string(),
        ));
    }
    for g in groups {
        group(g, hosts, &["split", "groups"])?;
    }
    disjoint(groups, &["split", "groups"])
}

fn block(b: &super::spec::BlockSpec, hosts: &[String]) -> Result<Action, StepInvalid> {
    if b.id.trim().is_empty() || b.id == PARTITION {
        let message =
            format!("expected a non-empty id other than {PARTITION:?} (partitions use it)");
        return Err((vec!["block", "id"], message));
    }
    group(&b.from, hosts, &["block", "from"])?;
    group(&b.to, hosts, &["block", "to"])?;
    Ok(Action::Block(Block {
        id: b.id.clone(),
        from: b.from.clone(),
        to: b.to.clone(),
        both_ways: b.both_ways,
        ports: b.ports.clone(),
        protocol: b.protocol,
        disposition: b.action,
    }))
}

/// Steps in time order must make sense one after the other.
fn sequence(steps: &[(usize, Step)]) -> Result<(), Invalid> {
    let mut down = BTreeSet::new();
    let mut blocks = BTreeSet::new();
    let mut partitioned = false;
    for (i, step) in steps {
        let problem = match &step.action {
            Action::Crash { node, .. } => (!down.insert(node.clone()))
                .then(|| {
                    let message = format!(
                        "{node} is already down at that time; expected a restart before it crashes again"
                    );
                    ("crash", message)
                }),
            Action::Restart { node } => (!down.remove(node)).then(|| {
                (
                    "restart",
                    format!("{node} is not down at that time; expected an earlier crash"),
                )
            }),
            Action::Partition(_) => {
                partitioned = true;
                None
            }
            Action::Heal => (!std::mem::take(&mut partitioned))
                .then(|| {
                    let message = "no partition to heal at that time; expected an earlier isolate, split, one_way or bridge";
                    ("heal", message.to_string())
                }),
            Action::Block(Block { id, .. }) => (!blocks.insert(id.clone())).then(|| {
                (
                    "block",
                    format!(
                        "rules {id:?} are already in place at that time; expected an unblock first, or another id"
                    ),
                )
            }),
            Action::Unblock { id } => (!blocks.remove(id)).then(|| {
                (
                    "unblock",
                    format!("no rules {id:?} in place at that time; expected an earlier block"),
                )
            }),
            // A clock can be set or moved at any time, even while its host is down.
            Action::Clock { .. } => None,
        };
        if let Some((action, message)) = problem {
            let path = vec![
                Seg::Key("steps".to_string()),
                Seg::Index(*i),
                Seg::Key(action.to_string()),
            ];
            return Err((path, message));
        }
    }
    Ok(())
}
