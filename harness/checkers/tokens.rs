//! Tokens match the clocks, judged on every run from the event log alone.
//!
//! Every clock change is in the log with the clock's whole new setting, so each host's
//! offset at any moment is known without asking the host. For every token issued, the
//! checker computes what the issuer's clock read (in whole seconds, as JWT times are) and
//! compares it with the `iat` the node stamped; for every token checked, what the
//! validator's clock read, and then, from `iat`, `exp` and the leeway, whether the token
//! had to be accepted or rejected. A rejection (or acceptance) the clocks do not predict
//! fails the verdict, as does a token refused for its signature or shape, which no clock
//! explains.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Expectation, Observed, Offenders, Verdict};
use crate::clock::{self, ClockSetting, EPOCH_UNIX_S};
use crate::events::{Event, EventKind, Log};
use crate::topology::Topology;

/// The token checks of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub checked: usize,
    /// Checks rejected because the token was not valid yet by the validator's clock.
    pub not_yet: usize,
    /// Checks rejected because the token had expired by the validator's clock.
    pub expired: usize,
    /// What the clocks do not explain.
    pub disagreements: Option<Offenders<Disagreement>>,
}

/// One thing about a token the recorded clocks do not explain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disagreement {
    /// `host` stamped `iat` while its clock read `read`.
    Stamped {
        host: String,
        jti: String,
        iat: u64,
        read: u64,
    },
    /// `host` judged the token by `now_s` while its clock read `read`.
    Judged {
        host: String,
        jti: String,
        now_s: u64,
        read: u64,
    },
    /// A token checked with an `iat` it was never issued with.
    NeverIssued { jti: String, iat: u64 },
    /// `host` accepted (`rejected` is `None`) or rejected a token against the clocks.
    Decided {
        host: String,
        rejected: Option<String>,
        jti: String,
        iat: u64,
        exp: u64,
        read: u64,
    },
    /// `host` refused a token for its signature or shape.
    Refused { host: String, reason: String },
}

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

/// The token verdict, from every event in the log's order (the token events among the
/// clock changes).
pub fn check(events: &Log, topology: &Topology) -> Verdict {
    let mut judge = Judge {
        leeway_s: topology.node.token_leeway.as_secs(),
        clocks: Clocks {
            settings: BTreeMap::new(),
        },
        issued: BTreeMap::new(),
        seen: Tokens {
            checked: 0,
            not_yet: 0,
            expired: 0,
            disagreements: None,
        },
        wrong: Vec::new(),
    };
    for e in events.all() {
        let e = &*e;
        match &e.kind {
            EventKind::ClockChanged { node, setting, .. } => {
                judge.clocks.settings.insert(node.clone(), *setting);
            }
            EventKind::TokenIssued { jti, iat } => judge.issued(e, jti, *iat),
            EventKind::TokenChecked {
                jti,
                iat,
                exp,
                now_s,
                rejected,
                ..
            } => judge.checked(e, jti, (*iat, *exp, *now_s), rejected.as_ref()),
            EventKind::TokenRefused { reason } => judge.wrong.push(Disagreement::Refused {
                host: e.host.clone(),
                reason: reason.clone(),
            }),
            _ => {}
        }
    }
    let holds = judge.wrong.is_empty();
    let mut seen = judge.seen;
    seen.disagreements = Offenders::of(judge.wrong);
    if holds && seen.checked == 0 {
        return Verdict::vacuous(
            Expectation::TokensMatchClocks,
            Observed::Tokens(seen),
            super::Vacuity::NoTokenChecked,
        );
    }
    Verdict::judged(
        Expectation::TokensMatchClocks,
        Observed::Tokens(seen),
        holds,
    )
}

/// The token checker's state while it reads the log.
struct Judge {
    leeway_s: u64,
    clocks: Clocks,
    /// The `iat` of every token issued, by id.
    issued: BTreeMap<String, u64>,
    seen: Tokens,
    wrong: Vec<Disagreement>,
}

impl Judge {
    /// A token issued: its `iat` must be what the issuer's clock read.
    fn issued(&mut self, e: &Event, jti: &str, iat: u64) {
        let read = self.clocks.reading_s(&e.host, e.at);
        if iat != read {
            self.wrong.push(Disagreement::Stamped {
                host: e.host.clone(),
                jti: jti.to_string(),
                iat,
                read,
            });
        }
        self.issued.insert(jti.to_string(), iat);
    }

