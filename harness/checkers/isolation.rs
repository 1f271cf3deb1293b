//! The checker of the network requirements' rule "Production and non-Production (test/development) must
//! be on completely isolated networks", judged from the event log alone.
//!
//! Every connect and datagram between the dev/test LAN and anything outside it is
//! recorded by the sender's socket layer (the world's boundary), with what the network
//! did to it. The verdict fails when anything crossed, in either direction, and names the
//! first crossing (time, sender, destination) and the count; it holds otherwise and says
//! how many attempts the boundary stopped. It also fails, before looking at any traffic,
//! when the addresses put the two on one network: `dev-1` moved off the dev LAN
//! (10.0.2.0/24), or another host moved onto it (`topology.addresses`), since the
//! boundary is drawn around that LAN. Attempts are not failures: a dev/test instance with
//! a cloned configuration will try to reach production's relay, and an isolated network
//! is what keeps that harmless.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::{Expectation, Observed, Offenders, Verdict};
use crate::events::{BoundaryVerdict, Event, EventKind};
use crate::topology::{DEV_LAN, Role, Topology};

/// What the isolation checker found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// No dev/test instance is deployed: nothing to judge.
    NoDev,
    /// `host` at `address` is inside the dev/test LAN (a production host) or outside it
    /// (the dev/test instance): the two share a network.
    SharedNetwork {
        host: String,
        address: IpAddr,
        inside: bool,
    },
    /// The traffic across the boundary.
    Traffic {
        crossed: Option<Offenders<Crossing>>,
        /// Attempts the boundary stopped.
        stopped: usize,
    },
}

/// One connect or datagram that crossed the boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crossing {
    pub at: Duration,
    /// The sender's name and address.
    pub host: String,
    pub from: IpAddr,
    pub to: SocketAddr,
    pub protocol: &'static str,
}

/// The isolation verdict. Without `dev-1` there is nothing to judge: it says so and holds.
pub fn check(events: &[Event], topology: &Topology) -> Verdict {
    let verdict = |seen: Isolation, holds| {
        Verdict::judged(Expectation::DevIsolated, Observed::Isolation(seen), holds)
    };
    if !topology.dev.enabled {
        return verdict(Isolation::NoDev, true);
    }
    let misplaced = topology.hosts.iter().find(|h| {
        let on_dev_lan = matches!(h.address, IpAddr::V4(v4) if DEV_LAN.contains(&v4));
        on_dev_lan != (h.role == Role::DevNode)
    });
    if let Some(h) = misplaced {
        let seen = Isolation::SharedNetwork {
            host: h.name.clone(),
            address: h.address,
            inside: h.role != Role::DevNode,
        };
        return verdict(seen, false);
    }
    let mut crossed: Vec<Crossing> = Vec::new();
    let mut stopped = 0usize;
    for e in events {
        let EventKind::Boundary(r) = &e.kind else {
            continue;
        };
        match r.verdict {
            BoundaryVerdict::Crossed => crossed.push(Crossing {
                at: e.at,
                host: e.host.clone(),
                from: r.from,
                to: r.to,
                protocol: r.protocol,
            }),
            BoundaryVerdict::NoRoute | BoundaryVerdict::Firewall => stopped += 1,
        }
    }
    let holds = crossed.is_empty();
    let crossed = Offenders::of(crossed);
    verdict(Isolation::Traffic { crossed, stopped }, holds)
}

/// The isolation the tests expect of a run where dev-1's mail crossed twice (first at
/// 0:12.345 to the relay) and two more attempts were stopped at the boundary.
#[cfg(test)]
pub(crate) fn two_crossed() -> Isolation {
    let first = Crossing {
        at: Duration::from_millis(12_345),
        host: "dev-1".into(),
        from: "10.0.2.11".parse().expect("an address"),
        to: "10.0.1.25:587".parse().expect("an address"),
        protocol: "tcp",
    };
    Isolation::Traffic {
        crossed: Some(Offenders { count: 2, first }),
        stopped: 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::BoundaryRecord;
    use crate::topology::TopologySpec;

    fn attempt(ms: u64, host: &str, from: &str, to: &str, verdict: BoundaryVerdict) -> Event {
        Event {
            at: Duration::from_millis(ms),
            host: host.to_string(),
            kind: EventKind::Boundary(BoundaryRecord {
                from: from.parse().unwrap(),
                to: to.parse().unwrap(),
                protocol: "tcp",
                verdict,
            }),
        }
    }

    fn with_dev() -> Topology {
        let mut spec = TopologySpec::default();
        spec.dev.enabled = true;
        Topology::from_spec(&spec).unwrap()
    }

    fn isolation(v: &Verdict) -> &Isolation {
        match &v.observed {
            Observed::Isolation(i) => i,
            other => panic!("{other:?}"),
        }
    }

    /// Proves the verdict holds when every attempt was stopped (and counts them), fails
    /// on a crossing in either direction naming the first one and the count, and holds,
    /// saying so, without a dev/test instance.
    #[test]
    fn crossings_fail_attempts_do_not() {
        let t = with_dev();
        let stopped = vec![
            attempt(
                1_000,
                "dev-1",
                "10.0.2.11",
                "10.0.1.25:587",
                BoundaryVerdict::NoRoute,
            ),
            attempt(
                7_000,
                "dev-1",
                "10.0.2.11",
                "10.0.1.25:587",
                BoundaryVerdict::Firewall,
            ),
        ];
        let v = check(&stopped, &t);
        assert!(v.holds(), "{:?}", v.observed);
        let none_crossed = Isolation::Traffic {
            crossed: None,
            stopped: 2,
        };
        assert_eq!(isolation(&v), &none_crossed);

        let mut crossed = stopped.clone();
        crossed.push(attempt(
            12_345,
            "dev-1",
            "10.0.2.11",
            "10.0.1.25:587",
            BoundaryVerdict::Crossed,
        ));
        crossed.push(attempt(
            13_000,
            "node-1",
            "10.0.1.11",
            "10.0.2.11:27017",
            BoundaryVerdict::Crossed,
        ));
        let v = check(&crossed, &t);
        assert!(!v.holds());
        assert_eq!(isolation(&v), &two_crossed());
        let inbound = vec![crossed[3].clone()];
        assert!(!check(&inbound, &t).holds());

        let v = check(&crossed, &Topology::ha3());
        assert!(v.holds());
        assert_eq!(isolation(&v), &Isolation::NoDev);
    }

    /// Proves addresses that put dev-1 on production's LAN, or a production host on the
    /// dev LAN, fail the verdict even with no traffic recorded.
    #[test]
    fn shared_network_fails() {
        for (host, address) in [("dev-1", "10.0.1.50"), ("node-3", "10.0.2.13")] {
            let mut spec = TopologySpec::default();
            spec.dev.enabled = true;
            spec.addresses
                .insert(host.to_string(), vec![address.parse().unwrap()]);
            let v = check(&[], &Topology::from_spec(&spec).unwrap());
            assert!(!v.holds());
            assert!(
                matches!(isolation(&v), Isolation::SharedNetwork { host: h, address: a, .. }
                    if h == host && a.to_string() == address),
                "{:?}",
                v.observed
            );
        }
        assert!(check(&[], &with_dev()).holds());
    }
}
