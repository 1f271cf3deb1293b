//! The world: turmoil's `Sim` with every host of a topology running its service.
//!
//! Construction follows DESIGN.md section 4: the run's seed goes to turmoil's
//! `rng_seed`, a fixed [`EPOCH_UNIX_S`] to its `epoch`, and link latencies are fixed (minimum
//! equals maximum), so nothing about a run depends on the machine or the moment.
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

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::env::Env;
use crate::events::{ClockCause, CrashMode, EventKind, MemberFinal, Recorder};
use crate::scenario::spec::ClockStep;
use crate::services::connector::{self, ConnectorConfig};
use crate::services::database::{self, DbConfig, SharedMember};
use crate::services::dev_tester::{self, TesterConfig};
use crate::services::dns::{self, Zone};
use crate::services::egress::{self, EgressConfig};
use crate::services::http::{Dial, Front};
use crate::services::internet;
use crate::services::load_balancer::{self, Backend, LbConfig};
use crate::services::mail::MailConfig;
use crate::services::node::{self, NodeConfig};
use crate::services::ntp;
use crate::services::outbound::OutboundConfig;
use crate::services::proxy_header;
use crate::services::replica_set::{Member, RsConfig};
use crate::services::smtp::{self, SmtpConfig};
use crate::services::users::{self, UsersConfig};
use crate::tls::{self, Identity};
use crate::topology::{
    DEV_LAN, DevNetwork, LbMode, LoadSettings, PROD_LAN, ProxyProtocol, Role, Topology,
};
use crate::world::clock::{Adjustment, ClockHandle, SimClock};
use crate::world::net::{Action, Boundary, FaultTable, Protocol, Rule, SimNet};

/// The wall-clock time every run starts at: 2026-01-01T00:00:00Z.
pub const EPOCH_UNIX_S: u64 = 1_767_225_600;

/// The host name faults injected by the scenario are recorded under.
pub const EXECUTOR: &str = "scenario";

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
}

/// A failure of the simulation itself (a host's software returned an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the simulation failed at {at:?}: {message}")]
pub struct WorldError {
    pub at: Duration,
    pub message: String,
}

/// One cut of a partition: traffic from `from` to `to` (and back, unless `one_way`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub one_way: bool,
    pub action: Action,
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

/// The rule id partitions use; `heal` removes them all.
pub const PARTITION: &str = "partition";

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
    cuts: Vec<(Vec<IpAddr>, Vec<IpAddr>, bool, Action)>,
    /// What turmoil was last told about each pair that is not healthy.
    links: BTreeMap<(IpAddr, IpAddr), Link>,
    /// The primary (and term) whose loss was last recorded.
    lost_noted: Option<(String, u64)>,
    /// Each host's wall-clock offset in milliseconds, shared with its clock.
    clocks: BTreeMap<String, ClockHandle>,
}

