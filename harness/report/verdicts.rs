//! The verdicts in words: every typed verdict of [`crate::checkers`] phrased as the
//! report states it, the expectation as the scenario states it (`availability >= 97%`)
//! and what the run measured.
//!
//! The checkers build no prose; this is the only place a verdict's words are made. The
//! text report prints [`Phrased`] verdicts and `--format json` serializes them.

use schemars::JsonSchema;
use serde::Serialize;

use crate::checkers::egress::{Decision, Unexplained};
use crate::checkers::failover::{Failover, Lost};
use crate::checkers::isolation::Isolation;
use crate::checkers::reactions::{Cause, Reaction};
use crate::checkers::tokens::Disagreement;
use crate::checkers::{Expectation, LastFault, Observed, Offenders, Status, Unjudged, Vacuity};
use crate::checkers::{Verdict, egress, mail, same_log, terms, tokens, writes};
use crate::duration::{clock, span};
use crate::topology::DEV_LAN;

/// One verdict in the report's words, and its numbers for scripts. `--format json`
/// serializes it as is; options absent are left out.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Phrased {
    /// The scenario key the expectation comes from (`detection_max`), or for a check
    /// judged on every run a stable snake_case name (`no_write_lost`).
    pub key: &'static str,
    /// The expectation as the scenario states it: `availability >= 97%`.
    pub expectation: String,
    /// The verdict's status; only `pass` counts as passing.
    pub status: Mark,
    /// Why the check was not judged, or what never arose (vacuous).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the run measured, in words (the reason, when not judged or vacuous).
    pub observed: String,
    /// What the check is about, when it is one host (the crashed node, the lost primary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The bound, in milliseconds, for a bound on time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_ms: Option<u64>,
    /// What the run measured against `limit_ms`, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_ms: Option<u64>,
    /// The bound, in percent, for a bound on a share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_pct: Option<f64>,
    /// What the run measured against `limit_pct`, in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_pct: Option<f64>,
    /// How many things the check went over (requests, signups, messages, checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_count: Option<u64>,
}

impl Phrased {
    /// False when the verdict failed (not judged and vacuous do not fail the run).
    pub fn holds(&self) -> bool {
        self.status != Mark::Fail
    }
}

/// A verdict's status as the report marks it, in text and JSON alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub enum Mark {
    /// Judged, and it held.
    #[serde(rename = "pass")]
    Pass,
    /// Judged, and it did not hold.
    #[serde(rename = "FAIL")]
    Fail,
    /// Could not be judged (`reason` says why).
    #[serde(rename = "not judged")]
    NotJudged,
    /// The condition the check is about never arose (`reason` says which).
    #[serde(rename = "vacuous")]
    Vacuous,
}

impl Mark {
    /// The mark's word: `pass`, `FAIL`, `not judged`, `vacuous`.
    pub fn word(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "FAIL",
            Self::NotJudged => "not judged",
            Self::Vacuous => "vacuous",
        }
    }
}

/// How the report marks a verdict of `status`.
pub fn mark(status: Status) -> Mark {
    match status {
        Status::Pass => Mark::Pass,
        Status::Fail => Mark::Fail,
        Status::NotJudged(_) => Mark::NotJudged,
        Status::Vacuous(_) => Mark::Vacuous,
    }
}

/// Phrases one verdict.
pub fn phrase(v: &Verdict) -> Phrased {
    let reason = match v.status {
        Status::Pass | Status::Fail => None,
        Status::NotJudged(why) => Some(unjudged(why).to_string()),
        Status::Vacuous(why) => Some(vacuity(why).to_string()),
    };
    let numbers = numbers(&v.expectation, &v.observed);
    Phrased {
        key: key(&v.expectation),
        expectation: expectation(&v.expectation),
        status: mark(v.status),
        observed: reason
            .clone()
            .unwrap_or_else(|| observed(&v.expectation, &v.observed)),
        reason,
        subject: subject(&v.expectation),
        limit_ms: numbers.limit_ms,
        observed_ms: numbers.observed_ms,
        limit_pct: numbers.limit_pct,
        observed_pct: numbers.observed_pct,
        observed_count: numbers.observed_count,
    }
}

