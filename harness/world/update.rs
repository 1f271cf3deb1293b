//! The operator of a planned rolling update: what to do next, given what it sees.
//!
//! Real procedure: the appliance's update, one node after another, from the deployment
//! guide's maintenance cycle. For each node in turn the operator
//! 1. drains it at the balancer (with `drain`) and waits for its requests to finish;
//! 2. when its turn comes to the primary, asks it to step down and waits for another
//!    member to be primary (a planned election, not one detected by silence);
//! 3. stops it (a clean shutdown), installs (`install`), starts it with the new version;
//! 4. waits until its member holds everything the primary has committed and the balancer
//!    sees it pass `/testall` `rise` times in a row;
//! 5. puts it back in rotation, and goes on to the next.
//!
//! A wait longer than `wait_max` stops the update at that node (`Halted`): the node is
//! left as it is (out of rotation, or down), and the nodes after it keep their version.
//!
//! Plain code: [`Operator::next`] takes the time and what the world sees of the current
//! node ([`Seen`]) and returns the commands for the world to carry out and record
//! ([`Command`]); [`Operator::deadline`] says when time alone would change its mind. The
//! world (`world::sim`) does the rest.

use std::time::Duration;

use crate::events::update::UpdatePhase;
use crate::scenario::update::Update;

/// What the world sees of the node being updated, each time the operator looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    /// Requests the balancer has in flight on it.
    pub in_flight: usize,
    /// Its member is the primary.
    pub primary: bool,
    /// Another member that is up is primary.
    pub primary_elsewhere: bool,
    /// Its member holds everything the primary has committed (and follows it).
    pub caught_up: bool,
    /// Checks the balancer saw it pass in a row.
    pub passes: u32,
}

/// What the operator has the world do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Take the node out of the balancer's rotation, or put it back.
    Drain { node: String, drained: bool },
    /// Ask the node's member to step down and hand over.
    StepDown { node: String },
    /// Stop the node.
    Stop { node: String },
    /// Install `version` and start the node.
    Start { node: String, version: String },
    /// Record a phase.
    Record(UpdatePhase),
}

/// Where the operator is with the current node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Drained; waiting for its requests to finish.
    AwaitIdle,
    /// About to stop it (asking it to step down first if it is primary).
    Stop,
    /// Asked to step down; waiting for another primary.
    AwaitHandOver,
    /// Stopped; installing until `until`.
    Installing { until: Duration },
    /// Started (or, for a broken install, not); waiting to be caught up.
    AwaitCaughtUp,
    /// Caught up; waiting for the balancer's checks.
    AwaitPassing,
    /// Finished or halted: nothing more to do.
    Done,
}

/// A rolling update in progress.
#[derive(Debug, Clone)]
pub struct Operator {
    plan: Update,
    order: Vec<String>,
    /// The node being updated (an index into `order`).
    current: usize,
    phase: Phase,
    /// When the current phase began (for `wait_max`).
    since: Duration,
    /// The balancer's `rise`: passes in a row that mean a node is healthy.
    rise: u32,
}

impl Operator {
    /// An update of `order` (already resolved: the plan's, or the default), starting at
    /// `now`; the commands that begin it. `from` is each node's version now.
    pub fn start(
        plan: &Update,
        order: Vec<String>,
        from: Vec<(String, String)>,
        rise: u32,
        now: Duration,
    ) -> (Self, Vec<Command>) {
        let mut op = Self {
            plan: plan.clone(),
            order: order.clone(),
            current: 0,
            phase: Phase::Done,
            since: now,
            rise,
        };
        let mut out = vec![Command::Record(UpdatePhase::Began {
            order,
            from,
            version: plan.version.clone(),
            drain: plan.drain,
        })];
        out.extend(op.begin_node(now));
        (op, out)
    }

    /// The node being updated, while the update goes on.
    pub fn node(&self) -> Option<&str> {
        (self.phase != Phase::Done).then(|| self.order[self.current].as_str())
    }

    /// True once the update finished or halted.
    pub fn done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The next moment time alone moves the operator on: an install's end, or a wait
    /// running out.
    pub fn deadline(&self) -> Option<Duration> {
        match self.phase {
            Phase::Done => None,
            Phase::Installing { until } => Some(until),
            Phase::Stop => Some(self.since),
            _ => Some(self.since + self.plan.wait_max),
        }
    }

