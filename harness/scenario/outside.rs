//! The checkers of what lies outside the replica set: tokens against the clocks, and the
//! egress's books. Both are judged on every run, from the event log alone.
//!
//! **Tokens match the clocks.** Every clock change is in the log with the clock's whole
//! new setting, so each host's offset at any moment is known without asking the host.
//! For every token issued, the checker computes what the issuer's clock read (in whole
//! seconds, as JWT times are) and compares it with the `iat` the node stamped; for every
//! token checked, what the validator's clock read, and then, from `iat`, `exp` and the
//! leeway, whether the token had to be accepted or rejected. A rejection (or acceptance)
//! the clocks do not predict fails the verdict, as does a token refused for its signature
//! or shape, which no clock explains.
//!
//! **Egress decisions accounted for.** Every request an internet host served must have
//! come from the egress's address (nothing bypassed it) and be covered by an egress
//! decision that let it through to that address; every denial must follow from the
//! configured rules: 407 only for a client without the exception, 403 only for a name
//! off the allow-list, a dropped datagram only for a port not forwarded; and nothing the
//! rules deny may have been let through.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use super::expect::Verdict;
use crate::clock::{self, ClockSetting};
use crate::events::{EgressVerdict, Event, EventKind};
use crate::services::egress;
use crate::topology::{EgressMode, Topology};
use crate::world::sim::EPOCH_UNIX_S;

pub const TOKENS: &str = "token checks match the clocks";
pub const EGRESS: &str = "egress decisions accounted for";

/// What each host's clock read, in whole seconds, at the event being looked at.
struct Clocks {
    settings: BTreeMap<String, ClockSetting>,
}

impl Clocks {
    fn reading_s(&self, host: &str, at: Duration) -> u64 {
        let offset = self.settings.get(host).map_or(0, |s| s.offset_at(at));
        clock::wall(Duration::from_secs(EPOCH_UNIX_S), at, offset).as_secs()
    }
}

/// The token verdict.
pub fn tokens(events: &[Event], topology: &Topology) -> Verdict {
    let leeway_s = topology.node.token_leeway.as_secs();
    let mut clocks = Clocks {
        settings: BTreeMap::new(),
    };
    let mut issued: BTreeMap<&str, u64> = BTreeMap::new();
    let (mut checked, mut not_yet, mut expired) = (0usize, 0usize, 0usize);
    let mut wrong: Vec<String> = Vec::new();
    for e in events {
        match &e.kind {
            EventKind::ClockChanged { node, setting, .. } => {
                clocks.settings.insert(node.clone(), *setting);
            }
            EventKind::TokenIssued { jti, iat } => {
                let read = clocks.reading_s(&e.host, e.at);
                if *iat != read {
                    wrong.push(format!(
                        "{} stamped {jti} iat {iat} while its clock read {read}",
                        e.host
                    ));
                }
                issued.insert(jti, *iat);
            }
            EventKind::TokenChecked {
                jti,
                iat,
                exp,
                now_s,
                rejected,
                ..
            } => {
                checked += 1;
                let read = clocks.reading_s(&e.host, e.at);
                if *now_s != read {
                    wrong.push(format!(
                        "{} judged {jti} by {now_s} while its clock read {read}",
                        e.host
                    ));
                }
                if issued.get(jti.as_str()) != Some(iat) {
                    wrong.push(format!("{jti} was checked but never issued with iat {iat}"));
                }
                let early = *iat > read + leeway_s;
                let late = read > exp + leeway_s;
                not_yet += usize::from(early);
                expired += usize::from(late && !early);
                if rejected.is_some() != (early || late) {
                    let said = rejected.as_deref().unwrap_or("accepted");
                    wrong.push(format!(
                        "{} said \"{said}\" of {jti} (iat {iat}, exp {exp}) at clock {read}",
                        e.host
                    ));
                }
            }
            EventKind::TokenRefused { reason } => {
                wrong.push(format!("{} refused a token: {reason}", e.host));
            }
            _ => {}
        }
    }
    let rejected = not_yet + expired;
    let observed = match wrong.first() {
        Some(first) => format!("{} disagree; first: {first}", wrong.len()),
        None if checked == 0 => "no token checked".to_string(),
        None => format!(
            "{rejected} of {checked} checks rejected ({not_yet} not yet valid, {expired} expired), each as the clocks predict"
        ),
    };
    Verdict {
        expectation: TOKENS.to_string(),
        observed,
        holds: wrong.is_empty(),
    }
}

