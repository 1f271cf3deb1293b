//! The checkers: every expectation's verdict, judged apart from the code under test.
//!
//! As TigerBeetle keeps its state checker apart from its simulator, the checkers here
//! read only what the run recorded: the event log (and the members' final data in it),
//! the topology and the thresholds the scenario sets ([`Expectations`]). The world only
//! records, and lends [`convergence`] plain views of the members while the run goes on
//! (`world::view`). From the services they borrow only pure vocabulary: the replica
//! set's log entry type, the mail's Message-ID rule (`services::mail::message_id`) and the
//! egress's allow-list matcher (`services::egress::allows`, so the egress books check
//! that decisions follow the rules as the egress reads them, not the matcher itself).
//!
//! Each verdict is typed: the [`Expectation`] (which check, with the scenario's
//! threshold), what the run measured ([`Observed`]: counts, durations, the first
//! offender) and the [`Status`]. No prose is built here: `report::verdicts` phrases every
//! verdict into the report's words.
//!
//! Every verdict has one [`Status`]: `Pass` and `Fail` when judged over what the run
//! recorded; `NotJudged` with an [`Unjudged`] reason when the run gives nothing sound to
//! judge by; `Vacuous` with a [`Vacuity`] when the condition the check is about never
//! arose. Only `Pass` counts as passing; only `Fail` fails the run (`--strict` also fails
//! on the other two). The decisions, checker by checker:
//! - availability: judged over the requests sent (none sent fails: 0% < the minimum);
//! - failure window: vacuous with no request sent; "no failed requests" is a pass;
//! - detection / recovery: one verdict per crash / restart; vacuous (one verdict, never
//!   none) when the bound is set and no step crashed / restarted a node (the loader
//!   already refuses such a file, so this guards against callers that build scenarios);
//! - failover: vacuous when no step lost the primary;
//! - no acknowledged write lost: not judged when the set never became healthy; vacuous
//!   with no acknowledged signup;
//! - same log: not judged when the set never became healthy; otherwise judged (empty
//!   logs that agree are a pass);
//! - one primary per term: always judged (term 1 only, or no election recorded, is a
//!   pass: every term the run had had one winner);
//! - no queued mail lost: not judged when the set never became healthy; vacuous when
//!   nothing was queued (and nothing unexplained delivered);
//! - no mail delivered twice: not judged as above; vacuous when the relay accepted none;
//! - mail retries (`mail_backoff`): vacuous when no production delivery failed; a
//!   failure the run ended too soon after to tell is counted as waiting, not judged;
//! - tokens: vacuous when no token was checked (and none refused);
//! - egress: vacuous when it decided nothing and the internet served nothing;
//! - isolation: judged whenever dev/test is deployed (left out of the report otherwise);
//! - remote access confined: judged whenever the topology deploys remote access (left
//!   out otherwise); vacuous when no step asked for an SSH session and no node opened
//!   one;
//! - consent: judged whenever the topology declares `[topology.consent]` (left out of
//!   the report otherwise); vacuous when the egress decided on no call out;
//! - monitoring answers carry no user data: judged whenever the monitoring host ran
//!   (left out of the report otherwise); vacuous when it received no answer;
//! - replica set healthy within `converge_within` of the last fault (or the start, when
//!   none was injected): always judged;
//! - mail flowing within `converge_within` of the last fault: vacuous when no production
//!   node tried to send mail. Apart from the set's health, so that a relay's fault is
//!   blamed on the mail;
//! - p99 overall: vacuous when no request succeeded; p99 outside fault windows: vacuous
//!   when every window with a success overlaps a fault window; failed requests per
//!   fault: one verdict per fault window, vacuous (one verdict) when no step injected a
//!   fault.
//!
//! One file per checker:
//! - [`availability`]: failure windows and availability;
//! - [`reactions`]: the balancer's detection of crashes and recovery of restarts;
//! - [`failover`]: one new primary within the bound of every lost one;
//! - [`convergence`]: whether the set is healthy, settled, and its primary lost, from the
//!   members' summaries; [`liveness`]: healthy, and the mail flowing, within the bound
//!   of the last fault;
//! - [`writes`]: no acknowledged write lost; [`same_log`]: the members' logs agree;
//!   [`terms`]: one primary per term;
//! - [`mail`]: no queued mail lost, none delivered twice; [`retries`]: each failed
//!   delivery retried after its backoff, none given up;
//! - [`tokens`]: tokens against the clocks; [`egress`]: the egress's books;
//! - [`isolation`]: dev/test isolated from production;
//! - [`access`]: remote maintenance only through the jumphost, inside a window;
//! - [`consent`]: every call out the egress let through for a consented purpose;
//! - [`monitoring`]: the monitoring endpoints' answers carry no user data;
//! - [`update`]: a planned rolling update's downtime per node and, drained, no failed
//!   request while it went on;
//! - [`latency`]: fault windows, the p99 bound and failed requests per fault.

