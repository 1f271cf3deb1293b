//! The world: turmoil's `Sim` with every host of a topology running its service.
//!
//! Construction follows docs/ARCHITECTURE.md section 4: the run's seed goes to turmoil's
//! `rng_seed`, a fixed [`EPOCH_UNIX_S`] to its `epoch`, and link latencies are fixed (minimum
//! equals maximum), so nothing about a run depends on the machine or the moment.
//!
//! turmoil polls a host only when it has something to do (`skip_idle_hosts`, the vendored
//! patch 0002): a message for it, a deadline a service registered through
//! [`crate::timers`], or a change of the world; [`World::idle_ticks`] and
//! [`World::skip_idle`] let the executor jump the ticks in which no host has. Every fault
//! below ends with the executor's [`World::wake_all`].
//!
//! Faults are applied here, between ticks, on turmoil's primitives:
//! - a power-off crash holds every link of the node, then drops its software: whatever it
//!   or anyone else sends on those links (the FINs its dying sockets emit, new SYNs, data)
//!   is held and never delivered, so peers see silence and time out;
//! - a process crash drops its software, whose dying sockets close their connections, and
//!   marks the host as refusing in the [`FaultTable`], so new connections are refused at
//!   once as a live kernel with no listener refuses them (turmoil alone would leave them
//!   unanswered);
//! - a restart undoes either (for a power-off, turmoil's `repair`, which does not release
//!   what was held: packets sent to a dead machine stay lost) and starts the software
//!   afresh.
//!
//! The dev/test instance `dev-1` (when `[topology.dev] enabled = true`) runs the node's
//! code as a replica set of one, apart from production's set: the world keeps its member
//! aside, so production's health, convergence and checkers never see it, and records its
//! data at the end as an `EventKind::DevFinal`. Its LAN is fenced by a [`Boundary`] every
//! host's socket layer applies; see [`crate::services::dev_tester`].

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Adjustment;
use crate::clock::EPOCH_UNIX_S;
use crate::env::Env;
use crate::events::{
    ClockCause, EXECUTOR, EventKind, MemberFinal, NetworkChange, PrimaryLoss, Recorder,
};
use crate::faults::link::TCP_RTO_MIN;
use crate::faults::{
    Block, ClockStep, CrashMode, Disposition, HostFault, LinkFault, PARTITION, Partition, Protocol,
};
use crate::seed;
use crate::services::connector::{self, ConnectorConfig};
use crate::services::database::{self, SharedMember};
use crate::services::dev_tester;
use crate::services::dns;
use crate::services::egress;
use crate::services::internet;
use crate::services::lb_admin::LbAdmin;
use crate::services::load_balancer;
use crate::services::node::{self, NodeControl};
use crate::services::ntp;
use crate::services::replica_set::Member;
use crate::services::replica_set::OpRef;
use crate::services::smtp;
use crate::services::users::{self, UsersConfig};
use crate::tls::Identity;
use crate::topology::{DEV_LAN, DevNetwork, LoadSettings, PROD_LAN, Role, Topology};
use crate::wiring;
use crate::world::clock::{ClockHandle, SimClock};
use crate::world::net::{Boundary, FaultTable, Rule, SimNet};
use crate::world::update::{Command, Operator, Seen};
use crate::world::view::{MemberView, PrimarySeen};

mod access;
mod service;
use service::ServiceSwitches;

/// How a run is set up, besides its topology.
#[derive(Debug, Clone)]
pub struct RunSetup {
    pub seed: u64,
    /// Turmoil's tick: the resolution of simulated time.
    pub tick: Duration,
    /// How long the users send new requests.
    pub load_for: Duration,
    /// The simulation refuses to run past this (turmoil's `simulation_duration`).
    pub max_duration: Duration,
    pub load: LoadSettings,
    /// The scenario has a planned operation (a rolling update): the nodes take an
    /// operator's step-down requests. Without one they run no task for it, so that runs
    /// without an update schedule their tasks exactly as before.
    pub operated: bool,
}

/// A failure of the simulation itself (a host's software returned an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the simulation failed at {at:?}: {message}")]
pub struct WorldError {
    pub at: Duration,
    pub message: String,
}

/// What turmoil is told about one pair of hosts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Link {
    Healthy,
    /// Messages held forever: silence, even on established connections.
    Held,
    /// Messages dropped both ways.
    Cut,
    /// Messages dropped in the listed directions only.
    OneWay(Vec<(IpAddr, IpAddr)>),
}

