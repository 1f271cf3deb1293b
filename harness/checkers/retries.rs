//! Mail retries: every failed delivery is tried again, no sooner than the backoff the
//! topology sets, and never given up (issue 18's "retry, backoff, give up never").
//!
//! Read from the log alone: each production `MailFailed` (message, attempt `k`, the delay
//! it announced) against the policy (`smtp.retry_initial` doubled after each further
//! failure, at most `smtp.retry_max`, stated here again rather than borrowed from the
//! queue, so the queue's own function is what is checked), and against the next attempt
//! of the same message anywhere in the log (`MailFailed` or `MailSent`):
//! - **off policy**: the delay announced is not the policy's for attempt `k`;
//! - **early**: the same node's attempt `k + 1` was recorded before the failure's time
//!   plus its delay (an attempt is recorded when it ends, so an attempt recorded before
//!   its due time certainly started before it). A next attempt by another node, or one
//!   numbered 1 (the queue's counts are in memory: after a failover or a restart the
//!   node that sends starts over at once, by design), is not held to the delay;
//! - **given up**: no later attempt at all, the message never sent by anyone, and the
//!   log going on past the due time plus [`RETRY_SLACK`] (a failure whose slack outlasts
//!   the run is counted as still waiting, not judged).
//!
//! From the queue it borrows only its documented bounds ([`POLL`], [`MAX_PER_POLL`]):
//! what the slack is made of.

use std::time::Duration;

use super::{Expectation, Observed, Offenders, Vacuity, Verdict};
use crate::events::{EventKind, Log};
use crate::services::mail::{MAX_PER_POLL, POLL};
use crate::topology::SmtpSettings;

/// How long after its due time a retry may come and still count as on time, beyond the
/// session timeout: one [`POLL`] until the queue looks again, and a whole poll's worth of
/// other messages ([`MAX_PER_POLL`]) ahead of it, each taking at most the session timeout,
/// and its own session. A failure with nothing after it for longer was given up.
pub fn retry_slack(session_timeout: Duration) -> Duration {
    let sessions = u32::try_from(MAX_PER_POLL + 1).expect("a small bound");
    POLL + session_timeout.saturating_mul(sessions)
}

/// [`retry_slack`] at the default session timeout (5 s): 1m45.5s.
pub const RETRY_SLACK: Duration = Duration::from_millis(500 + 21 * 5_000);

/// One failed attempt the verdict names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// The node whose attempt failed.
    pub host: String,
    pub message_id: String,
    /// The failed attempt's number (1 for the first).
    pub attempt: u32,
    /// When it failed.
    pub failed_at: Duration,
    /// The delay it announced.
    pub retry_in: Duration,
    /// The delay the policy gives attempt `attempt`.
    pub policy: Duration,
    /// When the next attempt of the message was recorded, if there was one.
    pub next_at: Option<Duration>,
}

/// The production queue's failed attempts against the backoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retries {
    /// Failed attempts looked at.
    pub failures: usize,
    /// Of those, followed by a later attempt of the same message.
    pub retried: usize,
    /// Of those, not followed by one before the log ended, with the log ending before
    /// their due time plus the slack: not judged.
    pub waiting: usize,
    /// Delays announced that are not the policy's.
    pub off_policy: Option<Offenders<Retry>>,
    /// Next attempts recorded before their due time.
    pub early: Option<Offenders<Retry>>,
    /// Failures never followed by an attempt, their message never sent.
    pub given_up: Option<Offenders<Retry>>,
}

impl Retries {
    /// True when no failure broke the policy, came early or was given up.
    pub fn hold(&self) -> bool {
        self.off_policy.is_none() && self.early.is_none() && self.given_up.is_none()
    }
}

/// The delay the policy gives after failed attempt `attempt` (1 for the first):
/// `initial`, doubled for each failure before it, at most `max`.
pub fn policy(attempt: u32, initial: Duration, max: Duration) -> Duration {
    let doublings = attempt.saturating_sub(1);
    let mut delay = initial;
    for _ in 0..doublings {
        if delay >= max {
            break;
        }
        delay = delay.saturating_mul(2);
    }
    delay.min(max)
}

/// A message's attempt in the log: who, which number, when, and whether it failed.
struct Attempt {
    host: String,
    message_id: String,
    number: u32,
    at: Duration,
    /// The delay a failed attempt announced; `None` for a delivery.
    failed: Option<Duration>,
}

fn attempts(events: &Log, dev: &[&str]) -> Vec<Attempt> {
    events
        .tokens_and_mail()
        .filter(|e| !dev.contains(&e.host.as_str()))
        .filter_map(|e| {
            let (message_id, number, failed) = match e.kind {
                EventKind::MailFailed {
                    message_id,
                    attempt,
                    retry_in_ms,
                    ..
                } => (
                    message_id,
                    attempt,
                    Some(Duration::from_millis(retry_in_ms)),
                ),
                EventKind::MailSent {
                    message_id,
                    attempts,
                    ..
                } => (message_id, attempts, None),
                _ => return None,
            };
            Some(Attempt {
                host: e.host,
                message_id,
                number,
                at: e.at,
                failed,
            })
        })
        .collect()
}

