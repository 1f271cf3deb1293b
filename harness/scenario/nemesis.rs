//! `[nemesis]`: a fault schedule drawn from the run's seed, in TigerBeetle's two phases.
//!
//! In the fault phase (`start` to `start + phase`) faults begin at random, the gaps
//! between their beginnings drawn from an exponential distribution of mean `mean_gap`;
//! each fault is of a kind drawn from those the file lists and that can happen then (a
//! node that is already down cannot crash, one partition at a time since `heal` removes
//! them all, one clock fault per host), on a target drawn among those it can hit, and is
//! undone after a time drawn from `fault_for`, by the phase's end at the latest. Then
//! nothing is wrong any more, and the convergence phase (the executor's, after the last
//! step) must reach liveness within `expect.converge_within`.
//!
//! The schedule is drawn before the run, from the [`Component::Nemesis`] stream alone, and
//! becomes ordinary steps ([`Fault::steps`]), so a run lists them in its timeline and
//! `harness shrink` can write them out as explicit steps. Crashes keep a majority of the
//! nodes up (so the fault phase tests failover, not a set with no quorum; a file that
//! wants more writes its steps).

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};

use super::invalid::{Invalid, key};
use super::spec::{Action, NemesisFault, NemesisSpec, ScenarioSpec};
use super::steps::{bridge_shape, isolate_shape};
use crate::duration::{offset, span};
use crate::faults::{
    Block, ClockStep, CrashMode, Disposition, HostFault, LinkFault, LinkImpairment, Partition,
    PartitionShape, Protocol,
};
use crate::seed::{self, Component};
use crate::topology::Topology;

/// The cluster's ports a firewall fault blocks: the replica set's (27017) and the
/// appliance's cluster control and webtask ports (`services::cluster_ports::PORTS`).
pub const CLUSTER_PORTS: [u16; 4] = [27017, 7777, 8721, 8701];

/// The shortest mean gap a file may ask for: below it faults would pile up faster than
/// a second apart on average.
pub const MIN_MEAN_GAP: Duration = Duration::from_secs(1);

/// The largest offset a clock fault sets, either way, in milliseconds (10 minutes).
pub const MAX_CLOCK_OFFSET_MS: u64 = 600_000;

/// The smallest offset a clock fault sets, either way, in milliseconds.
pub const MIN_CLOCK_OFFSET_MS: u64 = 1_000;

/// The range of a drift fault's frequency error, either way, in parts per billion
/// (50ppm to 500ppm).
pub const DRIFT_PPB: (i64, i64) = (50_000, 500_000);

/// The range of a strobe fault's period, in milliseconds.
pub const STROBE_PERIOD_MS: (u64, u64) = (1_000, 5_000);

/// The range of a link-latency fault's added latency, in milliseconds (a slow WAN hop to
/// a congested one); its jitter is drawn from 0 to half of it.
pub const LINK_LATENCY_MS: (u64, u64) = (20, 500);

/// The range of a link-loss fault's loss, in percent of the packets.
pub const LINK_LOSS_PCT: (u64, u64) = (1, 20);

/// The resolution of drawn times, in milliseconds: a multiple of every tick the loader
/// accepts (1ms, 2ms), so a drawn step lands on a tick boundary whatever the tick and
/// the same draw means the same moment at every tick.
pub const RESOLUTION_MS: u64 = 10;

/// A duration from 0 to `spread` included, in steps of [`RESOLUTION_MS`] (a spread
/// below one step draws 0); draws nothing for 0.
pub(crate) fn uniform(rng: &mut ChaCha8Rng, spread: Duration) -> Duration {
    if spread.is_zero() {
        return Duration::ZERO;
    }
    let steps =
        u64::try_from(spread.as_millis()).expect("spreads are under an hour") / RESOLUTION_MS;
    Duration::from_millis(rng.random_range(0..=steps) * RESOLUTION_MS)
}

