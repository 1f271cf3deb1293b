//! The token and mail events of a run, compact: a row per event, its strings stored once.
//!
//! A login or a `/userinfo` records a token event (`TokenIssued`, `TokenChecked`,
//! `TokenRefused`), a signup's verification mail two or more mail events (`MailSent`,
//! `MailFailed`, the relay's `MailAccepted`): about 216,000 an hour at the reference
//! rate. The checkers and the report read every field of them (the token checker each
//! time and id against the clocks, the mail checkers each id and attempt, the timeline
//! each failure's reason), in the log's order, so nothing is dropped: each is kept
//! exactly, instead of as 176 bytes plus four or five separate strings, as a [`Row`] of
//! 24 bytes (its time, its place in the recording order, its host, its kind) and its
//! fields in its kind's table ([`Tables`]: 16 bytes for a `TokenIssued` or a
//! `MailAccepted`, 24 for a `MailSent` or a `MailFailed`, 40 for a `TokenChecked`): 46
//! bytes an event on average at node-loss's mix (55% logins, 25% `/userinfo`, 20%
//! signups), where one row holding any kind's fields took 72. Text a run repeats (host
//! names, issuers, rejections, failure reasons) is interned; text each event has its own
//! of (token ids, message ids, recipients) goes end to end into one string, except a
//! recipient its message id holds (`<verify-USER@DOMAIN>` to `USER@DOMAIN`), which points
//! into it. [`Folded::event`] rebuilds the event exactly as it was recorded.

use std::collections::HashMap;
use std::time::Duration;

use super::ns;
use crate::events::{Event, EventKind};

/// [`Checked::rejected`] when the token was accepted.
const ACCEPTED: u32 = u32::MAX;

/// Text a run repeats, each distinct text stored once.
#[derive(Clone, Default)]
struct Interned {
    texts: Vec<String>,
    /// Where each text is in `texts`.
    index: HashMap<String, u32>,
}

impl Interned {
    fn id(&mut self, text: &str) -> u32 {
        if let Some(id) = self.index.get(text) {
            return *id;
        }
        let id = u32::try_from(self.texts.len()).expect("fewer than 2^32 distinct texts");
        self.texts.push(text.to_string());
        self.index.insert(text.to_string(), id);
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

/// Which kind a [`Row`] is, and so which of [`Tables`]' tables holds its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    TokenIssued,
    TokenChecked,
    TokenRefused,
    MailSent,
    MailFailed,
    MailAccepted,
}

/// A `TokenIssued`'s fields (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Issued {
    jti: Span,
    iat: u64,
}

/// A `TokenChecked`'s fields (40 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Checked {
    jti: Span,
    /// Interned.
    issuer: u32,
    /// Interned, or [`ACCEPTED`].
    rejected: u32,
    iat: u64,
    exp: u64,
    now_s: u64,
}

/// A `MailSent`'s fields (24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sent {
    message_id: Span,
    attempts: u32,
    waited_ms: u64,
}

/// A `MailFailed`'s fields (24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Failed {
    message_id: Span,
    attempt: u32,
    /// Interned.
    reason: u32,
    retry_in_ms: u64,
}

/// A `MailAccepted`'s fields (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Accepted {
    message_id: Span,
    to: Span,
}

/// The folded events' fields, a table per kind, each in recording order: a row names its
/// kind and its index in the kind's table, so each event takes its own kind's size
/// rather than the largest's.
#[derive(Clone, Default)]
struct Tables {
    issued: Vec<Issued>,
    checked: Vec<Checked>,
    /// Each `TokenRefused`'s reason, interned.
    refused: Vec<u32>,
    sent: Vec<Sent>,
    failed: Vec<Failed>,
    accepted: Vec<Accepted>,
}

/// Appends `fields` to `table`, giving its index there.
fn append<T>(table: &mut Vec<T>, fields: T) -> u32 {
    table.push(fields);
    u32::try_from(table.len() - 1).expect("fewer than 2^32 token and mail events")
}

/// One folded event's time, place and kind (24 bytes); its fields are in [`Tables`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Row {
    /// When it was recorded, in nanoseconds.
    at_ns: u64,
    /// Its place in the order events were recorded (shared with the events kept whole).
    seq: u32,
    /// In the finished log: the index of the first event kept whole that comes after it.
    pub(super) before: u32,
    /// Its fields' index in its kind's table.
    index: u32,
    /// The host that recorded it, in [`Folded::hosts`].
    host: u16,
    kind: Kind,
    /// A scenario step recorded it: it sorts first at its time.
    step: bool,
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
    tables: Tables,
    /// The hosts that recorded them (a topology's handful).
    hosts: Interned,
    /// Issuers, rejections and reasons.
    interned: Interned,
    /// Each event's own text, end to end.
    text: String,
}