/// The egress verdict.
pub fn egress_books(events: &[Event], topology: &Topology) -> Verdict {
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
    let mut wrong: Vec<String> = Vec::new();
    for e in events {
        match &e.kind {
            EventKind::SiteServed { from, what, .. } => {
                if *from != egress_ip {
                    wrong.push(format!(
                        "{} served {what} to {from}, not the egress",
                        e.host
                    ));
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
                let exempt = settings.node_exception && nodes.contains(&r.client);
                let listed = egress::allows(&settings.allow, &r.target);
                let forwarded_udp = settings.udp_ports.contains(&r.destination.port());
                let proxied = r.protocol == "http";
                let why_not = match &r.verdict {
                    EgressVerdict::Denied {
                        status: Some(407), ..
                    } => (exempt).then(|| "407 for a client with the exception".to_string()),
                    EgressVerdict::Denied {
                        status: Some(403), ..
                    } => (listed || !exempt).then(|| format!("403 for {}", r.target)),
                    EgressVerdict::Denied { status: None, .. } => (r.protocol != "udp"
                        || forwarded_udp)
                        .then(|| format!("a dropped datagram to port {}", r.destination.port())),
                    EgressVerdict::Denied { status, .. } => {
                        Some(format!("an unexpected denial {status:?}"))
                    }
                    EgressVerdict::Forwarding
                    | EgressVerdict::Delivered { .. }
                    | EgressVerdict::UpstreamFailed { .. } => {
                        if r.verdict == EgressVerdict::Forwarding {
                            *allowed.entry(r.destination.ip()).or_default() += 1;
                        }
                        let breach = match r.protocol.as_str() {
                            "http" => !(exempt && listed) || settings.mode != EgressMode::Proxy,
                            "tcp" => settings.mode != EgressMode::Nat,
                            _ => !forwarded_udp,
                        };
                        breach.then(|| format!("{} to {} let through", r.protocol, r.target))
                    }
                };
                if matches!(r.verdict, EgressVerdict::Denied { .. }) {
                    denied += 1;
                    if proxied && settings.mode != EgressMode::Proxy {
                        wrong.push("an HTTP decision in NAT mode".to_string());
                    }
                }
                if let Some(why) = why_not {
                    wrong.push(format!(
                        "the rules do not explain {why} (from {})",
                        r.client
                    ));
                }
            }
            _ => {}
        }
    }
    for (site, n) in &served {
        let covered = allowed.get(site).copied().unwrap_or(0);
        if *n > covered {
            let name = sites.get(site).copied().unwrap_or("?");
            wrong.push(format!(
                "{name} served {n} requests but the egress let {covered} through"
            ));
        }
    }
    let total_served: usize = served.values().sum();
    let observed = match wrong.first() {
        Some(first) => format!("{} unexplained; first: {first}", wrong.len()),
        None => format!(
            "{decisions} decisions ({denied} denied by the rules); all {total_served} requests the internet served came through them"
        ),
    };
    Verdict {
        expectation: EGRESS.to_string(),
        observed,
        holds: wrong.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{ClockCause, EgressRecord};

    fn at(host: &str, secs: u64, kind: EventKind) -> Event {
        Event {
            at: Duration::from_secs(secs),
            host: host.to_string(),
            kind,
        }
    }

    fn checked(now_s: u64, iat: u64, rejected: Option<&str>) -> EventKind {
        EventKind::TokenChecked {
            jti: "node-1-0-0".into(),
            issuer: "node-1".into(),
            iat,
            exp: iat + 300,
            now_s,
            rejected: rejected.map(str::to_string),
        }
    }

    /// Proves the token verdict holds when rejections follow the recorded clocks, and
    /// fails for a rejection the clocks do not explain, a validator that read another
    /// clock than its own, and a token refused for its signature.
    #[test]
    fn tokens_follow_the_clocks() {
        let t = Topology::ha3();
        let epoch = EPOCH_UNIX_S;
        let ahead = ClockSetting {
            since: Duration::from_secs(10),
            offset_ns: 600_000_000_000,
            ..ClockSetting::default()
        };
        let issued = at(
            "node-1",
            20,
            EventKind::TokenIssued {
                jti: "node-1-0-0".into(),
                iat: epoch + 20,
            },
        );
        let skew = at(
            "scenario",
            10,
            EventKind::ClockChanged {
                node: "node-3".into(),
                setting: ahead,
                cause: ClockCause::Set,
            },
        );
        let good = vec![
            skew.clone(),
            issued.clone(),
            at("node-2", 30, checked(epoch + 30, epoch + 20, None)),
            at(
                "node-3",
                30,
                checked(epoch + 630, epoch + 20, Some("token expired 330s ago")),
            ),
        ];
        let v = tokens(&good, &t);
        assert!(v.holds, "{}", v.observed);
        assert!(
            v.observed
                .starts_with("1 of 2 checks rejected (0 not yet valid, 1 expired)")
        );

        let unexplained = vec![
            issued.clone(),
            at(
                "node-2",
                30,
                checked(epoch + 30, epoch + 20, Some("expired")),
            ),
        ];
        assert!(!tokens(&unexplained, &t).holds);
        let wrong_clock = vec![
            skew,
            issued.clone(),
            at("node-3", 30, checked(epoch + 30, epoch + 20, None)),
        ];
        let v = tokens(&wrong_clock, &t);
        assert!(!v.holds);
        assert!(
            v.observed.contains("node-3 judged node-1-0-0 by"),
            "{}",
            v.observed
        );
        let forged = vec![at(
            "node-2",
            30,
            EventKind::TokenRefused {
                reason: "token has a bad signature".into(),
            },
        )];
        assert!(!tokens(&forged, &t).holds);
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
        let v = egress_books(&ok, &t);
        assert!(v.holds, "{}", v.observed);
        assert!(!egress_books(&[forwarding.clone(), served("10.0.1.11")], &t).holds);
        assert!(!egress_books(&[served("10.0.1.1")], &t).holds);
        let wrong_403 = decision(
            "facebook.com",
            80,
            "http",
            EgressVerdict::Denied {
                status: Some(403),
                reason: "?".into(),
            },
        );
        let v = egress_books(&[wrong_403], &t);
        assert!(!v.holds);
        assert!(
            v.observed.contains("403 for facebook.com"),
            "{}",
            v.observed
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
        assert!(!egress_books(&[udp], &t).holds);
    }
}
