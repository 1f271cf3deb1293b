//! A deterministic network-emulation test harness for an on-premise identity appliance
//! cluster.
//!
//! The harness stands up the appliance's infrastructure (load balancer, cluster nodes,
//! DNS, SMTP, the egress, the internet's hosts, the users) as virtual hosts on turmoil's in-process network, runs a scenario that
//! injects faults under client load, and reports what the cluster did. The same scenario
//! and seed give a byte-identical report, run after run, debug or release.
//!
//! # Layout
//!
//! Data flows one way: scenario file, topology, world, event log, outcome.
//!
//! - [`scenario`]: the script format ([`scenario::spec`]), loading with errors that name
//!   file, line, column and key ([`scenario::load`](mod@scenario::load)) and the step
//!   executor ([`executor`]); the thresholds a scenario sets are
//!   [`scenario::spec::Expectations`].
//! - [`checkers`]: every expectation's verdict, typed, judged from the event log (and the
//!   members' final data in it) apart from the code under test: one file per checker.
//! - [`topology`]: what is deployed: hosts, fixed addresses, each component's settings;
//!   [`topology::certs`] reads the certificate files `[topology.tls]` names.
//! - [`check`]: `harness check`, a static preflight of a scenario against the seeds'
//!   requirements.
//! - [`wiring`]: the topology turned into each service's configuration (the DNS zone,
//!   the replica set, the nodes, the balancer, the relay, the egress, the users), used
//!   alike by the world, [`serve`] and [`check`].
//! - [`world`]: the turmoil simulation built from a topology; per-host clocks; the socket
//!   layer; crashes and restarts.
//! - [`services`]: one file per virtual component: [`services::node`] (with
//!   [`services::database`] over [`services::replica_set`], [`services::mail`] and
//!   [`services::outbound`]), [`services::load_balancer`], [`services::dns`],
//!   [`services::smtp`], [`services::egress`], [`services::internet`], [`services::ntp`],
//!   [`services::users`] (with the AD/LDAP [`services::connector`] beside them),
//!   [`services::dev_tester`] (the dev/test instance `dev-1`), with their protocol logic
//!   in plain, unit-tested code ([`services::health`], [`services::round_robin`],
//!   [`services::arrivals`], [`services::token`]).
//! - [`net`] and [`env`](mod@env): the small interface services are written against (sockets,
//!   clocks, the event log), so the same service code can run on real sockets;
//!   [`net::original`] carries a redirected connection's original destination.
//! - [`events`]: the event log every service and the executor write to.
//! - [`seed`]: the run's one seed and the stream each random component draws from it.
//! - [`faults`] and [`clock`](mod@clock), the ground floor (they import nothing of the
//!   crate): the fault vocabulary as plain data (crash modes, cuts and partitions, firewall
//!   blocks, dispositions, protocols, clock steps), which the loader produces and the world
//!   applies, and the clock arithmetic ([`clock::ClockSetting`]) services and checkers share.
//! - [`report`]: the outcome (a pure function of the event log), the verdicts in words
//!   ([`report::verdicts`]) and its text rendering.
//! - [`export`]: real HAProxy and nginx configurations for a topology's load balancer
//!   (`harness export`).
//! - [`serve`]: one service's own code on real sockets (`harness serve`), for real
//!   clients to talk to.
//!
//! # Example
//!
//! Run a short scenario and read its verdict:
//!
//! ```
//! use std::path::Path;
//! use harness::{executor, report::Outcome, scenario};
//!
//! let text = r#"
//!     name = "tiny"
//!     seed = 1
//!     duration = "5s"
//!     load = { rate_per_s = 10 }
//!     expect = { availability_pct_min = 100 }
//! "#;
//! let scenario = scenario::parse(Path::new("tiny.toml"), text).unwrap();
//! let run = executor::run(&scenario, scenario.seed).unwrap();
//! let outcome = Outcome::new(&scenario, scenario.seed, &run.events);
//! assert!(outcome.passed);
//! assert!(outcome.totals.sent > 20);
//! ```

pub mod check;
pub mod checkers;
pub mod clock;
pub mod duration;
pub mod env;
pub mod events;
pub mod executor;
pub mod export;
pub mod faults;
pub mod files;
pub mod net;
pub mod report;
pub mod scenario;
pub mod seed;
pub mod serve;
pub mod services;
pub mod tls;
pub mod topology;
pub mod wiring;
pub mod world;