impl Folded {
    /// Folds `event` if it is a token or mail event (`seq`: its place in the recording
    /// order; `step`: a scenario step recorded it); gives it back otherwise.
    pub(super) fn fold(&mut self, event: Event, step: bool, seq: u32) -> Option<Event> {
        let Some((kind, index)) = self.token(&event.kind).or_else(|| self.mail(&event.kind)) else {
            return Some(event);
        };
        let host = self.hosts.id(&event.host);
        self.rows.push(Row {
            at_ns: ns(event.at),
            seq,
            before: 0,
            index,
            host: u16::try_from(host).expect("fewer than 65,536 hosts"),
            kind,
            step,
        });
        None
    }

    /// Stores a token event's fields in their kind's table: its kind and its index there;
    /// `None` for any other kind.
    fn token(&mut self, kind: &EventKind) -> Option<(Kind, u32)> {
        Some(match kind {
            EventKind::TokenIssued { jti, iat } => {
                let fields = Issued {
                    jti: self.own(jti),
                    iat: *iat,
                };
                (Kind::TokenIssued, append(&mut self.tables.issued, fields))
            }
            EventKind::TokenChecked {
                jti,
                issuer,
                iat,
                exp,
                now_s,
                rejected,
            } => {
                let fields = Checked {
                    jti: self.own(jti),
                    issuer: self.interned.id(issuer),
                    rejected: rejected.as_ref().map_or(ACCEPTED, |r| self.interned.id(r)),
                    iat: *iat,
                    exp: *exp,
                    now_s: *now_s,
                };
                (Kind::TokenChecked, append(&mut self.tables.checked, fields))
            }
            EventKind::TokenRefused { reason } => {
                let reason = self.interned.id(reason);
                (Kind::TokenRefused, append(&mut self.tables.refused, reason))
            }
            _ => return None,
        })
    }

    /// Stores a mail event's fields in their kind's table: its kind and its index there;
    /// `None` for any other kind.
    fn mail(&mut self, kind: &EventKind) -> Option<(Kind, u32)> {
        Some(match kind {
            EventKind::MailSent {
                message_id,
                attempts,
                waited_ms,
            } => {
                let fields = Sent {
                    message_id: self.own(message_id),
                    attempts: *attempts,
                    waited_ms: *waited_ms,
                };
                (Kind::MailSent, append(&mut self.tables.sent, fields))
            }
            EventKind::MailFailed {
                message_id,
                attempt,
                reason,
                retry_in_ms,
            } => {
                let fields = Failed {
                    message_id: self.own(message_id),
                    attempt: *attempt,
                    reason: self.interned.id(reason),
                    retry_in_ms: *retry_in_ms,
                };
                (Kind::MailFailed, append(&mut self.tables.failed, fields))
            }
            EventKind::MailAccepted { message_id, to } => {
                let message_id = self.own(message_id);
                let fields = Accepted {
                    message_id,
                    to: self.own_within(message_id, to),
                };
                (
                    Kind::MailAccepted,
                    append(&mut self.tables.accepted, fields),
                )
            }
            _ => return None,
        })
    }

    /// Puts the rows in the log's order (their keys are distinct: no two share a `seq`).
    pub(super) fn sort(&mut self) {
        self.rows.sort_unstable_by_key(Row::key);
    }

    /// The event `row` folded, exactly as it was recorded.
    pub(super) fn event(&self, row: &Row) -> Event {
        Event {
            at: Duration::from_nanos(row.at_ns),
            host: self.hosts.get(u32::from(row.host)).to_string(),
            kind: self.kind(row.kind, row.index as usize),
        }
    }

