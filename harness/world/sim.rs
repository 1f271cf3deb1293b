//! The world: turmoil's `Sim` with every host of a topology running its service.
//!
//! Construction follows DESIGN.md section 4: the run's seed goes to turmoil's
//! `rng_seed`, a fixed [`EPOCH`] to its `epoch`, and link latencies are fixed (minimum
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

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::env::Env;
use crate::events::{CrashMode, EventKind, Recorder};
use crate::services::dns::{self, Zone};
use crate::services::load_balancer::{self, Backend, LbConfig};
use crate::services::node::{self, NodeConfig};
use crate::services::users::{self, UsersConfig};
use crate::topology::{LoadSettings, Role, Topology};
use crate::world::clock::SimClock;
use crate::world::net::{FaultTable, SimNet};

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

/// A running world.
pub struct World {
    sim: turmoil::Sim<'static>,
    topology: Topology,
    recorder: Recorder,
    faults: FaultTable,
    /// Nodes that are down, and how they went down.
    down: BTreeMap<String, CrashMode>,
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
        for host in &topology.hosts {
            register(&mut sim, topology, setup, &recorder, &faults, host);
        }
        let users = topology.the(Role::Users).address;
        for host in topology.hosts.iter().filter(|h| h.role != Role::Users) {
            sim.set_link_latency(users, host.address, topology.network.internet_latency);
        }
        Self {
            sim,
            topology: topology.clone(),
            recorder,
            faults,
            down: BTreeMap::new(),
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

    fn address(&self, node: &str) -> IpAddr {
        self.topology
            .host(node)
            .expect("steps name nodes checked against the topology")
            .address
    }

    fn others(&self, node: &str) -> Vec<IpAddr> {
        self.topology
            .hosts
            .iter()
            .filter(|h| h.name != node)
            .map(|h| h.address)
            .collect()
    }

    /// Crashes a node (it must be up: the scenario loader checks the sequence).
    pub fn crash(&mut self, node: &str, mode: CrashMode) {
        assert!(
            !self.down.contains_key(node),
            "the scenario loader only crashes nodes that are up"
        );
        let ip = self.address(node);
        match mode {
            CrashMode::PowerOff => {
                for other in self.others(node) {
                    self.sim.hold(ip, other);
                }
            }
            CrashMode::Process => self.faults.set_refusing(ip, true),
        }
        self.sim.crash(ip);
        self.down.insert(node.to_string(), mode);
        let kind = EventKind::Crashed {
            node: node.to_string(),
            mode,
        };
        self.recorder.record_at(self.elapsed(), EXECUTOR, kind);
    }

    /// Restarts a crashed node with fresh software.
    pub fn restart(&mut self, node: &str) {
        let mode = self
            .down
            .remove(node)
            .expect("the scenario loader only restarts nodes that are down");
        let ip = self.address(node);
        match mode {
            CrashMode::PowerOff => {
                for other in self.others(node) {
                    self.sim.repair(ip, other);
                }
            }
            CrashMode::Process => self.faults.set_refusing(ip, false),
        }
        self.recorder.record_at(
            self.elapsed(),
            EXECUTOR,
            EventKind::Restarted {
                node: node.to_string(),
            },
        );
        self.sim.bounce(ip);
    }
}

fn register(
    sim: &mut turmoil::Sim<'static>,
    topology: &Topology,
    setup: &RunSetup,
    recorder: &Recorder,
    faults: &FaultTable,
    host: &crate::topology::Host,
) {
    let ip = host.address;
    let clock = SimClock::new(Duration::from_secs(EPOCH_UNIX_S));
    let recorder = recorder.clone();
    let name = host.name.clone();
    let faults = faults.clone();
    let env = move || {
        Env::new(
            &name,
            SimNet::new(ip, faults.clone()),
            std::sync::Arc::new(clock.clone()),
            recorder.clone(),
        )
    };
    match host.role {
        Role::Dns => {
            let lb = topology.the(Role::LoadBalancer).address;
            let IpAddr::V4(lb) = lb else {
                unreachable!("ha-N addresses are IPv4")
            };
            let ttl_s =
                u32::try_from(topology.dns.ttl.as_secs()).expect("TTL checked to fit 32 bits");
            let zone = Zone::new(&topology.zone_names(), lb, ttl_s);
            sim.host(ip, move || {
                let (env, zone) = (env(), zone.clone());
                async move { Ok(dns::run(env, zone).await?) }
            });
        }
        Role::LoadBalancer => {
            let backends = topology
                .with_role(Role::Node)
                .map(|n| Backend {
                    name: n.name.clone(),
                    addr: SocketAddr::new(n.address, node::PORT),
                })
                .collect();
            let config = LbConfig {
                backends,
                settings: topology.lb.clone(),
            };
            sim.host(ip, move || {
                let (env, config) = (env(), config.clone());
                async move { Ok(load_balancer::run(env, config).await?) }
            });
        }
        Role::Node => {
            let config = NodeConfig {
                name: host.name.clone(),
                settings: topology.node.clone(),
            };
            sim.host(ip, move || {
                let (env, config) = (env(), config.clone());
                async move { Ok(node::run(env, config).await?) }
            });
        }
        Role::Users => {
            let config = UsersConfig {
                rate_per_s: setup.load.rate_per_s,
                userinfo_share: setup.load.userinfo_share,
                timeout: setup.load.timeout,
                until: setup.load_for,
                name: topology.zone_names()[3].clone(),
                dns_server: SocketAddr::new(topology.the(Role::Dns).address, dns::PORT),
                port: load_balancer::PORT,
                accounts: topology.node.accounts,
                seed: setup.seed,
            };
            sim.host(ip, move || {
                let (env, config) = (env(), config.clone());
                async move { Ok(users::run(env, config).await?) }
            });
        }
    }
}
