//! Checking a scenario's steps: each names exactly one action, real hosts, a time inside
//! the run, and makes sense after the steps before it (no restart of a node that is up,
//! no unblock of rules never added, no heal without a partition).

use std::collections::BTreeSet;
use std::time::Duration;

use super::invalid::{Invalid, Seg, key};
use super::spec::{Action, ClockSpec, Role, ScenarioSpec, Step, StepSpec};
use crate::duration::span;
use crate::faults::{Block, ClockStep, PARTITION, Partition, PartitionShape};
use crate::topology::Topology;

use super::names::{disjoint, group, host, target};

/// The action keys a step may hold, for the error message.
const ACTIONS: &str = "crash, restart, isolate, split, one_way, bridge, heal, block, unblock, clock, pause, resume, slow, link, dns, smtp, lb, egress, ssh, update";

pub(super) fn check(spec: &ScenarioSpec, topology: &Topology) -> Result<Vec<Step>, Invalid> {
    let mut steps: Vec<Step> = Vec::new();
    for (i, step) in spec.steps.iter().enumerate() {
        // An update is an operation, not a fault: checked by `super::update`.
        if step.update.is_some() {
            continue;
        }
        let at = |k: &[&str]| step_path(i, k);
        times(step, spec.duration).map_err(|(k, m)| (at(&k), m))?;
        let opening = opening(step, spec.duration, topology).map_err(|(k, m)| (at(&k), m))?;
        let closing = match step.lasts {
            Some(_) => opening.first().map(|(_, a)| closing(a)).unwrap_or_default(),
            None => Vec::new(),
        };
        let count = steps.len() + opening.len() + closing.len();
        if count > MAX_STEPS {
            let key: &[&str] = if step.clock.is_some() {
                &["clock", "for"]
            } else {
                &["at"]
            };
            return Err((at(key), too_many(count)));
        }
        steps.extend(opening.into_iter().map(|(when, action)| Step {
            at: when,
            action,
            origin: i,
            when: step.at,
            lasts: None,
        }));
        steps.extend(closing.into_iter().map(|action| Step {
            at: step.at.lo + step.lasts.map_or(Duration::ZERO, |l| l.lo),
            action,
            origin: i,
            when: step.at,
            lasts: step.lasts,
        }));
    }
    // Stable: steps at the same time keep their file order.
    steps.sort_by_key(|s| s.at);
    roles_and_names(&steps)?;
    keep_order(&steps)?;
    sequence(&steps)?;
    Ok(steps)
}

/// The key path of `steps[i]` and the keys below it.
fn step_path(i: usize, k: &[&str]) -> Vec<Seg> {
    let mut p = vec![Seg::Key("steps".to_string()), Seg::Index(i)];
    p.extend(key(k));
    p
}

/// A step's `at` (its latest draw included) before the run's end, and its `for` on a
/// fault step only, above 0s, with the fault closed before the run's end.
fn times(step: &StepSpec, run: Duration) -> Result<(), StepInvalid> {
    if step.at.hi >= run {
        let message = format!(
            "{} is at or past the run's end (duration {}); expected a time before it",
            step.at.text(),
            span(run)
        );
        return Err((vec!["at"], message));
    }
    let Some(lasts) = step.lasts else {
        return Ok(());
    };
    let faults = step.crash.is_some()
        || step.isolate.is_some()
        || step.split.is_some()
        || step.one_way.is_some()
        || step.bridge.is_some()
        || step.block.is_some()
        || step.clock.as_ref().is_some_and(|c| c.strobe.is_none())
        || super::service_steps::undoable(step)
        || step.pause.is_some()
        || step.slow.is_some()
        || step.link.as_ref().is_some_and(|l| !l.clear);
    if !faults {
        let message = "for goes with a fault that a later step can undo; expected it with crash, isolate, split, one_way, bridge, block, pause, slow, link (not clear), a clock offset, jump or drift (a strobe has its own for), a dns or smtp answer other than normal, or an lb drain";
        return Err((vec!["for"], message.to_string()));
    }
    if lasts.lo.is_zero() {
        return Err((vec!["for"], "expected a duration above 0s".to_string()));
    }
    match step.at.hi.checked_add(lasts.hi) {
        Some(ends) if ends < run => {}
        ends => {
            let ends = ends.map_or_else(
                || "beyond any run".to_string(),
                |e| format!("at {}", span(e)),
            );
            let message = format!(
                "the fault may end {ends}, at or past the run's end (duration {}); expected it to end before",
                span(run)
            );
            return Err((vec!["for"], message));
        }
    }
    Ok(())
}