/// The verdict on the production queue's retries (`dev`: the dev/test hosts, not
/// counted); vacuous when no delivery failed.
pub fn check(events: &Log, smtp: &SmtpSettings, dev: &[&str]) -> Verdict {
    let expectation = Expectation::MailRetries {
        initial: smtp.retry_initial,
        max: smtp.retry_max,
    };
    // The last event's time, requests aside (the log's end counts them too).
    let end = events.all().map(|e| e.at).max().unwrap_or_default();
    let slack = retry_slack(smtp.timeout);
    let all = attempts(events, dev);
    let mut seen = Seen::default();
    for (i, failure) in all.iter().enumerate() {
        let Some(retry_in) = failure.failed else {
            continue;
        };
        let next = all[i + 1..]
            .iter()
            .find(|a| a.message_id == failure.message_id);
        let retry = Retry {
            host: failure.host.clone(),
            message_id: failure.message_id.clone(),
            attempt: failure.number,
            failed_at: failure.at,
            retry_in,
            policy: policy(failure.number, smtp.retry_initial, smtp.retry_max),
            next_at: next.map(|a| a.at),
        };
        let sent_anywhere = all
            .iter()
            .any(|a| a.message_id == failure.message_id && a.failed.is_none());
        let gave_up = next.is_none() && !sent_anywhere;
        let waiting = gave_up && failure.at + retry_in + slack > end;
        let early = next.is_some_and(|n| {
            n.host == failure.host && n.number > 1 && n.at < failure.at + retry_in
        });
        seen.add(retry, next.is_some(), waiting, early, gave_up && !waiting);
    }
    seen.verdict(expectation)
}

/// What the failures showed, as they are gone through.
#[derive(Default)]
struct Seen {
    failures: usize,
    retried: usize,
    waiting: usize,
    off_policy: Vec<Retry>,
    early: Vec<Retry>,
    given_up: Vec<Retry>,
}

impl Seen {
    fn add(&mut self, retry: Retry, retried: bool, waiting: bool, early: bool, gave_up: bool) {
        self.failures += 1;
        self.retried += usize::from(retried);
        self.waiting += usize::from(waiting);
        if retry.retry_in != retry.policy {
            self.off_policy.push(retry.clone());
        }
        if early {
            self.early.push(retry.clone());
        }
        if gave_up {
            self.given_up.push(retry);
        }
    }