/// True when the nemesis may crash nodes (and so restart them).
pub fn crashes(nemesis: &NemesisSpec) -> bool {
    nemesis
        .faults
        .iter()
        .any(|f| matches!(f, NemesisFault::Crash | NemesisFault::CrashProcess))
}

/// The meaning checks of a `[nemesis]` table.
pub(super) fn check(
    nemesis: &NemesisSpec,
    spec: &ScenarioSpec,
    topology: &Topology,
) -> Result<(), Invalid> {
    let at = |k: &str| key(&["nemesis", k]);
    if !spec.steps.is_empty() {
        let message = "a scenario with [nemesis] draws its steps; expected no [[steps]] beside it (or steps alone: `harness shrink` turns a nemesis into steps)";
        return Err((key(&["nemesis"]), message.to_string()));
    }
    if nemesis.faults.is_empty() {
        return Err((
            at("faults"),
            "expected at least one kind of fault".to_string(),
        ));
    }
    let nodes = topology.node_names().len();
    if nodes < 3 && nemesis.faults.contains(&NemesisFault::Bridge) {
        let message = format!(
            "bridge needs three nodes or more, and there are {nodes}; expected the other kinds only"
        );
        return Err((at("faults"), message));
    }
    let links = [NemesisFault::LinkLatency, NemesisFault::LinkLoss];
    if let Some(kind) = links.iter().find(|k| nemesis.faults.contains(*k))
        && nodes < 2
    {
        let message = format!(
            "{} acts on the links between nodes and there is {nodes}; expected two nodes or more, or the other kinds only",
            if *kind == NemesisFault::LinkLatency {
                "link-latency"
            } else {
                "link-loss"
            }
        );
        return Err((at("faults"), message));
    }
    if nemesis.mean_gap < MIN_MEAN_GAP {
        let message = format!("expected at least {}", span(MIN_MEAN_GAP));
        return Err((at("mean_gap"), message));
    }
    if nemesis.fault_for.lo.is_zero() || nemesis.fault_for.hi > spec.duration {
        let message = format!(
            "expected durations above 0s and at most the run's ({})",
            span(spec.duration)
        );
        return Err((at("fault_for"), message));
    }
    match nemesis.start.checked_add(nemesis.phase) {
        Some(end) if end < spec.duration && !nemesis.phase.is_zero() => Ok(()),
        end => {
            let ends = end.map_or_else(
                || "beyond any run".to_string(),
                |e| format!("at {}", span(e)),
            );
            let message = format!(
                "the fault phase ends {ends}, at or past the run's end (duration {}); expected a phase above 0s that ends before",
                span(spec.duration)
            );
            Err((at("phase"), message))
        }
    }
}

/// One drawn fault: its steps (opening, any strobe flips, then the ones that undo it)
/// and how the timeline names it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub kind: NemesisFault,
    /// What it does, to whom, for how long: `"crash node-2 (power-off) for 12.3s"`.
    pub text: String,
    pub steps: Vec<(Duration, Action)>,
}

/// What is busy until when while the schedule is drawn: a host's power, a host's clock,
/// the partitions, the egress.
#[derive(Default)]
struct Busy(BTreeMap<String, Duration>);

impl Busy {
    fn free(&self, what: &str, at: Duration) -> bool {
        self.0.get(what).is_none_or(|until| *until < at)
    }
}