impl World {
    /// Builds the simulation with every host of `topology` registered and started.
    pub fn new(topology: &Topology, setup: &RunSetup) -> Self {
        let lan = topology.network.lan_latency;
        let mut sim = turmoil::Builder::new()
            .rng_seed(setup.seed)
            .epoch(std::time::UNIX_EPOCH + Duration::from_secs(EPOCH_UNIX_S))
            .tick_duration(setup.tick)
            .simulation_duration(setup.max_duration)
            .min_message_latency(lan)
            .max_message_latency(lan)
            .build();
        let recorder = Recorder::new();
        let faults = FaultTable::default();
        let boundary = topology.dev.enabled.then(|| {
            let routed = (topology.dev.network == DevNetwork::Routed).then_some(PROD_LAN);
            Arc::new(Boundary::new(DEV_LAN, routed, recorder.clone()))
        });
        let wires = Wires {
            recorder: recorder.clone(),
            faults: faults.clone(),
            boundary,
        };
        let members = members(topology, setup.seed);
        let dev = topology
            .with_role(Role::DevNode)
            .next()
            .map(|h| (h.name.clone(), dev_member(topology, h, setup.seed)));
        let mut clocks = BTreeMap::new();
        let identity = identity(topology, Duration::from_secs(EPOCH_UNIX_S));
        for host in &topology.hosts {
            let member = match (&dev, host.role) {
                (Some((_, m)), Role::DevNode) => Some(m),
                _ => members.get(&host.name),
            };
            let clock = register(&mut sim, topology, setup, &wires, member, &identity, host);
            clocks.insert(host.name.clone(), clock);
        }
        // Standing firewall rules are in force before any host starts.
        let address_of = |names: &[String]| -> Vec<IpAddr> {
            names
                .iter()
                .filter_map(|n| topology.host(n).map(|h| h.address))
                .collect()
        };
        for (i, r) in topology.firewall.iter().enumerate() {
            let (from, to) = (address_of(&r.from), address_of(&r.to));
            let mut rules = vec![Rule {
                id: format!("topology.firewall[{i}]"),
                from: from.clone(),
                to: to.clone(),
                ports: r.ports.clone(),
                protocol: r.protocol,
                action: r.action,
            }];
            if r.both_ways {
                rules.push(Rule {
                    from: to,
                    to: from,
                    ..rules[0].clone()
                });
            }
            faults.add_rules(rules);
        }
        let users = topology.the(Role::Users).address;
        let egress = topology.egress();
        for host in topology.hosts.iter().filter(|h| h.role != Role::Users) {
            sim.set_link_latency(users, host.address, topology.network.internet_latency);
            if host.role.is_internet_site() {
                sim.set_link_latency(egress, host.address, topology.network.internet_latency);
            }
        }
        Self {
            sim,
            topology: topology.clone(),
            recorder,
            faults,
            members,
            dev,
            down: BTreeMap::new(),
            cuts: Vec::new(),
            links: BTreeMap::new(),
            lost_noted: None,
            clocks,
        }
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

    /// The event log so far.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    fn record(&self, kind: EventKind) {
        self.recorder.record_at(self.elapsed(), EXECUTOR, kind);
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
        match mode {
            // Hold first, so the FINs the dying sockets send are held too.
            CrashMode::PowerOff => self.sync_links(),
            CrashMode::Process => self.faults.set_refusing(ip, true),
        }
        self.sim.crash(ip);
        self.record(EventKind::Crashed {
            node: node.to_string(),
            mode,
        });
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
    pub fn partition(&mut self, cuts: &[Cut], text: String) {
        for cut in cuts {
            let (from, to) = (self.addresses(&cut.from), self.addresses(&cut.to));
            let mut rules = vec![rule(PARTITION, &from, &to, cut.action)];
            if !cut.one_way {
                rules.push(rule(PARTITION, &to, &from, cut.action));
            }
            self.faults.add_rules(rules);
            self.cuts.push((from, to, cut.one_way, cut.action));
        }
        self.sync_links();
        self.record(EventKind::Network { text });
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

    /// Removes every partition (firewall rules stay).
    pub fn heal(&mut self) {
        self.faults.remove_rules(PARTITION);
        self.cuts.clear();
        self.sync_links();
        self.record(EventKind::Network {
            text: "partitions healed".to_string(),
        });
    }

    /// Adds firewall rules under `id` (new connections and datagrams only).
    pub fn block(
        &mut self,
        id: &str,
        rules: Vec<(Vec<String>, Vec<String>)>,
        ports: &[u16],
        protocol: Protocol,
        action: Action,
        text: String,
    ) {
        let rules: Vec<Rule> = rules
            .iter()
            .map(|(from, to)| Rule {
                id: id.to_string(),
                from: self.addresses(from),
                to: self.addresses(to),
                ports: ports.to_vec(),
                protocol,
                action,
            })
            .collect();
        self.faults.add_rules(rules);
        self.record(EventKind::Network { text });
    }

    /// Removes the firewall rules added under `id`.
    pub fn unblock(&mut self, id: &str) {
        let removed = self.faults.remove_rules(id);
        self.record(EventKind::Network {
            text: format!("firewall rules {id:?} removed ({removed} rules)"),
        });
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
            Some(Action::Drop) => Link::Held,
            Some(Action::Reject) => Link::Cut,
            None if dirs.is_empty() => Link::Healthy,
            None => {
                dirs.sort();
                dirs.dedup();
                Link::OneWay(dirs)
            }
        }
    }

    /// After a step: if the current primary is down or cannot reach a majority of the
    /// nodes on 27017 (both ways, by the fault table), records that it is lost, once per
    /// primary and term.
    pub fn note_primary_loss(&mut self) {
        let primary = self
            .members
            .iter()
            .map(|(n, m)| {
                let m = lock(m);
                (n.clone(), m.role(), m.term())
            })
            .filter(|(_, role, _)| *role == crate::services::replica_set::MemberRole::Primary)
            .max_by_key(|(_, _, term)| *term);
        let Some((node, _, term)) = primary else {
            return;
        };
        if self.lost_noted == Some((node.clone(), term)) {
            return;
        }
        let why = if self.down.contains_key(&node) {
            "it is down".to_string()
        } else {
            let ip = self.address(&node);
            let names = self.topology.node_names();
            let reachable = names
                .iter()
                .filter(|n| !self.down.contains_key(*n))
                .filter(|n| {
                    let other = self.address(n);
                    let ok = |a: IpAddr, b: IpAddr| {
                        self.faults
                            .verdict(a, SocketAddr::new(b, database::PORT), Protocol::Tcp)
                            .is_none()
                    };
                    other == ip || (ok(ip, other) && ok(other, ip))
                })
                .count();
            if reachable * 2 > names.len() {
                return;
            }
            format!("it reaches {reachable} of {} members on 27017", names.len())
        };
        self.lost_noted = Some((node.clone(), term));
        self.record(EventKind::PrimaryLost { node, term, why });
    }

    /// True when the members that are up form a healthy set: exactly one primary, every
    /// member in its term and following it, every log a prefix of the primary's, no
    /// member missing an entry older than one heartbeat, and no mail waiting longer than
    /// `MAIL_STALE` (2 s) to be sent. (Under load logs differ for a few
    /// milliseconds around every write; identical logs are only required at the end, by
    /// the checkers.)
    pub fn converged(&self) -> bool {
        let now = self.elapsed();
        let up: Vec<_> = self
            .members
            .iter()
            .filter(|(n, _)| !self.down.contains_key(*n))
            .map(|(_, m)| lock(m))
            .collect();
        let primaries: Vec<_> = up
            .iter()
            .filter(|m| m.role() == crate::services::replica_set::MemberRole::Primary)
            .collect();
        let [primary] = primaries.as_slice() else {
            return false;
        };
        let heartbeat = self.topology.replica_set.heartbeat;
        up.iter().all(|m| {
            let last = m.last_index();
            let follows = m.term() == primary.term() && m.primary() == Some(primary.name());
            let prefix =
                last <= primary.last_index() && primary.entry_term(last) == m.entry_term(last);
            let missing = primary
                .log()
                .get(usize::try_from(last).expect("log indexes fit memory"));
            let recent = missing.is_none_or(|e| {
                now.saturating_sub(Duration::from_millis(e.written_ms)) < heartbeat
            });
            follows && prefix && recent
        }) && mail_flowing(primary, now)
    }

    /// True when every member that is up ends its log at the same entry: nothing is in
    /// flight, so the final data the checkers read is settled.
    pub fn quiescent(&self) -> bool {
        let ends: BTreeSet<(u64, Option<u64>)> = self
            .members
            .iter()
            .filter(|(n, _)| !self.down.contains_key(*n))
            .map(|(_, m)| {
                let m = lock(m);
                (m.last_index(), m.entry_term(m.last_index()))
            })
            .collect();
        ends.len() <= 1
    }

    /// Records that the members came to agree at `at` (the executor tracks it).
    pub fn record_converged(&self, at: Duration) {
        self.recorder.record_at(at, EXECUTOR, EventKind::Converged);
    }

    /// Records every member's final data for the checkers.
    pub fn record_final_state(&self) {
        for (node, member) in &self.members {
            let m = lock(member);
            let signups = m
                .log()
                .iter()
                .filter_map(|e| match &e.op {
                    crate::services::replica_set::Op::Signup { user, .. } => Some(user.clone()),
                    crate::services::replica_set::Op::NewPrimary
                    | crate::services::replica_set::Op::MailSent { .. } => None,
                })
                .collect();
            self.record(EventKind::MemberFinal(MemberFinal {
                node: node.clone(),
                up: !self.down.contains_key(node),
                role: format!("{:?}", m.role()).to_lowercase(),
                term: m.term(),
                last_index: m.last_index(),
                last_term: m.log().last().map_or(0, |e| e.term),
                signups,
                domain: self.topology.domain.clone(),
            }));
        }
        if let Some((name, member)) = &self.dev {
            let m = lock(member);
            let signups = m
                .log()
                .iter()
                .filter(|e| matches!(e.op, crate::services::replica_set::Op::Signup { .. }))
                .count();
            let kind = EventKind::DevFinal {
                signups,
                mail_queued: m.pending_mail().len(),
            };
            self.recorder.record_at(self.elapsed(), name, kind);
        }
    }
}

/// Mail that waits longer than this while the set is otherwise healthy means delivery is
/// failing: the queue is polled every 500 ms, so fresh mail never waits this long.
const MAIL_STALE: Duration = Duration::from_secs(2);

/// True when the primary's oldest committed, unsent mail is fresh.
fn mail_flowing(primary: &Member, now: Duration) -> bool {
    primary
        .oldest_pending_mail_ms()
        .is_none_or(|queued_ms| now.saturating_sub(Duration::from_millis(queued_ms)) < MAIL_STALE)
}

fn lock(member: &SharedMember) -> std::sync::MutexGuard<'_, Member> {
    member
        .lock()
        .expect("no code panics while holding a member")
}

