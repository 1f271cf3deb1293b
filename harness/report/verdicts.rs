//! The verdicts in words: every typed verdict of [`crate::checkers`] phrased as the
//! report states it, the expectation as the scenario states it (`availability >= 97%`)
//! and what the run measured.
//!
//! The checkers build no prose; this is the only place a verdict's words are made. The
//! text report prints [`Phrased`] verdicts and `--format json` serializes them.

use serde::Serialize;

use crate::checkers::egress::{Decision, Unexplained};
use crate::checkers::failover::{Failover, Lost};
use crate::checkers::isolation::Isolation;
use crate::checkers::reactions::Reaction;
use crate::checkers::tokens::Disagreement;
use crate::checkers::{Expectation, Observed, Offenders, Status, Unjudged, Verdict};
use crate::checkers::{egress, mail, same_log, terms, tokens, writes};
use crate::duration::{clock, span};
use crate::topology::DEV_LAN;

/// One verdict in the report's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phrased {
    /// The expectation as the scenario states it: `availability >= 97%`.
    pub expectation: String,
    /// What the run measured.
    pub observed: String,
    /// False when the verdict failed (a check not judged holds).
    pub holds: bool,
    /// The verdict's status, which the text report marks it with. Not in the JSON yet:
    /// `holds` says what a script needs today.
    #[serde(skip)]
    pub status: Status,
}

/// How the text report marks a verdict of `status`. A check that could not be judged
/// reads "pass" for now, its observation saying "not judged: ..." (the honest-outputs
/// work gives it a mark of its own).
pub fn mark(status: Status) -> &'static str {
    match status {
        Status::Pass | Status::NotJudged => "pass",
        Status::Fail => "FAIL",
    }
}

/// Phrases one verdict.
pub fn phrase(v: &Verdict) -> Phrased {
    Phrased {
        expectation: expectation(&v.expectation),
        observed: observed(&v.expectation, &v.observed),
        holds: v.holds(),
        status: v.status,
    }
}

/// The expectation as the scenario states it.
fn expectation(e: &Expectation) -> String {
    match e {
        Expectation::Availability { min_pct } => format!("availability >= {min_pct}%"),
        Expectation::FailureWindow { max } => {
            format!("longest failure window <= {}", span(*max))
        }
        Expectation::Detection {
            max,
            node,
            crashed_at,
        } => format!(
            "lb took {node} out within {} of {}",
            span(*max),
            clock(*crashed_at)
        ),
        Expectation::Recovery {
            max,
            node,
            restarted_at,
        } => format!(
            "lb put {node} back within {} of {}",
            span(*max),
            clock(*restarted_at)
        ),
        Expectation::Failover { max, lost: None } => {
            format!("a new primary within {} of losing one", span(*max))
        }
        Expectation::Failover {
            max,
            lost: Some(Lost { node, at }),
        } => format!(
            "a new primary within {} of losing {node} at {}",
            span(*max),
            clock(*at)
        ),
        Expectation::NoWriteLost => "no acknowledged write lost".to_string(),
        Expectation::SameLog => "members end with the same log".to_string(),
        Expectation::OnePrimaryPerTerm => "at most one primary per term".to_string(),
        Expectation::NoMailLost => "no queued mail lost".to_string(),
        Expectation::NoMailTwice => "no mail delivered twice".to_string(),
        Expectation::TokensMatchClocks => "token checks match the clocks".to_string(),
        Expectation::EgressAccounted => "egress decisions accounted for".to_string(),
        Expectation::DevIsolated => "dev/test isolated from production".to_string(),
        Expectation::Liveness { within, last_fault } => format!(
            "replica set healthy within {} of the last fault ({})",
            span(*within),
            clock(*last_fault)
        ),
    }
}