use std::time::Duration;

use crate::events::{Event, EventKind, Log, MemberFinal, RequestRecord};
use crate::scenario::spec::Expectations;
use crate::topology::{Role, Topology};

pub mod access;
pub mod availability;
pub mod consent;
pub mod convergence;
pub mod egress;
pub mod failover;
pub mod isolation;
pub mod latency;
pub mod liveness;
pub mod mail;
pub mod monitoring;
pub mod reactions;
pub mod retries;
pub mod same_log;
pub mod terms;
pub mod tokens;
pub mod update;
pub mod writes;

use availability::FailureWindow;

/// One expectation's verdict: what was expected, what the run measured, and the result.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub expectation: Expectation,
    pub observed: Observed,
    pub status: Status,
}

impl Verdict {
    /// A judged verdict: it passes when `holds`.
    fn judged(expectation: Expectation, observed: Observed, holds: bool) -> Self {
        let status = if holds { Status::Pass } else { Status::Fail };
        Self {
            expectation,
            observed,
            status,
        }
    }

    /// A vacuous verdict: the condition it is about never arose (`why`); `observed` is
    /// what was measured all the same (zero counts, mostly).
    fn vacuous(expectation: Expectation, observed: Observed, why: Vacuity) -> Self {
        Self {
            expectation,
            observed,
            status: Status::Vacuous(why),
        }
    }

    /// A verdict that could not be judged, for `why`: nothing was measured.
    fn not_judged(expectation: Expectation, why: Unjudged) -> Self {
        Self {
            expectation,
            observed: Observed::Nothing,
            status: Status::NotJudged(why),
        }
    }

    /// True unless the verdict failed (not judged and vacuous do not fail the run).
    pub fn holds(&self) -> bool {
        self.status != Status::Fail
    }

    /// True only when the verdict was judged and passed.
    pub fn passes(&self) -> bool {
        self.status == Status::Pass
    }
}

/// The result of one check: the one place that says whether it was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Judged over what the run recorded, and it held.
    Pass,
    /// Judged, and it did not hold: the run fails.
    Fail,
    /// The check could not be judged, for this reason. It does not fail the run (except
    /// under `harness run --strict`), and never counts as a pass.
    NotJudged(Unjudged),
    /// The condition the check is about never arose, so there was nothing to judge over.
    /// It does not fail the run (except under `--strict`), and never counts as a pass.
    Vacuous(Vacuity),
}

/// Why a check could not be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unjudged {
    /// The replica set never became healthy after the last fault: its end state says
    /// nothing about lost writes or diverged logs.
    NeverConverged,
}

/// What never arose, making a check vacuous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vacuity {
    /// No user request was sent: there is no failure window to measure.
    NoRequest,
    /// No step crashed a node: no detection to time.
    NoCrash,
    /// No step restarted a node: no recovery to time.
    NoRestart,
    /// No step lost the primary: no failover to time.
    NoPrimaryLost,
    /// No signup was acknowledged: no write that could be lost.
    NoAckedWrite,
    /// No mail was queued: none that could be lost or held up.
    NoMailQueued,
    /// No delivery failed: no retry to judge.
    NoMailFailed,
    /// The relay accepted no mail: none that could be delivered twice.
    NoMailAccepted,
    /// No node checked a token.
    NoTokenChecked,
    /// The egress decided nothing and the internet served nothing.
    NoEgressTraffic,
    /// The egress decided on no call out: nothing to hold against consent.
    NoCallOut,
    /// No request succeeded: no latency to take a percentile of.
    NoSuccess,
    /// Every window with a successful request overlapped a fault window.
    NoQuietWindow,
    /// No step injected a fault: no fault window to count failures in.
    NoFault,
    /// No step asked for an SSH session and no node opened one.
    NoSshAttempt,
    /// The monitoring host received no answer from any node.
    NoMonitoringAnswer,
}

/// What happened at the start of a bound: the last fault, or none (the run's start).
pub type LastFault = Option<Duration>;

