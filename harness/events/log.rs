//! The event log as a run hands it to the report: what it holds, and in what form.
//!
//! A run's memory must not grow with its length by a full event per request: at the
//! reference rate (50 requests a second) an hour is 180,000 requests, and each one
//! appends three events (the users' [`EventKind::Request`], the balancer's
//! [`EventKind::Forwarded`], the serving node's [`EventKind::ClientSeen`]) of 176 bytes
//! each plus their strings. The report reads those three kinds only for what this module
//! keeps, so [`LogBuilder::push`] folds them as they are recorded:
//!
//! - every request as a `RequestRow` of 32 bytes, exact: its id, start, latency,
//!   endpoint, outcome (interned: a run has a handful of distinct outcomes) and the user
//!   a signup created (the users end to end in one string: no allocation per user). The
//!   report's percentiles are exact nearest ranks, its failure windows count requests by
//!   start time to the nanosecond, and the writes checker needs every acknowledged
//!   signup's user, so nothing coarser would keep the report the same.
//!   [`Log::requests`] gives them back as [`RequestRecord`]s.
//! - the balancer's routing of each request with an id: the node it went to and whether
//!   a refusal moved it, from `Forwarded` and `ClientSeen`, resolved as they are
//!   recorded: one 16-byte `Route` slot per id (the ids are dense: the users number
//!   their requests from 0), which a later route replaces when it wins (a `Forwarded`
//!   over a `ClientSeen`, then the later one, then the one recorded last); a `Forwarded`
//!   without a request id routes nothing the report can place, so it is not kept.
//! - `ClientSeen` as a count per (client address, where the address came from).
//!
//! - the token and mail events (a token event per login and per `/userinfo`, two or
//!   more mail events per signup) exactly, every field, as compact rows with their text
//!   stored once (`log/folded.rs`): the checkers and the report read all of it, in the log's
//!   order, so [`Log::all`] gives them back as events, in their place among the others.
//!
//! Every other event is kept whole, in time order: the faults, health checks, the
//! replica set's events, clocks, NTP, the egress, the members' final data; the slice a
//! [`Log`] dereferences to holds those alone. docs/ARCHITECTURE.md ("What the event log
//! holds") has the figures. `harness serve`'s streaming recorder hands every event, the
//! folded kinds included, to its sink whole, and keeps none.

mod folded;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::ops::Deref;
use std::time::Duration;

use super::{ConnectionUse, Event, EventKind, RequestOutcome, RequestRecord};

/// `RequestRow::user` of a request that created no user.
const NO_USER: u32 = u32::MAX;

/// `Route::backend` of a request no backend took.
const NO_BACKEND: u16 = u16::MAX;

/// The highest request id a log takes: twice the arrivals of the longest run at the
/// highest rate, 2 x 2,000/s x 3,600 s (the users number their arrivals from 0, and a
/// Poisson count exceeds its mean by 1% with a negligible probability), so a larger one
/// can only be a bug. It bounds [`Log::routes`], indexed by id, at 230 MB. A literal, not
/// computed from `scenario::load`'s bounds: the event log sits downstream of the services,
/// which the scenario room imports; `max_request_id_covers_the_longest_fastest_run`
/// holds it to them.
const MAX_REQUEST_ID: u64 = 14_400_000;

/// One user request, compact (32 bytes; a [`RequestRecord`] is 112 plus its strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RequestRow {
    /// Simulated time the request arrived, in nanoseconds.
    started_ns: u64,
    /// Time from arrival to outcome, in nanoseconds.
    latency_ns: u64,
    /// The request's id (an hour at any rate the load allows has fewer than 2^32).
    id: u32,
    /// Index into [`Requests::user_ends`], or [`NO_USER`].
    user: u32,
    /// Index into [`Requests::outcomes`].
    outcome: u32,
    /// Index into [`Requests::endpoints`].
    endpoint: u8,
    /// The connection it went on.
    connection: ConnectionUse,
}