/// What the run measured, in words (`e` names what a reaction was to).
fn observed(e: &Expectation, o: &Observed) -> String {
    match o {
        Observed::Availability(a) => {
            format!("{:.2}% ({} of {} requests ok)", a.pct(), a.ok, a.sent)
        }
        Observed::FailureWindow(None) => "no failed requests".to_string(),
        Observed::FailureWindow(Some(l)) => {
            format!("{} (window {} of {})", span(l.length), l.number, l.windows)
        }
        Observed::Reaction(r) => reaction(e, *r),
        Observed::Failover(f) => failover(f),
        Observed::Writes(w) => writes(w),
        Observed::SameLog(s) => same_log(s),
        Observed::Terms(t) => terms(t),
        Observed::MailLost(q) => mail_lost(q),
        Observed::MailTwice(t) => mail_twice(t),
        Observed::Tokens(t) => tokens(t),
        Observed::Egress(b) => egress(b),
        Observed::Isolation(i) => isolation(i),
        Observed::Liveness(Some(after)) => format!("after {}", span(*after)),
        Observed::Liveness(None) => "they never did".to_string(),
        Observed::NotJudged(Unjudged::NeverConverged) => {
            "not judged: the replica set never became healthy after the last fault".to_string()
        }
    }
}

fn reaction(e: &Expectation, r: Reaction) -> String {
    match r {
        Reaction::After(after) => format!("after {}", span(after)),
        Reaction::Undone { at } => {
            let (node, undo) = match e {
                Expectation::Recovery { node, .. } => (node.as_str(), "crashed"),
                Expectation::Detection { node, .. } => (node.as_str(), "restarted"),
                _ => ("?", "undone"),
            };
            format!("never: {node} was {undo} first, at {}", clock(at))
        }
        Reaction::Never => "never, by the end of the run".to_string(),
    }
}

fn failover(f: &Failover) -> String {
    match f {
        Failover::NoLoss => "no step lost the primary".to_string(),
        Failover::Elected {
            winner,
            after,
            term,
        } => format!("{winner} after {} (term {term})", span(*after)),
        Failover::Never => "never".to_string(),
    }
}

/// `; node-2 down at the end, not checked`, or nothing when every member is up.
fn aside(down: &[String]) -> String {
    if down.is_empty() {
        String::new()
    } else {
        format!("; {} down at the end, not checked", down.join(", "))
    }
}

fn writes(w: &writes::Writes) -> String {
    if w.lacking.is_empty() {
        return format!(
            "all {} acknowledged signups on every member that is up{}",
            w.acked,
            aside(&w.down)
        );
    }
    w.lacking
        .iter()
        .map(|l| format!("{} lacks {} (first: {})", l.node, l.count, l.first))
        .collect::<Vec<_>>()
        .join("; ")
}

