//! Figure 4: the harness against bare turmoil, in an idle world.
//!
//! Both worlds hold the reference topology's [`REFERENCE_HOSTS`] hosts at their addresses, with the same
//! turmoil settings as the harness's world (`harness/world/sim.rs`): its seed, epoch, 1 ms
//! tick, the LAN's latency on every link and the internet's between the users and every
//! host and between the egress and the internet's sites. Each is stepped for
//! [`IDLE_SIMULATED`]; building the world is not timed.
//!
//! - bare turmoil: each host binds a TCP listener that accepts nothing and waits forever
//!   (`std::future::pending`), except the users' host, whose software returns at once, as
//!   the harness's does when no request falls in the load;
//! - the harness's world: `World::new` with the reference topology and no load
//!   (`load_for` zero: rate 0, below the loader's minimum, since the world itself takes
//!   any rate), stepped tick by tick as the executor steps it. What its services do
//!   unasked (health checks, heartbeats, NTP polls, timers) is what the harness costs on
//!   top of turmoil when nothing is asked of the cluster.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use criterion::Criterion;
use harness::clock::EPOCH_UNIX_S;
use harness::scenario::spec::Scenario;
use harness::seed::{self, Component};
use harness::topology::Role;
use harness::world::sim::{RunSetup, World};

use crate::ledger::Ledger;
use crate::{Filter, Probe, bench, group, scenarios};

/// The group's name in criterion's report.
pub const GROUP: &str = "fig4 idle";
const BARE: &str = "bare turmoil, 13 hosts";
const HARNESS: &str = "harness world, 13 hosts";

/// The reference scenario's hosts: the default deployment's 12 and the monitoring host
/// node-loss enables. The names above say it; the bench checks it.
const REFERENCE_HOSTS: usize = 13;

/// Simulated time each world is stepped for.
pub const IDLE_SIMULATED: Duration = Duration::from_secs(10);

/// The port every bare host listens on (any would do: nothing connects).
const BARE_PORT: u16 = 443;

/// A bare turmoil world with the reference's hosts and the harness's turmoil settings.
fn bare_world(reference: &Scenario) -> turmoil::Sim<'static> {
    let (topology, seed, tick) = (&reference.topology, reference.seed, reference.tick);
    let lan = topology.network.lan_latency;
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed::stream(seed, Component::Turmoil))
        .epoch(std::time::UNIX_EPOCH + Duration::from_secs(EPOCH_UNIX_S))
        .tick_duration(tick)
        .simulation_duration(IDLE_SIMULATED + tick)
        .min_message_latency(lan)
        .max_message_latency(lan)
        .build();
    for host in &topology.hosts {
        if host.role == Role::Users {
            sim.host(host.address, || async { Ok(()) });
            continue;
        }
        sim.host(host.address, || async {
            let _listener =
                turmoil::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, BARE_PORT)).await?;
            std::future::pending::<()>().await;
            Ok(())
        });
    }
    let users = topology.the(Role::Users).address;
    let egress = topology.egress();
    let internet = topology.network.internet_latency;
    for host in topology.hosts.iter().filter(|h| h.role != Role::Users) {
        sim.set_link_latency(users, host.address, internet);
        if host.role.is_internet_site() {
            sim.set_link_latency(egress, host.address, internet);
        }
    }
    sim
}

/// The harness's world with the reference's topology and settings, and no load.
fn harness_world(reference: &Scenario) -> World {
    let setup = RunSetup {
        seed: reference.seed,
        tick: reference.tick,
        load_for: Duration::ZERO,
        max_duration: IDLE_SIMULATED + reference.tick,
        load: reference.load.clone(),
        operated: false,
    };
    World::new(&reference.topology, &setup)
}

/// Steps a bare world through [`IDLE_SIMULATED`]; the wall time of the stepping.
fn step_bare(reference: &Scenario) -> Duration {
    let mut sim = bare_world(reference);
    let start = Instant::now();
    while sim.elapsed() < IDLE_SIMULATED {
        sim.step().expect("an idle bare world steps");
    }
    start.elapsed()
}

/// Steps the harness's world through [`IDLE_SIMULATED`]; the wall time of the stepping.
fn step_harness(reference: &Scenario) -> Duration {
    let mut world = harness_world(reference);
    let start = Instant::now();
    while world.elapsed() < IDLE_SIMULATED {
        world.step().expect("an idle harness world steps");
    }
    start.elapsed()
}

pub fn benches(c: &mut Criterion, ledger: &Ledger) {
    let reference = scenarios::reference();
    assert_eq!(
        reference.topology.hosts.len(),
        REFERENCE_HOSTS,
        "the reference scenario's hosts, as the bench's names say"
    );
    let filter = Filter::from_args();
    let mut group = group(c, GROUP);
    type Stepper = fn(&Scenario) -> Duration;
    let worlds: [(&str, Stepper); 2] = [(BARE, step_bare), (HARNESS, step_harness)];
    for (name, step) in worlds {
        if !filter.wants(&format!("{GROUP}/{name}")) {
            continue;
        }
        let probe = Probe {
            simulated: IDLE_SIMULATED,
            requests: None,
            wall: step(&reference),
        };
        bench(&mut group, (GROUP, name), (ledger, 4), probe, || {
            step(&reference)
        });
    }
    group.finish();
}

/// The summary's line: the harness's idle world against bare turmoil's.
pub fn notes(ledger: &Ledger) -> Vec<String> {
    let bare = ledger.find(&format!("{GROUP}/{BARE}"));
    let harness = ledger.find(&format!("{GROUP}/{HARNESS}"));
    let (Some(bare), Some(harness)) = (bare, harness) else {
        return Vec::new();
    };
    let (Some(b), Some(h)) = (
        bare.wall_ms_per_simulated_s(),
        harness.wall_ms_per_simulated_s(),
    ) else {
        return Vec::new();
    };
    vec![format!(
        "fig 4, idle {REFERENCE_HOSTS} hosts for {} s: harness world {h:.2} ms per simulated s, bare turmoil \
         {b:.2}: ratio {:.2}x",
        IDLE_SIMULATED.as_secs(),
        h / b
    )]
}
