//! The checker of seed 000's promise about the monitoring endpoints: they "only provide
//! operational information, not user data".
//!
//! The monitoring host records every distinct answer it received (each answer unlike the
//! last one from the same endpoint, whole: `MonitorEvent::Answer`), so judging those
//! judges every body it received. A body carries user data when it holds, as a word (a
//! run of letters, digits, `.`, `_`, `-`, `|`), a user name the run knows of (every
//! signup's user, the preloaded accounts `user-<n>`, a social login's `facebook|<id>`),
//! an e-mail address (a word with an `@` inside), or a token (a JSON Web Token: three
//! dot-separated base64url parts, the first starting `eyJ`, the encoding of `{"`).
//! Vacuous when the monitor received nothing; left out of the report when no monitor
//! ran.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{Expectation, Observed, Offenders, Vacuity, Verdict};
use crate::events::monitoring::MonitorEvent;
use crate::events::{Event, EventKind, RequestRecord};

/// What the checker found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    /// Distinct answers the monitor received.
    pub distinct: usize,
    /// Those that carried user data.
    pub leaks: Option<Offenders<Leak>>,
}

/// One answer that carried user data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    pub at: Duration,
    pub node: String,
    pub endpoint: String,
    /// What it carried: `"a user name (signup-12)"`, `"an e-mail address"`, `"a token"`.
    pub what: String,
}

/// The verdict, when a monitor ran (`None` otherwise).
pub fn check(events: &[Event], requests: &[RequestRecord]) -> Option<Verdict> {
    if !events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Monitoring(MonitorEvent::Started { .. })))
    {
        return None;
    }
    let users: BTreeSet<&str> = requests.iter().filter_map(|r| r.user.as_deref()).collect();
    let mut distinct = 0usize;
    let mut leaks = Vec::new();
    for e in events {
        let EventKind::Monitoring(MonitorEvent::Answer {
            node,
            endpoint,
            body,
            ..
        }) = &e.kind
        else {
            continue;
        };
        distinct += 1;
        if let Some(what) = user_data(body, &users) {
            leaks.push(Leak {
                at: e.at,
                node: node.clone(),
                endpoint: endpoint.clone(),
                what,
            });
        }
    }
    let seen = Answers {
        distinct,
        leaks: Offenders::of(leaks),
    };
    let expectation = Expectation::MonitoringNoUserData;
    Some(if distinct == 0 {
        Verdict::vacuous(
            expectation,
            Observed::Monitoring(seen),
            Vacuity::NoMonitoringAnswer,
        )
    } else {
        let holds = seen.leaks.is_none();
        Verdict::judged(expectation, Observed::Monitoring(seen), holds)
    })
}

/// What user data `body` carries, if any, in words.
pub fn user_data(body: &str, users: &BTreeSet<&str>) -> Option<String> {
    let word_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '|' | '@');
    body.split(|c: char| !word_char(c))
        .filter(|w| !w.is_empty())
        .find_map(|word| {
            if is_token(word) {
                Some("a token".to_string())
            } else if word.contains('@') && !word.starts_with('@') && !word.ends_with('@') {
                Some("an e-mail address".to_string())
            } else if users.contains(word) || is_account(word) || word.starts_with("facebook|") {
                Some(format!("a user name ({word})"))
            } else {
                None
            }
        })
}

/// A JSON Web Token: three base64url parts, the header's starting `eyJ`.
fn is_token(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    let base64url = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    parts.len() == 3 && parts[0].starts_with("eyJ") && parts.iter().all(|p| base64url(p))
}

/// A preloaded account's name: `user-<n>`.
fn is_account(word: &str) -> bool {
    word.strip_prefix("user-")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::Status;

    fn answer(body: &str) -> Event {
        crate::checkers::event_at(
            "monitor",
            40,
            EventKind::Monitoring(MonitorEvent::Answer {
                node: "node-2".into(),
                endpoint: "/status/db".into(),
                status: 503,
                body: body.into(),
            }),
        )
    }

    fn started() -> Event {
        crate::checkers::event_at(
            "monitor",
            0,
            EventKind::Monitoring(MonitorEvent::Started {
                nodes: vec!["node-2".into()],
                endpoints: vec!["/status/db".into()],
                interval: Duration::from_secs(5),
                raise_after: 2,
                clear_after: 2,
            }),
        )
    }

    /// Proves the check fails on a body that carries a token, naming where and what,
    /// and passes on operational words alone.
    #[test]
    fn a_token_in_a_body_fails() {
        let token = crate::services::token::issue(
            b"secret",
            "user-1",
            "node-1",
            "node-1-0-0",
            Duration::from_secs(1_767_225_600),
            Duration::from_secs(300),
        );
        let events = [
            started(),
            answer("db: no primary known"),
            answer(&format!("db: last write by {token}")),
        ];
        let v = check(&events, &[]).expect("a monitor ran");
        assert_eq!(v.status, Status::Fail);
        let Observed::Monitoring(Answers {
            distinct,
            leaks: Some(leaks),
        }) = v.observed
        else {
            panic!("a leak is named: {:?}", v.observed)
        };
        assert_eq!((distinct, leaks.count), (2, 1));
        assert_eq!(leaks.first.what, "a token");
        let clean = check(&events[..2], &[]).expect("a monitor ran");
        assert_eq!(clean.status, Status::Pass);
    }

    /// Proves user names (signups', preloaded, social) and e-mail addresses count as
    /// user data, node names and durations do not; no monitor, no verdict; no answer,
    /// vacuous.
    #[test]
    fn user_names_and_addresses_are_user_data() {
        let users = BTreeSet::from(["signup-7"]);
        assert!(user_data("replicaset: signup-7 lagging", &users).is_some());
        assert!(user_data("last login user-12", &users).is_some());
        assert!(user_data("subject facebook|fb-c-1", &users).is_some());
        assert_eq!(
            user_data("mail to a.b@example.com failed", &users),
            Some("an e-mail address".to_string())
        );
        let operational = "replicaset: node-2 lagging behind the primary; 16.2s; 535 5.7.8";
        assert_eq!(user_data(operational, &users), None);
        assert_eq!(check(&[answer("x")], &[]), None);
        let vacuous = check(&[started()], &[]).expect("a monitor ran");
        assert_eq!(vacuous.status, Status::Vacuous(Vacuity::NoMonitoringAnswer));
    }
}