/// Every user request of a run, compact, with the values they share stored once.
#[derive(Clone, Default)]
struct Requests {
    rows: Vec<RequestRow>,
    /// The users signups created (one per signup request), end to end: no allocation
    /// per user, since thousands of small ones living for the whole run fragment the heap.
    users: String,
    /// Where each user ends in `users` (it starts where the one before ends).
    user_ends: Vec<u32>,
    /// Each distinct outcome once, in order of first appearance.
    outcomes: Vec<RequestOutcome>,
    /// Where each outcome is in `outcomes`.
    outcome_index: HashMap<RequestOutcome, u32>,
    /// Each distinct endpoint once.
    endpoints: Vec<&'static str>,
}

impl Requests {
    fn push(&mut self, r: RequestRecord) {
        let user = match r.user {
            Some(user) => {
                self.users.push_str(&user);
                let end = u32::try_from(self.users.len()).expect("less than 4 GiB of users");
                self.user_ends.push(end);
                u32::try_from(self.user_ends.len() - 1).expect("fewer than 2^32 signups")
            }
            None => NO_USER,
        };
        let outcome = match self.outcome_index.get(&r.outcome) {
            Some(i) => *i,
            None => {
                let i = u32::try_from(self.outcomes.len()).expect("fewer than 2^32 outcomes");
                self.outcomes.push(r.outcome.clone());
                self.outcome_index.insert(r.outcome, i);
                i
            }
        };
        let endpoint = match self.endpoints.iter().position(|e| *e == r.endpoint) {
            Some(i) => i,
            None => {
                self.endpoints.push(r.endpoint);
                self.endpoints.len() - 1
            }
        };
        self.rows.push(RequestRow {
            started_ns: ns(r.started),
            latency_ns: ns(r.latency),
            id: u32::try_from(r.id).expect("fewer than 2^32 requests in a run"),
            user,
            outcome,
            endpoint: u8::try_from(endpoint).expect("the users have a handful of endpoints"),
            connection: r.connection,
        });
    }

    /// The user of signup `i`.
    fn user(&self, i: usize) -> &str {
        let start = match i.checked_sub(1) {
            Some(before) => self.user_ends[before] as usize,
            None => 0,
        };
        &self.users[start..self.user_ends[i] as usize]
    }

    fn record(&self, row: &RequestRow) -> RequestRecord {
        RequestRecord {
            id: u64::from(row.id),
            endpoint: self.endpoints[usize::from(row.endpoint)],
            user: (row.user != NO_USER).then(|| self.user(row.user as usize).to_string()),
            started: Duration::from_nanos(row.started_ns),
            latency: Duration::from_nanos(row.latency_ns),
            outcome: self.outcomes[row.outcome as usize].clone(),
            connection: row.connection,
        }
    }
}

/// What the balancer did with one request, from a `Forwarded` or a `ClientSeen` (16
/// bytes; [`Log::routes`] holds one per request id, the one that wins so far).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Route {
    /// When it was recorded, in nanoseconds.
    at_ns: u64,
    /// Index into [`Log::backends`], or [`NO_BACKEND`].
    backend: u16,
    /// A refusal moved it to another node.
    retried: bool,
    /// From the balancer's `Forwarded` (it overrides the serving node's `ClientSeen`).
    forwarded: bool,
}

impl Route {
    /// Whether it replaces `old`, recorded before it for the same id: a `Forwarded` beats
    /// a `ClientSeen`, then the later one wins, and of two at one time the one recorded
    /// last (so an id ends with its last `Forwarded` by time, or else its last
    /// `ClientSeen`).
    fn replaces(&self, old: &Route) -> bool {
        (self.forwarded, self.at_ns) >= (old.forwarded, old.at_ns)
    }
}

/// One request's routing as [`Log::route`] gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routed<'a> {
    pub id: u64,
    /// The backend that took it; `None` when none did.
    pub backend: Option<&'a String>,
    /// A refusal moved it to another node.
    pub retried: bool,
}