/// Who is shown every message the network carries ([`World::observe`]).
pub type Observer = Box<dyn FnMut(&turmoil::Observation<'_>)>;

/// A running world.
pub struct World {
    sim: turmoil::Sim<'static>,
    topology: Topology,
    recorder: Recorder,
    faults: FaultTable,
    /// Every node's replica-set member: the world owns the data files.
    members: BTreeMap<String, SharedMember>,
    /// The dev/test instance's name and its member (a set of one), when deployed.
    dev: Option<(String, SharedMember)>,
    /// Nodes that are down, and how they went down.
    down: BTreeMap<String, CrashMode>,
    /// Active partition cuts, by address.
    cuts: Vec<(Vec<IpAddr>, Vec<IpAddr>, bool, Disposition)>,
    /// What turmoil was last told about each pair that is not healthy.
    links: BTreeMap<(IpAddr, IpAddr), Link>,
    /// Each host's wall-clock offset in milliseconds, shared with its clock.
    clocks: BTreeMap<String, ClockHandle>,
    /// The balancer's runtime administration, shared with its software.
    lb_admin: Arc<LbAdmin>,
    /// Each node's version and step-down requests, shared with its software.
    controls: BTreeMap<String, Arc<NodeControl>>,
    /// The rolling update in progress, if one began.
    operator: Option<Operator>,
    /// A node to ask to step down once every host has caught up with the clock (see
    /// [`World::operate`]).
    step_down_due: Option<String>,
    /// The switches of the faults injected into services (`world::service`).
    services: ServiceSwitches,
    /// Hosts a `pause` step stopped, until their `resume` (or a crash).
    paused: std::collections::BTreeSet<String>,
    /// Each node's slowness, shared with its service.
    speeds: BTreeMap<String, node::Speed>,
    /// The SSH clients' requests, by the host they run on (`[topology.access]`).
    ssh_clients: BTreeMap<String, crate::services::ssh::SshRequests>,
    /// Sessions asked for, to hand to their clients at the next [`World::operate`].
    ssh_due: Vec<crate::faults::access::SshSession>,
}

impl World {
    /// Builds the simulation with every host of `topology` registered and started.
    pub fn new(topology: &Topology, setup: &RunSetup) -> Self {
        // Before any TLS configuration or certificate is made: they draw from the seed.
        crate::tls::seed_this_thread(seed::stream(setup.seed, seed::Component::Tls));
        let mut sim = simulation(topology, setup);
        let wires = Wires::new(topology, setup.operated);
        let members = wiring::members(topology, setup.seed);
        let dev = topology
            .with_role(Role::DevNode)
            .next()
            .map(|h| (h.name.clone(), wiring::dev_member(topology, h, setup.seed)));
        let clocks = register_all(&mut sim, topology, setup, &wires, &members, dev.as_ref());
        // Standing firewall rules are in force before any host starts.
        standing_firewall(topology, &wires.faults);
        internet_latencies(&mut sim, topology);
        Self {
            sim,
            topology: topology.clone(),
            recorder: wires.recorder,
            faults: wires.faults,
            members,
            dev,
            down: BTreeMap::new(),
            cuts: Vec::new(),
            links: BTreeMap::new(),
            clocks,
            lb_admin: wires.lb_admin,
            controls: wires.controls,
            operator: None,
            step_down_due: None,
            services: wires.services,
            paused: Default::default(),
            speeds: wires.speeds,
            ssh_clients: wires.ssh_clients,
            ssh_due: Vec::new(),
        }
    }

    /// Shows `observer` every message the network carries from now on (turmoil's
    /// capture hook): for packet capture; it cannot change what happens.
    pub fn observe(&mut self, observer: Observer) {
        self.sim.observe(observer);
    }

    /// Simulated time since the run began.
    pub fn elapsed(&self) -> Duration {
        self.sim.elapsed()
    }

    /// Advances the simulation by one tick.
    pub fn step(&mut self) -> Result<(), WorldError> {
        self.sim.step().map(drop).map_err(|e| WorldError {
            at: self.sim.elapsed(),
            message: e.to_string(),
        })
    }

    /// How many of the next ticks are certain to run no host (no message due, no
    /// service timer due, nothing changed by a step): `u64::MAX` when nothing is
    /// pending at all.
    pub fn idle_ticks(&self) -> u64 {
        self.sim.idle_steps()
    }

    /// Advances the simulation by `ticks` ticks in which no host runs (at most
    /// [`World::idle_ticks`]), at the cost of one: every clock and message in flight
    /// moves as that many [`World::step`]s would move them.
    pub fn skip_idle(&mut self, ticks: u64) -> Result<(), WorldError> {
        self.sim.skip_idle_steps(ticks).map_err(|e| WorldError {
            at: self.sim.elapsed(),
            message: e.to_string(),
        })
    }

    /// Has every host run in the next tick: a step changed something hosts observe
    /// outside turmoil's network (a firewall rule, a clock, a crash mode).
    pub fn wake_all(&mut self) {
        self.sim.wake_all();
    }

    /// The event log so far.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Records what a scenario step did (it sorts first among its tick's events).
    fn record(&self, kind: EventKind) {
        self.recorder.record_step_at(self.elapsed(), EXECUTOR, kind);
    }

    fn address(&self, host: &str) -> IpAddr {
        self.topology
            .host(host)
            .expect("steps name hosts checked against the topology")
            .address
    }

    fn addresses(&self, hosts: &[String]) -> Vec<IpAddr> {
        hosts.iter().map(|h| self.address(h)).collect()
    }

    /// Crashes a host (it must be up: the scenario loader checks the sequence).
    pub fn crash(&mut self, node: &str, mode: CrashMode) {
        assert!(
            !self.down.contains_key(node),
            "the scenario loader only crashes nodes that are up"
        );
        let ip = self.address(node);
        self.down.insert(node.to_string(), mode);
        // Power off (or kill) a stopped machine: its pause ends with it (turmoil's too).
        self.paused.remove(node);
        match mode {
            // Hold first, so the FINs the dying sockets send are held too.
            CrashMode::PowerOff => self.sync_links(),
            CrashMode::Process => self.faults.set_refusing(ip, true),
        }
        // The crash is recorded before the host's software is dropped: whatever that
        // drop causes is its effect.
        self.record(EventKind::Crashed {
            node: node.to_string(),
            mode,
        });
        self.sim.crash(ip);
    }

    /// True while a step has `host` crashed (for resolving a node named by role).
    pub fn is_down(&self, host: &str) -> bool {
        self.down.contains_key(host)
    }

    /// Restarts a crashed host with fresh software (a node keeps its data files).
    pub fn restart(&mut self, node: &str) {
        let mode = self
            .down
            .remove(node)
            .expect("the scenario loader only restarts nodes that are down");
        let ip = self.address(node);
        match mode {
            CrashMode::PowerOff => self.sync_links(),
            CrashMode::Process => self.faults.set_refusing(ip, false),
        }
        self.record(EventKind::Restarted {
            node: node.to_string(),
        });
        let now = self.elapsed();
        if let Some(member) = self.members.get(node) {
            lock(member).restart(now);
        }
        if let Some((_, member)) = self.dev.as_ref().filter(|(name, _)| name == node) {
            lock(member).restart(now);
        }
        self.sim.bounce(ip);
    }

    /// Adds a partition's cuts: socket rules for new connections and datagrams, and
    /// turmoil link states for established connections.
    pub fn partition(&mut self, partition: &Partition) {
        for cut in partition.cuts() {
            let (from, to) = (self.addresses(&cut.from), self.addresses(&cut.to));
            let mut rules = vec![rule(PARTITION, &from, &to, cut.disposition)];
            if !cut.one_way {
                rules.push(rule(PARTITION, &to, &from, cut.disposition));
            }
            self.faults.add_rules(rules);
            self.cuts.push((from, to, cut.one_way, cut.disposition));
        }
        self.sync_links();
        self.record(EventKind::Network(NetworkChange::Partitioned(
            partition.clone(),
        )));
    }

    /// Sets, moves or re-rates a host's wall clock.
    pub fn set_clock(&mut self, host: &str, change: ClockStep) {
        let (adjustment, cause) = match change {
            ClockStep::Offset(ns) => (Adjustment::Offset(ns), ClockCause::Set),
            ClockStep::Jump(ns) => (Adjustment::Step(ns), ClockCause::Jump),
            ClockStep::Drift(ppb) => (Adjustment::Drift(ppb), ClockCause::Drift),
        };
        let setting = self.clocks[host].adjust(self.elapsed(), adjustment);
        self.record(EventKind::ClockChanged {
            node: host.to_string(),
            setting,
            cause,
        });
    }

    /// Pauses, resumes or slows a host's software (the loader checks the sequence: a
    /// pause of a host that is up and not paused, a resume of a paused one).
    pub fn host_fault(&mut self, fault: &HostFault) {
        let node = fault.node().to_string();
        let ip = self.address(&node);
        // Recorded first: whatever the change causes is its effect.
        self.record(EventKind::Host(fault.clone()));
        match fault {
            HostFault::Pause { .. } => {
                self.paused.insert(node);
                self.sim.pause(ip);
            }
            HostFault::Resume { .. } => {
                self.paused.remove(&node);
                self.sim.resume(ip);
            }
            HostFault::Slow { factor, .. } => {
                let speed = self.speeds.get(&node);
                speed.expect("the loader slows nodes only").set(*factor);
            }
        }
    }

    /// Impairs or restores the links a `link` step names (turmoil's patch 0005): each
    /// pair gets its own latency plus the step's, its jitter, its loss (a lost TCP
    /// segment retransmitted from [`TCP_RTO_MIN`]) and its bandwidth; restored, its own
    /// latency alone.
    pub fn link_fault(&mut self, fault: &LinkFault) {
        // Recorded first: whatever the change causes is its effect.
        self.record(EventKind::Link(fault.clone()));
        let impairment = fault.impairment.unwrap_or_default();
        for (a, b) in fault.pairs() {
            let (a, b) = (self.address(&a), self.address(&b));
            let latency =
                own_latency(&self.topology, a, b) + Duration::from_millis(impairment.latency_ms);
            self.sim.set_link_latency(a, b, latency);
            let jitter = Duration::from_millis(impairment.jitter_ms);
            self.sim.set_link_jitter(a, b, jitter);
            self.sim.set_link_loss(a, b, impairment.loss, TCP_RTO_MIN);
            let bytes_per_s = impairment.bandwidth_kb_per_s.map(|kb| kb * 1000);
            self.sim.set_link_bandwidth(a, b, bytes_per_s);
        }
    }

    /// True while a `pause` step has `host` stopped.
    pub fn is_paused(&self, host: &str) -> bool {
        self.paused.contains(host)
    }

    /// Removes every partition (firewall rules stay).
    pub fn heal(&mut self) {
        self.faults.remove_rules(PARTITION);
        self.cuts.clear();
        self.sync_links();
        self.record(EventKind::Network(NetworkChange::Healed));
    }

    /// Adds a block's firewall rules under its id (new connections and datagrams only).
    pub fn block(&mut self, block: &Block) {
        let rules = Rule::block(block, |hosts| self.addresses(hosts));
        self.faults.add_rules(rules);
        self.record(EventKind::Network(NetworkChange::Blocked(block.clone())));
    }

    /// Removes the firewall rules added under `id`.
    pub fn unblock(&mut self, id: &str) {
        let removed = self.faults.remove_rules(id);
        self.record(EventKind::Network(NetworkChange::Unblocked {
            id: id.to_string(),
            removed,
        }));
    }

    /// Brings turmoil's links in line with crashes and partitions. A link that changes is
    /// first repaired (which leaves whatever it held undelivered: lost), then set.
    fn sync_links(&mut self) {
        let hosts: Vec<IpAddr> = self.topology.hosts.iter().map(|h| h.address).collect();
        let off: Vec<IpAddr> = self
            .down
            .iter()
            .filter(|(_, m)| **m == CrashMode::PowerOff)
            .map(|(n, _)| self.address(n))
            .collect();
        for (k, &a) in hosts.iter().enumerate() {
            for &b in &hosts[k + 1..] {
                let want = self.wanted_link(a, b, &off);
                let had = self.links.get(&(a, b)).cloned().unwrap_or(Link::Healthy);
                if want == had {
                    continue;
                }
                self.sim.repair(a, b);
                match &want {
                    Link::Healthy => {}
                    Link::Held => self.sim.hold(a, b),
                    Link::Cut => self.sim.partition(a, b),
                    Link::OneWay(dirs) => dirs
                        .iter()
                        .for_each(|(x, y)| self.sim.partition_oneway(*x, *y)),
                }
                if want == Link::Healthy {
                    self.links.remove(&(a, b));
                } else {
                    self.links.insert((a, b), want);
                }
            }
        }
    }

    fn wanted_link(&self, a: IpAddr, b: IpAddr, off: &[IpAddr]) -> Link {
        if off.contains(&a) || off.contains(&b) {
            return Link::Held;
        }
        let mut dirs = Vec::new();
        let mut two_way = None;
        for (from, to, one_way, action) in &self.cuts {
            for (x, y) in [(a, b), (b, a)] {
                if from.contains(&x) && to.contains(&y) {
                    if *one_way {
                        dirs.push((x, y));
                    } else {
                        two_way = two_way.max(Some(*action));
                    }
                }
            }
        }
        match two_way {
            Some(Disposition::Drop) => Link::Held,
            Some(Disposition::Reject) => Link::Cut,
            None if dirs.is_empty() => Link::Healthy,
            None => {
                dirs.sort();
                dirs.dedup();
                Link::OneWay(dirs)
            }
        }
    }

    /// The current primary (the primary member of the highest term), its term, and what
    /// the fault table says of it: whether its host is down and how many nodes it reaches
    /// both ways on 27017. `None` when no member is primary.
    pub fn primary_seen(&self) -> Option<(String, u64, PrimarySeen)> {
        let (node, _, term) = self
            .members
            .iter()
            .map(|(n, m)| {
                let m = lock(m);
                (n.clone(), m.role(), m.term())
            })
            .filter(|(_, role, _)| *role == crate::services::replica_set::MemberRole::Primary)
            .max_by_key(|(_, _, term)| *term)?;
        let seen = PrimarySeen {
            down: self.down.contains_key(&node),
            paused: self.paused.contains(&node),
            reaches: self.reaches(&node),
            members: self.topology.node_names().len(),
        };
        Some((node, term, seen))
    }

    /// Records that a step lost the primary `node` of `term`, and why.
    pub fn record_primary_lost(&self, node: String, term: u64, why: PrimaryLoss) {
        self.record(EventKind::PrimaryLost { node, term, why });
    }

    /// The nodes that are up and that `node` reaches both ways on the database port, by
    /// the fault table, itself included.
    fn reaches(&self, node: &str) -> usize {
        let ip = self.address(node);
        let ok = |a: IpAddr, b: IpAddr| {
            self.faults
                .verdict(a, SocketAddr::new(b, database::PORT), Protocol::Tcp)
                .is_none()
        };
        self.topology
            .node_names()
            .iter()
            .filter(|n| !self.down.contains_key(*n))
            .filter(|n| {
                let other = self.address(n);
                other == ip || (ok(ip, other) && ok(other, ip))
            })
            .count()
    }

    /// Hands `f` a view of every member that is up, for the convergence checker.
    pub fn up_members<R>(&self, f: impl FnOnce(&[MemberView]) -> R) -> R {
        let up: Vec<_> = self
            .members
            .iter()
            .filter(|(n, _)| !self.down.contains_key(*n))
            .map(|(_, m)| lock(m))
            .collect();
        let views: Vec<MemberView> = up
            .iter()
            .map(|m| MemberView {
                name: m.name(),
                primary: m.role() == crate::services::replica_set::MemberRole::Primary,
                term: m.term(),
                follows: m.primary(),
                log: m.log(),
                oldest_pending_mail_ms: m.oldest_pending_mail_ms(),
            })
            .collect();
        f(&views)
    }

    /// Records every member's final data for the checkers.
    pub fn record_final_state(&self) {
        for (node, member) in &self.members {
            let m = lock(member);
            let signups = m
                .log()
                .iter()
                .filter_map(|e| match e.op {
                    OpRef::Signup { user, .. } => Some(user.to_string()),
                    OpRef::NewPrimary | OpRef::MailSent { .. } => None,
                })
                .collect();
            let at = self.elapsed();
            self.recorder.record_at(
                at,
                EXECUTOR,
                EventKind::MemberFinal(MemberFinal {
                    node: node.clone(),
                    up: !self.down.contains_key(node),
                    role: format!("{:?}", m.role()).to_lowercase(),
                    term: m.term(),
                    last_index: m.last_index(),
                    last_term: m.log().last().map_or(0, |e| e.term),
                    signups,
                    domain: self.topology.domain.clone(),
                }),
            );
        }
        if let Some((name, member)) = &self.dev {
            let m = lock(member);
            let signups = m
                .log()
                .iter()
                .filter(|e| matches!(e.op, OpRef::Signup { .. }))
                .count();
            let kind = EventKind::DevFinal {
                signups,
                mail_queued: m.pending_mail().len(),
            };
            self.recorder.record_at(self.elapsed(), name, kind);
        }
    }
}

/// The world's side of a planned rolling update: it resolves the order, shows the
/// operator ([`Operator`]) what it sees of the node being updated, and carries out and
/// records what the operator decides. A node stopped for its install goes down as a
/// process crash does (connections refused, its data kept) but is recorded as the
/// update's phase, not as a fault.
impl World {
    /// Begins the rolling update `plan`.
    pub fn start_update(&mut self, plan: &crate::scenario::update::Update) {
        let order = plan.order.clone().unwrap_or_else(|| self.default_order());
        let from = order
            .iter()
            .map(|n| (n.clone(), self.controls[n].version()))
            .collect();
        let (operator, commands) =
            Operator::start(plan, order, from, self.topology.lb.rise, self.elapsed());
        self.carry_out(commands);
        self.operator = Some(operator);
        self.operate();
    }

    /// The default order: the secondaries (and nodes down) in name order, the primary
    /// last.
    fn default_order(&self) -> Vec<String> {
        let primary = self.primary_seen().map(|(n, _, _)| n);
        let mut order: Vec<String> = self.topology.node_names();
        order.sort_by_key(|n| (Some(n) == primary.as_ref(), n.clone()));
        order
    }

    /// Lets the operator look and act; true when it did something.
    ///
    /// A step-down request wakes the node's software from outside turmoil. A host that
    /// was skipped as idle runs what such a wake-up starts while its clock catches up, at
    /// the time it was last polled; so the request is passed on one tick after every
    /// host was made to poll (and catch up), and the node records its step-down when it
    /// happens.
    pub fn operate(&mut self) -> bool {
        self.pass_on_sessions();
        if let Some(node) = self.step_down_due.take() {
            self.controls[&node].ask_step_down();
            self.wake_all();
        }
        let mut acted = false;
        loop {
            let Some(mut operator) = self.operator.take() else {
                return acted;
            };
            let commands = match operator.node().map(str::to_string) {
                Some(node) => operator.next(self.elapsed(), self.seen(&node)),
                None => Vec::new(),
            };
            self.operator = Some(operator);
            if commands.is_empty() {
                return acted;
            }
            acted = true;
            self.carry_out(commands);
            self.wake_all();
        }
    }

    /// When time alone would move the operator on.
    pub fn operation_deadline(&self) -> Option<Duration> {
        self.operator.as_ref().and_then(Operator::deadline)
    }

    fn backend_index(&self, node: &str) -> usize {
        self.topology
            .node_names()
            .iter()
            .position(|n| n == node)
            .expect("the update names nodes of the topology")
    }

    /// What the operator sees of `node` now.
    fn seen(&self, node: &str) -> Seen {
        let i = self.backend_index(node);
        let up = |n: &str| !self.down.contains_key(n);
        let is_primary = |n: &str| {
            up(n)
                && lock(&self.members[n]).role()
                    == crate::services::replica_set::MemberRole::Primary
        };
        let commit = self
            .members
            .keys()
            .find(|n| is_primary(n))
            .map(|n| lock(&self.members[n]).commit());
        let caught_up = up(node) && {
            let m = lock(&self.members[node]);
            m.primary().is_some() && commit.is_some_and(|c| m.last_index() >= c)
        };
        Seen {
            in_flight: self.lb_admin.in_flight(i),
            primary: is_primary(node),
            primary_elsewhere: self.members.keys().any(|n| n != node && is_primary(n)),
            caught_up,
            passes: self.lb_admin.passes(i),
        }
    }

    fn carry_out(&mut self, commands: Vec<Command>) {
        for command in commands {
            match command {
                Command::Drain { node, drained } => {
                    self.services.operator.set(&node, drained);
                }
                Command::StepDown { node } => self.step_down_due = Some(node),
                Command::Stop { node } => self.stop_for_update(&node),
                Command::Start { node, version } => self.start_after_update(&node, &version),
                Command::Record(phase) => self.recorder.record_step_at(
                    self.elapsed(),
                    crate::events::update::OPERATOR,
                    EventKind::Update(phase),
                ),
            }
        }
    }

    /// Stops `node` for its install: its software dropped, its kernel refusing.
    fn stop_for_update(&mut self, node: &str) {
        let ip = self.address(node);
        self.down.insert(node.to_string(), CrashMode::Process);
        self.faults.set_refusing(ip, true);
        self.sim.crash(ip);
    }

    /// Installs `version` on `node` and starts it; the balancer's count of its passed
    /// checks starts afresh.
    fn start_after_update(&mut self, node: &str, version: &str) {
        let ip = self.address(node);
        self.down.remove(node);
        self.faults.set_refusing(ip, false);
        self.controls[node].install(version);
        self.lb_admin.checked(self.backend_index(node), false);
        let now = self.elapsed();
        lock(&self.members[node]).restart(now);
        self.sim.bounce(ip);
    }
}

fn lock(member: &SharedMember) -> std::sync::MutexGuard<'_, Member> {
    member
        .lock()
        .expect("no code panics while holding a member")
}

