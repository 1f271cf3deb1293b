//! The token and mail events of a run, compact: a row per event, its strings stored once.
//!
//! A login or a `/userinfo` records a token event (`TokenIssued`, `TokenChecked`,
//! `TokenRefused`), a signup's verification mail two or more mail events (`MailSent`,
//! `MailFailed`, the relay's `MailAccepted`): about 216,000 an hour at the reference
//! rate. The checkers and the report read every field of them (the token checker each
//! time and id against the clocks, the mail checkers each id and attempt, the timeline
//! each failure's reason), in the log's order, so nothing is dropped: each is kept
//! exactly, as a [`Row`] (its time, its place in the recording order, its host and its
//! fields) of 72 bytes instead of 176 plus four or five separate strings. Text a run
//! repeats (host names, issuers, rejections, failure reasons) is interned; text each
//! event has its own of (token ids, message ids, recipients) goes end to end into one
//! string. [`Folded::event`] rebuilds the event exactly as it was recorded.

use std::collections::HashMap;
use std::time::Duration;

use super::ns;
use crate::events::{Event, EventKind};

/// [`Compact::TokenChecked`]'s `rejected` when the token was accepted.
const ACCEPTED: u32 = u32::MAX;

/// Text a run repeats, each distinct text stored once.
#[derive(Clone, Default)]
struct Interned {
    texts: Vec<String>,
    /// Where each text is in `texts`.
    index: HashMap<String, u32>,
}

impl Interned {
    fn id(&mut self, text: String) -> u32 {
        if let Some(id) = self.index.get(&text) {
            return *id;
        }
        let id = u32::try_from(self.texts.len()).expect("fewer than 2^32 distinct texts");
        self.texts.push(text.clone());
        self.index.insert(text, id);
        id
    }

    fn get(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }
}

/// Where one event's own text is in [`Folded::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

/// What one folded event held, its text by reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compact {
    TokenIssued {
        jti: Span,
        iat: u64,
    },
    TokenChecked {
        jti: Span,
        /// Interned.
        issuer: u32,
        iat: u64,
        exp: u64,
        now_s: u64,
        /// Interned, or [`ACCEPTED`].
        rejected: u32,
    },
    TokenRefused {
        /// Interned.
        reason: u32,
    },
    MailSent {
        message_id: Span,
        attempts: u32,
        waited_ms: u64,
    },
    MailFailed {
        message_id: Span,
        attempt: u32,
        /// Interned.
        reason: u32,
        retry_in_ms: u64,
    },
    MailAccepted {
        message_id: Span,
        to: Span,
    },
}

/// One folded event (72 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Row {
    /// When it was recorded, in nanoseconds.
    at_ns: u64,
    /// Its place in the order events were recorded (shared with the events kept whole).
    seq: u32,
    /// In the finished log: the index of the first event kept whole that comes after it.
    pub(super) before: u32,
    /// The host that recorded it, interned.
    host: u32,
    /// A scenario step recorded it: it sorts first at its time.
    step: bool,
    compact: Compact,
}

impl Row {
    /// Its place in the log: by time, a step's events first, then the recording order.
    pub(super) fn key(&self) -> (u64, bool, u32) {
        (self.at_ns, !self.step, self.seq)
    }
}

/// The token and mail events of a log, compact (see the module's header).
#[derive(Clone, Default)]
pub(super) struct Folded {
    /// In recording order while the log is recorded, in the log's order once finished.
    pub(super) rows: Vec<Row>,
    interned: Interned,
    /// Each event's own text, end to end.
    text: String,
}

impl Folded {
    /// Folds `event` if it is a token or mail event (`seq`: its place in the recording
    /// order; `step`: a scenario step recorded it); gives it back otherwise.
    pub(super) fn fold(&mut self, event: Event, step: bool, seq: u32) -> Option<Event> {
        let compact = match event.kind {
            EventKind::TokenIssued { jti, iat } => Compact::TokenIssued {
                jti: self.own(&jti),
                iat,
            },
            EventKind::TokenChecked {
                jti,
                issuer,
                iat,
                exp,
                now_s,
                rejected,
            } => Compact::TokenChecked {
                jti: self.own(&jti),
                issuer: self.interned.id(issuer),
                iat,
                exp,
                now_s,
                rejected: rejected.map_or(ACCEPTED, |r| self.interned.id(r)),
            },
            EventKind::TokenRefused { reason } => Compact::TokenRefused {
                reason: self.interned.id(reason),
            },
            EventKind::MailSent {
                message_id,
                attempts,
                waited_ms,
            } => Compact::MailSent {
                message_id: self.own(&message_id),
                attempts,
                waited_ms,
            },
            EventKind::MailFailed {
                message_id,
                attempt,
                reason,
                retry_in_ms,
            } => Compact::MailFailed {
                message_id: self.own(&message_id),
                attempt,
                reason: self.interned.id(reason),
                retry_in_ms,
            },
            EventKind::MailAccepted { message_id, to } => Compact::MailAccepted {
                message_id: self.own(&message_id),
                to: self.own(&to),
            },
            _ => return Some(event),
        };
        self.rows.push(Row {
            at_ns: ns(event.at),
            seq,
            before: 0,
            host: self.interned.id(event.host),
            step,
            compact,
        });
        None
    }