/// The event log of a finished run: the events kept whole (the slice it dereferences
/// to, in time order, a step's events first among those of one time), the folded
/// per-request kinds and the token and mail events (see the module's header).
#[derive(Clone, Default)]
pub struct Log {
    events: Vec<Event>,
    /// The token and mail events, in the log's order once finished.
    folded: folded::Folded,
    requests: Requests,
    /// Each request's routing, indexed by its id (`None`: no route named the id). The
    /// users number their requests from 0 in arrival order, so the ids are dense.
    routes: Vec<Option<Route>>,
    /// The backends routes name, each once.
    backends: Vec<String>,
    /// `ClientSeen` counted by (client address, where the address came from).
    clients: BTreeMap<(IpAddr, &'static str), usize>,
    /// The time of the last event recorded, folded ones included.
    end: Duration,
}

impl std::fmt::Debug for Log {
    /// Everything it holds, requests as records, in a deterministic order (the outcomes'
    /// hash index, whose order is a process's, is left out).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("events", &self.events)
            .field(
                "tokens_and_mail",
                &self.tokens_and_mail().collect::<Vec<_>>(),
            )
            .field("requests", &self.requests())
            .field("routes", &self.routes().collect::<Vec<_>>())
            .field("clients", &self.clients)
            .field("end", &self.end)
            .finish()
    }
}

impl Deref for Log {
    type Target = [Event];

    fn deref(&self) -> &[Event] {
        &self.events
    }
}

impl<'a> IntoIterator for &'a Log {
    type Item = &'a Event;
    type IntoIter = std::slice::Iter<'a, Event>;

    /// The events kept whole, in time order.
    fn into_iter(self) -> Self::IntoIter {
        self.events.iter()
    }
}

impl From<Vec<Event>> for Log {
    /// The log of `events` (in time order), folded as a recorder folds them.
    fn from(events: Vec<Event>) -> Self {
        let mut builder = LogBuilder::default();
        for e in events {
            builder.push(e, false);
        }
        builder.finish()
    }
}