/// The actions one `[[steps]]` entry opens with, each with its earliest time: one, or a
/// strobe's flips.
fn opening(
    step: &StepSpec,
    run: Duration,
    topology: &Topology,
) -> Result<Vec<(Duration, Action)>, StepInvalid> {
    if let Some(c) = &step.clock
        && step_count(step) == 1
    {
        // A strobe drawn later ends later: judge its end at the latest draw.
        let latest = step.at.hi;
        let changes = clock(c, latest, run, topology)?;
        let shift = step.at.spread();
        return Ok(changes
            .into_iter()
            .map(|(when, change)| {
                let node = c.node.clone();
                (when - shift, Action::Clock { node, change })
            })
            .collect());
    }
    Ok(vec![(step.at.lo, action(step, topology)?)])
}

/// The steps that undo a fault given a `for`: a restart, a heal, an unblock, or a clock
/// set right (no drift, then no offset).
fn closing(action: &Action) -> Vec<Action> {
    match action {
        Action::Crash { node, .. } => vec![Action::Restart { node: node.clone() }],
        Action::Partition(_) => vec![Action::Heal],
        Action::Block(b) => vec![Action::Unblock { id: b.id.clone() }],
        Action::Clock { node, .. } => vec![
            Action::Clock {
                node: node.clone(),
                change: ClockStep::Drift(0),
            },
            Action::Clock {
                node: node.clone(),
                change: ClockStep::Offset(0),
            },
        ],
        Action::Service(s) => s.closing().map(Action::Service).into_iter().collect(),
        Action::Host(fault) => super::host_steps::closing(fault),
        Action::Link(fault) => super::link_steps::closing(fault),
        Action::Restart { .. } | Action::Heal | Action::Unblock { .. } | Action::Ssh(_) => {
            unreachable!("times() allows for on faults only")
        }
    }
}

/// What a step acts on, for the order its draws must keep: a node's power, a rule id,
/// the partitions; `None` for clocks, which any order leaves valid.
fn subject(action: &Action) -> Option<String> {
    match action {
        Action::Crash { node, .. } | Action::Restart { node } => Some(format!("node {node}")),
        Action::Block(Block { id, .. }) | Action::Unblock { id } => Some(format!("rules {id:?}")),
        Action::Partition(_) | Action::Heal => Some("the partitions".to_string()),
        Action::Clock { .. } => None,
        Action::Service(s) => s.opens().or_else(|| s.undoes()),
        Action::Host(fault) => Some(super::host_steps::subject(fault)),
        Action::Link(_) => Some("the links".to_string()),
        // Sessions may overlap and come in any order.
        Action::Ssh(_) => None,
    }
}

/// Steps whose times are drawn must keep their order against every other step on the
/// same subject, whatever the draw (so the order checked below is the order of every
/// run): each may be drawn no later than the earliest time of the next (two partitions
/// may trade places; a step and the closing step of its own `for` always keep theirs).
fn keep_order(steps: &[Step]) -> Result<(), Invalid> {
    let mut last: std::collections::BTreeMap<String, &Step> = std::collections::BTreeMap::new();
    for step in steps {
        let Some(subject) = subject(&step.action) else {
            continue;
        };
        if let Some(before) = last.get(&subject)
            && before.origin != step.origin
            && before.latest() > step.at
            && !matches!(
                (&before.action, &step.action),
                (Action::Partition(_), Action::Partition(_))
            )
        {
            let message = format!(
                "this step (at {}) may be drawn before steps[{}] (at {}{}), which acts on {subject} too; expected times that keep their order in every draw",
                step.when.text(),
                before.origin,
                before.when.text(),
                before
                    .lasts
                    .map(|l| format!(" for {}", l.text()))
                    .unwrap_or_default()
            );
            return Err((step_path(step.origin, &["at"]), message));
        }
        last.insert(subject, step);
    }
    Ok(())
}

