//! Failure windows and availability: the share of requests that succeeded, and the
//! longest stretch of failed requests.
//!
//! A failure window is told causally: it opens when the first failure is *observed* (the
//! end, start + latency, of its failed request that ended first) and closes at the end of
//! the one that ended last, so it never opens before the fault that caused it. Its length,
//! which `failure_window_max` judges, is end minus opening. Requests are grouped by start
//! time (a failure that starts within the failure gap of the window's end joins it), and
//! the requests counted as sent are those that started between its first failed request's
//! send time and its end.

use std::time::Duration;

use serde::Serialize;

use super::{Expectation, Observed, Verdict};
use crate::events::RequestRecord;

/// A maximal stretch of failed requests: each starts within the failure gap of the end of
/// the one before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureWindow {
    /// The first failure observed: the failed request that ended first (its end opens
    /// the window; its start is when it was sent).
    pub first: RequestRecord,
    /// When the window's earliest failed request was sent (requests counted as `sent`
    /// started from here).
    pub first_sent: Duration,
    /// The failed request that ended last.
    pub last: RequestRecord,
    /// Failed requests in the window.
    pub failed: usize,
    /// All requests that started between the window's first start and its end.
    pub sent: usize,
    /// How long its failed requests took, median (fast refusals versus timeouts).
    pub median_failure_latency: Duration,
}

impl FailureWindow {
    /// When the window opens: the end of its first failure observed.
    pub fn start(&self) -> Duration {
        self.first.started + self.first.latency
    }

    /// When the window closes: the end of the failed request that ended last.
    pub fn end(&self) -> Duration {
        self.last.started + self.last.latency
    }

    /// From the first failure observed to the end of the last.
    pub fn length(&self) -> Duration {
        self.end().saturating_sub(self.start())
    }
}

/// Groups failed requests into windows. `requests` must be in start order.
pub fn failure_windows(requests: &[RequestRecord], gap: Duration) -> Vec<FailureWindow> {
    let mut windows: Vec<FailureWindow> = Vec::new();
    for r in requests.iter().filter(|r| !r.outcome.is_ok()) {
        let end = r.started + r.latency;
        match windows.last_mut() {
            Some(w) if r.started <= w.end() + gap => {
                w.failed += 1;
                if end > w.end() {
                    w.last = r.clone();
                }
                if end < w.start() {
                    w.first = r.clone();
                }
            }
            _ => windows.push(FailureWindow {
                first: r.clone(),
                first_sent: r.started,
                last: r.clone(),
                failed: 1,
                sent: 0,
                median_failure_latency: Duration::ZERO,
            }),
        }
    }
    for w in &mut windows {
        let inside: Vec<&RequestRecord> = requests
            .iter()
            .filter(|r| r.started >= w.first_sent && r.started <= w.end())
            .collect();
        w.sent = inside.len();
        let mut failed: Vec<Duration> = inside
            .iter()
            .filter(|r| !r.outcome.is_ok())
            .map(|r| r.latency)
            .collect();
        failed.sort_unstable();
        w.median_failure_latency = failed
            .get(failed.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or_default();
    }
    windows
}

/// The requests that succeeded, of all sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    pub ok: usize,
    pub sent: usize,
}

impl Availability {
    /// The share that succeeded, in percent (0 when nothing was sent).
    pub fn pct(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            100.0 * self.ok as f64 / self.sent as f64
        }
    }
}

/// The longest failure window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Longest {
    pub length: Duration,
    /// Its place among the windows, from 1.
    pub number: usize,
    /// How many windows the run had.
    pub windows: usize,
}

/// At least `min_pct` of the requests succeeded (a run with none fails).
pub fn availability(min_pct: f64, requests: &[RequestRecord]) -> Verdict {
    let seen = Availability {
        ok: requests.iter().filter(|r| r.outcome.is_ok()).count(),
        sent: requests.len(),
    };
    Verdict::judged(
        Expectation::Availability { min_pct },
        Observed::Availability(seen),
        seen.sent > 0 && seen.pct() >= min_pct,
    )
}

/// No failure window lasted longer than `max`, over `sent` requests (vacuous when none
/// was sent; a run whose requests all succeeded passes: it was judged and found none).
pub fn longest_window(max: Duration, windows: &[FailureWindow], sent: usize) -> Verdict {
    let longest = windows
        .iter()
        .enumerate()
        .max_by_key(|(_, w)| w.length())
        .map(|(i, w)| Longest {
            length: w.length(),
            number: i + 1,
            windows: windows.len(),
        });
    if sent == 0 {
        return Verdict::vacuous(
            Expectation::FailureWindow { max },
            Observed::FailureWindow(None),
            super::Vacuity::NoRequest,
        );
    }
    Verdict::judged(
        Expectation::FailureWindow { max },
        Observed::FailureWindow(longest),
        longest.is_none_or(|l| l.length <= max),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::events::RequestOutcome;

    pub(crate) fn req(id: u64, started_ms: u64, latency_ms: u64, ok: bool) -> RequestRecord {
        let outcome = if ok {
            RequestOutcome::Ok
        } else {
            RequestOutcome::Timeout
        };
        RequestRecord {
            id,
            endpoint: "POST /login",
            user: None,
            started: Duration::from_millis(started_ms),
            latency: Duration::from_millis(latency_ms),
            outcome,
            connection: crate::events::ConnectionUse::None,
        }
    }

    /// Proves failures closer than the gap share a window, farther ones open a new one,
    /// and a window's length runs from its first failure's end to its latest end.
    #[test]
    fn groups_failure_windows() {
        let rs = [
            req(0, 0, 10, true),
            req(1, 100, 1000, false),
            req(2, 200, 10, true),
            req(3, 2500, 500, false),
            req(4, 9000, 10, false),
        ];
        let ws = failure_windows(&rs, Duration::from_secs(2));
        assert_eq!(ws.len(), 2);
        assert_eq!((ws[0].failed, ws[0].sent), (2, 3));
        assert_eq!(ws[0].start(), Duration::from_millis(1100));
        assert_eq!(ws[0].length(), Duration::from_millis(1900));
        assert_eq!(ws[1].length(), Duration::ZERO);
    }

    /// Proves a window opens at the first failure *observed*: a slow timeout sent first
    /// does not open it when a fast refusal sent later ended earlier, and the window
    /// never opens before its first failure ended (the fault's effect, not its cause).
    #[test]
    fn window_opens_at_first_failure_observed() {
        let rs = [
            req(0, 29_937, 1100, false),
            req(1, 30_100, 5, false),
            req(2, 30_200, 10, true),
        ];
        let ws = failure_windows(&rs, Duration::from_secs(2));
        assert_eq!(ws.len(), 1);
        assert_eq!(ws[0].first.id, 1);
        assert_eq!(ws[0].first_sent, Duration::from_millis(29_937));
        assert_eq!(ws[0].start(), Duration::from_millis(30_105));
        assert_eq!(ws[0].end(), Duration::from_millis(31_037));
        assert_eq!(ws[0].sent, 3);
    }

    /// Proves the availability verdict fails below the threshold and on a run with no
    /// requests at all.
    #[test]
    fn availability_threshold() {
        let rs = [
            req(0, 0, 1, true),
            req(1, 1, 1, true),
            req(2, 2, 1, true),
            req(3, 3, 1, false),
        ];
        assert!(availability(75.0, &rs).holds());
        assert!(!availability(75.0, &rs[2..]).holds());
        assert!(!availability(75.0, &[]).holds());
    }
}