/// What a scenario expects, with its threshold and what the check is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    /// At least `min_pct` of the requests succeed.
    Availability {
        min_pct: f64,
    },
    /// No failure window lasts longer than `max`.
    FailureWindow {
        max: Duration,
    },
    /// The balancer takes a node out within `max` of its crash (`crash`: which, when;
    /// `None` when no step crashed one).
    Detection {
        max: Duration,
        crash: Option<reactions::Cause>,
    },
    /// The balancer puts a node back within `max` of its restart (`restart`: which,
    /// when; `None` when no step restarted one).
    Recovery {
        max: Duration,
        restart: Option<reactions::Cause>,
    },
    /// A new primary within `max` of losing one: `lost`, or every time when none was.
    Failover {
        max: Duration,
        lost: Option<failover::Lost>,
    },
    NoWriteLost,
    SameLog,
    OnePrimaryPerTerm,
    NoMailLost,
    NoMailTwice,
    /// Every failed delivery retried after the backoff from `initial` doubling to `max`
    /// ([`retries`]), and none given up.
    MailRetries {
        initial: Duration,
        max: Duration,
    },
    TokensMatchClocks,
    EgressAccounted,
    DevIsolated,
    /// No SSH session outside a maintenance window or except through the jumphost
    /// ([`access`]).
    AccessConfined,
    /// Every call out the egress let through was for one of `purposes`, those the
    /// topology declares consented ([`consent`]).
    OutboundConsented {
        purposes: Vec<crate::topology::Purpose>,
    },
    /// No answer the monitoring host received carried user data.
    MonitoringNoUserData,
    /// The replica set healthy within `within` of the last fault (`None`: of the start,
    /// no fault injected).
    Liveness {
        within: Duration,
        last_fault: LastFault,
    },
    /// The primary's mail flowing (nothing waiting [`convergence::MAIL_STALE`] or
    /// longer) within `within` of the last fault (`None`: of the start). `within` is the
    /// scenario's `converge_within`, the replica set's own bound.
    MailFlowing {
        within: Duration,
        last_fault: LastFault,
    },
    /// A planned update kept `node` out of service (from its stop until it passed
    /// `/testall` again) for at most `max` ([`update`]).
    UpdateDowntime {
        max: Duration,
        node: String,
    },
    /// A drained update: no user request that started while it went on failed.
    UpdateNoFailure,
    /// The p99 of the run's successful requests is at most `max`.
    P99 {
        max: Duration,
    },
    /// The p99 of every 10 s window outside the fault windows (each closed `margin`
    /// after its fault was undone) is at most `max`.
    P99Quiet {
        max: Duration,
        margin: Duration,
    },
    /// At most `max` requests failed in the fault window `fault` (`None`: no fault).
    FailedPerFault {
        max: u64,
        fault: Option<latency::FaultWindow>,
    },
}

/// What the run measured for one expectation.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    Availability(availability::Availability),
    FailureWindow(Option<availability::Longest>),
    Reaction(reactions::Reaction),
    Failover(failover::Failover),
    Writes(writes::Writes),
    SameLog(same_log::Ends),
    Terms(terms::Terms),
    MailLost(mail::Queue),
    MailTwice(mail::Twice),
    /// Boxed: its three first offenders make it the largest by far.
    MailRetries(Box<retries::Retries>),
    Tokens(tokens::Tokens),
    Egress(egress::Books),
    Isolation(isolation::Isolation),
    /// The run's SSH attempts and sessions, with the first breach.
    Access(access::Sessions),
    Consent(consent::Books),
    /// The monitoring answers, and those that carried user data.
    Monitoring(monitoring::Answers),
    /// How long after the last fault the set became healthy; `None`: it never did.
    Liveness(Option<Duration>),
    /// How long after the last fault the mail began flowing; `None`: it never did.
    MailFlowing(Option<Duration>),
    /// A node's downtime in an update; `None`: it never passed `/testall` again.
    Downtime(Option<Duration>),
    /// The requests that started while an update went on.
    UpdateRequests(update::Seen),
    /// A p99 latency and what it was taken over.
    P99(latency::P99),
    /// Failed requests in one fault window.
    FailedPerFault(latency::Failed),
    /// Nothing measured (the status says why).
    Nothing,
}

/// The first of `count` offenders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offenders<T> {
    pub count: usize,
    pub first: T,
}

impl<T> Offenders<T> {
    /// The count and the first of `all`, if any.
    pub fn of(all: Vec<T>) -> Option<Self> {
        let count = all.len();
        all.into_iter().next().map(|first| Self { count, first })
    }
}

