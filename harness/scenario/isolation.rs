//! The checker of seed 003's rule "Production and non-Production (test/development) must
//! be on completely isolated networks", judged from the event log alone.
//!
//! Every connect and datagram between the dev/test LAN and anything outside it is
//! recorded by the sender's socket layer ([`crate::world::net::Boundary`]), with what the
//! network did to it. The verdict fails when anything crossed, in either direction, and
//! names the first crossing (time, sender, destination) and the count; it holds otherwise
//! and says how many attempts the boundary stopped. It also fails, before looking at any
//! traffic, when the addresses put the two on one network: `dev-1` moved off the dev LAN
//! (10.0.2.0/24), or another host moved onto it (`topology.addresses`), since the
//! boundary is drawn around that LAN. Attempts are not failures: a dev/test
//! instance with a cloned configuration will try to reach production's relay, and an
//! isolated network is what keeps that harmless.

use super::expect::Verdict;
use crate::duration::clock;
use crate::events::{BoundaryVerdict, Event, EventKind};
use crate::topology::{DEV_LAN, Role, Topology};

pub const ISOLATED: &str = "dev/test isolated from production";

/// The isolation verdict. Without `dev-1` there is nothing to judge: it says so and holds.
pub fn verdict(events: &[Event], topology: &Topology) -> Verdict {
    if !topology.dev.enabled {
        return Verdict {
            expectation: ISOLATED.to_string(),
            observed: "no dev/test instance deployed (topology.dev.enabled = false)".to_string(),
            holds: true,
        };
    }
    let misplaced = topology.hosts.iter().find(|h| {
        let on_dev_lan = matches!(h.address, std::net::IpAddr::V4(v4) if DEV_LAN.contains(&v4));
        on_dev_lan != (h.role == Role::DevNode)
    });
    if let Some(h) = misplaced {
        let side = if h.role == Role::DevNode {
            "outside"
        } else {
            "inside"
        };
        return Verdict {
            expectation: ISOLATED.to_string(),
            observed: format!(
                "{} at {} is {side} the dev/test LAN {DEV_LAN}: the two share a network",
                h.name, h.address
            ),
            holds: false,
        };
    }
    let mut crossed: Vec<String> = Vec::new();
    let mut stopped = 0usize;
    for e in events {
        let EventKind::Boundary(r) = &e.kind else {
            continue;
        };
        match r.verdict {
            BoundaryVerdict::Crossed => crossed.push(format!(
                "at {} {} ({}) -> {} {}",
                clock(e.at),
                e.host,
                r.from,
                r.to,
                r.protocol
            )),
            BoundaryVerdict::NoRoute | BoundaryVerdict::Firewall => stopped += 1,
        }
    }
    let observed = match crossed.first() {
        Some(first) => format!(
            "{} crossed; first: {first}; {stopped} stopped at the boundary",
            crossed.len()
        ),
        None => format!("nothing crossed; {stopped} attempts stopped at the boundary"),
    };
    Verdict {
        expectation: ISOLATED.to_string(),
        observed,
        holds: crossed.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
        let v = verdict(&stopped, &t);
        assert!(v.holds, "{}", v.observed);
        assert_eq!(
            v.observed,
            "nothing crossed; 2 attempts stopped at the boundary"
        );

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
        let v = verdict(&crossed, &t);
        assert!(!v.holds);
        assert_eq!(
            v.observed,
            "2 crossed; first: at 0:12.345 dev-1 (10.0.2.11) -> 10.0.1.25:587 tcp; 2 stopped at the boundary"
        );
        let inbound = vec![crossed[3].clone()];
        assert!(!verdict(&inbound, &t).holds);

        let v = verdict(&crossed, &Topology::ha3());
        assert!(v.holds);
        assert!(
            v.observed.contains("no dev/test instance"),
            "{}",
            v.observed
        );
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
            let v = verdict(&[], &Topology::from_spec(&spec).unwrap());
            assert!(!v.holds);
            assert!(
                v.observed.starts_with(&format!("{host} at {address} is")),
                "{}",
                v.observed
            );
        }
        assert!(verdict(&[], &with_dev()).holds);
    }
}