fn same_log(s: &same_log::Ends) -> String {
    match (s.same, s.ends.first()) {
        (true, Some(f)) => format!(
            "{} members at index {}, term {}{}",
            s.ends.len(),
            f.index,
            f.term,
            aside(&s.down)
        ),
        _ => s
            .ends
            .iter()
            .map(|f| format!("{} at {}/{}", f.node, f.index, f.term))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn terms(t: &terms::Terms) -> String {
    match (t.doubled.is_empty(), t.elections) {
        (true, 0) => "no elections".to_string(),
        (true, 1) => "1 election, one winner".to_string(),
        (true, n) => format!("{n} elections, one winner each"),
        (false, _) => t
            .doubled
            .iter()
            .map(|(term, winners)| format!("term {term}: {}", winners.join(", ")))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn mail_lost(q: &mail::Queue) -> String {
    let problems: Vec<String> = [
        ("never delivered", &q.never_delivered),
        ("delivered but never queued", &q.never_queued),
        (
            "recorded as sent but never accepted by the relay",
            &q.never_accepted,
        ),
    ]
    .into_iter()
    .filter_map(|(what, ids)| {
        ids.as_ref()
            .map(|o| format!("{} {what} (first: {})", o.count, o.first))
    })
    .collect();
    if problems.is_empty() {
        format!(
            "{} queued, all delivered ({} failed attempts retried)",
            q.queued, q.retries
        )
    } else {
        problems.join("; ")
    }
}

fn mail_twice(t: &mail::Twice) -> String {
    match &t.twice {
        None => format!("{} messages, each accepted once by the relay", t.messages),
        Some(Offenders { count, first }) => format!(
            "{count} delivered twice (first: {first}): a primary failed over before recording a delivery"
        ),
    }
}

fn tokens(t: &tokens::Tokens) -> String {
    match &t.disagreements {
        Some(Offenders { count, first }) => {
            format!("{count} disagree; first: {}", disagreement(first))
        }
        None if t.checked == 0 => "no token checked".to_string(),
        None => format!(
            "{} of {} checks rejected ({} not yet valid, {} expired), each as the clocks predict",
            t.not_yet + t.expired,
            t.checked,
            t.not_yet,
            t.expired
        ),
    }
}

fn disagreement(d: &Disagreement) -> String {
    match d {
        Disagreement::Stamped {
            host,
            jti,
            iat,
            read,
        } => format!("{host} stamped {jti} iat {iat} while its clock read {read}"),
        Disagreement::Judged {
            host,
            jti,
            now_s,
            read,
        } => format!("{host} judged {jti} by {now_s} while its clock read {read}"),
        Disagreement::NeverIssued { jti, iat } => {
            format!("{jti} was checked but never issued with iat {iat}")
        }
        Disagreement::Decided {
            host,
            rejected,
            jti,
            iat,
            exp,
            read,
        } => {
            let said = rejected.as_deref().unwrap_or("accepted");
            format!("{host} said \"{said}\" of {jti} (iat {iat}, exp {exp}) at clock {read}")
        }
        Disagreement::Refused { host, reason } => format!("{host} refused a token: {reason}"),
    }
}

fn egress(b: &egress::Books) -> String {
    match &b.unexplained {
        Some(Offenders { count, first }) => {
            format!("{count} unexplained; first: {}", unexplained(first))
        }
        None => format!(
            "{} decisions ({} denied by the rules); all {} requests the internet served came through them",
            b.decisions, b.denied, b.served
        ),
    }
}

fn unexplained(u: &Unexplained) -> String {
    match u {
        Unexplained::Bypassed { site, what, from } => {
            format!("{site} served {what} to {from}, not the egress")
        }
        Unexplained::HttpInNatMode => "an HTTP decision in NAT mode".to_string(),
        Unexplained::Decision { decision, client } => format!(
            "the rules do not explain {} (from {client})",
            self::decision(decision)
        ),
        Unexplained::Uncovered {
            site,
            served,
            let_through,
        } => format!("{site} served {served} requests but the egress let {let_through} through"),
    }
}

fn decision(d: &Decision) -> String {
    match d {
        Decision::ProxyAuthForExempt => "407 for a client with the exception".to_string(),
        Decision::Forbidden { target } => format!("403 for {target}"),
        Decision::DroppedDatagram { port } => format!("a dropped datagram to port {port}"),
        Decision::UnexpectedDenial { status } => format!("an unexpected denial {status:?}"),
        Decision::LetThrough { protocol, target } => format!("{protocol} to {target} let through"),
    }
}

fn isolation(i: &Isolation) -> String {
    match i {
        Isolation::NoDev => {
            "no dev/test instance deployed (topology.dev.enabled = false)".to_string()
        }
        Isolation::SharedNetwork {
            host,
            address,
            inside,
        } => {
            let side = if *inside { "inside" } else { "outside" };
            format!(
                "{host} at {address} is {side} the dev/test LAN {DEV_LAN}: the two share a network"
            )
        }
        Isolation::Traffic {
            crossed: Some(Offenders { count, first: c }),
            stopped,
        } => format!(
            "{count} crossed; first: at {} {} ({}) -> {} {}; {stopped} stopped at the boundary",
            clock(c.at),
            c.host,
            c.from,
            c.to,
            c.protocol
        ),
        Isolation::Traffic {
            crossed: None,
            stopped,
        } => format!("nothing crossed; {stopped} attempts stopped at the boundary"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::checkers::Status;

    fn words(expectation: Expectation, observed: Observed) -> (String, String) {
        let p = phrase(&Verdict {
            expectation,
            observed,
            status: Status::Pass,
        });
        (p.expectation, p.observed)
    }

    /// Proves reactions, failovers and liveness read as the reports have always put them.
    #[test]
    fn timings_in_words() {
        let detection = Expectation::Detection {
            max: Duration::from_secs(6),
            node: "node-2".into(),
            crashed_at: Duration::from_secs(30),
        };
        let undone = Observed::Reaction(Reaction::Undone {
            at: Duration::from_millis(33_250),
        });
        assert_eq!(
            words(detection.clone(), undone),
            (
                "lb took node-2 out within 6s of 0:30.000".to_string(),
                "never: node-2 was restarted first, at 0:33.250".to_string()
            )
        );
        let after = Observed::Reaction(Reaction::After(Duration::from_millis(5_500)));
        assert_eq!(words(detection, after).1, "after 5.5s");
        let lost = Expectation::Failover {
            max: Duration::from_secs(10),
            lost: Some(Lost {
                node: "node-1".into(),
                at: Duration::from_secs(20),
            }),
        };
        let elected = Observed::Failover(Failover::Elected {
            winner: "node-3".into(),
            after: Duration::from_millis(4_200),
            term: 2,
        });
        assert_eq!(
            words(lost, elected),
            (
                "a new primary within 10s of losing node-1 at 0:20.000".to_string(),
                "node-3 after 4.2s (term 2)".to_string()
            )
        );
    }

    /// Proves a lost mail's three kinds are each counted and named in the report's words,
    /// the delivery no relay accepted (what SMTP command injection caused) included.
    #[test]
    fn mail_problems_in_words() {
        let first = |id: &str| {
            Some(Offenders {
                count: 2,
                first: id.to_string(),
            })
        };
        let queue = mail::Queue {
            queued: 5,
            retries: 1,
            never_delivered: first("<a@example.com>"),
            never_queued: first("<b@example.com>"),
            never_accepted: first("<c@example.com>"),
        };
        assert_eq!(
            words(Expectation::NoMailLost, Observed::MailLost(queue)),
            (
                "no queued mail lost".to_string(),
                "2 never delivered (first: <a@example.com>); 2 delivered but never queued (first: <b@example.com>); 2 recorded as sent but never accepted by the relay (first: <c@example.com>)".to_string()
            )
        );
    }

    /// Proves the first offender of each outside checker is named in the report's words.
    #[test]
    fn offenders_in_words() {
        let judged = Disagreement::Judged {
            host: "node-3".into(),
            jti: "node-1-0-0".into(),
            now_s: 30,
            read: 630,
        };
        let tokens = tokens::Tokens {
            checked: 1,
            not_yet: 0,
            expired: 0,
            disagreements: Some(Offenders {
                count: 1,
                first: judged,
            }),
        };
        assert_eq!(
            words(Expectation::TokensMatchClocks, Observed::Tokens(tokens)).1,
            "1 disagree; first: node-3 judged node-1-0-0 by 30 while its clock read 630"
        );
        let forbidden = Unexplained::Decision {
            decision: Decision::Forbidden {
                target: "facebook.com".into(),
            },
            client: "node-1".into(),
        };
        let books = egress::Books {
            decisions: 1,
            denied: 1,
            served: 0,
            unexplained: Some(Offenders {
                count: 2,
                first: forbidden,
            }),
        };
        assert_eq!(
            words(Expectation::EgressAccounted, Observed::Egress(books)).1,
            "2 unexplained; first: the rules do not explain 403 for facebook.com (from node-1)"
        );
        let crossed = crate::checkers::isolation::two_crossed();
        assert_eq!(
            words(Expectation::DevIsolated, Observed::Isolation(crossed)),
            (
                "dev/test isolated from production".to_string(),
                "2 crossed; first: at 0:12.345 dev-1 (10.0.2.11) -> 10.0.1.25:587 tcp; 2 stopped at the boundary".to_string()
            )
        );
    }

    /// Proves a check not judged holds and says why, as the reports have always put it.
    #[test]
    fn not_judged_in_words() {
        let p = phrase(&Verdict {
            expectation: Expectation::SameLog,
            observed: Observed::NotJudged(Unjudged::NeverConverged),
            status: Status::NotJudged,
        });
        assert!(p.holds);
        assert_eq!(
            p.observed,
            "not judged: the replica set never became healthy after the last fault"
        );
    }
}