    /// The event kind `kind` whose fields are at `index` in its table.
    fn kind(&self, kind: Kind, index: usize) -> EventKind {
        let interned = |id: u32| self.interned.get(id).to_string();
        let t = &self.tables;
        match kind {
            Kind::TokenIssued => {
                let f = t.issued[index];
                EventKind::TokenIssued {
                    jti: self.get(f.jti),
                    iat: f.iat,
                }
            }
            Kind::TokenChecked => {
                let f = t.checked[index];
                EventKind::TokenChecked {
                    jti: self.get(f.jti),
                    issuer: interned(f.issuer),
                    iat: f.iat,
                    exp: f.exp,
                    now_s: f.now_s,
                    rejected: (f.rejected != ACCEPTED).then(|| interned(f.rejected)),
                }
            }
            Kind::TokenRefused => EventKind::TokenRefused {
                reason: interned(t.refused[index]),
            },
            Kind::MailSent => {
                let f = t.sent[index];
                EventKind::MailSent {
                    message_id: self.get(f.message_id),
                    attempts: f.attempts,
                    waited_ms: f.waited_ms,
                }
            }
            Kind::MailFailed => {
                let f = t.failed[index];
                EventKind::MailFailed {
                    message_id: self.get(f.message_id),
                    attempt: f.attempt,
                    reason: interned(f.reason),
                    retry_in_ms: f.retry_in_ms,
                }
            }
            Kind::MailAccepted => {
                let f = t.accepted[index];
                EventKind::MailAccepted {
                    message_id: self.get(f.message_id),
                    to: self.get(f.to),
                }
            }
        }
    }

    /// Stores `text`, one event's own.
    fn own(&mut self, text: &str) -> Span {
        let start = u32::try_from(self.text.len()).expect("less than 4 GiB of token and mail ids");
        self.text.push_str(text);
        let len = u32::try_from(text.len()).expect("an id shorter than 4 GiB");
        Span { start, len }
    }

    /// Where `text` is, stored unless `span`'s text holds it (a verification mail's
    /// recipient is inside its message id: `<verify-USER@DOMAIN>` to `USER@DOMAIN`).
    fn own_within(&mut self, span: Span, text: &str) -> Span {
        match self.text(span).find(text) {
            Some(at) => Span {
                start: span.start + u32::try_from(at).expect("inside a span of u32 length"),
                len: u32::try_from(text.len()).expect("shorter than the span holding it"),
            },
            None => self.own(text),
        }
    }

    fn text(&self, span: Span) -> &str {
        let start = span.start as usize;
        &self.text[start..start + span.len as usize]
    }

    fn get(&self, span: Span) -> String {
        self.text(span).to_string()
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
        assert_eq!(folded.hosts.texts.len(), 4);
        assert_eq!(folded.interned.texts.len(), 4);
        assert_eq!(std::mem::size_of::<Row>(), 24);
        // The recipient is found inside its message id: the text holds the jti twice and
        // the message id three times, the recipient not at all.
        let id_len = "<verify-u1@example.com>".len();
        assert_eq!(folded.text.len(), 3 * "node-1-0-7".len() + 3 * id_len);
        let t = &folded.tables;
        let lengths = [t.issued.len(), t.checked.len(), t.refused.len()];
        assert_eq!(lengths, [1, 2, 1]);
        assert_eq!([t.sent.len(), t.failed.len(), t.accepted.len()], [1, 1, 1]);
        let other = event(8, "lb", EventKind::Converged);
        assert_eq!(folded.fold(other.clone(), true, 7), Some(other));
        assert_eq!(folded.rows.len(), 7);
    }

    /// Proves a recipient its message id does not hold (two recipients, another domain)
    /// is stored and comes back exactly, and one it holds is not stored again.
    #[test]
    fn recipients_inside_and_outside_their_ids() {
        let accepted = |id: &str, to: &str| {
            let kind = EventKind::MailAccepted {
                message_id: id.into(),
                to: to.into(),
            };
            event(1, "smtp", kind)
        };
        let events = [
            accepted("<verify-u2@example.com>", "u2@example.com, u3@example.com"),
            accepted("<verify-u4@example.com>", "u4@example.org"),
            accepted("<verify-u5@example.com>", "u5@example.com"),
        ];
        let mut folded = Folded::default();
        for (seq, e) in (0..).zip(events.clone()) {
            assert_eq!(folded.fold(e, false, seq), None);
        }
        let back: Vec<Event> = folded.rows.iter().map(|r| folded.event(r)).collect();
        assert_eq!(back, events);
        let ids = 3 * "<verify-u2@example.com>".len();
        let outside = "u2@example.com, u3@example.com".len() + "u4@example.org".len();
        assert_eq!(folded.text.len(), ids + outside);
    }
}
