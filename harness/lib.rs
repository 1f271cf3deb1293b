//! A deterministic network-emulation test harness for an on-premise identity appliance
//! cluster.
//!
//! The harness stands up the appliance's infrastructure (load balancer, cluster nodes,
//! DNS, SMTP, the egress, the internet's hosts, the users) as virtual hosts on turmoil's
//! in-process network, runs a scenario that injects faults under client load, and
//! reports what the cluster did. The same scenario
//! and seed give a byte-identical report, run after run, debug or release.
//!
//! # Layout
//!
//! Each module is a room with one job, and data flows one way through them: scenario
//! file -> fault vocabulary and topology -> wiring -> world -> event log -> checkers ->
//! outcome -> renderings. No room imports a room that imports it back
//! (`tests/module_graph.rs` proves it, for rooms and for single modules).
//!
//! - The ground floor (imports nothing of the crate): [`faults`], the fault vocabulary as
//!   plain data (crash modes, cuts and partitions, firewall blocks, dispositions,
//!   protocols, clock steps), which the loader produces and the world applies;
//!   [`clock`](mod@clock), the clock arithmetic ([`clock::ClockSetting`]), the run's epoch
//!   and the [`clock::Clock`] trait services read time through; [`files`], the bounded
//!   read of every file a user names; [`seed`], the run's one seed and the stream each
//!   random component draws from it; [`duration`], durations as scenarios write them.
//! - [`scenario`]: the script format ([`scenario::spec`], with the thresholds a run is
//!   judged by, [`scenario::spec::Expectations`]) and loading with errors that name file,
//!   line, column and key ([`scenario::load`](mod@scenario::load)).
//! - [`topology`]: what is deployed: hosts, fixed addresses, each component's settings;
//!   [`topology::certs`] reads the certificate files `[topology.tls]` names.
//! - [`wiring`]: the topology turned into each service's configuration (the DNS zone,
//!   the replica set, the nodes, the balancer, the relay, the egress, the users), used
//!   alike by the world, [`serve`] and [`check`].
//! - [`explore`]: `harness shrink`: a failing run reduced to a smaller scenario that
//!   fails the same verdicts.
//! - [`executor`]: a run: builds the world, applies each step at its time, drains the
//!   load and waits for the replica set to converge.
//! - [`world`]: the simulation only: the turmoil hosts and links, per-host clocks, the
//!   socket layer and the fault driver (crashes, partitions, firewall rules, clock
//!   steps). It records; it does not judge.
//! - [`services`]: one file per virtual component: [`services::node`] (with
//!   [`services::database`] over [`services::replica_set`], [`services::mail`] and
//!   [`services::outbound`]), [`services::load_balancer`], [`services::dns`],
//!   [`services::smtp`], [`services::egress`], [`services::internet`], [`services::ntp`],
//!   [`services::users`] (with the AD/LDAP [`services::connector`] beside them),
//!   [`services::dev_tester`] (the dev/test instance `dev-1`), with their protocol logic
//!   in plain, unit-tested code ([`services::health`], [`services::round_robin`],
//!   [`services::arrivals`], [`services::token`]).
//! - [`net`] and [`env`](mod@env): the small interface services are written against
//!   (sockets, clocks, the event log), so the same service code can run on real sockets;
//!   [`net::original`] carries a redirected connection's original destination;
//!   [`timers`] every wait a service makes (sleeps, timeouts, periodic ticks, hyper's
//!   timer), registered so the simulation can skip hosts with nothing to do; [`tls`]
//!   the certificates and TLS configurations.
//! - [`events`]: the event log's vocabulary, which every service and the world write to.
//! - [`checkers`]: every expectation's verdict, typed, judged from the event log (and the
//!   members' final data in it) apart from the code under test: one file per checker.
//! - [`report`]: the outcome (a pure function of the event log), the verdicts, faults and
//!   timeline in words ([`report::verdicts`], [`report::faults`]) and its text rendering.
//! - [`export`]: real HAProxy and nginx configurations for a topology's load balancer
//!   (`harness export`).
//! - [`capture`]: a run's network traffic as a pcap file (`harness run --pcap`), packets
//!   built with smoltcp's `wire` module from turmoil's capture hook, and the TLS key log
//!   that decrypts it.
//! - [`check`]: `harness check`, a static preflight of a scenario against the seeds'
//!   requirements.
//! - [`serve`]: one service's own code on real sockets (`harness serve`), for real
//!   clients to talk to.
//! - [`sweep`]: one scenario over many seeds (`harness sweep`, shards, `harness merge`,
//!   JUnit), each seed run as `harness run --seed N` runs it.
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
//!     format_version = 1
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

pub mod capture;
pub mod check;
pub mod checkers;
pub mod clock;
pub mod duration;
pub mod env;
pub mod events;
pub mod executor;
pub mod explore;
pub mod export;
pub mod faults;
pub mod files;
pub mod net;
pub mod report;
pub mod scenario;
pub mod seed;
pub mod serve;
pub mod services;
pub mod sweep;
pub mod timers;
pub mod tls;
pub mod topology;
pub mod wiring;
pub mod world;