fn rule(id: &str, from: &[IpAddr], to: &[IpAddr], action: Action) -> Rule {
    Rule {
        id: id.to_string(),
        from: from.to_vec(),
        to: to.to_vec(),
        ports: Vec::new(),
        protocol: Protocol::Any,
        action,
    }
}

/// One member per node, as an initialised replica set at time 0.
fn members(topology: &Topology, seed: u64) -> BTreeMap<String, SharedMember> {
    let rs = &topology.replica_set;
    let names = topology.node_names();
    let config = RsConfig {
        priorities: names
            .iter()
            .map(|n| rs.priority.get(n).copied().unwrap_or(1))
            .collect(),
        members: names.clone(),
        heartbeat: rs.heartbeat,
        election_timeout: rs.election_timeout,
        lag_threshold: rs.lag_threshold,
    };
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                n.clone(),
                Arc::new(Mutex::new(Member::new(config.clone(), i, seed))),
            )
        })
        .collect()
}

/// The certificate the published names are served with: `None` when TLS is off. A
/// generated one is valid from an hour before `epoch` (time since the Unix epoch: the
/// run's [`EPOCH_UNIX_S`] in a simulation, the real time on real sockets).
pub(crate) fn identity(topology: &Topology, epoch: Duration) -> Option<Arc<Identity>> {
    let tls = &topology.tls;
    if !tls.enabled {
        return None;
    }
    if let Some(m) = &topology.tls_material {
        return Some(Arc::new(Identity {
            chain: m.chain.clone(),
            key: m.key.clone_key(),
            trust: m.trust.clone(),
        }));
    }
    let names = tls
        .names
        .clone()
        .unwrap_or_else(|| topology.zone_names().to_vec());
    let identity = Identity::generate(&names, epoch, tls.expires)
        .expect("rcgen signs any names and validity the topology checked");
    Some(Arc::new(identity))
}