fn rule(id: &str, from: &[IpAddr], to: &[IpAddr], disposition: Disposition) -> Rule {
    Rule {
        id: id.to_string(),
        from: from.to_vec(),
        to: to.to_vec(),
        ports: Vec::new(),
        protocol: Protocol::Any,
        disposition,
    }
}

/// The turmoil simulation of a run: seeded from the run's seed, starting at the epoch,
/// stepping by the tick, every message taking the LAN's latency unless a link says
/// otherwise.
fn simulation(topology: &Topology, setup: &RunSetup) -> turmoil::Sim<'static> {
    let lan = topology.network.lan_latency;
    turmoil::Builder::new()
        .rng_seed(seed::stream(setup.seed, seed::Component::Turmoil))
        .epoch(std::time::UNIX_EPOCH + Duration::from_secs(EPOCH_UNIX_S))
        .tick_duration(setup.tick)
        .simulation_duration(setup.max_duration)
        .min_message_latency(lan)
        .max_message_latency(lan)
        // Every wait of every service is registered (crate::timers), so a host with
        // nothing to do is not polled and idle stretches can be jumped.
        .skip_idle_hosts(true)
        .build()
}

/// Registers every host of `topology`, each with its replica-set member (`members` by
/// node name, `dev` for `dev-1`); each host's clock handle, by name.
fn register_all(
    sim: &mut turmoil::Sim<'static>,
    topology: &Topology,
    setup: &RunSetup,
    wires: &Wires,
    members: &BTreeMap<String, SharedMember>,
    dev: Option<&(String, SharedMember)>,
) -> BTreeMap<String, ClockHandle> {
    let mut clocks = BTreeMap::new();
    let identity = wiring::identity(topology, Duration::from_secs(EPOCH_UNIX_S));
    for host in &topology.hosts {
        let member = match (dev, host.role) {
            (Some((_, m)), Role::DevNode) => Some(m),
            _ => members.get(&host.name),
        };
        let clock = register(sim, topology, setup, wires, member, &identity, host);
        clocks.insert(host.name.clone(), clock);
    }
    clocks
}