impl Log {
    /// Every user request, by start time then id.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.requests
            .rows
            .iter()
            .map(|row| self.requests.record(row))
            .collect()
    }

    /// Every user request's outcome, without building the request.
    pub fn request_outcomes(&self) -> impl Iterator<Item = &RequestOutcome> {
        let outcomes = &self.requests.outcomes;
        self.requests
            .rows
            .iter()
            .map(|row| &outcomes[row.outcome as usize])
    }

    /// Every user request's connection use, in the order of `requests`.
    pub fn request_connections(&self) -> impl Iterator<Item = ConnectionUse> + '_ {
        self.requests.rows.iter().map(|row| row.connection)
    }

    /// The balancer's routing of request `id`: the node it went to and whether a refusal
    /// moved it, as the balancer's last `Forwarded` with that id says, or else the last
    /// `ClientSeen` of the node that served it (a TCP-mode balancer cannot read the id);
    /// `None` when neither named the id.
    pub fn route(&self, id: u64) -> Option<Routed<'_>> {
        let route = self.routes.get(usize::try_from(id).ok()?)?.as_ref()?;
        Some(self.routed(id, route))
    }

    /// Every routed request's routing (see [`Log::route`]), by id.
    pub fn routes(&self) -> impl Iterator<Item = Routed<'_>> {
        (0u64..)
            .zip(&self.routes)
            .filter_map(|(id, r)| Some(self.routed(id, r.as_ref()?)))
    }

    fn routed(&self, id: u64, r: &Route) -> Routed<'_> {
        Routed {
            id,
            backend: (r.backend != NO_BACKEND).then(|| &self.backends[usize::from(r.backend)]),
            retried: r.retried,
        }
    }

    /// How many requests the nodes served per (client address, where the address came
    /// from: `"x-forwarded-for"`, `"proxy v1"`, `"proxy v2"` or `"connection"`).
    pub fn clients(&self) -> impl Iterator<Item = (IpAddr, &'static str, usize)> + '_ {
        self.clients.iter().map(|((a, via), n)| (*a, *via, *n))
    }

    /// The time of the last event recorded (`ZERO` for an empty log).
    pub fn end(&self) -> Duration {
        self.end
    }

    /// Every event but the per-request kinds, in the log's order: the events kept whole
    /// (borrowed) with the token and mail events (rebuilt: `log/folded.rs`) in their places.
    pub fn all(&self) -> impl Iterator<Item = Cow<'_, Event>> {
        let mut rows = self.folded.rows.iter().peekable();
        let mut kept = self.events.iter().enumerate().peekable();
        std::iter::from_fn(move || {
            let next_kept = kept.peek().map_or(usize::MAX, |(i, _)| *i);
            match rows.next_if(|r| r.before as usize <= next_kept) {
                Some(row) => Some(Cow::Owned(self.folded.event(row))),
                None => kept.next().map(|(_, e)| Cow::Borrowed(e)),
            }
        })
    }

    /// The token and mail events alone (`TokenIssued`, `TokenChecked`, `TokenRefused`,
    /// `MailSent`, `MailFailed`, `MailAccepted`), in the log's order.
    pub fn tokens_and_mail(&self) -> impl Iterator<Item = Event> + '_ {
        self.folded.rows.iter().map(|r| self.folded.event(r))
    }

    /// Every event but the per-request kinds, in the log's order (see [`Log::all`]).
    pub fn into_events(self) -> Vec<Event> {
        self.all().map(Cow::into_owned).collect()
    }

    fn backend(&mut self, name: Option<&str>) -> u16 {
        let Some(name) = name else {
            return NO_BACKEND;
        };
        let i = match self.backends.iter().position(|b| b == name) {
            Some(i) => i,
            None => {
                self.backends.push(name.to_string());
                self.backends.len() - 1
            }
        };
        u16::try_from(i).expect("fewer backends than u16::MAX")
    }

    /// Records `route` for request `id`, keeping the one that wins ([`Route::replaces`]).
    fn record_route(&mut self, id: u64, route: Route) {
        let i = usize::try_from(id)
            .ok()
            .filter(|_| id <= MAX_REQUEST_ID)
            .unwrap_or_else(|| {
                panic!(
                    "request id {id} is above {MAX_REQUEST_ID}: the users number their \
                     requests from 0 and send fewer than that in a run"
                )
            });
        if self.routes.len() <= i {
            self.routes.resize(i + 1, None);
        }
        let slot = &mut self.routes[i];
        if slot.is_none_or(|old| route.replaces(&old)) {
            *slot = Some(route);
        }
    }
}

/// A log being recorded: events kept whole (with whether a scenario step recorded them)
/// and the folded kinds (see the module's header).
#[derive(Default)]
pub struct LogBuilder {
    kept: Vec<Kept>,
    /// Events kept whole or folded so far: the next one's place in the recording order.
    recorded: u32,
    log: Log,
}

/// An event kept whole, with what orders it among those of its time.
#[derive(Debug, Clone)]
struct Kept {
    event: Event,
    /// A scenario step recorded it: it sorts first at its time.
    step: bool,
    /// Its place in the order events were recorded (shared with the folded token and
    /// mail events).
    seq: u32,
}

impl Kept {
    /// Its place in the log: by time, a step's events first, then the recording order.
    fn key(&self) -> (u64, bool, u32) {
        (ns(self.event.at), !self.step, self.seq)
    }
}

impl std::fmt::Debug for LogBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBuilder")
            .field("kept", &self.kept.len())
            .field("tokens_and_mail", &self.log.folded.rows.len())
            .field("requests", &self.log.requests.rows.len())
            .finish_non_exhaustive()
    }
}