/// One host's TLS configurations, with its own clock as their time.
pub(crate) struct HostTls {
    pub(crate) server: Option<Arc<rustls::ServerConfig>>,
    pub(crate) client: Option<Arc<rustls::ClientConfig>>,
    pub(crate) checks: Option<Arc<rustls::ClientConfig>>,
}

pub(crate) fn host_tls(identity: Option<&Identity>, time: Arc<dyn crate::env::Clock>) -> HostTls {
    let Some(identity) = identity else {
        return HostTls {
            server: None,
            client: None,
            checks: None,
        };
    };
    HostTls {
        server: Some(
            tls::server(identity, time.clone()).expect("a generated key matches its certificate"),
        ),
        client: Some(
            tls::client(identity, time.clone()).expect("a generated CA is a usable trust anchor"),
        ),
        checks: Some(tls::health_check_client(time)),
    }
}

/// The dev/test instance's member: a replica set of its own, of one member, primary of
/// itself from the start.
fn dev_member(topology: &Topology, host: &crate::topology::Host, seed: u64) -> SharedMember {
    let rs = &topology.replica_set;
    let config = RsConfig {
        members: vec![host.name.clone()],
        priorities: vec![1],
        heartbeat: rs.heartbeat,
        election_timeout: rs.election_timeout,
        lag_threshold: rs.lag_threshold,
    };
    Arc::new(Mutex::new(Member::new(config, 0, host_seed(seed, host))))
}

