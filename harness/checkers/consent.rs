//! Consent for calls out, judged from the event log where the topology declares it
//! (`[topology.consent]`).
//!
//! Seed 000: "No information will be transferred outside the Auth0 nodes without
//! consent". Every call out goes through the egress, and each has a purpose, known by the
//! role of the internet host it goes to (`Role::purpose`: the identity provider is
//! social login, the CDN the extensions, the update mirror the update check, public NTP
//! the time). The egress decides by its own rules, which know nothing of consent; this
//! check holds the decisions against the consent declared: every call the egress let
//! through (a `Forwarding` record: the request, connection or datagram went on towards
//! the internet) must be for a consented purpose. A call the egress refused transferred
//! nothing and breaks no consent, whatever its purpose. A call to an address with no
//! known purpose is not consented.

use std::net::IpAddr;
use std::time::Duration;

use super::{Expectation, Observed, Offenders, Vacuity, Verdict};
use crate::events::{EgressRecord, EgressVerdict, Event, EventKind};
use crate::topology::{Purpose, Topology};

/// The egress's decisions against the consent declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Books {
    /// Calls let through for a consented purpose.
    pub consented: usize,
    /// Calls the egress refused (nothing transferred).
    pub refused: usize,
    /// Calls let through without consent: how many, and the first.
    pub unconsented: Option<Offenders<Unconsented>>,
}

impl Books {
    /// Every decision counted: let through (consented or not) and refused.
    pub fn decisions(&self) -> usize {
        self.consented + self.refused + self.unconsented.as_ref().map_or(0, |o| o.count)
    }
}

/// One call let through without consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unconsented {
    pub at: Duration,
    /// The node it came from.
    pub client: String,
    /// Where it went: the name the request named, or the host's name.
    pub target: String,
    /// Its purpose; `None`: the address is no internet site the model knows.
    pub purpose: Option<Purpose>,
}

/// What consent makes of one egress record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Against {
    /// Let through, for a consented purpose.
    Consented,
    /// Let through without consent.
    Unconsented,
    /// Refused by the egress.
    Refused,
}

/// What `consented` makes of `r`, the call to a host of purpose `purpose`; `None` for a
/// record that is not a decision (how a call let through went: its `Forwarding` record
/// already counted it).
pub fn against(
    r: &EgressRecord,
    purpose: Option<Purpose>,
    consented: &[Purpose],
) -> Option<Against> {
    match r.verdict {
        EgressVerdict::Denied { .. } => Some(Against::Refused),
        EgressVerdict::Forwarding => Some(match purpose {
            Some(p) if consented.contains(&p) => Against::Consented,
            _ => Against::Unconsented,
        }),
        EgressVerdict::Delivered { .. } | EgressVerdict::UpstreamFailed { .. } => None,
    }
}

/// The consent verdict; `None` when the topology declares no consent.
pub fn check(events: &[Event], topology: &Topology) -> Option<Verdict> {
    let consented = topology.consented()?;
    let purpose = |ip: IpAddr| topology.purpose_of(ip);
    let (mut ok, mut refused, mut wrong) = (0, 0, Vec::new());
    for e in events {
        let EventKind::Egress(r) = &e.kind else {
            continue;
        };
        let of = purpose(r.destination.ip());
        match against(r, of, consented) {
            Some(Against::Consented) => ok += 1,
            Some(Against::Refused) => refused += 1,
            Some(Against::Unconsented) => wrong.push(Unconsented {
                at: e.at,
                client: r.client.clone(),
                target: r.target.clone(),
                purpose: of,
            }),
            None => {}
        }
    }
    let holds = wrong.is_empty();
    let books = Books {
        consented: ok,
        refused,
        unconsented: Offenders::of(wrong),
    };
    let expectation = Expectation::OutboundConsented {
        purposes: consented.to_vec(),
    };
    Some(if books.decisions() == 0 {
        Verdict::vacuous(expectation, Observed::Consent(books), Vacuity::NoCallOut)
    } else {
        Verdict::judged(expectation, Observed::Consent(books), holds)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::{Status, event_at as at};
    use crate::topology::TopologySpec;

    fn call(target: &str, ip: &str, port: u16, verdict: EgressVerdict) -> Event {
        at(
            "egress",
            5,
            EventKind::Egress(EgressRecord {
                client: "node-1".into(),
                protocol: if port == 123 { "udp" } else { "http" }.into(),
                target: target.into(),
                destination: format!("{ip}:{port}").parse().unwrap(),
                verdict,
            }),
        )
    }

    fn consenting(purposes: Vec<Purpose>) -> Topology {
        let spec = TopologySpec {
            consent: Some(crate::topology::ConsentSettings { purposes }),
            ..TopologySpec::default()
        };
        Topology::from_spec(&spec).unwrap()
    }

    /// Proves a social login let through while social logins are not consented fails
    /// the check (naming the purpose and the node), while the same call refused by the
    /// egress, and consented calls, pass; and that without a declaration there is no
    /// verdict at all.
    #[test]
    fn a_call_let_through_without_consent_fails() {
        let t = consenting(vec![Purpose::Cdn, Purpose::UpdateCheck, Purpose::Ntp]);
        let fb = |v| call("facebook.com", "203.0.113.10", 80, v);
        let cdn = call(
            "cdn.auth0.com",
            "203.0.113.20",
            80,
            EgressVerdict::Forwarding,
        );
        let ntp = call(
            "pool.ntp.org",
            "203.0.113.123",
            123,
            EgressVerdict::Forwarding,
        );
        let delivered = fb(EgressVerdict::Delivered { status: Some(200) });
        let let_through = vec![cdn.clone(), fb(EgressVerdict::Forwarding), delivered, ntp];
        let v = check(&let_through, &t).unwrap();
        assert_eq!(v.status, Status::Fail);
        let Observed::Consent(books) = &v.observed else {
            panic!("{:?}", v.observed);
        };
        assert_eq!((books.consented, books.refused), (2, 0));
        let first = &books.unconsented.as_ref().unwrap().first;
        assert_eq!(first.purpose, Some(Purpose::SocialLogin));
        assert_eq!(first.client, "node-1");

        let refused = fb(EgressVerdict::Denied {
            status: Some(403),
            reason: "facebook.com is not on the allow-list".into(),
        });
        let v = check(&[cdn.clone(), refused], &t).unwrap();
        assert_eq!(v.status, Status::Pass, "{:?}", v.observed);

        let everything = consenting(Purpose::ALL.to_vec());
        let v = check(&[cdn.clone(), fb(EgressVerdict::Forwarding)], &everything).unwrap();
        assert_eq!(v.status, Status::Pass);
        assert!(check(&[cdn], &Topology::ha3()).is_none());
    }

    /// Proves a call to an address no internet site has counts as not consented, and a
    /// declared consent over a run with no call out is vacuous, not a pass.
    #[test]
    fn unknown_purpose_and_no_call() {
        let t = consenting(Purpose::ALL.to_vec());
        let odd = call(
            "203.0.113.99",
            "203.0.113.99",
            80,
            EgressVerdict::Forwarding,
        );
        let v = check(&[odd], &t).unwrap();
        assert_eq!(v.status, Status::Fail);
        let v = check(&[], &t).unwrap();
        assert_eq!(v.status, Status::Vacuous(Vacuity::NoCallOut));
    }
}