impl LogBuilder {
    /// Records `event`; `step`: a scenario step recorded it (it sorts first at its time).
    pub fn push(&mut self, event: Event, step: bool) {
        self.log.end = self.log.end.max(event.at);
        let at_ns = ns(event.at);
        match event.kind {
            EventKind::Request(r) => self.log.requests.push(r),
            EventKind::Forwarded {
                request_id: Some(id),
                backend,
                refused_by,
                ..
            } => {
                let route = Route {
                    at_ns,
                    backend: self.log.backend(backend.as_deref()),
                    retried: !refused_by.is_empty(),
                    forwarded: true,
                };
                self.log.record_route(id, route);
            }
            EventKind::Forwarded {
                request_id: None, ..
            } => {}
            EventKind::ClientSeen {
                request_id,
                client,
                via,
            } => {
                *self.log.clients.entry((client, via)).or_default() += 1;
                if let Some(id) = request_id {
                    let route = Route {
                        at_ns,
                        backend: self.log.backend(Some(&event.host)),
                        retried: false,
                        forwarded: false,
                    };
                    self.log.record_route(id, route);
                }
            }
            kind => {
                let seq = self.recorded;
                self.recorded = seq.checked_add(1).expect("fewer than 2^32 events kept");
                let event = Event {
                    at: event.at,
                    host: event.host,
                    kind,
                };
                if let Some(event) = self.log.folded.fold(event, step, seq) {
                    self.kept.push(Kept { event, step, seq });
                }
            }
        }
    }

    /// The events so far but the per-request kinds (the token and mail events rebuilt),
    /// sorted by time, a step's events first among those of one time (stable: otherwise
    /// same-tick events keep the order they were recorded in).
    pub fn sorted_events(&self) -> Vec<Event> {
        let folded = &self.log.folded;
        let mut kept = self.kept.clone();
        kept.extend(folded.rows.iter().map(|r| {
            let (_, not_step, seq) = r.key();
            Kept {
                event: folded.event(r),
                step: !not_step,
                seq,
            }
        }));
        sort(&mut kept);
        kept.into_iter().map(|k| k.event).collect()
    }

    /// The finished log, sorted.
    pub fn finish(self) -> Log {
        let Self {
            mut kept, mut log, ..
        } = self;
        sort(&mut kept);
        place(&mut log.folded, &kept);
        log.events = kept.into_iter().map(|k| k.event).collect();
        log.requests
            .rows
            .sort_unstable_by_key(|r| (r.started_ns, r.id));
        log
    }
}

/// Sorts the token and mail events and places each among the sorted `kept` events.
fn place(folded: &mut folded::Folded, kept: &[Kept]) {
    folded.sort();
    let mut next = 0;
    for row in &mut folded.rows {
        while next < kept.len() && kept[next].key() < row.key() {
            next += 1;
        }
        row.before = u32::try_from(next).expect("fewer than 2^32 events kept");
    }
}

/// The log's order: by time, a step's events first among those of one time, otherwise
/// the order they were recorded in (an unstable sort on a key with the record order in
/// it: no buffer of half the log, as a stable sort takes).
fn sort(kept: &mut [Kept]) {
    kept.sort_unstable_by_key(Kept::key);
}