/// Adds the topology's standing firewall rules (`topology.firewall[i]`) to `faults`.
fn standing_firewall(topology: &Topology, faults: &FaultTable) {
    let address_of = |names: &[String]| -> Vec<IpAddr> {
        names
            .iter()
            .filter_map(|n| topology.host(n).map(|h| h.address))
            .collect()
    };
    for (i, r) in topology.firewall.iter().enumerate() {
        let block = Block {
            id: format!("topology.firewall[{i}]"),
            from: r.from.clone(),
            to: r.to.clone(),
            both_ways: r.both_ways,
            ports: r.ports.clone(),
            protocol: r.protocol,
            disposition: r.action,
        };
        faults.add_rules(Rule::block(&block, address_of));
    }
}

/// The internet's latency between the users and every other host, and between the
/// egress and each internet site.
fn internet_latencies(sim: &mut turmoil::Sim<'static>, topology: &Topology) {
    let users = topology.the(Role::Users).address;
    let egress = topology.egress();
    for host in topology.hosts.iter().filter(|h| h.role != Role::Users) {
        sim.set_link_latency(users, host.address, topology.network.internet_latency);
        if host.role.is_internet_site() {
            sim.set_link_latency(egress, host.address, topology.network.internet_latency);
        }
    }
}

/// A link's own latency, as [`simulation`] and [`internet_latencies`] set it: the
/// internet's between the users and any host and between the egress and an internet
/// site, the LAN's otherwise.
fn own_latency(topology: &Topology, a: IpAddr, b: IpAddr) -> Duration {
    let role = |ip: IpAddr| {
        topology
            .hosts
            .iter()
            .find(|h| h.address == ip)
            .map(|h| h.role)
    };
    let users = |ip| role(ip) == Some(Role::Users);
    let site = |ip| role(ip).is_some_and(|r| r.is_internet_site());
    let egress = topology.egress();
    let internet = users(a) || users(b) || (a == egress && site(b)) || (b == egress && site(a));
    if internet {
        topology.network.internet_latency
    } else {
        topology.network.lan_latency
    }
}