/// The fault schedule of `nemesis` for a run seeded with `run_seed`, in order of
/// beginning.
pub fn schedule(nemesis: &NemesisSpec, topology: &Topology, run_seed: u64) -> Vec<Fault> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed::stream(run_seed, Component::Nemesis));
    let gap = Exp::new(1.0 / nemesis.mean_gap.as_secs_f64()).expect("mean_gap is checked >= 1s");
    let end = nemesis.start + nemesis.phase;
    let nodes = topology.node_names();
    let sites: Vec<String> = topology
        .hosts
        .iter()
        .filter(|h| h.role.is_internet_site())
        .map(|h| h.name.clone())
        .collect();
    let mut busy = Busy::default();
    let mut faults = Vec::new();
    let mut at = nemesis.start + whole_ms(gap.sample(&mut rng));
    while at < end {
        let lasts = nemesis.fault_for.lo + uniform(&mut rng, nemesis.fault_for.spread());
        let until = (at + lasts).min(end);
        let kinds: Vec<(NemesisFault, Vec<String>)> = nemesis
            .faults
            .iter()
            .map(|k| (*k, targets(*k, &nodes, &busy, at)))
            .filter(|(_, t)| !t.is_empty())
            .collect();
        if !kinds.is_empty() && until > at {
            let (kind, targets) = &kinds[rng.random_range(0..kinds.len())];
            let target = targets[rng.random_range(0..targets.len())].clone();
            let number = faults.len() + 1;
            let hosts = Hosts {
                nodes: &nodes,
                sites: &sites,
            };
            let mut fault = draw(*kind, &target, &hosts, number, &mut rng, (at, until));
            fault.text = format!("{} for {}", fault.text, span(until - at));
            for what in resources(*kind, &target) {
                busy.0.insert(what, until);
            }
            faults.push(fault);
        }
        at += whole_ms(gap.sample(&mut rng)).max(Duration::from_millis(RESOLUTION_MS));
    }
    faults
}

/// A draw in seconds, to [`RESOLUTION_MS`] (a tick boundary at every tick).
fn whole_ms(secs: f64) -> Duration {
    let steps = (secs * 1000.0 / RESOLUTION_MS as f64).round() as u64;
    Duration::from_millis(steps.saturating_mul(RESOLUTION_MS))
}

/// What a fault of `kind` on `target` keeps busy while it lasts.
fn resources(kind: NemesisFault, target: &str) -> Vec<String> {
    use NemesisFault::*;
    match kind {
        Crash | CrashProcess | SmtpDown | DnsDown | Pause => vec![format!("power {target}")],
        Isolate | Split | OneWay | Bridge => vec!["partitions".to_string()],
        ClockJump | ClockStrobe | ClockDrift => vec![format!("clock {target}")],
        EgressBlocked => vec!["egress".to_string()],
        // One link fault at a time: restoring one node's links would restore a link
        // another fault shares.
        LinkLatency | LinkLoss => vec!["links".to_string()],
        FirewallDrop | FirewallReject => Vec::new(),
    }
}

/// The hosts a fault of `kind` could hit at `at`; empty when it cannot happen then.
fn targets(kind: NemesisFault, nodes: &[String], busy: &Busy, at: Duration) -> Vec<String> {
    use NemesisFault::*;
    let power = |n: &String| busy.free(&format!("power {n}"), at);
    let down = nodes.iter().filter(|n| !power(n)).count();
    // Keep a majority up.
    let may_crash = down < nodes.len() - (nodes.len() / 2 + 1);
    let one = |host: &str, what: &str| {
        if busy.free(what, at) {
            vec![host.to_string()]
        } else {
            Vec::new()
        }
    };
    match kind {
        Crash | CrashProcess | Pause if may_crash => {
            nodes.iter().filter(|n| power(n)).cloned().collect()
        }
        Crash | CrashProcess | Pause => Vec::new(),
        Isolate | Split | OneWay | Bridge if nodes.len() >= 2 && busy.free("partitions", at) => {
            nodes.to_vec()
        }
        Isolate | Split | OneWay | Bridge => Vec::new(),
        LinkLatency | LinkLoss if nodes.len() >= 2 && busy.free("links", at) => nodes.to_vec(),
        LinkLatency | LinkLoss => Vec::new(),
        FirewallDrop | FirewallReject => nodes.to_vec(),
        ClockJump | ClockStrobe | ClockDrift => nodes
            .iter()
            .filter(|n| busy.free(&format!("clock {n}"), at))
            .cloned()
            .collect(),
        EgressBlocked => one("egress", "egress"),
        SmtpDown => one("smtp", "power smtp"),
        DnsDown => one("dns", "power dns"),
    }
}

/// The hosts faults are drawn among: the nodes, and the internet's sites.
struct Hosts<'a> {
    nodes: &'a [String],
    sites: &'a [String],
}