/// A simulated time or span in nanoseconds (a run is at most an hour: 3.6e12 ns).
fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).expect("runs are at most an hour")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_request_id_covers_the_longest_fastest_run() {
        use crate::scenario::load::{MAX_DURATION, MAX_RATE_PER_S};
        let arrivals_at_most = (MAX_RATE_PER_S as u64) * MAX_DURATION.as_secs();
        assert!(
            MAX_REQUEST_ID >= 2 * arrivals_at_most,
            "MAX_REQUEST_ID {MAX_REQUEST_ID} is under twice the {arrivals_at_most} arrivals of the longest run at the highest rate"
        );
    }

    fn request(id: u64, started_ms: u64, outcome: RequestOutcome, user: Option<&str>) -> Event {
        Event {
            at: Duration::from_millis(started_ms + 7),
            host: "users".to_string(),
            kind: EventKind::Request(RequestRecord {
                id,
                endpoint: if user.is_some() {
                    "POST /signup"
                } else {
                    "POST /login"
                },
                user: user.map(str::to_string),
                started: Duration::from_nanos(started_ms * 1_000_000 + 123),
                latency: Duration::from_nanos(7_000_456),
                outcome,
                connection: ConnectionUse::Reused,
            }),
        }
    }

    /// Proves the compact rows give back every request exactly (ids, users of different
    /// lengths, one sorting before those recorded earlier, outcomes with their reasons,
    /// times to the nanosecond), sorted by start then id, and that
    /// the requests are not among the events kept whole.
    #[test]
    fn requests_round_trip() {
        let tls = RequestOutcome::Tls {
            reason: "certificate expired".to_string(),
        };
        let events = vec![
            request(2, 40, RequestOutcome::Ok, Some("u2")),
            request(1, 40, tls.clone(), None),
            request(0, 10, RequestOutcome::Ok, None),
            request(3, 50, tls, Some("u3")),
            request(4, 20, RequestOutcome::Ok, Some("signup-4")),
        ];
        let mut expected: Vec<RequestRecord> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Request(r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        expected.sort_by_key(|r| (r.started, r.id));
        let log = Log::from(events);
        assert_eq!(log.requests(), expected);
        assert!(log.is_empty());
        assert_eq!(log.end(), Duration::from_millis(57));
    }

    /// Proves the token and mail events come back exactly and in their place among the
    /// events kept whole, as one sorted log of everything would have them: by time, a
    /// step's events first at their time, otherwise in the order recorded; and that the
    /// slice holds only the events kept whole.
    #[test]
    fn tokens_and_mail_in_their_place() {
        let event = |ms, host: &str, kind| Event {
            at: Duration::from_millis(ms),
            host: host.to_string(),
            kind,
        };
        let issued = |jti: &str| EventKind::TokenIssued {
            jti: jti.to_string(),
            iat: 1_700_000_000,
        };
        let restarted = |node: &str| EventKind::Restarted {
            node: node.to_string(),
        };
        let accepted = |id: &str| EventKind::MailAccepted {
            message_id: id.to_string(),
            to: "u@example.com".to_string(),
        };
        let recorded = vec![
            (event(5, "node-1", issued("a")), false),
            (event(5, "scenario", restarted("node-2")), true),
            (event(3, "smtp", accepted("<m1>")), false),
            (event(5, "node-2", restarted("node-3")), false),
            (event(5, "node-1", issued("b")), false),
            (event(1, "node-1", restarted("node-1")), false),
            (event(9, "smtp", accepted("<m2>")), false),
            (event(5, "scenario", issued("c")), true),
        ];
        let mut expected = recorded.clone();
        expected.sort_by_key(|(e, step)| (e.at, !step));
        let expected: Vec<Event> = expected.into_iter().map(|(e, _)| e).collect();
        let mut builder = LogBuilder::default();
        for (e, step) in recorded {
            builder.push(e, step);
        }
        assert_eq!(builder.sorted_events(), expected);
        let log = builder.finish();
        let all: Vec<Event> = log.all().map(Cow::into_owned).collect();
        assert_eq!(all, expected);
        assert_eq!(log.len(), 3);
        assert_eq!(log.tokens_and_mail().count(), 5);
        assert_eq!(log.into_events(), expected);
    }

    /// A `Forwarded` of request `id` at `t` ms to `backend`, or a `ClientSeen` of it at
    /// `backend` when `forwarded` is false.
    fn route_event(t: u64, id: u64, backend: &str, forwarded: bool) -> Event {
        let kind = if forwarded {
            EventKind::Forwarded {
                request_id: Some(id),
                backend: Some(backend.to_string()),
                status: 200,
                refused_by: Vec::new(),
            }
        } else {
            EventKind::ClientSeen {
                request_id: Some(id),
                client: "198.51.100.10".parse().expect("an address"),
                via: "x-forwarded-for",
            }
        };
        let host = if forwarded { "lb" } else { backend };
        Event {
            at: Duration::from_millis(t),
            host: host.to_string(),
            kind,
        }
    }

    /// Proves the rule each route is resolved by as it is recorded, one case per id, each
    /// failing under a rule that drops a part of it: a `Forwarded` beats a later
    /// `ClientSeen` recorded after it (1) or before it (2); of two `Forwarded` the later
    /// wins, recorded after (3) or before (4) the other; of two `ClientSeen` likewise (5);
    /// at one time the one recorded last wins, `Forwarded` (6) or `ClientSeen` (7).
    #[test]
    fn route_resolution_rule() {
        let recorded = [
            route_event(5, 1, "node-1", true),
            route_event(9, 1, "node-3", false),
            route_event(9, 2, "node-3", false),
            route_event(5, 2, "node-1", true),
            route_event(3, 3, "node-1", true),
            route_event(6, 3, "node-2", true),
            route_event(8, 4, "node-2", true),
            route_event(4, 4, "node-1", true),
            route_event(8, 5, "node-2", false),
            route_event(4, 5, "node-1", false),
            route_event(5, 6, "node-1", true),
            route_event(5, 6, "node-2", true),
            route_event(5, 7, "node-2", false),
            route_event(5, 7, "node-1", false),
        ];
        let mut builder = LogBuilder::default();
        for e in recorded {
            builder.push(e, false);
        }
        let log = builder.finish();
        let backends: Vec<(u64, &str)> = log
            .routes()
            .map(|r| (r.id, r.backend.map_or("none", String::as_str)))
            .collect();
        assert_eq!(
            backends,
            [
                (1, "node-1"),
                (2, "node-1"),
                (3, "node-2"),
                (4, "node-2"),
                (5, "node-2"),
                (6, "node-2"),
                (7, "node-1"),
            ]
        );
        assert_eq!(log.route(0), None);
        assert_eq!(log.route(8), None);
        assert_eq!(log.route(u64::MAX), None);
        assert_eq!(std::mem::size_of::<Option<Route>>(), 16);
    }

    /// Proves an id no run can reach stops the recording with a message naming it, rather
    /// than sizing the routes by it.
    #[test]
    #[should_panic(expected = "request id 14400001 is above 14400000")]
    fn impossible_request_id() {
        let mut builder = LogBuilder::default();
        builder.push(route_event(1, MAX_REQUEST_ID + 1, "node-1", true), false);
    }

    /// Proves routes resolve as the report read the events: an id's last `Forwarded` by
    /// time wins over any `ClientSeen`, the last `ClientSeen` counts when there is no
    /// `Forwarded`; a `Forwarded` without an id routes nothing; clients are counted per
    /// address and source.
    #[test]
    fn routes_and_clients() {
        let client: IpAddr = "198.51.100.10".parse().expect("an address");
        let at = Duration::from_millis;
        let seen = |t, id, host: &str| Event {
            at: at(t),
            host: host.to_string(),
            kind: EventKind::ClientSeen {
                request_id: Some(id),
                client,
                via: "x-forwarded-for",
            },
        };
        let forwarded = |t, id, backend: Option<&str>, refused: bool| Event {
            at: at(t),
            host: "lb".to_string(),
            kind: EventKind::Forwarded {
                request_id: id,
                backend: backend.map(str::to_string),
                status: 200,
                refused_by: if refused {
                    vec!["node-2".to_string()]
                } else {
                    Vec::new()
                },
            },
        };
        let log = Log::from(vec![
            forwarded(5, Some(1), Some("node-1"), true),
            seen(3, 1, "node-3"),
            seen(4, 2, "node-2"),
            forwarded(6, None, None, false),
            forwarded(2, Some(2), None, false),
            seen(1, 3, "node-1"),
            seen(7, 3, "node-3"),
            forwarded(8, Some(1), Some("node-2"), false),
        ]);
        let routes: Vec<(u64, Option<&str>, bool)> = log
            .routes()
            .map(|r| (r.id, r.backend.map(String::as_str), r.retried))
            .collect();
        assert_eq!(
            routes,
            [
                (1, Some("node-2"), false),
                (2, None, false),
                (3, Some("node-3"), false),
            ]
        );
        assert_eq!(log.route(2).map(|r| r.backend), Some(None));
        assert_eq!(log.route(4), None);
        assert_eq!(
            log.clients().collect::<Vec<_>>(),
            [(client, "x-forwarded-for", 4)]
        );
        assert_eq!(log.end(), at(8));
    }
}