    fn verdict(self, expectation: Expectation) -> Verdict {
        let retries = Retries {
            failures: self.failures,
            retried: self.retried,
            waiting: self.waiting,
            off_policy: Offenders::of(self.off_policy),
            early: Offenders::of(self.early),
            given_up: Offenders::of(self.given_up),
        };
        if retries.failures == 0 {
            return Verdict::vacuous(
                expectation,
                Observed::MailRetries(Box::new(retries)),
                Vacuity::NoMailFailed,
            );
        }
        let holds = retries.hold();
        Verdict::judged(expectation, Observed::MailRetries(Box::new(retries)), holds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::{Status, event_at};
    use crate::events::Event;

    fn ms_event(host: &str, ms: u64, kind: EventKind) -> Event {
        Event {
            at: Duration::from_millis(ms),
            host: host.to_string(),
            kind,
        }
    }

    fn failed(attempt: u32, retry_in_ms: u64) -> EventKind {
        EventKind::MailFailed {
            message_id: "<verify-a@example.com>".into(),
            attempt,
            reason: "the relay answered 451, expected 250".into(),
            retry_in_ms,
        }
    }

    fn sent(attempts: u32) -> EventKind {
        EventKind::MailSent {
            message_id: "<verify-a@example.com>".into(),
            attempts,
            waited_ms: 0,
        }
    }

    fn retries(v: &Verdict) -> &Retries {
        let Observed::MailRetries(r) = &v.observed else {
            panic!("{:?}", v.observed);
        };
        r
    }

    /// Proves the policy doubles from the initial delay, stops at the maximum, and
    /// cannot overflow however many failures.
    #[test]
    fn policy_doubles_up_to_the_maximum() {
        let (initial, max) = (Duration::from_secs(1), Duration::from_secs(30));
        let delays: Vec<u64> = (1..=7).map(|k| policy(k, initial, max).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(policy(u32::MAX, initial, max), max);
    }

    /// Proves a queue that waits out 1 s then 2 s and then delivers passes, and that the
    /// same log with the second attempt 100 ms before its due time fails as early.
    #[test]
    fn an_attempt_before_its_backoff_fails() {
        let smtp = SmtpSettings::default();
        let on_time = [
            ms_event("node-1", 10_000, failed(1, 1_000)),
            ms_event("node-1", 11_010, failed(2, 2_000)),
            ms_event("node-1", 13_020, sent(3)),
        ];
        let v = check(&Log::from(on_time.to_vec()), &smtp, &[]);
        assert_eq!(v.status, Status::Pass, "{:?}", v.observed);
        assert_eq!((retries(&v).failures, retries(&v).retried), (2, 2));
        let hasty = [
            on_time[0].clone(),
            ms_event("node-1", 10_900, failed(2, 2_000)),
            ms_event("node-1", 12_910, sent(3)),
        ];
        let v = check(&Log::from(hasty.to_vec()), &smtp, &[]);
        assert_eq!(v.status, Status::Fail);
        let early = retries(&v).early.as_ref().expect("an early attempt");
        assert_eq!((early.count, early.first.attempt), (1, 1));
        assert_eq!(early.first.next_at, Some(Duration::from_millis(10_900)));
    }

    /// Proves a delay that is not the policy's fails (a queue that never doubled), and
    /// that the policy is the topology's: with `retry_initial = 2s` the same log is off.
    #[test]
    fn a_delay_off_the_policy_fails() {
        let smtp = SmtpSettings::default();
        let flat = [
            ms_event("node-1", 10_000, failed(1, 1_000)),
            ms_event("node-1", 11_000, failed(2, 1_000)),
            ms_event("node-1", 12_000, sent(3)),
        ];
        let v = check(&Log::from(flat.to_vec()), &smtp, &[]);
        assert_eq!(v.status, Status::Fail);
        let off = retries(&v).off_policy.as_ref().expect("off the policy");
        assert_eq!(off.first.policy, Duration::from_secs(2));
        let slower = SmtpSettings {
            retry_initial: Duration::from_secs(2),
            ..SmtpSettings::default()
        };
        let v = check(&Log::from(flat[..1].to_vec()), &slower, &[]);
        assert_eq!(retries(&v).off_policy.as_ref().map(|o| o.count), Some(1));
    }

    /// Proves a failure with nothing after it fails as given up once the log goes on
    /// past its due time and the slack, is only counted as waiting when the log ends
    /// sooner, and is not held against the queue when another node sent the message.
    #[test]
    fn a_failure_never_retried_is_given_up() {
        let smtp = SmtpSettings::default();
        let quiet_after = Duration::from_secs(10 + 1) + RETRY_SLACK;
        let abandoned = [
            event_at("node-1", 10, failed(1, 1_000)),
            Event {
                at: quiet_after + Duration::from_millis(1),
                host: "lb".into(),
                kind: EventKind::MailFlowing,
            },
        ];
        let v = check(&Log::from(abandoned.to_vec()), &smtp, &[]);
        assert_eq!(v.status, Status::Fail);
        assert!(retries(&v).given_up.is_some());
        let short = [
            abandoned[0].clone(),
            event_at("lb", 20, EventKind::MailFlowing),
        ];
        let v = check(&Log::from(short.to_vec()), &smtp, &[]);
        assert_eq!(v.status, Status::Pass);
        assert_eq!(retries(&v).waiting, 1);
        // node-2 had sent it before node-1's (redundant) attempt failed.
        let elsewhere = [
            event_at("node-2", 9, sent(1)),
            abandoned[0].clone(),
            abandoned[1].clone(),
        ];
        assert_eq!(
            check(&Log::from(elsewhere.to_vec()), &smtp, &[]).status,
            Status::Pass
        );
    }

    /// Proves a new primary's first attempt (numbered 1) right after the old one's
    /// failure is not early (delivery starts over at once after a failover), that the
    /// dev/test hosts' failures are left out, and that no failure at all is vacuous.
    #[test]
    fn failover_restarts_and_dev_are_not_judged() {
        let smtp = SmtpSettings::default();
        let failover = [
            ms_event("node-1", 10_000, failed(3, 4_000)),
            ms_event("node-2", 10_500, sent(1)),
        ];
        // node-1's attempt 3 announced 4 s, the policy's for a third failure.
        assert_eq!(
            check(&Log::from(failover.to_vec()), &smtp, &[]).status,
            Status::Pass
        );
        let dev_only = [ms_event("dev-1", 10_000, failed(1, 0))];
        let v = check(&Log::from(dev_only.to_vec()), &smtp, &["dev-1"]);
        assert_eq!(v.status, Status::Vacuous(Vacuity::NoMailFailed));
        assert_eq!(
            check(&Log::from(dev_only.to_vec()), &smtp, &[]).status,
            Status::Fail
        );
    }

    /// Proves the slack constant is the slack at the default session timeout.
    #[test]
    fn slack_at_the_default_timeout() {
        assert_eq!(retry_slack(SmtpSettings::default().timeout), RETRY_SLACK);
    }
}
