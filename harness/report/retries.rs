//! The mail retries verdict in words ([`crate::checkers::retries`]): the backoff as the
//! scenario's topology sets it, and what the failed deliveries did against it, each kind
//! of breach counted with its first offender.

use crate::checkers::retries::{Retries, Retry};
use crate::checkers::{Expectation, Offenders};
use crate::duration::{clock, span};

/// The words of the delivery expectations: once (`mail_exactly_once`) and after the
/// backoff (`mail_backoff`); empty for any other.
pub fn delivery(e: &Expectation) -> String {
    match e {
        Expectation::NoMailTwice => "no mail delivered twice".to_string(),
        Expectation::MailRetries { initial, max } => expectation(*initial, *max),
        _ => String::new(),
    }
}

/// `mail retried after its backoff (1s doubling to 30s), none given up`.
pub fn expectation(initial: std::time::Duration, max: std::time::Duration) -> String {
    format!(
        "mail retried after its backoff ({} doubling to {}), none given up",
        span(initial),
        span(max)
    )
}

/// What the failures did: all well, or each breach with its first offender.
pub fn observed(r: &Retries) -> String {
    let breaches: Vec<String> = [
        (
            "off the backoff",
            &r.off_policy,
            off_policy as fn(&Retry) -> String,
        ),
        ("retried early", &r.early, early),
        ("given up", &r.given_up, given_up),
    ]
    .into_iter()
    .filter_map(|(what, found, words)| {
        found
            .as_ref()
            .map(|Offenders { count, first }| format!("{count} {what} (first: {})", words(first)))
    })
    .collect();
    if !breaches.is_empty() {
        return breaches.join("; ");
    }
    let waiting = if r.waiting == 0 {
        String::new()
    } else {
        format!(", {} still waiting at the end", r.waiting)
    };
    format!(
        "{} failed attempts, each with the backoff's delay; {} retried no sooner{waiting}",
        r.failures, r.retried
    )
}

fn attempt(r: &Retry) -> String {
    format!(
        "{}'s attempt {} of {} at {}",
        r.host,
        r.attempt,
        r.message_id,
        clock(r.failed_at)
    )
}

fn off_policy(r: &Retry) -> String {
    format!(
        "{} announced {}, the backoff {}",
        attempt(r),
        span(r.retry_in),
        span(r.policy)
    )
}

fn early(r: &Retry) -> String {
    let next = r.next_at.map_or_else(|| "-".to_string(), clock);
    format!(
        "{} waited {}, yet the next was recorded at {next}",
        attempt(r),
        span(r.retry_in)
    )
}

fn given_up(r: &Retry) -> String {
    format!("{}; nothing after it", attempt(r))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn retry(next_ms: Option<u64>) -> Retry {
        Retry {
            host: "node-1".into(),
            message_id: "<verify-a@example.com>".into(),
            attempt: 2,
            failed_at: Duration::from_secs(11),
            retry_in: Duration::from_secs(1),
            policy: Duration::from_secs(2),
            next_at: next_ms.map(Duration::from_millis),
        }
    }

    /// Proves each breach is counted and named with its first offender, and a queue that
    /// kept the backoff says how many attempts it went over.
    #[test]
    fn retries_in_words() {
        let one = |r| Some(Offenders { count: 1, first: r });
        let broken = Retries {
            failures: 3,
            retried: 2,
            waiting: 0,
            off_policy: one(retry(Some(12_000))),
            early: one(retry(Some(11_500))),
            given_up: one(retry(None)),
        };
        assert_eq!(
            observed(&broken),
            "1 off the backoff (first: node-1's attempt 2 of <verify-a@example.com> at 0:11.000 announced 1s, the backoff 2s); \
             1 retried early (first: node-1's attempt 2 of <verify-a@example.com> at 0:11.000 waited 1s, yet the next was recorded at 0:11.500); \
             1 given up (first: node-1's attempt 2 of <verify-a@example.com> at 0:11.000; nothing after it)"
        );
        let kept = Retries {
            failures: 3,
            retried: 2,
            waiting: 1,
            off_policy: None,
            early: None,
            given_up: None,
        };
        assert_eq!(
            observed(&kept),
            "3 failed attempts, each with the backoff's delay; 2 retried no sooner, 1 still waiting at the end"
        );
        assert_eq!(
            expectation(Duration::from_secs(1), Duration::from_secs(30)),
            "mail retried after its backoff (1s doubling to 30s), none given up"
        );
    }
}
