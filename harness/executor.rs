//! The step executor: builds the world, applies each step at its simulated time, and runs
//! the simulation to the end of the load plus a drain.
//!
//! The steps are the scenario's as drawn for the run's seed (`scenario::draw::plan`: step
//! times from their ranges, the `[nemesis]` schedule); a node named by role is resolved
//! when its step runs, against the nodes up then and the primary, and each draw is
//! recorded (`EventKind::Drawn`) just before the step it moved. [`Run::steps`] lists the
//! steps as applied, every time and node explicit (what `harness shrink` writes out).
//!
//! A step due at time `t` is applied before the first tick that starts at or after `t`, so
//! with a 1 ms tick it lands within 1 ms of its time. After `duration` the users send
//! nothing new, and the run continues for [`drain`] so that every request already sent
//! reaches an outcome: the report never has to guess about unfinished requests.
//!
//! After every step the executor asks the convergence checker whether the step lost the
//! primary (`checkers::convergence::primary_loss`, over what the world sees of it) and
//! has the world record it. After the last step comes the convergence phase: every tick
//! the executor asks the checker whether the replica set is healthy
//! (`checkers::convergence::healthy`) and whether the primary's mail is flowing
//! (`checkers::convergence::mail_flowing`), and records the moment each last began to
//! hold, if it still does at the end (health that a fault's delayed effects break again
//! does not count). The set's moment is recorded as `EventKind::Converged` ("healthy
//! again") only when a step had made the set unhealthy (watched from the first step on),
//! and as `EventKind::HealthyUnbroken` otherwise; both under the host [`SET_HOST`], not
//! `scenario`, which names injected faults. The run lasts until the drain is over and
//! either both hold or `expect.converge_within` has passed since the last step, whichever
//! is later; writes
//! still in flight then get up to [`QUIESCE_MAX`] to settle, and every member's data is
//! recorded for the checkers.
//!
//! Idle time is jumped (`advance`): when no host would run in the coming ticks (no
//! message due, no service timer due: `World::idle_ticks`), the executor moves over all
//! of them at once, up to the next moment it must look itself: the next step, the end of
//! the phase, or the moment the watched conditions could change by time alone
//! (`checkers::convergence::next_change`). Looking every tick would see the same thing.

use std::time::Duration;

use crate::checkers::convergence;
use crate::events::{EXECUTOR, EventKind, Log};
use crate::scenario::draw::{self, Drawn, Nodes, Plan};
use crate::scenario::spec::{Action, Scenario, Step};
use crate::world::sim::{Observer, RunSetup, World, WorldError};

/// Time after the end of the load for in-flight requests to finish: the users' timeout
/// bounds every request end to end, plus one second for the last outcome to be recorded.
pub fn drain(scenario: &Scenario) -> Duration {
    scenario.load.timeout + Duration::from_secs(1)
}

/// How long the run may go on after its end for writes in flight to settle.
pub const QUIESCE_MAX: Duration = Duration::from_secs(5);

fn apply(world: &mut World, action: &Action) {
    match action {
        Action::Crash { node, mode } => world.crash(node, *mode),
        Action::Restart { node } => world.restart(node),
        Action::Partition(partition) => world.partition(partition),
        Action::Heal => world.heal(),
        Action::Block(block) => world.block(block),
        Action::Unblock { id } => world.unblock(id),
        Action::Clock { node, change } => world.set_clock(node, *change),
        Action::Service(step) => world.service_step(step),
        Action::Host(fault) => world.host_fault(fault),
        Action::Link(fault) => world.link_fault(fault),
        Action::Ssh(session) => world.ssh(session),
    }
    // Hosts that were skipped as idle look at the changed world in the next tick.
    world.wake_all();
}