/// Fault number `number`, of `kind` on `target`, from `at` until `until`.
fn draw(
    kind: NemesisFault,
    target: &str,
    hosts: &Hosts,
    number: usize,
    rng: &mut ChaCha8Rng,
    (at, until): (Duration, Duration),
) -> Fault {
    use NemesisFault::*;
    let nodes = hosts.nodes;
    let t = target.to_string();
    let fault = |text: String, open: Vec<Action>, close: Vec<Action>| {
        let mut steps: Vec<(Duration, Action)> = open.into_iter().map(|a| (at, a)).collect();
        steps.extend(close.into_iter().map(|a| (until, a)));
        Fault { kind, text, steps }
    };
    let crash = |mode: CrashMode, word: &str| {
        fault(
            format!("crash {t} ({word})"),
            vec![Action::Crash {
                node: t.clone(),
                mode,
            }],
            vec![Action::Restart { node: t.clone() }],
        )
    };
    match kind {
        Crash | DnsDown => crash(CrashMode::PowerOff, "power-off"),
        CrashProcess | SmtpDown => crash(CrashMode::Process, "process"),
        Isolate | Split | OneWay | Bridge => {
            let partition = partition(kind, target, nodes, rng);
            let text = format!("{} {}", partition_word(kind), target_text(&partition));
            fault(text, vec![Action::Partition(partition)], vec![Action::Heal])
        }
        FirewallDrop | FirewallReject => {
            let block = firewall(kind, target, nodes, number);
            let text = format!(
                "firewall {} on ports {:?} between {t} and the other nodes",
                if kind == FirewallDrop {
                    "DROP"
                } else {
                    "REJECT"
                },
                CLUSTER_PORTS
            );
            let close = vec![Action::Unblock {
                id: block.id.clone(),
            }];
            fault(text, vec![Action::Block(block)], close)
        }
        EgressBlocked => {
            let block = egress_blocked(hosts.sites, number);
            let close = vec![Action::Unblock {
                id: block.id.clone(),
            }];
            let text = "egress refuses every internet site".to_string();
            fault(text, vec![Action::Block(block)], close)
        }
        ClockJump | ClockStrobe | ClockDrift => clock(kind, target, rng, (at, until)),
        Pause => fault(
            format!("pause {t}"),
            vec![Action::Host(HostFault::Pause { node: t.clone() })],
            vec![Action::Host(HostFault::Resume { node: t.clone() })],
        ),
        LinkLatency | LinkLoss => {
            let link = link(kind, target, nodes, rng);
            let close = vec![Action::Link(link.cleared())];
            fault(link_text(&link), vec![Action::Link(link)], close)
        }
    }
}

/// The egress refusing every internet site (`sites`), both ways.
fn egress_blocked(sites: &[String], number: usize) -> Block {
    Block {
        id: format!("nemesis-{number}"),
        from: vec!["egress".to_string()],
        to: sites.to_vec(),
        both_ways: true,
        ports: Vec::new(),
        protocol: Protocol::Any,
        disposition: Disposition::Reject,
    }
}

/// A link fault of `kind` on `node`'s links to the other nodes: latency (with jitter)
/// or loss, drawn in [`LINK_LATENCY_MS`] or [`LINK_LOSS_PCT`].
fn link(kind: NemesisFault, node: &str, nodes: &[String], rng: &mut ChaCha8Rng) -> LinkFault {
    let impairment = if kind == NemesisFault::LinkLatency {
        let latency_ms = rng.random_range(LINK_LATENCY_MS.0..=LINK_LATENCY_MS.1);
        LinkImpairment {
            latency_ms,
            jitter_ms: rng.random_range(0..=latency_ms / 2),
            ..LinkImpairment::default()
        }
    } else {
        let pct = rng.random_range(LINK_LOSS_PCT.0..=LINK_LOSS_PCT.1);
        LinkImpairment {
            loss: pct as f64 / 100.0,
            ..LinkImpairment::default()
        }
    };
    LinkFault {
        between: vec![node.to_string()],
        and: nodes.iter().filter(|n| *n != node).cloned().collect(),
        impairment: Some(impairment),
    }
}