/// Why a check was not judged, in words.
fn unjudged(why: Unjudged) -> &'static str {
    match why {
        Unjudged::NeverConverged => {
            "the replica set never became healthy, so its end state proves nothing"
        }
    }
}

/// What never arose, in words.
fn vacuity(why: Vacuity) -> &'static str {
    match why {
        Vacuity::NoRequest => "no request was sent",
        Vacuity::NoCrash => "no step crashed a node",
        Vacuity::NoRestart => "no step restarted a node",
        Vacuity::NoPrimaryLost => "no step lost the primary",
        Vacuity::NoAckedWrite => "no signup was acknowledged",
        Vacuity::NoMailQueued => "no mail was queued",
        Vacuity::NoMailAccepted => "the relay accepted no mail",
        Vacuity::NoMailFailed => "no delivery failed",
        Vacuity::NoTokenChecked => "no token was checked",
        Vacuity::NoEgressTraffic => "the egress decided nothing and the internet served nothing",
        Vacuity::NoCallOut => "the egress decided on no call out",
        Vacuity::NoSuccess => "no request succeeded",
        Vacuity::NoQuietWindow => {
            "every 10s window with a successful request overlapped a fault window"
        }
        Vacuity::NoFault => "no step injected a fault",
        Vacuity::NoSshAttempt => "no step asked for an ssh session and no node opened one",
        Vacuity::NoMonitoringAnswer => "the monitoring host received no answer",
    }
}

/// The scenario key (or, for checks judged on every run, the stable name) of `e`.
pub fn key(e: &Expectation) -> &'static str {
    match e {
        Expectation::Availability { .. } => "availability_pct_min",
        Expectation::FailureWindow { .. } => "failure_window_max",
        Expectation::Detection { .. } => "detection_max",
        Expectation::Recovery { .. } => "recovery_max",
        Expectation::Failover { .. } => "failover_max",
        Expectation::NoWriteLost => "no_write_lost",
        Expectation::SameLog => "same_log",
        Expectation::OnePrimaryPerTerm => "one_primary_per_term",
        Expectation::NoMailLost => "no_mail_lost",
        Expectation::NoMailTwice => "mail_exactly_once",
        Expectation::MailRetries { .. } => "mail_backoff",
        Expectation::TokensMatchClocks => "tokens_match_clocks",
        Expectation::EgressAccounted => "egress_accounted",
        Expectation::DevIsolated => "dev_isolated",
        Expectation::AccessConfined => "remote_access_confined",
        Expectation::OutboundConsented { .. } => "outbound_consented",
        Expectation::MonitoringNoUserData => "monitoring_no_user_data",
        Expectation::Liveness { .. } => "converge_within",
        Expectation::MailFlowing { .. } => "mail_queue_drains",
        Expectation::UpdateDowntime { .. } => "update_downtime_max",
        Expectation::UpdateNoFailure => "update_no_failed_request",
        Expectation::P99 { .. } | Expectation::P99Quiet { .. } => "p99_max",
        Expectation::FailedPerFault { .. } => "failed_per_fault_max",
    }
}

/// The host a verdict is about, if one.
fn subject(e: &Expectation) -> Option<String> {
    match e {
        Expectation::Detection {
            crash: Some(Cause { node, .. }),
            ..
        }
        | Expectation::Recovery {
            restart: Some(Cause { node, .. }),
            ..
        }
        | Expectation::Failover {
            lost: Some(Lost { node, .. }),
            ..
        }
        | Expectation::UpdateDowntime { node, .. } => Some(node.clone()),
        _ => None,
    }
}