    fn name(&self) -> String {
        self.order[self.current].clone()
    }

    fn enter(&mut self, phase: Phase, now: Duration) {
        self.phase = phase;
        self.since = now;
    }

    /// Begins the current node: drained first, or straight to its stop.
    fn begin_node(&mut self, now: Duration) -> Vec<Command> {
        let node = self.name();
        if self.plan.drain {
            self.enter(Phase::AwaitIdle, now);
            return vec![
                Command::Drain {
                    node: node.clone(),
                    drained: true,
                },
                Command::Record(UpdatePhase::Drained { node }),
            ];
        }
        self.enter(Phase::Stop, now);
        Vec::new()
    }

    /// What to do now, given what the world sees of the current node.
    pub fn next(&mut self, now: Duration, seen: Seen) -> Vec<Command> {
        let waited = now.saturating_sub(self.since);
        let out_of_time = waited >= self.plan.wait_max;
        let node = self.name();
        match self.phase {
            Phase::Done => Vec::new(),
            Phase::AwaitIdle if seen.in_flight == 0 || out_of_time => {
                self.enter(Phase::Stop, now);
                let mut out = vec![Command::Record(UpdatePhase::Idle {
                    node,
                    in_flight: seen.in_flight,
                })];
                out.extend(self.next(now, seen));
                out
            }
            Phase::Stop if seen.primary => {
                self.enter(Phase::AwaitHandOver, now);
                vec![
                    Command::StepDown { node: node.clone() },
                    Command::Record(UpdatePhase::StepDownAsked { node }),
                ]
            }
            Phase::Stop => self.stop(now),
            Phase::AwaitHandOver if !seen.primary && seen.primary_elsewhere => self.stop(now),
            Phase::AwaitHandOver if out_of_time => self.halt(format!(
                "no other primary {} after it was asked to step down",
                after(waited)
            )),
            Phase::Installing { until } if now >= until => self.start_node(now),
            Phase::AwaitCaughtUp if seen.caught_up && (seen.primary_elsewhere || seen.primary) => {
                self.enter(Phase::AwaitPassing, now);
                let mut out = vec![Command::Record(UpdatePhase::CaughtUp { node })];
                out.extend(self.next(now, seen));
                out
            }
            Phase::AwaitCaughtUp if out_of_time => {
                let why = if self.plan.broken.as_deref() == Some(node.as_str()) {
                    format!(
                        "it did not start again after its install (waited {})",
                        crate::duration::span(waited)
                    )
                } else {
                    format!("it did not catch up with the primary {}", after(waited))
                };
                self.halt(why)
            }
            Phase::AwaitPassing if seen.passes >= self.rise => self.returned(now),
            Phase::AwaitPassing if out_of_time => {
                self.halt(format!("it did not pass /testall {}", after(waited)))
            }
            _ => Vec::new(),
        }
    }

    fn stop(&mut self, now: Duration) -> Vec<Command> {
        let node = self.name();
        self.enter(
            Phase::Installing {
                until: now + self.plan.install,
            },
            now,
        );
        vec![
            Command::Stop { node: node.clone() },
            Command::Record(UpdatePhase::Stopped { node }),
        ]
    }

    /// The install is over: the node starts with the new version, unless its install is
    /// the broken one (then it stays down and the wait for it runs out).
    fn start_node(&mut self, now: Duration) -> Vec<Command> {
        let node = self.name();
        self.enter(Phase::AwaitCaughtUp, now);
        if self.plan.broken.as_deref() == Some(node.as_str()) {
            return Vec::new();
        }
        let version = self.plan.version.clone();
        vec![
            Command::Start {
                node: node.clone(),
                version: version.clone(),
            },
            Command::Record(UpdatePhase::Started { node, version }),
        ]
    }