/// `latency +120ms (jitter 30ms) between node-2 and node-1, node-3`, `loss 5% ...`.
fn link_text(link: &LinkFault) -> String {
    let what = match link.impairment {
        Some(i) if i.loss > 0.0 => format!("loss {}%", (i.loss * 100.0).round()),
        Some(i) => format!("latency +{}ms (jitter {}ms)", i.latency_ms, i.jitter_ms),
        None => "links restored".to_string(),
    };
    format!("{what} {}", link.ends())
}

fn partition_word(kind: NemesisFault) -> &'static str {
    match kind {
        NemesisFault::Isolate => "isolate",
        NemesisFault::Split => "split",
        NemesisFault::OneWay => "one-way",
        _ => "bridge",
    }
}

/// A partition's groups as the timeline names them.
fn target_text(p: &Partition) -> String {
    let mode = match p.disposition {
        Disposition::Drop => "drop",
        Disposition::Reject => "reject",
    };
    let groups = match &p.shape {
        PartitionShape::Isolate { node, .. } | PartitionShape::Bridge { node, .. } => node.clone(),
        PartitionShape::Split { groups } => groups
            .iter()
            .map(|g| format!("[{}]", g.join(", ")))
            .collect::<Vec<_>>()
            .join(" from "),
        PartitionShape::OneWay { from, to } => format!("{} -> {}", from.join(", "), to.join(", ")),
    };
    format!("{groups} ({mode})")
}

/// A partition of `kind` around `node`: isolated; split off with a minority drawn around
/// it and the load balancer; its traffic to the others cut one way; the bridge.
fn partition(kind: NemesisFault, node: &str, nodes: &[String], rng: &mut ChaCha8Rng) -> Partition {
    let disposition = if rng.random_bool(0.5) {
        Disposition::Drop
    } else {
        Disposition::Reject
    };
    let others: Vec<String> = nodes.iter().filter(|n| *n != node).cloned().collect();
    let shape = match kind {
        NemesisFault::Isolate => isolate_shape(node, nodes),
        NemesisFault::Bridge => bridge_shape(node, nodes),
        NemesisFault::OneWay => PartitionShape::OneWay {
            from: vec![node.to_string()],
            to: others,
        },
        _ => {
            // A minority: `node` and up to (n - 1) / 2 - 1 others, with the balancer.
            let size = rng.random_range(1..=nodes.len().saturating_sub(1).div_ceil(2).max(1));
            let mut minority = vec![node.to_string()];
            let mut rest = others;
            while minority.len() < size {
                minority.push(rest.remove(rng.random_range(0..rest.len())));
            }
            minority.push("lb".to_string());
            PartitionShape::Split {
                groups: vec![minority, rest],
            }
        }
    };
    Partition { shape, disposition }
}

/// Firewall rules on the cluster ports between `node` and the other nodes, both ways.
fn firewall(kind: NemesisFault, node: &str, nodes: &[String], number: usize) -> Block {
    Block {
        id: format!("nemesis-{number}"),
        from: vec![node.to_string()],
        to: nodes.iter().filter(|n| *n != node).cloned().collect(),
        both_ways: true,
        ports: CLUSTER_PORTS.to_vec(),
        protocol: Protocol::Tcp,
        disposition: if kind == NemesisFault::FirewallDrop {
            Disposition::Drop
        } else {
            Disposition::Reject
        },
    }
}