/// A verdict's numbers, each with its unit in its name.
#[derive(Debug, Default)]
struct Numbers {
    limit_ms: Option<u64>,
    observed_ms: Option<u64>,
    limit_pct: Option<f64>,
    observed_pct: Option<f64>,
    observed_count: Option<u64>,
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn count(n: usize) -> Option<u64> {
    u64::try_from(n).ok()
}

/// The numbers of a verdict: its limit (from the expectation) and what was measured.
fn numbers(e: &Expectation, o: &Observed) -> Numbers {
    let mut n = Numbers::default();
    match e {
        Expectation::Availability { min_pct } => n.limit_pct = Some(*min_pct),
        Expectation::FailureWindow { max }
        | Expectation::Detection { max, .. }
        | Expectation::Recovery { max, .. }
        | Expectation::Failover { max, .. }
        | Expectation::UpdateDowntime { max, .. } => n.limit_ms = Some(ms(*max)),
        Expectation::Liveness { within, .. } | Expectation::MailFlowing { within, .. } => {
            n.limit_ms = Some(ms(*within));
        }
        Expectation::P99 { max } | Expectation::P99Quiet { max, .. } => {
            n.limit_ms = Some(ms(*max));
        }
        _ => {}
    }
    match o {
        Observed::Availability(a) => {
            n.observed_pct = Some(a.pct());
            n.observed_count = count(a.sent);
        }
        Observed::FailureWindow(l) => {
            n.observed_ms = Some(l.map_or(0, |l| ms(l.length)));
            n.observed_count = count(l.map_or(0, |l| l.windows));
        }
        Observed::Reaction(Reaction::After(after))
        | Observed::Failover(Failover::Elected { after, .. })
        | Observed::Liveness(Some(after))
        | Observed::MailFlowing(Some(after))
        | Observed::Downtime(Some(after)) => n.observed_ms = Some(ms(*after)),
        Observed::UpdateRequests(seen) => n.observed_count = count(seen.failed),
        Observed::Writes(w) => n.observed_count = count(w.acked),
        Observed::SameLog(s) => n.observed_count = count(s.ends.len()),
        Observed::Terms(t) => n.observed_count = count(t.elections),
        Observed::MailLost(q) => n.observed_count = count(q.queued),
        Observed::MailTwice(t) => n.observed_count = count(t.messages),
        Observed::MailRetries(r) => n.observed_count = count(r.failures),
        Observed::Tokens(t) => n.observed_count = count(t.checked),
        Observed::Egress(b) => n.observed_count = count(b.decisions),
        Observed::Access(s) => n.observed_count = count(s.opened),
        Observed::Consent(b) => n.observed_count = count(b.decisions()),
        Observed::P99(p) => {
            n.observed_ms = Some(ms(p.p99));
            n.observed_count = count(p.ok);
        }
        Observed::FailedPerFault(f) => n.observed_count = count(f.failed),
        _ => {}
    }
    n
}

/// `the last fault (0:30.000)`, or `the start (no fault injected)`.
fn since(last_fault: LastFault) -> String {
    last_fault.map_or_else(
        || "the start (no fault injected)".to_string(),
        |at| format!("the last fault ({})", clock(at)),
    )
}

use super::update::expectation as update_words;

/// The expectation as the scenario states it.
fn expectation(e: &Expectation) -> String {
    match e {
        Expectation::Availability { min_pct } => format!("availability >= {min_pct}%"),
        Expectation::FailureWindow { max } => format!("longest failure window <= {}", span(*max)),
        Expectation::Detection { max, crash } => match crash {
            Some(Cause { node, at }) => {
                format!("lb took {node} out within {} of {}", span(*max), clock(*at))
            }
            None => format!("lb takes a crashed node out within {}", span(*max)),
        },
        Expectation::Recovery { max, restart } => match restart {
            Some(Cause { node, at }) => {
                format!("lb put {node} back within {} of {}", span(*max), clock(*at))
            }
            None => format!("lb puts a restarted node back within {}", span(*max)),
        },
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
        Expectation::NoMailTwice | Expectation::MailRetries { .. } => super::retries::delivery(e),
        Expectation::TokensMatchClocks => "token checks match the clocks".to_string(),
        Expectation::EgressAccounted => "egress decisions accounted for".to_string(),
        Expectation::AccessConfined => super::access::EXPECTATION.to_string(),
        Expectation::OutboundConsented { purposes } => super::consent::expectation(purposes),
        Expectation::DevIsolated | Expectation::MonitoringNoUserData => safety_words(e).into(),
        Expectation::Liveness { within, last_fault } => format!(
            "replica set healthy within {} of {}",
            span(*within),
            since(*last_fault)
        ),
        Expectation::MailFlowing { within, last_fault } => format!(
            "mail queue drains within {} of {}",
            span(*within),
            since(*last_fault)
        ),
        Expectation::UpdateDowntime { .. } | Expectation::UpdateNoFailure => update_words(e),
        Expectation::P99 { max } => format!("p99 latency <= {} over the run", span(*max)),
        Expectation::P99Quiet { max, margin } => format!(
            "p99 latency <= {} in every 10s window outside fault windows (each closed {} after its fault was undone)",
            span(*max),
            span(*margin)
        ),
        Expectation::FailedPerFault { max, fault: None } => {
            format!("at most {max} failed requests per fault")
        }
        Expectation::FailedPerFault {
            max,
            fault: Some(f),
        } => format!(
            "at most {max} failed requests in the fault window of {} ({} to {})",
            f.opened_by,
            clock(f.start),
            if f.end == std::time::Duration::MAX {
                "the end".to_string()
            } else {
                clock(f.end)
            }
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
        Observed::MailRetries(r) => super::retries::observed(r),
        Observed::Tokens(t) => tokens(t),
        Observed::Egress(b) => egress(b),
        Observed::Isolation(i) => isolation(i),
        Observed::Access(s) => super::access::observed(s),
        Observed::Consent(b) => super::consent::observed(b),
        Observed::Monitoring(m) => monitoring(m),
        Observed::Liveness(Some(after)) | Observed::MailFlowing(Some(after)) => {
            format!("after {}", span(*after))
        }
        Observed::Liveness(None) => "it never did".to_string(),
        Observed::MailFlowing(None) => format!(
            "it never did: mail waited {} or longer to the end",
            span(crate::checkers::convergence::MAIL_STALE)
        ),
        Observed::Downtime(Some(took)) => {
            format!("{} from its stop to passing /testall", span(*took))
        }
        Observed::Downtime(None) => "it never passed /testall again by the end of the run".into(),
        Observed::UpdateRequests(seen) => {
            format!("{} of {} requests failed", seen.failed, seen.sent)
        }
        Observed::P99(p) => p99(p),
        Observed::FailedPerFault(f) => format!("{} of {} requests failed", f.failed, f.sent),
        Observed::Nothing => "nothing measured".to_string(),
    }
}

/// `412ms over 5730 successful requests`, or for the quiet windows, the worst one.
fn p99(p: &crate::checkers::latency::P99) -> String {
    match p.window {
        None => format!("{} over {} successful requests", span(p.p99), p.ok),
        Some(start) => format!(
            "worst {} in the window from {} ({} successful requests; {} windows judged)",
            span(p.p99),
            clock(start),
            p.ok,
            p.windows
        ),
    }
}

fn reaction(e: &Expectation, r: Reaction) -> String {
    match r {
        Reaction::After(after) => format!("after {}", span(after)),
        Reaction::Undone { at } => {
            let (node, undo) = match e {
                Expectation::Recovery {
                    restart: Some(c), ..
                } => (c.node.as_str(), "crashed"),
                Expectation::Detection { crash: Some(c), .. } => (c.node.as_str(), "restarted"),
                _ => ("?", "undone"),
            };
            format!("never: {node} was {undo} first, at {}", clock(at))
        }
        Reaction::Never => "never, by the end of the run".to_string(),
    }
}

fn failover(f: &Failover) -> String {
    match f {
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

/// The words of the dev/test and monitoring checks (empty for any other).
fn safety_words(e: &Expectation) -> &'static str {
    match e {
        Expectation::DevIsolated => "dev/test isolated from production",
        Expectation::MonitoringNoUserData => "monitoring answers carry no user data",
        _ => "",
    }
}

/// `none of 41 distinct answers held a user name, e-mail address or token`, or the
/// first that did.
fn monitoring(m: &crate::checkers::monitoring::Answers) -> String {
    match &m.leaks {
        None => format!(
            "none of {} distinct answers held a user name, e-mail address or token",
            m.distinct
        ),
        Some(Offenders { count, first: l }) => format!(
            "{count} of {} distinct answers held user data; first: at {} {} {} held {}",
            m.distinct,
            clock(l.at),
            l.node,
            l.endpoint,
            l.what
        ),
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
            crash: Some(Cause {
                node: "node-2".into(),
                at: Duration::from_secs(30),
            }),
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

    /// Proves each status gets its own mark and JSON word, that only a pass counts as
    /// passing, and that a check not judged or vacuous says why (in `reason` and in its
    /// observed text) while a judged one carries no reason.
    #[test]
    fn statuses_in_words_and_json() {
        let phrased = |observed, status| {
            phrase(&Verdict {
                expectation: Expectation::SameLog,
                observed,
                status,
            })
        };
        let not_judged = phrased(
            Observed::Nothing,
            Status::NotJudged(Unjudged::NeverConverged),
        );
        assert!(not_judged.holds());
        assert_eq!(not_judged.status, Mark::NotJudged);
        assert_eq!(
            not_judged.observed,
            "the replica set never became healthy, so its end state proves nothing"
        );
        assert_eq!(
            not_judged.reason.as_deref(),
            Some(not_judged.observed.as_str())
        );
        let json = serde_json::to_value(&not_judged).expect("plain data");
        assert_eq!(json["status"], "not judged");
        assert_eq!(json["key"], "same_log");
        assert!(json.get("holds").is_none() && json.get("limit_ms").is_none());
        let vacuous = phrased(Observed::Nothing, Status::Vacuous(Vacuity::NoPrimaryLost));
        assert_eq!(vacuous.status, Mark::Vacuous);
        assert_eq!(vacuous.observed, "no step lost the primary");
        assert_eq!(
            serde_json::to_value(&vacuous).expect("plain data")["status"],
            "vacuous"
        );
        let failed = phrased(Observed::Nothing, Status::Fail);
        assert!(!failed.holds() && failed.reason.is_none());
        assert_eq!(
            serde_json::to_value(&failed).expect("plain data")["status"],
            "FAIL"
        );
        assert_eq!(mark(Status::Pass).word(), "pass");
    }

    /// Proves a verdict's JSON carries its key, subject and numbers with units in their
    /// names, and that a liveness bound with no fault names none.
    #[test]
    fn numbers_and_keys_in_json() {
        let detection = phrase(&Verdict {
            expectation: Expectation::Detection {
                max: Duration::from_secs(6),
                crash: Some(Cause {
                    node: "node-2".into(),
                    at: Duration::from_secs(30),
                }),
            },
            observed: Observed::Reaction(Reaction::After(Duration::from_millis(5_500))),
            status: Status::Pass,
        });
        let json = serde_json::to_value(&detection).expect("plain data");
        assert_eq!(json["key"], "detection_max");
        assert_eq!(json["subject"], "node-2");
        assert_eq!(json["limit_ms"], 6_000);
        assert_eq!(json["observed_ms"], 5_500);
        let liveness = phrase(&Verdict {
            expectation: Expectation::Liveness {
                within: Duration::from_secs(30),
                last_fault: None,
            },
            observed: Observed::Liveness(Some(Duration::from_millis(1))),
            status: Status::Pass,
        });
        assert_eq!(
            liveness.expectation,
            "replica set healthy within 30s of the start (no fault injected)"
        );
        assert_eq!(liveness.key, "converge_within");
    }
}