/// What every host's socket layer is wired to: the event log, the fault table and, when
/// `dev-1` is deployed, the dev/test boundary.
struct Wires {
    recorder: Recorder,
    faults: FaultTable,
    boundary: Option<Arc<Boundary>>,
}

/// Registers `host`; `member` is its replica-set member (nodes and `dev-1`).
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
    let time: Arc<dyn crate::env::Clock> = Arc::new(clock.clone());
    let tls = host_tls(identity.as_deref(), time.clone());
    let (recorder, faults, name) = (
        wires.recorder.clone(),
        wires.faults.clone(),
        host.name.clone(),
    );
    let boundary = wires.boundary.clone();
    // Nodes reach the internet only through the egress (dev-1's LAN has no way out).
    let gateway = (host.role == Role::Node).then(|| topology.egress());
    let env = move || {
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
    };
    let member = || {
        member
            .expect("the world makes a member for every node")
            .clone()
    };
    match host.role {
        Role::Dns => start(sim, ip, env, zone(topology), dns::run),
        Role::LoadBalancer => start(sim, ip, env, lb_config(topology, &tls), load_balancer::run),
        Role::Smtp => {
            let epoch = Duration::from_secs(EPOCH_UNIX_S);
            let starttls = relay_tls(topology, &[], epoch, time.clone());
            start(sim, ip, env, smtp_config(topology, starttls), smtp::run);
        }
        Role::Node => {
            let peers = topology
                .with_role(Role::Node)
                .map(|n| SocketAddr::new(n.address, database::PORT))
                .collect();
            let config = node_config(topology, member(), peers, host, setup.seed, &tls);
            start(sim, ip, env, config, node::run);
        }
        Role::Egress => start(sim, ip, env, egress_config(topology), egress::run),
        Role::IdentityProvider | Role::Cdn | Role::UpdateMirror => {
            start(sim, ip, env, host.role, internet::run);
        }
        Role::TimeServer => start(sim, ip, env, (), |env, ()| ntp::run(env)),
        Role::Users => start(
            sim,
            ip,
            env,
            (
                users_config(topology, setup, &tls),
                setup
                    .load
                    .connector
                    .then(|| connector_config(topology, setup, &tls)),
            ),
            users_and_connector,
        ),
        Role::DevNode => {
            let config = dev_config(topology, member(), host, setup, &tls);
            start(sim, ip, env, config, dev_tester::run);
        }
    }
    handle
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

/// The appliance's four names (the load balancer) and the internet's hosts. `harness
/// check` queries this same zone for the four records seed 003 requires.
pub fn zone(topology: &Topology) -> Zone {
    let v4 = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(_) => unreachable!("ha-N addresses are IPv4"),
    };
    let lb = v4(topology.the(Role::LoadBalancer).address);
    let mut records: Vec<(String, std::net::Ipv4Addr)> =
        topology.zone_names().into_iter().map(|n| (n, lb)).collect();
    records.extend(
        topology
            .hosts
            .iter()
            .filter(|h| h.role.is_internet_site())
            .map(|h| (h.name.clone(), v4(h.address))),
    );
    let ttl_s = u32::try_from(topology.dns.ttl.as_secs()).expect("TTL checked to fit 32 bits");
    Zone::with_records(&records, ttl_s)
}