/// After a step: if the current primary is down or cannot reach a majority of the nodes
/// on 27017 (both ways, by the fault table), has the world record that it is lost, once
/// per primary and term (`noted` remembers the last one recorded).
fn note_primary_loss(world: &World, noted: &mut Option<(String, u64)>) {
    let Some((node, term, seen)) = world.primary_seen() else {
        return;
    };
    if noted.as_ref() == Some(&(node.clone(), term)) {
        return;
    }
    if let Some(why) = convergence::primary_loss(seen) {
        *noted = Some((node.clone(), term));
        world.record_primary_lost(node, term, why);
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Run {
    /// The event log, in time order (see [`crate::events::log`] for what it holds).
    pub events: Log,
    /// Simulated time covered, drain included.
    pub simulated: Duration,
    /// The steps as applied, in order: drawn times, nodes named by role resolved, the
    /// nemesis expanded; steps skipped (a role no node had then) left out.
    pub steps: Vec<Step>,
}

/// The nodes a role is resolved against, as the world sees them now.
fn nodes_now(world: &World, all: &[String]) -> Nodes {
    let up: Vec<String> = all.iter().filter(|n| !world.is_down(n)).cloned().collect();
    let primary = world
        .primary_seen()
        .map(|(node, _, _)| node)
        .filter(|n| up.contains(n));
    Nodes {
        all: all.to_vec(),
        up,
        primary,
    }
}

/// Applies one planned step: records what was drawn for it, resolves a role, and applies
/// the action (none when the role matched no node); returns the step as applied.
fn apply_planned(world: &mut World, plan: &mut Plan, index: usize, all: &[String]) -> Option<Step> {
    let planned = plan.steps[index].clone();
    let record = |world: &World, d: Drawn| {
        let kind = EventKind::Drawn {
            key: d.key,
            from: d.from,
            value: d.value,
        };
        world
            .recorder()
            .record_step_at(world.elapsed(), EXECUTOR, kind);
    };
    for d in planned.drawn {
        record(world, d);
    }
    let (action, note) = plan.resolve(&planned.step, &nodes_now(world, all));
    if let Some(d) = note {
        record(world, d);
    }
    let action = action?;
    apply(world, &action);
    Some(Step::fixed(planned.step.at, action, planned.step.origin))
}

/// The host name the executor records its conclusions on the replica set under
/// ([`EventKind::Converged`], [`EventKind::HealthyUnbroken`], [`EventKind::MailFlowing`]):
/// not [`crate::events::EXECUTOR`], which names the faults the scenario injected.
pub const SET_HOST: &str = "replica-set";

/// What the executor watches, tick by tick: whether a step made the set unhealthy, and
/// after the last step since when the set has been healthy and its mail flowing.
#[derive(Debug, Default)]
struct Watch {
    /// A step has been applied: from then on, unhealthy ticks count as a fault's effect.
    stepped: bool,
    /// The set was unhealthy at some tick after a step.
    broken: bool,
    /// After the last step: since when the set has been healthy, if it still is.
    healthy_since: Option<Duration>,
    /// After the last step: since when the primary's mail has been flowing, if it still is.
    mail_since: Option<Duration>,
}

impl Watch {
    /// Looks at the set after a tick; `done` is true once every step has been applied.
    fn tick(&mut self, world: &World, heartbeat: Duration, done: bool) {
        if !self.stepped && !done {
            return;
        }
        let now = world.elapsed();
        let healthy = world.up_members(|up| convergence::healthy(up, now, heartbeat));
        self.broken |= self.stepped && !healthy;
        if !done {
            return;
        }
        let flowing = world.up_members(|up| convergence::mail_flowing(up, now));
        self.healthy_since = since(self.healthy_since, healthy, now);
        self.mail_since = since(self.mail_since, flowing, now);
    }

    /// The next moment the watched conditions could change with no member changing
    /// (`convergence::next_change`).
    fn next_change(&self, world: &World, heartbeat: Duration) -> Option<Duration> {
        let now = world.elapsed();
        world.up_members(|up| convergence::next_change(up, now, heartbeat))
    }

    /// True once both the set's health and its mail have a moment they hold since.
    fn settled(&self) -> bool {
        self.healthy_since.is_some() && self.mail_since.is_some()
    }

    /// Records what held at the end: the set healthy (again, if a step had broken it),
    /// the mail flowing.
    fn record(&self, world: &World) {
        let recorder = world.recorder();
        if let Some(at) = self.healthy_since {
            let kind = if self.broken {
                EventKind::Converged
            } else {
                EventKind::HealthyUnbroken
            };
            recorder.record_at(at, SET_HOST, kind);
        }
        if let Some(at) = self.mail_since {
            recorder.record_at(at, SET_HOST, EventKind::MailFlowing);
        }
    }
}

/// Since when a condition holds: `now` if it just began, unchanged if it goes on, `None`
/// when it does not hold.
fn since(was: Option<Duration>, holds: bool, now: Duration) -> Option<Duration> {
    match (was, holds) {
        (_, false) => None,
        (None, true) => Some(now),
        (since, true) => since,
    }
}

/// Moves the simulation forward: over every tick in which no host would run and that
/// ends before `horizon` (the next moment the executor must look: a step, the end of a
/// phase, a change of the watched conditions) in one jump, or else by one tick. A jump
/// changes nothing that happens (turmoil's `skip_idle_steps`); it only saves the ticks'
/// cost.
fn advance(
    world: &mut World,
    tick: Duration,
    horizon: impl FnOnce(&World) -> Option<Duration>,
) -> Result<(), WorldError> {
    let idle = world.idle_ticks();
    if idle == 0 {
        return world.step();
    }
    let before = horizon(world).map_or(u64::MAX, |h| ticks_before(world.elapsed(), h, tick));
    match idle.min(before) {
        0 => world.step(),
        ticks => world.skip_idle(ticks),
    }
}

/// How many whole ticks from `from` end before `to`.
fn ticks_before(from: Duration, to: Duration, tick: Duration) -> u64 {
    let ahead = to.saturating_sub(from).as_nanos().div_ceil(tick.as_nanos());
    u64::try_from(ahead.saturating_sub(1)).unwrap_or(u64::MAX)
}

/// Runs a scenario with `seed` (the caller resolves it: the scenario's own, or `--seed`).
pub fn run(scenario: &Scenario, seed: u64) -> Result<Run, WorldError> {
    run_observed(scenario, seed, None)
}

/// [`run`], with every message the network carries shown to `observer` (turmoil's capture
/// hook, `Sim::observe`: [`crate::capture`]), which cannot change what happens.
pub fn run_observed(
    scenario: &Scenario,
    seed: u64,
    observer: Option<Observer>,
) -> Result<Run, WorldError> {
    let load_end = scenario.duration + drain(scenario);
    let mut plan = draw::plan(scenario, seed);
    // A maintenance session is an operation, not a fault: the set's convergence is
    // timed from the last fault.
    let is_fault = |p: &&draw::Planned| !matches!(p.step.action, Action::Ssh(_));
    let last_fault = plan
        .steps
        .iter()
        .rev()
        .find(is_fault)
        .map_or(Duration::ZERO, |p| p.step.at);
    let converge_by = last_fault + scenario.expect.converge_within();
    let end = load_end.max(converge_by);
    let setup = RunSetup {
        seed,
        tick: scenario.tick,
        load_for: scenario.duration,
        // turmoil errors past this; the loop below stops at `end`, one tick earlier.
        max_duration: end + QUIESCE_MAX + scenario.tick,
        load: scenario.load.clone(),
        operated: scenario.update.is_some(),
    };
    let mut world = World::new(&scenario.topology, &setup);
    if let Some(observer) = observer {
        world.observe(observer);
    }
    let all = scenario.topology.node_names();
    let mut next = 0;
    let mut applied = Vec::new();
    let mut watch = Watch::default();
    let heartbeat = scenario.topology.replica_set.heartbeat;
    // The primary (and term) whose loss was last recorded.
    let mut lost_noted: Option<(String, u64)> = None;
    let mut update = scenario.update.as_ref();
    while world.elapsed() < load_end || (!watch.settled() && world.elapsed() < converge_by) {
        if let Some(u) = update.filter(|u| u.at <= world.elapsed()) {
            world.start_update(u);
            watch.stepped = true;
            update = None;
        }
        world.operate();
        while next < plan.steps.len() && plan.steps[next].step.at <= world.elapsed() {
            watch.stepped |= is_fault(&&plan.steps[next]);
            applied.extend(apply_planned(&mut world, &mut plan, next, &all));
            next += 1;
            note_primary_loss(&world, &mut lost_noted);
        }
        let run_until = if watch.settled() { load_end } else { end };
        let next_step = plan.steps.get(next).map(|p| p.step.at);
        advance(&mut world, scenario.tick, |world| {
            let watched = watch.next_change(world, heartbeat);
            let operation = world.operation_deadline();
            let update_at = update.map(|u| u.at);
            [next_step, Some(run_until), watched, operation, update_at]
                .into_iter()
                .flatten()
                .min()
        })?;
        let faults_left = plan.steps[next..].iter().any(|p| is_fault(&p));
        watch.tick(&world, heartbeat, !faults_left);
    }
    watch.record(&world);
    // Let writes in flight settle before the checkers read the members' data.
    let settle_by = world.elapsed() + QUIESCE_MAX;
    while !world.up_members(convergence::settled) && world.elapsed() < settle_by {
        advance(&mut world, scenario.tick, |_| Some(settle_by))?;
    }
    world.record_final_state();
    Ok(finish(world, applied))
}

/// Hands the heap's free pages back to the operating system, once the world is dropped.
/// glibc keeps memory freed in the middle of its heap resident (only its top is returned
/// as it shrinks), so the world's connections and buffers, freed at the run's end, would
/// stay counted while the report's own work is added on top: one hour of node-loss peaks
/// at 102 MB without this call, at 90-94 MB with it (`tools/peak-memory`). Elsewhere the
/// allocator decides for itself.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn give_back_free_memory() {
    // SAFETY: `malloc_trim` only hands glibc's free pages back to the kernel: it changes no
    // live allocation and may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back_free_memory() {}

/// The run's outcome, from its world: the world's memory (members' logs, connections) is
/// given back before the log is sorted and the report built, so a run's peak holds one of
/// the two, not both.
fn finish(world: World, steps: Vec<Step>) -> Run {
    let recorded = world.recorder().take_unfinished();
    let simulated = world.elapsed();
    drop(world);
    give_back_free_memory();
    Run {
        events: recorded.finish(),
        simulated,
        steps,
    }
}