/// A clock fault on `node`: set off, strobing, or drifting, then set right (no drift,
/// no offset).
fn clock(
    kind: NemesisFault,
    node: &str,
    rng: &mut ChaCha8Rng,
    (at, until): (Duration, Duration),
) -> Fault {
    let sign = if rng.random_bool(0.5) { 1 } else { -1 };
    let off_ms = rng.random_range(MIN_CLOCK_OFFSET_MS..=MAX_CLOCK_OFFSET_MS);
    let off_ns = sign * i64::try_from(off_ms * 1_000_000).expect("at most 10 minutes");
    let set = |change| Action::Clock {
        node: node.to_string(),
        change,
    };
    let (text, mut steps) = match kind {
        NemesisFault::ClockJump => (
            format!("clock of {node} set {} off", offset(off_ns)),
            vec![(at, set(ClockStep::Offset(off_ns)))],
        ),
        NemesisFault::ClockDrift => {
            let ppb = sign * rng.random_range(DRIFT_PPB.0..=DRIFT_PPB.1);
            let text = format!("clock of {node} drifts {}ppm", ppb as f64 / 1000.0);
            (text, vec![(at, set(ClockStep::Drift(ppb)))])
        }
        _ => {
            let period = Duration::from_millis(
                rng.random_range(
                    STROBE_PERIOD_MS.0 / RESOLUTION_MS..=STROBE_PERIOD_MS.1 / RESOLUTION_MS,
                ) * RESOLUTION_MS,
            );
            let mut flips = Vec::new();
            let mut when = at;
            while when < until {
                let k = flips.len();
                flips.push((
                    when,
                    set(ClockStep::Offset(if k % 2 == 0 { off_ns } else { 0 })),
                ));
                when += period;
            }
            let text = format!(
                "clock of {node} strobes between true time and {} every {}",
                offset(off_ns),
                span(period)
            );
            (text, flips)
        }
    };
    steps.push((until, set(ClockStep::Drift(0))));
    steps.push((until, set(ClockStep::Offset(0))));
    Fault { kind, text, steps }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::spec::Range;

    fn links_only(kinds: Vec<NemesisFault>) -> NemesisSpec {
        NemesisSpec {
            faults: kinds,
            start: Duration::from_secs(10),
            phase: Duration::from_secs(300),
            mean_gap: Duration::from_secs(5),
            fault_for: Range {
                lo: Duration::from_secs(5),
                hi: Duration::from_secs(20),
            },
        }
    }

    /// Proves the link kinds draw a node's links to the other nodes with a latency (and a
    /// jitter of at most half of it) or a loss within their ranges, restore the same
    /// links when undone, and never overlap (one link fault at a time).
    #[test]
    fn link_faults_in_range_one_at_a_time() {
        let topology = Topology::ha3();
        let nemesis = links_only(vec![NemesisFault::LinkLatency, NemesisFault::LinkLoss]);
        let faults = schedule(&nemesis, &topology, 7);
        assert!(faults.len() >= 5, "{faults:?}");
        let kinds: Vec<NemesisFault> = faults.iter().map(|f| f.kind).collect();
        assert!(
            kinds.contains(&NemesisFault::LinkLatency) && kinds.contains(&NemesisFault::LinkLoss)
        );
        let mut free_from = Duration::ZERO;
        for fault in &faults {
            let [(at, Action::Link(open)), (until, Action::Link(close))] = &fault.steps[..] else {
                panic!("{fault:?}");
            };
            assert!(*at >= free_from, "overlaps the one before: {fault:?}");
            free_from = *until;
            assert_eq!(open.between.len(), 1);
            assert_eq!(open.and.len(), 2);
            assert!(!open.and.contains(&open.between[0]));
            assert_eq!(*close, open.cleared());
            let i = open.impairment.expect("a fault sets something");
            if fault.kind == NemesisFault::LinkLatency {
                assert!((LINK_LATENCY_MS.0..=LINK_LATENCY_MS.1).contains(&i.latency_ms));
                assert!(i.jitter_ms <= i.latency_ms / 2 && i.loss == 0.0);
                assert!(fault.text.starts_with("latency +"), "{}", fault.text);
            } else {
                let pct = i.loss * 100.0;
                assert!(pct >= LINK_LOSS_PCT.0 as f64 && pct <= LINK_LOSS_PCT.1 as f64);
                assert_eq!(i.latency_ms, 0);
                assert!(fault.text.starts_with("loss "), "{}", fault.text);
            }
        }
    }
}
