//! The egress's books, judged on every run from the event log alone.
//!
//! Every request an internet host served must have come from the egress's address
//! (nothing bypassed it) and be covered by an egress decision that let it through to that
//! address; every denial must follow from the configured rules: 407 only for a client
//! without the exception, 403 only for a name off the allow-list, a dropped datagram only
//! for a port not forwarded; and nothing the rules deny may have been let through.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::{Expectation, Observed, Offenders, Verdict};
use crate::events::{EgressRecord, EgressVerdict, Event, EventKind};
use crate::services::egress;
use crate::topology::{EgressMode, EgressSettings, Topology};

/// The egress's decisions against what the internet served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Books {
    /// Decisions the egress made (a request let through counts once).
    pub decisions: usize,
    /// Of those, denials.
    pub denied: usize,
    /// Requests the internet's hosts served.
    pub served: usize,
    /// What the rules and the decisions do not explain.
    pub unexplained: Option<Offenders<Unexplained>>,
}

/// One thing the egress's books do not explain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unexplained {
    /// `site` served `what` to `from`, which is not the egress.
    Bypassed {
        site: String,
        what: String,
        from: IpAddr,
    },
    /// The egress decided on an HTTP request while in NAT mode.
    HttpInNatMode,
    /// A decision about `client`'s traffic the rules do not explain.
    Decision { decision: Decision, client: String },
    /// `site` served more requests than the egress let through to it.
    Uncovered {
        site: String,
        served: usize,
        let_through: usize,
    },
}

/// A decision the rules do not explain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// 407 for a client with the exception.
    ProxyAuthForExempt,
    /// 403 for `target`, though the rules allow it.
    Forbidden { target: String },
    /// A datagram dropped though its port is forwarded (or not a datagram at all).
    DroppedDatagram { port: u16 },
    /// A denial with a status the egress never gives.
    UnexpectedDenial { status: Option<u16> },
    /// Traffic the rules deny, let through.
    LetThrough { protocol: String, target: String },
}

/// The egress verdict.
pub fn check(events: &[Event], topology: &Topology) -> Verdict {
    let mut ledger = Ledger::new(topology);
    for e in events {
        match &e.kind {
            EventKind::SiteServed { from, what, .. } => ledger.served(&e.host, *from, what),
            EventKind::Egress(r) => ledger.decided(r),
            // The rules judged from here on are those the administrator set.
            EventKind::Service(crate::faults::service::ServiceStep::Egress(change)) => {
                ledger.change(change);
            }
            _ => {}
        }
    }
    ledger.verdict()
}

/// The egress's decisions and the internet's requests, counted as the log goes by.
struct Ledger<'a> {
    topology: &'a Topology,
    /// The egress's rules in force: the topology's, with the scenario's `egress` steps
    /// laid over them as the log goes by.
    settings: EgressSettings,
    /// The egress's address: every request a site serves comes from it.
    egress_ip: IpAddr,
    /// The nodes' names (the clients the node exception covers).
    nodes: Vec<String>,
    /// Requests let through, by destination address.
    allowed: BTreeMap<IpAddr, usize>,
    /// Requests the internet's hosts served, by the host's address.
    served: BTreeMap<IpAddr, usize>,
    /// Decisions the egress made (a request let through counts once).
    decisions: usize,
    /// Of those, denials.
    denied: usize,
    /// What the rules and the decisions do not explain, in the log's order.
    wrong: Vec<Unexplained>,
}

impl<'a> Ledger<'a> {
    /// An empty ledger for `topology`'s egress.
    fn new(topology: &'a Topology) -> Self {
        Self {
            topology,
            settings: topology.egress.clone(),
            egress_ip: topology.egress(),
            nodes: topology.node_names(),
            allowed: BTreeMap::new(),
            served: BTreeMap::new(),
            decisions: 0,
            denied: 0,
            wrong: Vec::new(),
        }
    }

    /// Counts a request the internet host `site` served to `from`: a bypass when `from`
    /// is not the egress.
    fn served(&mut self, site: &str, from: IpAddr, what: &str) {
        if from != self.egress_ip {
            self.wrong.push(Unexplained::Bypassed {
                site: site.to_string(),
                what: what.to_string(),
                from,
            });
        }
        let site = self.topology.host(site).map(|h| h.address);
        if let Some(site) = site {
            *self.served.entry(site).or_default() += 1;
        }
    }

    /// Lays an administrator's change over the rules in force.
    fn change(&mut self, change: &crate::faults::service::EgressChange) {
        if let Some(allow) = &change.allow {
            self.settings.allow.clone_from(allow);
        }
        if let Some(exception) = change.exception {
            self.settings.node_exception = exception;
        }
    }

    /// Counts one egress record, and whatever about it the rules do not explain.
    fn decided(&mut self, r: &EgressRecord) {
        let settings = &self.settings;
        // A request let through has a `Forwarding` record, then its outcome; the
        // decision is counted once, and covers what the site serves meanwhile.
        if matches!(
            r.verdict,
            EgressVerdict::Forwarding | EgressVerdict::Denied { .. }
        ) {
            self.decisions += 1;
        }
        if r.verdict == EgressVerdict::Forwarding {
            *self.allowed.entry(r.destination.ip()).or_default() += 1;
        }
        let exempt = settings.node_exception && self.nodes.contains(&r.client);
        let why_not = unexplained(settings, r, exempt);
        if matches!(r.verdict, EgressVerdict::Denied { .. }) {
            self.denied += 1;
            if r.protocol == "http" && settings.mode != EgressMode::Proxy {
                self.wrong.push(Unexplained::HttpInNatMode);
            }
        }
        if let Some(decision) = why_not {
            let client = r.client.clone();
            self.wrong.push(Unexplained::Decision { decision, client });
        }
    }