/// How long a client may take over the PROXY header and the TLS handshake (HAProxy's
/// `timeout client` applies there; 5s is its usual value).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn lb_config(topology: &Topology, tls: &HostTls) -> LbConfig {
    let backends = topology
        .with_role(Role::Node)
        .map(|n| Backend {
            name: n.name.clone(),
            addr: SocketAddr::new(n.address, node::PORT),
        })
        .collect();
    let lb = &topology.lb;
    let (front, check_dial) = match lb.mode {
        LbMode::Https => (
            Front {
                accept_proxy: false,
                tls: tls.server.clone(),
                handshake_timeout: HANDSHAKE_TIMEOUT,
            },
            Dial::default(),
        ),
        LbMode::Tcp => (
            Front::default(),
            Dial {
                preface: proxy_header::encode(lb.proxy_header(), None),
                tls: tls.checks.clone().map(|c| {
                    // `verify none`: the name is not checked; any will do.
                    (
                        c,
                        rustls::pki_types::ServerName::try_from("backend").expect("valid"),
                    )
                }),
            },
        ),
    };
    LbConfig {
        backends,
        settings: lb.clone(),
        front,
        check_dial,
        forwarded_proto: if tls.server.is_some() {
            "https"
        } else {
            "http"
        },
    }
}

fn egress_config(topology: &Topology) -> EgressConfig {
    EgressConfig {
        settings: topology.egress.clone(),
        nodes: topology.with_role(Role::Node).map(|h| h.address).collect(),
        names: topology
            .hosts
            .iter()
            .map(|h| (h.address, h.name.clone()))
            .collect(),
    }
}

/// `dev-1`: the node service as production's nodes run it, in a set of its own, with
/// what its LAN cannot reach turned off (NTP and the periodic checks: no egress, no time
/// server; its clock runs free from true time), its relay `dev.smtp_relay` (none: mail
/// stays queued), and the tester beside it.
fn dev_config(
    topology: &Topology,
    member: SharedMember,
    host: &crate::topology::Host,
    setup: &RunSetup,
    tls: &HostTls,
) -> (NodeConfig, TesterConfig) {
    let own = vec![SocketAddr::new(host.address, database::PORT)];
    let mut node = node_config(topology, member, own, host, setup.seed, tls);
    // Its tester dials it directly, in plain HTTP: no balancer, no PROXY header, no TLS.
    node.front = Front::default();
    node.trusted_proxy = None;
    node.outside.ntp.enabled = false;
    node.outside.periodic = false;
    node.mail.relay = topology
        .dev
        .smtp_relay
        .map(|ip| SocketAddr::new(IpAddr::V4(ip), smtp::PORT));
    let tester = TesterConfig {
        signups_per_s: topology.dev.signups_per_s,
        until: setup.load_for,
        seed: setup.seed,
    };
    (node, tester)
}

/// A host's own stream: the run's seed mixed with its address.
fn host_seed(seed: u64, host: &crate::topology::Host) -> u64 {
    let IpAddr::V4(v4) = host.address else {
        unreachable!("ha-N addresses are IPv4")
    };
    seed ^ u64::from(u32::from(v4)).rotate_left(32)
}

pub(crate) fn node_config(
    topology: &Topology,
    member: SharedMember,
    peers: Vec<SocketAddr>,
    host: &crate::topology::Host,
    seed: u64,
    tls: &HostTls,
) -> NodeConfig {
    let rs = &topology.replica_set;
    let db = DbConfig {
        member,
        peers,
        write_timeout: rs.write_timeout,
        contact_max: rs.contact_max,
    };
    let node = &topology.node;
    let outside = OutboundConfig {
        dns: SocketAddr::new(topology.the(Role::Dns).address, dns::PORT),
        idp: topology.the(Role::IdentityProvider).name.clone(),
        cdn: topology.the(Role::Cdn).name.clone(),
        updates: topology.the(Role::UpdateMirror).name.clone(),
        social_timeout: node.social_timeout,
        update_interval: node.update_interval,
        periodic: true,
        ntp: topology.ntp.clone(),
    };
    NodeConfig {
        db,
        mail: mail_config(topology),
        name: host.name.clone(),
        settings: topology.node.clone(),
        outside,
        // Each node's own stream: the run's seed mixed with the node's address.
        seed: host_seed(seed, host),
        front: match topology.lb.mode {
            LbMode::Https => Front::default(),
            LbMode::Tcp => Front {
                accept_proxy: topology.lb.proxy_header() != ProxyProtocol::None,
                tls: tls.server.clone(),
                handshake_timeout: HANDSHAKE_TIMEOUT,
            },
        },
        trusted_proxy: (topology.lb.mode == LbMode::Https)
            .then(|| topology.the(Role::LoadBalancer).address),
    }
}