/// What every host's socket layer is wired to: the event log, the fault table and, when
/// `dev-1` is deployed, the dev/test boundary.
struct Wires {
    recorder: Recorder,
    faults: FaultTable,
    boundary: Option<Arc<Boundary>>,
    /// The balancer's runtime administration, which the world's operator sets.
    lb_admin: Arc<LbAdmin>,
    /// Each node's version and step-down requests, by node name.
    controls: BTreeMap<String, Arc<NodeControl>>,
    services: ServiceSwitches,
    /// Each node's slowness, handed to its service and kept by the world.
    speeds: BTreeMap<String, node::Speed>,
    /// The SSH clients' requests, by host (none unless the topology deploys access).
    ssh_clients: BTreeMap<String, crate::services::ssh::SshRequests>,
}

impl Wires {
    /// A new event log and an empty fault table, and the dev/test boundary when
    /// `topology` deploys `dev-1` (routed to the production LAN when its network is).
    fn new(topology: &Topology, operated: bool) -> Self {
        let recorder = Recorder::new();
        let boundary = topology.dev.enabled.then(|| {
            let routed = (topology.dev.network == DevNetwork::Routed).then_some(PROD_LAN);
            Arc::new(Boundary::new(DEV_LAN, routed, recorder.clone()))
        });
        let speeds = topology
            .node_names()
            .into_iter()
            .map(|n| (n, node::Speed::default()))
            .collect();
        let nodes = topology.node_names();
        let controls = nodes
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    Arc::new(NodeControl::new(node::INSTALLED_VERSION, operated)),
                )
            })
            .collect();
        Self {
            recorder,
            faults: FaultTable::default(),
            boundary,
            lb_admin: Arc::new(LbAdmin::new(nodes.len())),
            controls,
            services: ServiceSwitches::default(),
            speeds,
            ssh_clients: access::clients(topology),
        }
    }
}