    /// The node passes: back in rotation, and on to the next node or the end.
    fn returned(&mut self, now: Duration) -> Vec<Command> {
        let node = self.name();
        let mut out = vec![Command::Record(UpdatePhase::Passing { node: node.clone() })];
        if self.plan.drain {
            out.push(Command::Drain {
                node: node.clone(),
                drained: false,
            });
            out.push(Command::Record(UpdatePhase::Returned { node }));
        }
        self.current += 1;
        if self.current == self.order.len() {
            self.current -= 1;
            self.enter(Phase::Done, now);
            out.push(Command::Record(UpdatePhase::Finished));
        } else {
            out.extend(self.begin_node(now));
        }
        out
    }

    fn halt(&mut self, why: String) -> Vec<Command> {
        let node = self.name();
        self.phase = Phase::Done;
        vec![Command::Record(UpdatePhase::Halted { node, why })]
    }
}

fn after(waited: Duration) -> String {
    format!("within {}", crate::duration::span(waited))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(drain: bool, broken: Option<&str>) -> Update {
        Update {
            at: Duration::ZERO,
            origin: 0,
            order: None,
            drain,
            install: Duration::from_secs(20),
            wait_max: Duration::from_secs(60),
            version: "v2".to_string(),
            broken: broken.map(str::to_string),
            downtime_max: Duration::from_secs(30),
        }
    }

    fn kinds(out: &[Command]) -> Vec<String> {
        out.iter()
            .map(|c| match c {
                Command::Drain { drained, .. } => format!("drain {drained}"),
                Command::StepDown { .. } => "step down".into(),
                Command::Stop { .. } => "stop".into(),
                Command::Start { .. } => "start".into(),
                Command::Record(p) => format!("{p:?}").split([' ', '{']).next().unwrap().into(),
            })
            .collect()
    }

    /// Proves the drained sequence for a primary: drain, wait for its requests, step
    /// down and wait for another primary, stop, install for `install`, start, catch up,
    /// `rise` passes, back in rotation, and the end.
    #[test]
    fn drained_primary_sequence() {
        let s = |secs| Duration::from_secs(secs);
        let order = vec!["node-1".to_string()];
        let (mut op, out) = Operator::start(&plan(true, None), order, vec![], 2, s(0));
        assert_eq!(kinds(&out), ["Began", "drain true", "Drained"]);
        let busy = Seen {
            in_flight: 1,
            primary: true,
            ..Seen::default()
        };
        assert!(op.next(s(1), busy).is_empty());
        let idle = Seen {
            in_flight: 0,
            ..busy
        };
        assert_eq!(
            kinds(&op.next(s(2), idle)),
            ["Idle", "step down", "StepDownAsked"]
        );
        let handed = Seen {
            primary: false,
            primary_elsewhere: true,
            ..idle
        };
        assert_eq!(kinds(&op.next(s(2), handed)), ["stop", "Stopped"]);
        assert_eq!(op.deadline(), Some(s(22)));
        assert!(op.next(s(21), handed).is_empty());
        assert_eq!(kinds(&op.next(s(22), handed)), ["start", "Started"]);
        let caught = Seen {
            caught_up: true,
            passes: 1,
            ..handed
        };
        assert_eq!(kinds(&op.next(s(23), caught)), ["CaughtUp"]);
        let passing = Seen {
            passes: 2,
            ..caught
        };
        assert_eq!(
            kinds(&op.next(s(25), passing)),
            ["Passing", "drain false", "Returned", "Finished"]
        );
        assert!(op.done());
    }

    /// Proves a broken install halts the update after `wait_max` at that node, and the
    /// nodes after it are never touched.
    #[test]
    fn broken_install_halts() {
        let s = |secs| Duration::from_secs(secs);
        let order = vec!["node-2".to_string(), "node-3".to_string()];
        let (mut op, _) = Operator::start(&plan(false, Some("node-2")), order, vec![], 2, s(0));
        let seen = Seen {
            primary_elsewhere: true,
            ..Seen::default()
        };
        assert_eq!(kinds(&op.next(s(0), seen)), ["stop", "Stopped"]);
        assert!(op.next(s(20), seen).is_empty());
        assert!(op.next(s(79), seen).is_empty());
        assert_eq!(kinds(&op.next(s(80), seen)), ["Halted"]);
        assert!(op.done() && op.node().is_none());
    }
}