/// Nodes are crashed by role or by name, not both: a role picks among the nodes that are
/// up, and could pick the node a named step expects to crash later.
fn roles_and_names(steps: &[Step]) -> Result<(), Invalid> {
    let crashed = |role: bool| {
        steps.iter().find(|s| {
            matches!(&s.action, Action::Crash { node, .. }
                if Role::parse(node).is_some() == role && (role || node.starts_with("node-")))
        })
    };
    if let (Some(by_role), Some(by_name)) = (crashed(true), crashed(false)) {
        let later = by_role.origin.max(by_name.origin);
        let message = format!(
            "steps[{}] crashes a node by role and steps[{}] one by name; expected one or the other (a role picks among the nodes up, and could pick the one a named step crashes)",
            by_role.origin, by_name.origin
        );
        return Err((step_path(later, &["crash", "node"]), message));
    }
    Ok(())
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

/// Which of the action keys `step` holds (an `update` is read apart, by
/// [`super::update`], and must stand alone).
pub(super) fn given(step: &StepSpec) -> [bool; 19] {
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
        step.pause.is_some(),
        step.resume.is_some(),
        step.slow.is_some(),
        step.link.is_some(),
        step.dns.is_some(),
        step.smtp.is_some(),
        step.lb.is_some(),
        step.egress.is_some(),
        step.ssh.is_some(),
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
        target(&c.node, &nodes, &crashable, &["crash", "node"])?;
        return Ok(Action::Crash {
            node: c.node.clone(),
            mode: c.mode,
        });
    }
    if let Some(r) = &step.restart {
        if Role::parse(&r.node).is_some() {
            let message = format!(
                "{:?} is a role; expected a node's name (to restart a node named by role, give its crash a `for`)",
                r.node
            );
            return Err((vec!["restart", "node"], message));
        }
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
    if let Some(service) = super::service_steps::action(step, topology) {
        return service;
    }
    if let Some(host_fault) = super::host_steps::action(step, &nodes, &crashable)? {
        return Ok(host_fault);
    }
    if let Some(link) = super::link_steps::action(step, &hosts)? {
        return Ok(link);
    }
    if let Some(ssh) = super::access_steps::action(step, topology) {
        return ssh;
    }
    partition(step, &nodes, &hosts)
}

/// The partition verbs: isolate, split, one_way, bridge, heal.
fn partition(step: &StepSpec, nodes: &[String], hosts: &[String]) -> Result<Action, StepInvalid> {
    let partition = |shape, disposition| Ok(Action::Partition(Partition { shape, disposition }));
    if let Some(p) = &step.isolate {
        target(&p.node, nodes, nodes, &["isolate", "node"])?;
        return partition(isolate_shape(&p.node, nodes), p.mode);
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
        target(&p.node, nodes, nodes, &["bridge", "node"])?;
        if nodes.len() < 3 {
            return Err((
                vec!["bridge", "node"],
                "expected at least three nodes for a bridge".to_string(),
            ));
        }
        return partition(bridge_shape(&p.node, nodes), p.mode);
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
    target(&c.node, &topology.node_names(), &hosts, &["clock", "node"])?;
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

/// `isolate`'s shape: `node` cut off from the other nodes (in topology order). With a
/// role, the executor builds it again once the role is resolved.
pub(crate) fn isolate_shape(node: &str, nodes: &[String]) -> PartitionShape {
    let rest: Vec<String> = nodes.iter().filter(|n| *n != node).cloned().collect();
    PartitionShape::Isolate {
        node: node.to_string(),
        rest,
    }
}

/// `bridge`'s shape: the other nodes in two halves (the first one larger), `node` in
/// both. With a role, the executor builds it again once the role is resolved.
pub(crate) fn bridge_shape(node: &str, nodes: &[String]) -> PartitionShape {
    let rest: Vec<String> = nodes.iter().filter(|n| *n != node).cloned().collect();
    let (left, right) = rest.split_at(rest.len().div_ceil(2));
    PartitionShape::Bridge {
        node: node.to_string(),
        left: left.to_vec(),
        right: right.to_vec(),
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
fn sequence(steps: &[Step]) -> Result<(), Invalid> {
    let mut down = BTreeSet::new();
    let mut blocks = BTreeSet::new();
    let mut partitioned = false;
    let mut services = super::service_steps::InForce::default();
    let mut paused = super::host_steps::Paused::default();
    for step in steps {
        if let Action::Crash { node, .. } = &step.action {
            paused.crashed(node);
        }
        let problem = match &step.action {
            Action::Host(fault) => paused.check(fault, &down),
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
            Action::Service(s) => services.next(s),
            // A link can be set at any time, replacing its setting, or restored (a no-op
            // on a link never impaired).
            Action::Link(_) => None,
            // A session may be tried at any time: a refusal is what the step shows.
            Action::Ssh(_) => None,
        };
        if let Some((action, message)) = problem {
            let path = vec![
                Seg::Key("steps".to_string()),
                Seg::Index(step.origin),
                Seg::Key(action.to_string()),
            ];
            return Err((path, message));
        }
    }
    Ok(())
}