/// Registers `host`, configured by the wiring; `member` is its replica-set member (nodes
/// and `dev-1`).
fn register(
    sim: &mut turmoil::Sim<'static>,
    topology: &Topology,
    setup: &RunSetup,
    wires: &Wires,
    member: Option<&SharedMember>,
    identity: &Option<Arc<Identity>>,
    host: &crate::topology::Host,
) -> ClockHandle {
    let ip = host.address;
    let clock = SimClock::new(Duration::from_secs(EPOCH_UNIX_S));
    let handle = clock.handle();
    let time: Arc<dyn crate::clock::Clock> = Arc::new(clock.clone());
    let tls = wiring::host_tls(identity.as_deref(), time.clone());
    let env = host_env(topology, wires, host, clock);
    let member = || {
        member
            .expect("the world makes a member for every node")
            .clone()
    };
    match host.role {
        Role::Dns => {
            let answering = wires.services.answering.clone();
            start(
                sim,
                ip,
                env,
                (wiring::zone(topology), answering),
                dns::run_answering,
            );
        }
        Role::LoadBalancer => {
            let mut config = wiring::lb_config(topology, &tls, setup.seed);
            config.admin = wires.lb_admin.clone();
            config.operator = wires.services.operator.clone();
            start(sim, ip, env, config, load_balancer::run);
        }
        Role::Smtp => {
            let epoch = Duration::from_secs(EPOCH_UNIX_S);
            let starttls = wiring::relay_tls(topology, &[], epoch, time.clone());
            let config = wiring::smtp_config(topology, starttls);
            let answering = wires.services.relay.clone();
            start(sim, ip, env, (config, answering), smtp::run_answering);
        }
        Role::Node => {
            let peers = wiring::peers(topology);
            let mut config = wiring::node_config(topology, member(), peers, host, setup.seed, &tls);
            config.speed = wires.speeds[&host.name].clone();
            config.control = wires.controls[&host.name].clone();
            start(sim, ip, env, config, node::run);
        }
        Role::Egress => {
            let mut config = wiring::egress_config(topology);
            config.rules = wires.services.egress.clone();
            start(sim, ip, env, config, egress::run);
        }
        Role::IdentityProvider | Role::Cdn | Role::UpdateMirror => {
            start(sim, ip, env, host.role, internet::run);
        }
        Role::TimeServer => start(sim, ip, env, (), |env, ()| ntp::run(env)),
        Role::Users => {
            let users =
                wiring::users_config(topology, &setup.load, setup.load_for, setup.seed, &tls);
            let connector = (setup.load.connector)
                .then(|| wiring::connector_config(topology, setup.seed, &tls));
            let ssh = access::client_config(topology, wires, host);
            start(sim, ip, env, (users, connector, ssh), users_and_connector);
        }
        Role::Jumphost | Role::Monitor => {
            start_operations_host(sim, topology, wires, host, env, &tls)
        }
        Role::DevNode => {
            let config =
                wiring::dev_config(topology, member(), host, setup.load_for, setup.seed, &tls);
            start(sim, ip, env, config, dev_tester::run);
        }
    }
    handle
}