/// The relay's configuration; `starttls` is what STARTTLS upgrades with ([`relay_tls`]).
pub(crate) fn smtp_config(
    topology: &Topology,
    starttls: Option<(Arc<rustls::ServerConfig>, Arc<Identity>)>,
) -> SmtpConfig {
    let s = &topology.smtp;
    SmtpConfig {
        hostname: relay_name(topology),
        username: s.username.clone(),
        password: s.password.clone(),
        tls: starttls.map(|(server, _)| server),
    }
}

/// The relay's name, `smtp.<domain>`: what it greets with and its certificate names.
pub(crate) fn relay_name(topology: &Topology) -> String {
    format!("smtp.{}", topology.domain)
}

/// The relay's STARTTLS certificate: a CA of its own and a leaf for [`relay_name`] and
/// `extra` names (a served relay adds the address it listens on), valid like the
/// instance certificate from an hour before `epoch` for `topology.tls.expires`, judged by
/// `clock`. The corporate relay is not the appliance: it never serves the instance
/// certificate. `None` only if the certificate cannot be made (an `extra` name rcgen
/// refuses).
pub(crate) fn relay_tls(
    topology: &Topology,
    extra: &[String],
    epoch: Duration,
    clock: Arc<dyn crate::env::Clock>,
) -> Option<(Arc<rustls::ServerConfig>, Arc<Identity>)> {
    let mut names = vec![relay_name(topology)];
    names.extend_from_slice(extra);
    let identity = Identity::generate(&names, epoch, topology.tls.expires).ok()?;
    let server = crate::tls::server(&identity, clock).ok()?;
    Some((server, Arc::new(identity)))
}

pub(crate) fn mail_config(topology: &Topology) -> MailConfig {
    let s = &topology.smtp;
    MailConfig {
        relay: Some(SocketAddr::new(
            topology.the(Role::Smtp).address,
            smtp::PORT,
        )),
        username: s.username.clone(),
        password: s
            .node_password
            .clone()
            .unwrap_or_else(|| s.password.clone()),
        domain: topology.domain.clone(),
        retry_initial: s.retry_initial,
        retry_max: s.retry_max,
        timeout: s.timeout,
    }
}

/// The users' host: the load generator, and the AD/LDAP connector beside it when the
/// scenario runs one. The connector runs until the run ends, so the host does too (its
/// tasks would stop with it).
async fn users_and_connector(
    env: Env<SimNet>,
    (users, connector): (UsersConfig, Option<ConnectorConfig>),
) -> std::io::Result<()> {
    let connector = connector.map(|c| tokio::spawn(connector::run(env.clone(), c)));
    users::run(env, users).await?;
    match connector {
        Some(running) => running.await.expect("the connector never panics"),
        None => Ok(()),
    }
}

fn connector_config(topology: &Topology, setup: &RunSetup, tls: &HostTls) -> ConnectorConfig {
    ConnectorConfig {
        name: topology.zone_names()[3].clone(),
        dns_server: SocketAddr::new(topology.the(Role::Dns).address, dns::PORT),
        port: load_balancer::PORT,
        tls: tls.client.clone(),
        seed: setup.seed,
    }
}

fn users_config(topology: &Topology, setup: &RunSetup, tls: &HostTls) -> UsersConfig {
    UsersConfig {
        rate_per_s: setup.load.rate_per_s,
        userinfo_share: setup.load.userinfo_share,
        signup_share: setup.load.signup_share,
        social_share: setup.load.social_share,
        dashboard_share: setup.load.dashboard_share,
        dashboard_name: topology.zone_names()[0].clone(),
        timeout: setup.load.timeout,
        until: setup.load_for,
        name: topology.zone_names()[3].clone(),
        dns_server: SocketAddr::new(topology.the(Role::Dns).address, dns::PORT),
        port: load_balancer::PORT,
        accounts: topology.node.accounts,
        seed: setup.seed,
        tls: tls.client.clone(),
    }
}
