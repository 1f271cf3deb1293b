//! The dev/test instance `dev-1`: the appliance's own node service, alone, and a tester
//! on the same machine signing users up against it.
//!
//! Real component: the single-node dev/test instance the network requirements ask for beside the
//! production cluster, "on completely isolated networks", and whoever tries changes out
//! on it. Its configuration is often a clone of production's, relay address included.
//!
//! Modelled:
//! - The node is [`super::node::run`], the code production's nodes run, as a one-member
//!   replica set of its own (its own data, primary of itself from the start; it never
//!   joins production's set, and production's checkers never read its data).
//! - The tester: signups at `dev.signups_per_s`, arriving as a Poisson process
//!   ([`super::arrivals`]) seeded from the run's seed (its own stream, so production's
//!   arrivals do not move), each a `POST /signup` of `dev-tester-<n>` to the node's own
//!   address on 443 (a host's own address is loopback in the simulation, so this never
//!   leaves the machine), each bounded by [`TIMEOUT`]. Arrival times count from the start
//!   of the run, so a restarted tester goes on where it was and never reuses a name. Every
//!   acknowledged signup queues a verification mail on `dev-1`: with production's relay
//!   configured (a cloned configuration), delivering it is an attempt to reach production.
//! - Nothing is recorded per signup: these are not production's users and must not count
//!   in its availability. `dev-1`'s data at the end ([`EventKind::DevFinal`]) says how many
//!   signups it holds and how much mail waits.
//!
//! Left out on purpose: logins, tokens and social login on `dev-1` (nothing about the
//! isolation depends on them).
//!
//! Port: none of its own (the node listens on 443, 27017, 7777, 8721, 8701). Faults: a
//! crash and restart of `dev-1` restart both.
//!
//! [`EventKind::DevFinal`]: crate::events::EventKind::DevFinal

use std::net::SocketAddr;
use std::time::Duration;

use crate::env::Env;
use crate::net::Net;
use crate::seed::{self, Component};
use crate::services::arrivals::Arrivals;
use crate::services::http::{self, Body};
use crate::services::node::{self, NodeConfig};

/// Bound on one signup, connect to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The tester's configuration.
#[derive(Debug, Clone)]
pub struct TesterConfig {
    /// Signups per second; 0 sends none.
    pub signups_per_s: f64,
    /// No signups at or after this time since the run began.
    pub until: Duration,
    /// The run's seed: the signups arrive on its [`Component::TesterArrivals`] stream.
    pub seed: u64,
}

/// Runs `dev-1`: the tester beside the node, until the node's listener fails.
pub async fn run<N: Net>(env: Env<N>, config: (NodeConfig, TesterConfig)) -> std::io::Result<()> {
    let (node, tester) = config;
    tokio::spawn(signups(env.clone(), tester));
    node::run(env, node).await
}

/// The user name of signup `n`.
pub fn user(n: u64) -> String {
    format!("dev-tester-{n}")
}

/// Sends the signups, each on its own task; returns after the last one is sent.
async fn signups<N: Net>(env: Env<N>, config: TesterConfig) {
    if config.signups_per_s <= 0.0 {
        return;
    }
    let now = env.clock.elapsed();
    let origin = tokio::time::Instant::now() - now;
    let to = SocketAddr::new(env.net.local_ip(), node::PORT);
    let arrivals = Arrivals::new(
        seed::stream(config.seed, Component::TesterArrivals),
        config.signups_per_s,
        config.until,
    );
    for (n, at) in (0u64..).zip(arrivals).filter(|(_, at)| *at >= now) {
        crate::timers::sleep_until(origin + at).await;
        let request = hyper::Request::post("/signup")
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                serde_json::json!({ "username": user(n), "password": format!("pw-{n}") })
                    .to_string(),
            ))
            .expect("requests built from valid parts");
        let net = env.net.clone();
        tokio::spawn(async move {
            // The outcome shows in dev-1's data at the end; a failed signup is simply not
            // there.
            if let Err(failure) = http::exchange(&net, to, request, TIMEOUT, TIMEOUT).await {
                drop(failure);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves the tester's arrivals are a stream of their own: the same seed gives the
    /// same times, and they differ from the users' stream of that seed.
    #[test]
    fn own_stream() {
        let until = Duration::from_secs(600);
        let own = seed::stream(1, Component::TesterArrivals);
        let a: Vec<_> = Arrivals::new(own, 0.2, until).collect();
        let b: Vec<_> = Arrivals::new(own, 0.2, until).collect();
        let users_seed = seed::stream(1, Component::UserArrivals);
        let users: Vec<_> = Arrivals::new(users_seed, 0.2, until).collect();
        assert_eq!(a, b);
        assert_ne!(a, users);
        assert!((80..=160).contains(&a.len()), "{} signups in 600s", a.len());
    }
}