/// Starts a host of the planned operations, present only when the topology enables it:
/// the jumphost's SSH client or the monitoring host.
fn start_operations_host(
    sim: &mut turmoil::Sim<'static>,
    topology: &Topology,
    wires: &Wires,
    host: &crate::topology::Host,
    env: impl Fn() -> Env<SimNet> + 'static,
    tls: &wiring::HostTls,
) {
    let ip = host.address;
    if host.role == Role::Jumphost {
        let ssh = access::jumphost_client(topology, wires, host);
        start(sim, ip, env, ssh, crate::services::ssh::client);
    } else {
        let config = wiring::monitor_config(topology, tls);
        start(sim, ip, env, config, crate::services::monitor::run);
    }
}

/// The environment `host`'s software is started with, each time it starts: its socket
/// layer on the fault table (and the dev/test boundary), its `clock`, the event log.
fn host_env(
    topology: &Topology,
    wires: &Wires,
    host: &crate::topology::Host,
    clock: SimClock,
) -> impl Fn() -> Env<SimNet> + 'static {
    let ip = host.address;
    let (recorder, faults, name) = (
        wires.recorder.clone(),
        wires.faults.clone(),
        host.name.clone(),
    );
    let boundary = wires.boundary.clone();
    // Nodes reach the internet only through the egress (dev-1's LAN has no way out).
    let gateway = (host.role == Role::Node).then(|| topology.egress());
    move || {
        let mut net = SimNet::new(ip, faults.clone());
        if let Some(b) = &boundary {
            net = net.guarded(b.clone(), &name);
        }
        Env::new(
            &name,
            gateway.map_or(net.clone(), |g| net.via(g)),
            Arc::new(clock.clone()),
            recorder.clone(),
        )
    }
}