/// Judges every expectation the scenario states, in a fixed order.
pub fn judge(
    update: Option<&crate::scenario::update::Update>,
    expect: &Expectations,
    topology: &Topology,
    events: &Log,
    requests: &[RequestRecord],
    windows: &[FailureWindow],
) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    if let Some(min_pct) = expect.availability_pct_min {
        verdicts.push(availability::availability(min_pct, requests));
    }
    if let Some(max) = expect.failure_window_max {
        verdicts.push(availability::longest_window(max, windows, requests.len()));
    }
    if let Some(max) = expect.detection_max {
        verdicts.extend(reactions::check(events, max, reactions::Kind::Detection));
    }
    if let Some(max) = expect.recovery_max {
        verdicts.extend(reactions::check(events, max, reactions::Kind::Recovery));
    }
    if let Some(max) = expect.failover_max {
        verdicts.extend(failover::check(events, max));
    }
    latency_verdicts(expect, events, requests, &mut verdicts);
    // The dev/test instance's own mail is not production's: its attempts are left out.
    let dev: Vec<&str> = topology
        .with_role(Role::DevNode)
        .map(|h| h.name.as_str())
        .collect();
    let mut safety = safety(events, requests, &dev);
    if expect.mail_exactly_once != Some(true) {
        safety.retain(|v| v.expectation != Expectation::NoMailTwice);
    }
    verdicts.extend(safety);
    if expect.mail_backoff == Some(true) {
        verdicts.push(retries::check(events, &topology.smtp, &dev));
    }
    verdicts.push(tokens::check(events, topology));
    verdicts.push(egress::check(events, topology));
    // Judged on every run; without dev-1 it holds vacuously and stays out of the report,
    // so reports of runs without dev-1 read as they did before it existed.
    let isolation = isolation::check(events, topology);
    if topology.dev.enabled {
        verdicts.push(isolation);
    }
    if topology.access.jumphost {
        verdicts.push(access::check(events, topology));
    }
    // Judged only where the topology declares consent, so reports of runs without a
    // declaration read as they did before it existed.
    verdicts.extend(consent::check(events, topology));
    verdicts.extend(monitoring::check(events, requests));
    verdicts.extend(liveness::check(events, expect.converge_within(), &dev));
    verdicts.extend(update::check(update, events, requests));
    verdicts
}

/// `p99_max` and `failed_per_fault_max`, when the scenario sets them.
fn latency_verdicts(
    expect: &Expectations,
    events: &[Event],
    requests: &[RequestRecord],
    verdicts: &mut Vec<Verdict>,
) {
    if expect.p99_max.is_none() && expect.failed_per_fault_max.is_none() {
        return;
    }
    let faults = latency::fault_windows(events);
    if let Some(max) = expect.p99_max {
        verdicts.extend(latency::p99(max, requests, &faults));
    }
    if let Some(max) = expect.failed_per_fault_max {
        verdicts.extend(latency::per_fault(max, requests, &faults));
    }
}

/// The replica set's safety checks, judged on every run.
fn safety(events: &Log, requests: &[RequestRecord], dev: &[&str]) -> Vec<Verdict> {
    if !events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Converged | EventKind::HealthyUnbroken))
    {
        // The end state of a set that never recovered says nothing about lost writes or
        // diverged logs; the liveness verdict already fails the run.
        let not_judged = |expectation| Verdict::not_judged(expectation, Unjudged::NeverConverged);
        return vec![
            not_judged(Expectation::NoWriteLost),
            not_judged(Expectation::SameLog),
            terms::check(events),
            not_judged(Expectation::NoMailLost),
            not_judged(Expectation::NoMailTwice),
        ];
    }
    let finals: Vec<&MemberFinal> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MemberFinal(f) => Some(f),
            _ => None,
        })
        .collect();
    let up: Vec<&MemberFinal> = finals.iter().copied().filter(|f| f.up).collect();
    let down: Vec<String> = finals
        .iter()
        .filter(|f| !f.up)
        .map(|f| f.node.clone())
        .collect();
    let [lost_mail, twice] = mail::check(events, &up, dev);
    vec![
        writes::check(requests, &up, &down),
        same_log::check(&up, &down),
        terms::check(events),
        lost_mail,
        twice,
    ]
}

/// An event `kind` recorded by `host` at `secs` seconds, for the checkers' tests.
#[cfg(test)]
pub(crate) fn event_at(host: &str, secs: u64, kind: EventKind) -> Event {
    Event {
        at: Duration::from_secs(secs),
        host: host.to_string(),
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves that when the replica set never became healthy, the checks on its end
    /// state are not judged (with the reason, nothing measured) rather than passed, while
    /// one primary per term is still judged from the elections.
    #[test]
    fn end_state_checks_not_judged_without_convergence() {
        let verdicts = safety(&Log::default(), &[], &[]);
        let statuses: Vec<(Expectation, Status)> = verdicts
            .iter()
            .map(|v| (v.expectation.clone(), v.status))
            .collect();
        let not_judged = Status::NotJudged(Unjudged::NeverConverged);
        assert_eq!(
            statuses,
            vec![
                (Expectation::NoWriteLost, not_judged),
                (Expectation::SameLog, not_judged),
                (Expectation::OnePrimaryPerTerm, Status::Pass),
                (Expectation::NoMailLost, not_judged),
                (Expectation::NoMailTwice, not_judged),
            ]
        );
        assert!(verdicts.iter().all(Verdict::holds));
        assert_eq!(verdicts[0].observed, Observed::Nothing);
        assert!(!verdicts[0].passes());
    }
}