    /// Each site that served more requests than the egress let through to it.
    fn uncovered(&self) -> Vec<Unexplained> {
        let sites: BTreeMap<IpAddr, &str> = self
            .topology
            .hosts
            .iter()
            .filter(|h| h.role.is_internet_site())
            .map(|h| (h.address, h.name.as_str()))
            .collect();
        let mut uncovered = Vec::new();
        for (site, n) in &self.served {
            let covered = self.allowed.get(site).copied().unwrap_or(0);
            if *n > covered {
                uncovered.push(Unexplained::Uncovered {
                    site: sites.get(site).copied().unwrap_or("?").to_string(),
                    served: *n,
                    let_through: covered,
                });
            }
        }
        uncovered
    }

    /// The verdict on the whole log: it holds when everything is explained.
    fn verdict(mut self) -> Verdict {
        let uncovered = self.uncovered();
        self.wrong.extend(uncovered);
        let holds = self.wrong.is_empty();
        let seen = Books {
            decisions: self.decisions,
            denied: self.denied,
            served: self.served.values().sum(),
            unexplained: Offenders::of(self.wrong),
        };
        if holds && seen.decisions == 0 && seen.served == 0 {
            return Verdict::vacuous(
                Expectation::EgressAccounted,
                Observed::Egress(seen),
                super::Vacuity::NoEgressTraffic,
            );
        }
        Verdict::judged(Expectation::EgressAccounted, Observed::Egress(seen), holds)
    }
}

/// What about one egress record the rules do not explain, if anything.
fn unexplained(settings: &EgressSettings, r: &EgressRecord, exempt: bool) -> Option<Decision> {
    let listed = egress::allows(&settings.allow, &r.target);
    let forwarded_udp = settings.udp_ports.contains(&r.destination.port());
    match &r.verdict {
        EgressVerdict::Denied {
            status: Some(407), ..
        } => exempt.then_some(Decision::ProxyAuthForExempt),
        EgressVerdict::Denied {
            status: Some(403), ..
        } => (listed || !exempt).then(|| Decision::Forbidden {
            target: r.target.clone(),
        }),
        EgressVerdict::Denied { status: None, .. } => {
            (r.protocol != "udp" || forwarded_udp).then(|| Decision::DroppedDatagram {
                port: r.destination.port(),
            })
        }
        EgressVerdict::Denied { status, .. } => {
            Some(Decision::UnexpectedDenial { status: *status })
        }
        EgressVerdict::Forwarding
        | EgressVerdict::Delivered { .. }
        | EgressVerdict::UpstreamFailed { .. } => {
            let breach = match r.protocol.as_str() {
                "http" => !(exempt && listed) || settings.mode != EgressMode::Proxy,
                "tcp" => settings.mode != EgressMode::Nat,
                _ => !forwarded_udp,
            };
            breach.then(|| Decision::LetThrough {
                protocol: r.protocol.clone(),
                target: r.target.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::checkers::event_at as at;

    fn decision(target: &str, port: u16, protocol: &str, verdict: EgressVerdict) -> Event {
        let ip = match target {
            "facebook.com" => "203.0.113.10",
            "pool.ntp.org" => "203.0.113.123",
            _ => "203.0.113.99",
        };
        at(
            "egress",
            5,
            EventKind::Egress(EgressRecord {
                client: "node-1".into(),
                protocol: protocol.into(),
                target: target.into(),
                destination: format!("{ip}:{port}").parse().unwrap(),
                verdict,
            }),
        )
    }

    fn served(from: &str) -> Event {
        at(
            "facebook.com",
            5,
            EventKind::SiteServed {
                from: from.parse().unwrap(),
                what: "GET /oauth/access_token".into(),
                status: Some(200),
            },
        )
    }

    /// Proves the egress verdict holds for served requests covered by allowing decisions
    /// and denials the rules explain, and fails for a request that bypassed the egress, a
    /// request served with no decision behind it, and a 403 for an allowed name.
    #[test]
    fn egress_books_balance() {
        let t = Topology::ha3();
        let forwarding = decision("facebook.com", 80, "http", EgressVerdict::Forwarding);
        let off_list = decision(
            "evil.example.net",
            80,
            "http",
            EgressVerdict::Denied {
                status: Some(403),
                reason: "not on the allow-list".into(),
            },
        );
        let ok = vec![forwarding.clone(), served("10.0.1.1"), off_list];
        let v = check(&ok, &t);
        assert!(v.holds(), "{:?}", v.observed);
        assert!(!check(&[forwarding.clone(), served("10.0.1.11")], &t).holds());
        assert!(!check(&[served("10.0.1.1")], &t).holds());
        let wrong_403 = decision(
            "facebook.com",
            80,
            "http",
            EgressVerdict::Denied {
                status: Some(403),
                reason: "?".into(),
            },
        );
        let v = check(&[wrong_403], &t);
        let Observed::Egress(books) = &v.observed else {
            panic!("{:?}", v.observed);
        };
        let forbidden = Decision::Forbidden {
            target: "facebook.com".into(),
        };
        assert!(
            matches!(&books.unexplained, Some(o) if o.first == Unexplained::Decision {
                decision: forbidden,
                client: "node-1".into(),
            }),
            "{books:?}"
        );
        let udp = decision(
            "pool.ntp.org",
            123,
            "udp",
            EgressVerdict::Denied {
                status: None,
                reason: "?".into(),
            },
        );
        assert!(!check(&[udp], &t).holds());
    }
}