    /// A token checked (`times`: its `iat`, `exp` and the validator's `now_s`): the
    /// validator must have read its own clock, the token must have been issued, and the
    /// decision must be what the clocks predict.
    fn checked(&mut self, e: &Event, jti: &str, times: (u64, u64, u64), rejected: Option<&String>) {
        let (iat, exp, now_s) = times;
        self.seen.checked += 1;
        let read = self.clocks.reading_s(&e.host, e.at);
        let host = || e.host.clone();
        if now_s != read {
            let jti = jti.to_string();
            let host = host();
            self.wrong.push(Disagreement::Judged {
                host,
                jti,
                now_s,
                read,
            });
        }
        if self.issued.get(jti) != Some(&iat) {
            let jti = jti.to_string();
            self.wrong.push(Disagreement::NeverIssued { jti, iat });
        }
        let early = iat > read + self.leeway_s;
        let late = read > exp + self.leeway_s;
        self.seen.not_yet += usize::from(early);
        self.seen.expired += usize::from(late && !early);
        if rejected.is_some() != (early || late) {
            self.wrong.push(Disagreement::Decided {
                host: host(),
                rejected: rejected.cloned(),
                jti: jti.to_string(),
                iat,
                exp,
                read,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::event_at as at;
    use crate::events::ClockCause;

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

    fn first(v: &Verdict) -> Option<&Disagreement> {
        match &v.observed {
            Observed::Tokens(t) => t.disagreements.as_ref().map(|d| &d.first),
            other => panic!("{other:?}"),
        }
    }

    /// node-1 issues its first token 20s into the run, stamped by its true clock.
    fn issued_at_20s() -> Event {
        at(
            "node-1",
            20,
            EventKind::TokenIssued {
                jti: "node-1-0-0".into(),
                iat: EPOCH_UNIX_S + 20,
            },
        )
    }

    /// The scenario sets node-3's clock 10 minutes ahead, 10s into the run.
    fn node_3_ahead_10min() -> Event {
        let ahead = ClockSetting {
            since: Duration::from_secs(10),
            offset_ns: 600_000_000_000,
            ..ClockSetting::default()
        };
        at(
            "scenario",
            10,
            EventKind::ClockChanged {
                node: "node-3".into(),
                setting: ahead,
                cause: ClockCause::Set,
            },
        )
    }

    /// Proves the token verdict holds when rejections follow the recorded clocks.
    #[test]
    fn tokens_follow_the_clocks() {
        let t = Topology::ha3();
        let epoch = EPOCH_UNIX_S;
        let good = vec![
            node_3_ahead_10min(),
            issued_at_20s(),
            at("node-2", 30, checked(epoch + 30, epoch + 20, None)),
            at(
                "node-3",
                30,
                checked(epoch + 630, epoch + 20, Some("token expired 330s ago")),
            ),
        ];
        let v = check(&Log::from(good), &t);
        assert!(v.holds(), "{:?}", v.observed);
        let expected = Tokens {
            checked: 2,
            not_yet: 0,
            expired: 1,
            disagreements: None,
        };
        assert_eq!(v.observed, Observed::Tokens(expected));
    }

    /// Proves the token verdict fails for a rejection the clocks do not explain, a
    /// validator that read another clock than its own, and a token refused for its
    /// signature.
    #[test]
    fn tokens_against_the_clocks_fail() {
        let t = Topology::ha3();
        let epoch = EPOCH_UNIX_S;
        let unexplained = vec![
            issued_at_20s(),
            at(
                "node-2",
                30,
                checked(epoch + 30, epoch + 20, Some("expired")),
            ),
        ];
        assert!(!check(&Log::from(unexplained), &t).holds());
        let wrong_clock = vec![
            node_3_ahead_10min(),
            issued_at_20s(),
            at("node-3", 30, checked(epoch + 30, epoch + 20, None)),
        ];
        let v = check(&Log::from(wrong_clock), &t);
        assert!(!v.holds());
        assert!(
            matches!(first(&v), Some(Disagreement::Judged { host, .. }) if host == "node-3"),
            "{:?}",
            v.observed
        );
        let forged = vec![at(
            "node-2",
            30,
            EventKind::TokenRefused {
                reason: "token has a bad signature".into(),
            },
        )];
        assert!(!check(&Log::from(forged), &t).holds());
    }
}