    /// Puts the rows in the log's order (their keys are distinct: no two share a `seq`).
    pub(super) fn sort(&mut self) {
        self.rows.sort_unstable_by_key(Row::key);
    }

    /// The event `row` folded, exactly as it was recorded.
    pub(super) fn event(&self, row: &Row) -> Event {
        Event {
            at: Duration::from_nanos(row.at_ns),
            host: self.interned.get(row.host).to_string(),
            kind: self.kind(&row.compact),
        }
    }

    fn kind(&self, compact: &Compact) -> EventKind {
        let interned = |id: u32| self.interned.get(id).to_string();
        match *compact {
            Compact::TokenIssued { jti, iat } => EventKind::TokenIssued {
                jti: self.get(jti),
                iat,
            },
            Compact::TokenChecked {
                jti,
                issuer,
                iat,
                exp,
                now_s,
                rejected,
            } => EventKind::TokenChecked {
                jti: self.get(jti),
                issuer: interned(issuer),
                iat,
                exp,
                now_s,
                rejected: (rejected != ACCEPTED).then(|| interned(rejected)),
            },
            Compact::TokenRefused { reason } => EventKind::TokenRefused {
                reason: interned(reason),
            },
            Compact::MailSent {
                message_id,
                attempts,
                waited_ms,
            } => EventKind::MailSent {
                message_id: self.get(message_id),
                attempts,
                waited_ms,
            },
            Compact::MailFailed {
                message_id,
                attempt,
                reason,
                retry_in_ms,
            } => EventKind::MailFailed {
                message_id: self.get(message_id),
                attempt,
                reason: interned(reason),
                retry_in_ms,
            },
            Compact::MailAccepted { message_id, to } => EventKind::MailAccepted {
                message_id: self.get(message_id),
                to: self.get(to),
            },
        }
    }

    /// Stores `text`, one event's own.
    fn own(&mut self, text: &str) -> Span {
        let start = u32::try_from(self.text.len()).expect("less than 4 GiB of token and mail ids");
        self.text.push_str(text);
        let len = u32::try_from(text.len()).expect("an id shorter than 4 GiB");
        Span { start, len }
    }

    fn get(&self, span: Span) -> String {
        let start = span.start as usize;
        self.text[start..start + span.len as usize].to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ns: u64, host: &str, kind: EventKind) -> Event {
        Event {
            at: Duration::from_nanos(ns),
            host: host.to_string(),
            kind,
        }
    }

    /// One event of each folded kind (two checks: accepted and rejected), the mail ids
    /// shared, four hosts (one also the issuer) and three reasons.
    fn one_of_each() -> Vec<Event> {
        let checked = |rejected: Option<&str>| EventKind::TokenChecked {
            jti: "node-1-0-7".into(),
            issuer: "node-1".into(),
            iat: 1_700_000_000,
            exp: 1_700_000_900,
            now_s: 1_700_000_001,
            rejected: rejected.map(str::to_string),
        };
        let id = || "<verify-u1@example.com>".to_string();
        let issued = EventKind::TokenIssued {
            jti: "node-1-0-7".into(),
            iat: 1_700_000_000,
        };
        let refused = EventKind::TokenRefused {
            reason: "bad signature".into(),
        };
        let failed = EventKind::MailFailed {
            message_id: id(),
            attempt: 2,
            reason: "535 authentication failed".into(),
            retry_in_ms: 4_000,
        };
        let sent = EventKind::MailSent {
            message_id: id(),
            attempts: 3,
            waited_ms: 12_345,
        };
        let accepted = EventKind::MailAccepted {
            message_id: id(),
            to: "u1@example.com".into(),
        };
        vec![
            event(1, "node-1", issued),
            event(2, "node-2", checked(None)),
            event(3, "node-2", checked(Some("token expired"))),
            event(4, "node-3", refused),
            event(5, "node-1", failed),
            event(6, "node-1", sent),
            event(7_000_000_001, "smtp", accepted),
        ]
    }

    /// Proves every folded kind comes back exactly (every field, the host, the time to the
    /// nanosecond; accepted and rejected checks; repeated text interned once), and that
    /// any other kind is given back untouched.
    #[test]
    fn every_kind_round_trips() {
        let events = one_of_each();
        let mut folded = Folded::default();
        for (seq, e) in (0..).zip(events.clone()) {
            assert_eq!(folded.fold(e, false, seq), None);
        }
        let back: Vec<Event> = folded.rows.iter().map(|r| folded.event(r)).collect();
        assert_eq!(back, events);
        assert_eq!(folded.interned.texts.len(), 7);
        assert_eq!(std::mem::size_of::<Row>(), 72);
        let other = event(8, "lb", EventKind::Converged);
        assert_eq!(folded.fold(other.clone(), true, 7), Some(other));
        assert_eq!(folded.rows.len(), 7);
    }
}
