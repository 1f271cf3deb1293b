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
    let settings = &topology.egress;
    let egress_ip = topology.egress();
    let nodes: Vec<String> = topology.node_names();
    let sites: BTreeMap<IpAddr, &str> = topology
        .hosts
        .iter()
        .filter(|h| h.role.is_internet_site())
        .map(|h| (h.address, h.name.as_str()))
        .collect();
    let mut allowed: BTreeMap<IpAddr, usize> = BTreeMap::new();
    let mut served: BTreeMap<IpAddr, usize> = BTreeMap::new();
    let (mut decisions, mut denied) = (0usize, 0usize);
    let mut wrong: Vec<Unexplained> = Vec::new();
    for e in events {
        match &e.kind {
            EventKind::SiteServed { from, what, .. } => {
                if *from != egress_ip {
                    wrong.push(Unexplained::Bypassed {
                        site: e.host.clone(),
                        what: what.clone(),
                        from: *from,
                    });
                }
                let site = topology.host(&e.host).map(|h| h.address);
                if let Some(site) = site {
                    *served.entry(site).or_default() += 1;
                }
            }
            EventKind::Egress(r) => {
                // A request let through has a `Forwarding` record, then its outcome; the
                // decision is counted once, and covers what the site serves meanwhile.
                if matches!(
                    r.verdict,
                    EgressVerdict::Forwarding | EgressVerdict::Denied { .. }
                ) {
                    decisions += 1;
                }
                if r.verdict == EgressVerdict::Forwarding {
                    *allowed.entry(r.destination.ip()).or_default() += 1;
                }
                let exempt = settings.node_exception && nodes.contains(&r.client);
                let why_not = unexplained(settings, r, exempt);
                if matches!(r.verdict, EgressVerdict::Denied { .. }) {
                    denied += 1;
                    if r.protocol == "http" && settings.mode != EgressMode::Proxy {
                        wrong.push(Unexplained::HttpInNatMode);
                    }
                }
                if let Some(decision) = why_not {
                    let client = r.client.clone();
                    wrong.push(Unexplained::Decision { decision, client });
                }
            }
            _ => {}
        }
    }
    for (site, n) in &served {
        let covered = allowed.get(site).copied().unwrap_or(0);
        if *n > covered {
            wrong.push(Unexplained::Uncovered {
                site: sites.get(site).copied().unwrap_or("?").to_string(),
                served: *n,
                let_through: covered,
            });
        }
    }
    let holds = wrong.is_empty();
    let seen = Books {
        decisions,
        denied,
        served: served.values().sum(),
        unexplained: Offenders::of(wrong),
    };
    Verdict::judged(Expectation::EgressAccounted, Observed::Egress(seen), holds)
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
    use std::time::Duration;

    use super::*;

    fn at(host: &str, secs: u64, kind: EventKind) -> Event {
        Event {
            at: Duration::from_secs(secs),
            host: host.to_string(),
            kind,
        }
    }

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