/// Registers a host whose software is `run(env, config)`, restartable from the factory.
fn start<C, Fut>(
    sim: &mut turmoil::Sim<'static>,
    ip: IpAddr,
    env: impl Fn() -> Env<SimNet> + 'static,
    config: C,
    run: fn(Env<SimNet>, C) -> Fut,
) where
    C: Clone + 'static,
    Fut: std::future::Future<Output = std::io::Result<()>> + 'static,
{
    sim.host(ip, move || {
        let software = run(env(), config.clone());
        async move { Ok(software.await?) }
    });
}

/// The users' host: the load generator, and the AD/LDAP connector beside it when the
/// scenario runs one, and an SSH client when the topology deploys remote access (a
/// direct attempt from the internet). Either runs until the run ends, so the host does
/// too (its tasks would stop with it).
async fn users_and_connector(
    env: Env<SimNet>,
    (users, connector, ssh): (
        UsersConfig,
        Option<ConnectorConfig>,
        Option<crate::services::ssh::ClientConfig>,
    ),
) -> std::io::Result<()> {
    let connector = connector.map(|c| tokio::spawn(connector::run(env.clone(), c)));
    let ssh = ssh.map(|c| tokio::spawn(crate::services::ssh::client(env.clone(), c)));
    users::run(env, users).await?;
    if let Some(running) = ssh {
        running.await.expect("the SSH client never panics")?;
    }
    match connector {
        Some(running) => running.await.expect("the connector never panics"),
        None => Ok(()),
    }
}
