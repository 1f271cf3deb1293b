//! The replica set's rules: elections, replication, commit and rollback, as plain code.
//!
//! Real component: the appliance's MongoDB-like replica set over port 27017
//! (docs/ARCHITECTURE.md section 1): one primary elected by a majority, heartbeats, an election timeout, writes
//! acknowledged once a majority holds them, and unreplicated writes rolled back when an
//! old primary rejoins.
//!
//! Modelled, Raft-style (MongoDB's protocol version 1 is Raft-derived):
//! - Terms, one vote per term, a majority of the configured members to win. A candidate
//!   first runs a *dry run* (MongoDB's dry-run election, Raft's pre-vote): it asks whether
//!   it would win at `term + 1` without anyone changing state, and only a majority of yes
//!   lets it bump its term. So an isolated member cannot inflate its term and depose a
//!   healthy primary when it comes back.
//! - A member votes (dry run or real) only for a candidate whose log is at least as
//!   up to date as its own, and not while it hears from a primary (within the election
//!   timeout): a live primary is never deposed by a member that merely lost contact.
//! - Each member's election deadline is the timeout plus a random part, uniform over
//!   `[0, election_jitter x timeout]` (Raft's randomized timeouts; 1 is Raft's `[T, 2T]`).
//!   Priority: 0 means never primary; higher priorities shorten the random part
//!   (`jitter / priority`), so they tend to stand first.
//! - Every rule acts at its own deadline ([`Member::next_deadline`]), to the
//!   millisecond: the host wakes the member then, not on a periodic beat that would
//!   round every member's deadline to the same instant and lose the randomness.
//! - A candidate whose election stalls (two candidates split the vote) stands again after
//!   half a heartbeat plus a fresh random delay, not another full election timeout.
//! - The primary sends every secondary an `Append` at least every heartbeat (entries from
//!   the secondary's next index, at most [`MAX_BATCH`]), and at once after each write. A
//!   secondary checks that its log matches at the entry before the batch; a mismatch is
//!   answered with a hint and the primary backs off. Entries that conflict with the
//!   primary's log are *rolled back*: removed, counted and reported.
//! - An entry is committed once a majority holds it and it belongs to the primary's term
//!   (older entries commit with it). A new primary writes a no-op entry so earlier entries
//!   commit without waiting for a user's write, as MongoDB's "new primary" oplog entry does.
//! - A primary that has not heard from a majority (itself included) within the election
//!   timeout steps down: at that deadline, or at its first write after it, whichever
//!   comes first. The second is for a primary that was paused (issue 18's `pause`,
//!   `SIGSTOP`): resumed after another was elected, its backlog may hand it a write
//!   before its timer runs, and it must refuse it rather than take a write it cannot
//!   commit. Any message of a higher term makes it step down too.
//!
//! Faults it meets (through its host, [`super::database`]): a pause stops every rule
//! (no heartbeat, no election deadline) until resumed, then every lapsed deadline acts
//! at once; `slow` leaves it alone (its waits are protocol timeouts, not service times).
//!
//! Left out on purpose: reconfiguration, arbiters, read concerns, catch-up takeover by
//! priority, chained replication, the oplog's size limit.
//!
//! No I/O and no clock: every method takes `now` (simulated time since the run began),
//! and the host code in [`super::database`] moves [`Message`]s between members.
//!
//! A member's log and its users are held compact, in [`OpLog`] and a table of the signups
//! that created each user (`replica_set/oplog.rs`): an hour's entries cost a few
//! megabytes per member, not hundreds of thousands of small allocations.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::events::RsEvent;
use crate::seed::Component;

mod oplog;
use oplog::Users;
pub use oplog::{EntryRef, OpLog, OpRef};

/// An election term.
pub type Term = u64;
/// A position in the log, from 1; 0 means "before the first entry".
pub type Index = u64;

/// At most this many entries travel in one `Append`.
pub const MAX_BATCH: usize = 128;
/// A batch stops growing once its entries reach about this many bytes, so a frame stays
/// far below the transport's limit whatever the entries hold.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Lag is reported once it *exceeds* the threshold: the simulation's resolution after it.
const LAG_RESOLUTION: Duration = Duration::from_millis(1);

/// One operation in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// A new primary's first entry.
    NewPrimary,
    /// A user signed up; this also queues their verification mail.
    Signup { user: String, password: String },
    /// The verification mail for `user` was accepted by the SMTP relay.
    MailSent { user: String },
}

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub term: Term,
    /// When the primary wrote it (simulated time), for replication lag.
    pub written_ms: u64,
    pub op: Op,
}

/// About how many bytes an entry takes in a message besides its strings.
const ENTRY_OVERHEAD_BYTES: usize = 64;

/// The settings every member shares.
#[derive(Debug, Clone, PartialEq)]
pub struct RsConfig {
    /// Member names, in a fixed order; a member is known by its position.
    pub members: Vec<String>,
    /// Priority per member (0: never primary).
    pub priorities: Vec<u32>,
    /// How often a primary sends each secondary an `Append`.
    pub heartbeat: Duration,
    /// Silence from the primary after which a secondary stands for election; silence from
    /// a majority after which a primary steps down.
    pub election_timeout: Duration,
    /// The random part of a member's election timeout, as a share of `election_timeout`:
    /// each deadline adds a uniform draw from `[0, share x timeout]` (whole milliseconds),
    /// divided by the member's priority. 1 is Raft's `[T, 2T]`; 0 is no randomness.
    pub election_jitter: f64,
    /// Replication lag (age of the oldest entry a secondary lacks) above which the primary
    /// reports the secondary as lagging.
    pub lag_threshold: Duration,
}

impl RsConfig {
    fn majority(&self) -> usize {
        self.members.len() / 2 + 1
    }
}

/// What a replica-set member is now (a host's role in the deployment is [`crate::topology::Role`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MemberRole {
    Primary,
    Secondary,
    Candidate,
}

/// What members say to each other over port 27017.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Primary to secondary: entries after `prev_index` (none for a plain heartbeat).
    Append {
        term: Term,
        from: usize,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        commit: Index,
    },
    /// `ok`: the log now matches through `last`. Not `ok`: retry from `last + 1`.
    AppendReply {
        term: Term,
        from: usize,
        ok: bool,
        last: Index,
    },
    /// A candidate asks for a vote in `term` (for a dry run: the term it would stand in).
    Vote {
        term: Term,
        from: usize,
        last_index: Index,
        last_term: Term,
        dry_run: bool,
    },
    VoteReply {
        term: Term,
        from: usize,
        granted: bool,
        dry_run: bool,
    },
    /// A secondary forwards a user's write to the primary.
    Write { op: Op },
    /// The primary's answer once the write is committed, or why it was not.
    WriteReply { result: Result<(), WriteError> },
    /// A primary stepping down for a planned operation tells its most caught-up secondary
    /// to stand at once (Raft's `TimeoutNow`; MongoDB's election handoff,
    /// `replSetStepUp`): [`Member::hand_over`].
    TimeoutNow { term: Term, from: usize },
    /// The vote request of a candidate the stepping-down primary named: a voter that
    /// still hears that primary votes all the same (Raft's leadership transfer), since
    /// the primary itself asked for the election.
    TransferVote {
        term: Term,
        from: usize,
        last_index: Index,
        last_term: Term,
    },
}

/// Why a write was not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WriteError {
    /// No primary is known: 503.
    NoPrimary,
    /// Not committed by a majority within the write timeout (milliseconds): 504.
    NotAcknowledged(u64),
    /// The primary lost it to another primary's log: 503.
    RolledBack,
    /// The forward to the primary failed: 503.
    PrimaryUnreachable { primary: String, reason: String },
}

impl WriteError {
    pub fn status(&self) -> u16 {
        match self {
            WriteError::NotAcknowledged(_) => 504,
            _ => 503,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            WriteError::NoPrimary => "no primary".to_string(),
            WriteError::NotAcknowledged(t) => format!(
                "write not acknowledged by a majority within {}",
                crate::duration::span(Duration::from_millis(*t))
            ),
            WriteError::RolledBack => "write rolled back: the primary stepped down".to_string(),
            WriteError::PrimaryUnreachable { primary, reason } => {
                format!("primary {primary} unreachable: {reason}")
            }
        }
    }
}

/// Where a write stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteStatus {
    Pending,
    Committed,
    /// Overwritten by another primary's entry: it will never commit.
    Lost,
}

/// One member of the replica set.
#[derive(Debug, Clone)]
pub struct Member {
    cfg: RsConfig,
    me: usize,
    // Durable: survives restarts (the data files).
    term: Term,
    voted_for: Option<usize>,
    log: OpLog,
    // Volatile.
    role: MemberRole,
    commit: Index,
    primary: Option<usize>,
    /// Last time this member was in touch with a majority through a primary.
    contact_at: Duration,
    deadline: Duration,
    /// The term a dry run is asking about, and who said yes.
    dry_run: Option<(Term, BTreeSet<usize>)>,
    votes: BTreeSet<usize>,
    // Primary only.
    next: Vec<Index>,
    matched: Vec<Index>,
    replied_at: Vec<Duration>,
    heartbeat_at: Duration,
    lagging: Vec<bool>,
    /// Peers that have answered this primary in its term: only their lag is known.
    confirmed: Vec<bool>,
    /// When this member last became primary.
    elected_at: Duration,
    /// The users the data holds, by the signup that created each.
    users: Users,
    /// Unsent verification mail by user: (log index of the signup, when queued, ms).
    mail: BTreeMap<String, (Index, u64)>,
    rng: ChaCha8Rng,
    events: Vec<RsEvent>,
}

impl Member {
    /// Member `me` of an initialised replica set at time 0: the first member of the
    /// highest priority is primary of term 1 (the deployment starts healthy, as the load
    /// balancer assumes), the others know it. `seed` is the set's seed; the member draws
    /// from its own [`Component::Member`] stream of it.
    pub fn new(cfg: RsConfig, me: usize, seed: u64) -> Self {
        let n = cfg.members.len();
        let first = Self::initial_primary(&cfg);
        assert!(
            me < n && cfg.priorities.len() == n,
            "the topology gives every member a priority"
        );
        let mut m = Self {
            me,
            term: 1,
            voted_for: Some(first),
            log: OpLog::default(),
            role: MemberRole::Secondary,
            commit: 0,
            primary: Some(first),
            contact_at: Duration::ZERO,
            deadline: Duration::ZERO,
            dry_run: None,
            votes: BTreeSet::new(),
            next: vec![1; n],
            matched: vec![0; n],
            replied_at: vec![Duration::ZERO; n],
            heartbeat_at: Duration::ZERO,
            lagging: vec![false; n],
            confirmed: vec![true; n],
            elected_at: Duration::ZERO,
            users: Users::default(),
            mail: BTreeMap::new(),
            rng: ChaCha8Rng::seed_from_u64(crate::seed::stream(seed, Component::Member(me))),
            events: Vec::new(),
            cfg,
        };
        if me == first {
            m.role = MemberRole::Primary;
        }
        m.reset_deadline(Duration::ZERO);
        m
    }

    /// The member that is primary when the set starts: the first of the highest priority.
    pub fn initial_primary(cfg: &RsConfig) -> usize {
        let best = cfg.priorities.iter().copied().max().unwrap_or(1);
        cfg.priorities.iter().position(|&p| p == best).unwrap_or(0)
    }

    /// The software restarts: volatile state is lost, the data files are kept.
    pub fn restart(&mut self, now: Duration) {
        self.role = MemberRole::Secondary;
        self.primary = None;
        self.contact_at = now;
        self.dry_run = None;
        self.votes.clear();
        self.reset_deadline(now);
    }

    pub fn name(&self) -> &str {
        &self.cfg.members[self.me]
    }
    /// The name of member `index` of the set.
    pub fn member_name(&self, index: usize) -> &str {
        &self.cfg.members[index]
    }
    pub fn role(&self) -> MemberRole {
        self.role
    }
    pub fn term(&self) -> Term {
        self.term
    }
    pub fn commit(&self) -> Index {
        self.commit
    }
    pub fn log(&self) -> &OpLog {
        &self.log
    }
    pub fn last_index(&self) -> Index {
        self.log.len() as Index
    }
    fn last_term(&self) -> Term {
        self.log.last().map_or(0, |e| e.term)
    }
    /// The term of the entry at `index` (0 for index 0), if the log reaches it.
    pub fn entry_term(&self, index: Index) -> Option<Term> {
        self.term_at(index)
    }

    fn term_at(&self, index: Index) -> Option<Term> {
        if index == 0 {
            return Some(0);
        }
        self.log.term(usize::try_from(index - 1).ok()?)
    }

    /// The primary this member follows (itself when primary).
    pub fn primary(&self) -> Option<&str> {
        self.primary.map(|p| self.cfg.members[p].as_str())
    }

    /// The password of a user this member's data holds.
    pub fn password(&self, user: &str) -> Option<&str> {
        self.users.password(&self.log, user)
    }

    /// How long this member has been out of touch with a majority through a primary.
    pub fn out_of_contact(&self, now: Duration) -> Duration {
        let contact_at = match self.role {
            // A primary's contact is its replies, read now rather than at its last tick.
            MemberRole::Primary => self.majority_contact().unwrap_or(now),
            MemberRole::Secondary | MemberRole::Candidate => self.contact_at,
        };
        now.saturating_sub(contact_at)
    }

    /// The members this primary reports lagging behind it (empty unless primary).
    pub fn lagging_members(&self) -> Vec<&str> {
        if self.role != MemberRole::Primary {
            return Vec::new();
        }
        self.peers()
            .filter(|&p| self.lagging[p])
            .map(|p| self.cfg.members[p].as_str())
            .collect()
    }

    /// Events since the last call.
    pub fn drain_events(&mut self) -> Vec<RsEvent> {
        std::mem::take(&mut self.events)
    }

    fn reset_deadline(&mut self, now: Duration) {
        self.deadline = now + self.cfg.election_timeout + self.jitter();
    }

    /// The random part of an election timeout: up to `election_jitter` of it, divided by
    /// priority.
    fn jitter(&mut self) -> Duration {
        let priority = self.cfg.priorities[self.me].max(1);
        let timeout_ms = self.cfg.election_timeout.as_millis() as f64;
        // Bounded by the settings' checks: a share of at most 1 of a timeout of at most 1h.
        let spread = (timeout_ms * self.cfg.election_jitter).round() as u64;
        Duration::from_millis(self.rng.random_range(0..=spread) / u64::from(priority))
    }

    /// When this member's rules next act of their own accord, with no message arriving
    /// (`None`: never, a member of priority 0 that is not primary): the election
    /// deadline; for a primary, its next heartbeat, the moment it would step down, or
    /// the moment a secondary's lag crosses the threshold, whichever comes first. The
    /// host calls [`Member::tick`] then, not on a periodic beat, so every member acts at
    /// its own millisecond and the election timeout's randomness is kept.
    pub fn next_deadline(&self) -> Option<Duration> {
        if self.role != MemberRole::Primary {
            return (self.cfg.priorities[self.me] != 0).then_some(self.deadline);
        }
        let step_down = self
            .majority_contact()
            .map(|at| at + self.cfg.election_timeout);
        let lag = self
            .peers()
            .filter(|&p| !self.lagging[p])
            .filter_map(|p| self.lag_since(p))
            .map(|since| since + self.cfg.lag_threshold + LAG_RESOLUTION)
            .min();
        [Some(self.heartbeat_at), step_down, lag]
            .into_iter()
            .flatten()
            .min()
    }

    /// For a primary: the latest moment a majority (itself included) had answered, the
    /// (majority - 1)-th most recent peer reply; `None` when it is a majority alone.
    fn majority_contact(&self) -> Option<Duration> {
        let needed = self.cfg.majority() - 1;
        if needed == 0 {
            return None;
        }
        let mut replies: Vec<Duration> = self.peers().map(|p| self.replied_at[p]).collect();
        replies.sort_unstable_by(|a, b| b.cmp(a));
        Some(replies[needed - 1])
    }

    /// For a primary: whether an election timeout has passed without replies from a
    /// majority (the rule `primary_tick` steps down by).
    fn lease_lapsed(&self, now: Duration) -> bool {
        let contact = self.majority_contact().unwrap_or(now);
        now.saturating_sub(contact) >= self.cfg.election_timeout
    }

    /// For a primary: since when peer `p` has lacked an entry (`None`: it lacks none).
    fn lag_since(&self, p: usize) -> Option<Duration> {
        if !self.confirmed[p] {
            // No answer in this term yet: what it holds is unknown since the election.
            return Some(self.elected_at);
        }
        let index = usize::try_from(self.matched[p]).expect("log indexes fit memory");
        self.log
            .get(index)
            .map(|entry| Duration::from_millis(entry.written_ms))
    }

    fn peers(&self) -> impl Iterator<Item = usize> + use<> {
        let me = self.me;
        (0..self.cfg.members.len()).filter(move |&p| p != me)
    }

    /// Timers: heartbeats, step-down, elections. Returns messages to send.
    pub fn tick(&mut self, now: Duration) -> Vec<(usize, Message)> {
        match self.role {
            MemberRole::Primary => self.primary_tick(now),
            MemberRole::Secondary | MemberRole::Candidate => {
                if self.cfg.priorities[self.me] == 0 || now < self.deadline {
                    return Vec::new();
                }
                self.reset_deadline(now);
                self.start_dry_run(now)
            }
        }
    }

    fn primary_tick(&mut self, now: Duration) -> Vec<(usize, Message)> {
        self.contact_at = self.majority_contact().unwrap_or(now);
        let replies: Vec<Duration> = self.peers().map(|p| self.replied_at[p]).collect();
        let timeout = self.cfg.election_timeout;
        if now.saturating_sub(self.contact_at) >= timeout {
            let heard = 1 + replies
                .iter()
                .filter(|r| now.saturating_sub(**r) < timeout)
                .count();
            let members = self.cfg.members.len();
            let reason = format!(
                "heard from {heard} of {members} members in {}",
                crate::duration::span(timeout)
            );
            self.step_down(now, reason);
            return Vec::new();
        }
        self.check_lag(now);
        if now < self.heartbeat_at {
            return Vec::new();
        }
        self.heartbeat_at = now + self.cfg.heartbeat;
        self.peers()
            .collect::<Vec<_>>()
            .into_iter()
            .map(|p| (p, self.append_for(p)))
            .collect()
    }

    fn check_lag(&mut self, now: Duration) {
        for p in self.peers().collect::<Vec<_>>() {
            let lag = self
                .lag_since(p)
                .map_or(Duration::ZERO, |since| now.saturating_sub(since));
            let lagging = lag > self.cfg.lag_threshold;
            if lagging != self.lagging[p] {
                self.lagging[p] = lagging;
                let member = self.cfg.members[p].clone();
                self.events.push(RsEvent::Lag {
                    member,
                    lagging,
                    lag_ms: lag.as_millis() as u64,
                });
            }
        }
    }

    fn append_for(&self, peer: usize) -> Message {
        let next = self.next[peer].clamp(1, self.last_index() + 1);
        let start = usize::try_from(next - 1).expect("log indexes fit memory");
        let mut end = start;
        let mut bytes = 0;
        while end < self.log.len()
            && end - start < MAX_BATCH
            && (end == start || bytes < MAX_BATCH_BYTES)
        {
            bytes += self.log.size_hint(end);
            end += 1;
        }
        Message::Append {
            term: self.term,
            from: self.me,
            prev_index: next - 1,
            prev_term: self.term_at(next - 1).expect("next is within the log"),
            entries: self.log.entries(start..end),
            commit: self.commit,
        }
    }

    /// Appends to every secondary now (after a write), instead of at the next heartbeat.
    pub fn replicate_now(&self) -> Vec<(usize, Message)> {
        if self.role != MemberRole::Primary {
            return Vec::new();
        }
        self.peers().map(|p| (p, self.append_for(p))).collect()
    }

    fn start_dry_run(&mut self, now: Duration) -> Vec<(usize, Message)> {
        let term = self.term + 1;
        self.dry_run = Some((term, BTreeSet::from([self.me])));
        if self.cfg.majority() == 1 {
            return self.stand(now);
        }
        self.ask_votes(term, true)
    }

    fn stand(&mut self, now: Duration) -> Vec<(usize, Message)> {
        self.dry_run = None;
        self.term += 1;
        self.voted_for = Some(self.me);
        self.role = MemberRole::Candidate;
        self.primary = None;
        self.votes = BTreeSet::from([self.me]);
        self.events
            .push(RsEvent::StoodForElection { term: self.term });
        if self.cfg.majority() == 1 {
            return self.win(now);
        }
        // An election that stalls (a split vote) is retried after half a heartbeat for the
        // votes to arrive plus a fresh random delay, not a whole election timeout: the
        // candidate has already waited one, and the random part keeps two candidates from
        // colliding again.
        self.deadline = now + self.cfg.heartbeat / 2 + self.jitter();
        self.ask_votes(self.term, false)
    }

    /// A vote request (real or dry run) for `term` to every peer.
    fn ask_votes(&self, term: Term, dry_run: bool) -> Vec<(usize, Message)> {
        let (last_index, last_term) = (self.last_index(), self.last_term());
        let from = self.me;
        self.peers()
            .map(|p| {
                (
                    p,
                    Message::Vote {
                        term,
                        from,
                        last_index,
                        last_term,
                        dry_run,
                    },
                )
            })
            .collect()
    }

    fn win(&mut self, now: Duration) -> Vec<(usize, Message)> {
        self.role = MemberRole::Primary;
        self.elected_at = now;
        self.primary = Some(self.me);
        self.contact_at = now;
        let votes = self
            .votes
            .iter()
            .map(|&v| self.cfg.members[v].clone())
            .collect();
        self.events.push(RsEvent::Elected {
            term: self.term,
            votes,
        });
        let entry = Entry {
            term: self.term,
            written_ms: now.as_millis() as u64,
            op: Op::NewPrimary,
        };
        self.log.push(&entry);
        let next = self.last_index();
        for p in 0..self.cfg.members.len() {
            self.next[p] = next;
            self.matched[p] = 0;
            self.replied_at[p] = now;
            self.lagging[p] = false;
            self.confirmed[p] = p == self.me;
        }
        self.matched[self.me] = self.last_index();
        self.heartbeat_at = now + self.cfg.heartbeat;
        self.replicate_now()
    }

    fn step_down(&mut self, now: Duration, reason: String) {
        if self.role == MemberRole::Primary {
            self.events.push(RsEvent::SteppedDown {
                term: self.term,
                reason,
            });
        }
        self.role = MemberRole::Secondary;
        if self.primary == Some(self.me) {
            self.primary = None;
        }
        self.votes.clear();
        self.reset_deadline(now);
    }

    fn adopt_term(&mut self, now: Duration, term: Term, from: usize) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            let who = self.cfg.members[from].clone();
            self.step_down(now, format!("saw term {term} from {who}"));
            self.primary = None;
        }
    }

    /// True while this member hears from a primary: then it votes for no one.
    fn hears_primary(&self, now: Duration) -> bool {
        self.role == MemberRole::Primary
            || (self.primary.is_some()
                && now.saturating_sub(self.contact_at) < self.cfg.election_timeout)
    }

    /// Handles a message; returns the reply (for requests) and further messages to send.
    pub fn handle(
        &mut self,
        now: Duration,
        message: Message,
    ) -> (Option<Message>, Vec<(usize, Message)>) {
        match message {
            Message::Append {
                term,
                from,
                prev_index,
                prev_term,
                entries,
                commit,
            } => (
                Some(self.on_append(now, term, from, prev_index, prev_term, entries, commit)),
                Vec::new(),
            ),
            Message::AppendReply {
                term,
                from,
                ok,
                last,
            } => (None, self.on_append_reply(now, term, from, ok, last)),
            Message::Vote {
                term,
                from,
                last_index,
                last_term,
                dry_run,
            } => (
                Some(self.on_vote(now, term, from, last_index, last_term, dry_run)),
                Vec::new(),
            ),
            Message::VoteReply {
                term,
                from,
                granted,
                dry_run,
            } => (None, self.on_vote_reply(now, term, from, granted, dry_run)),
            Message::Write { .. } | Message::WriteReply { .. } => (None, Vec::new()),
            Message::TimeoutNow { term, from } => (None, self.on_timeout_now(now, term, from)),
            Message::TransferVote {
                term,
                from,
                last_index,
                last_term,
            } => (
                Some(self.on_transfer_vote(now, term, from, last_index, last_term)),
                Vec::new(),
            ),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append(
        &mut self,
        now: Duration,
        term: Term,
        from: usize,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        commit: Index,
    ) -> Message {
        let reply = |m: &Self, ok, last| Message::AppendReply {
            term: m.term,
            from: m.me,
            ok,
            last,
        };
        if term < self.term {
            return reply(self, false, self.last_index());
        }
        self.adopt_term(now, term, from);
        if self.role != MemberRole::Secondary {
            self.step_down(
                now,
                format!("{} is primary of term {term}", self.cfg.members[from]),
            );
        }
        self.primary = Some(from);
        self.contact_at = now;
        self.dry_run = None;
        self.reset_deadline(now);
        if self.term_at(prev_index) != Some(prev_term) {
            let hint = if prev_index > self.last_index() {
                self.last_index()
            } else {
                prev_index - 1
            };
            return reply(self, false, hint);
        }
        let mut index = prev_index;
        for entry in entries {
            index += 1;
            match self.term_at(index) {
                Some(t) if t == entry.term => continue,
                Some(_) => self.roll_back_from(index),
                None => {}
            }
            self.append(&entry);
        }
        self.commit = self.commit.max(commit.min(index));
        reply(self, true, index)
    }

    fn roll_back_from(&mut self, index: Index) {
        // Raft's Log Matching and Leader Completeness: a committed entry is never
        // overwritten. If it happens, the model is broken; stop the run loudly.
        assert!(
            index > self.commit,
            "{} rolls back index {index} below its commit point {}",
            self.name(),
            self.commit
        );
        let keep = usize::try_from(index - 1).expect("log indexes fit memory");
        let removed = self.log.split_off(keep);
        let signups = removed
            .iter()
            .filter_map(|e| match &e.op {
                Op::Signup { user, .. } => Some(user.clone()),
                Op::NewPrimary | Op::MailSent { .. } => None,
            })
            .collect();
        self.events.push(RsEvent::RolledBack {
            entries: removed.len() as u64,
            first_index: index,
            signups,
        });
        self.users.clear();
        self.mail.clear();
        for i in 0..self.log.len() {
            self.apply(i);
        }
        self.commit = self.commit.min(self.last_index());
    }

    /// Appends an entry to the log and applies it to the data.
    fn append(&mut self, entry: &Entry) {
        self.log.push(entry);
        self.apply(self.log.len() - 1);
    }

    /// Applies entry `i` (from 0: its index is `i + 1`) to the data: a signup of a user
    /// not yet held creates it and queues its verification mail, a sent mail leaves the
    /// queue.
    fn apply(&mut self, i: usize) {
        let Some(entry) = self.log.get(i) else {
            return;
        };
        match entry.op {
            OpRef::Signup { user, .. } => {
                if self.users.find(&self.log, user).is_none() {
                    self.mail
                        .insert(user.to_string(), (i as Index + 1, entry.written_ms));
                    self.users.insert(&self.log, i);
                }
            }
            OpRef::MailSent { user } => {
                self.mail.remove(user);
            }
            OpRef::NewPrimary => {}
        }
    }

    /// When the oldest committed, unsent verification mail was queued (ms), without
    /// building the list: the world asks every tick.
    pub fn oldest_pending_mail_ms(&self) -> Option<u64> {
        self.mail
            .values()
            .filter(|(index, _)| *index <= self.commit)
            .min_by_key(|(index, _)| *index)
            .map(|(_, at)| *at)
    }

    /// Verification mail waiting to be sent: (user, when queued, ms), oldest first,
    /// committed entries only (mail for a signup that may still roll back waits).
    pub fn pending_mail(&self) -> Vec<(String, u64)> {
        let mut pending: Vec<(String, u64, Index)> = self
            .mail
            .iter()
            .filter(|(_, (index, _))| *index <= self.commit)
            .map(|(u, (i, at))| (u.clone(), *at, *i))
            .collect();
        pending.sort_by_key(|(_, _, index)| *index);
        pending.into_iter().map(|(u, at, _)| (u, at)).collect()
    }

    fn on_append_reply(
        &mut self,
        now: Duration,
        term: Term,
        from: usize,
        ok: bool,
        last: Index,
    ) -> Vec<(usize, Message)> {
        if term > self.term {
            self.adopt_term(now, term, from);
            return Vec::new();
        }
        if self.role != MemberRole::Primary || term != self.term {
            return Vec::new();
        }
        self.replied_at[from] = now;
        if ok {
            self.confirmed[from] = true;
            self.matched[from] = self.matched[from].max(last);
            self.next[from] = self.matched[from] + 1;
            self.advance_commit();
            // A secondary that caught up is reported at once, not at the next deadline.
            self.check_lag(now);
            if self.next[from] > self.last_index() {
                return Vec::new();
            }
        } else {
            self.next[from] = (last + 1).clamp(1, self.last_index() + 1);
        }
        vec![(from, self.append_for(from))]
    }

    fn advance_commit(&mut self) {
        for n in (self.commit + 1..=self.last_index()).rev() {
            let holders = (0..self.cfg.members.len())
                .filter(|&p| p == self.me || self.matched[p] >= n)
                .count();
            if holders >= self.cfg.majority() && self.term_at(n) == Some(self.term) {
                self.commit = n;
                return;
            }
        }
    }

    fn on_vote(
        &mut self,
        now: Duration,
        term: Term,
        from: usize,
        last_index: Index,
        last_term: Term,
        dry_run: bool,
    ) -> Message {
        let up_to_date = (last_term, last_index) >= (self.last_term(), self.last_index());
        let reply = |m: &Self, granted| Message::VoteReply {
            term: m.term,
            from: m.me,
            granted,
            dry_run,
        };
        // A member that hears from a primary neither votes nor changes its term.
        if self.hears_primary(now) {
            return reply(self, false);
        }
        if dry_run {
            return reply(self, term > self.term && up_to_date);
        }
        if term < self.term {
            return reply(self, false);
        }
        self.adopt_term(now, term, from);
        let granted = up_to_date && self.voted_for.is_none_or(|v| v == from);
        if granted {
            self.voted_for = Some(from);
            self.reset_deadline(now);
        }
        reply(self, granted)
    }

    fn on_vote_reply(
        &mut self,
        now: Duration,
        term: Term,
        from: usize,
        granted: bool,
        dry_run: bool,
    ) -> Vec<(usize, Message)> {
        if term > self.term && !granted {
            self.adopt_term(now, term, from);
            self.dry_run = None;
            return Vec::new();
        }
        if !granted {
            return Vec::new();
        }
        if dry_run {
            let Some((asked, yes)) = &mut self.dry_run else {
                return Vec::new();
            };
            if *asked != self.term + 1 {
                return Vec::new();
            }
            yes.insert(from);
            if yes.len() >= self.cfg.majority() {
                return self.stand(now);
            }
            return Vec::new();
        }
        if self.role != MemberRole::Candidate || term != self.term {
            return Vec::new();
        }
        self.votes.insert(from);
        if self.votes.len() >= self.cfg.majority() {
            self.win(now)
        } else {
            Vec::new()
        }
    }

    /// A write on the primary: appends it and returns where it stands in the log.
    pub fn propose(&mut self, now: Duration, op: Op) -> Result<(Term, Index), String> {
        if self.role == MemberRole::Primary && self.lease_lapsed(now) {
            // A primary that was stopped (paused, swapped out) past the election timeout
            // learns it on its first act after: another may lead by now. It steps down
            // as its timer would have, rather than take a write it may never commit.
            let sent = self.primary_tick(now);
            debug_assert!(
                sent.is_empty(),
                "a lapsed lease steps down, sending nothing"
            );
        }
        if self.role != MemberRole::Primary {
            return Err("not primary".to_string());
        }
        let entry = Entry {
            term: self.term,
            written_ms: now.as_millis() as u64,
            op,
        };
        self.append(&entry);
        self.matched[self.me] = self.last_index();
        self.advance_commit();
        Ok((self.term, self.last_index()))
    }

    /// Where the write `(term, index)` that this member proposed stands.
    pub fn write_status(&self, term: Term, index: Index) -> WriteStatus {
        match self.term_at(index) {
            Some(t) if t != term => WriteStatus::Lost,
            Some(_) if self.commit >= index => WriteStatus::Committed,
            None if index > 0 => WriteStatus::Lost,
            _ => WriteStatus::Pending,
        }
    }
}

/// A planned step-down (the update's operator asks the primary to step down before its
/// node stops): the primary hands over to its most caught-up secondary instead of
/// leaving the set to notice its silence after an election timeout.
impl Member {
    /// Steps down for a planned operation and names a successor: the secondary that
    /// holds the most of this primary's log (the first such, in member order), when it
    /// holds all of it. Returns the successor's name and the `TimeoutNow` for it. With no
    /// secondary holding all of it (a write on its way to them), it stays primary and
    /// names none, unless `force` (then it steps down naming none: the set elects after
    /// its timeout). A member that is not primary does nothing.
    pub fn hand_over(
        &mut self,
        now: Duration,
        force: bool,
    ) -> (Option<String>, Vec<(usize, Message)>) {
        if self.role != MemberRole::Primary {
            return (None, Vec::new());
        }
        let last = self.last_index();
        let successor = self
            .peers()
            .filter(|&p| self.cfg.priorities[p] > 0 && self.matched[p] == last)
            .max_by_key(|&p| (self.matched[p], std::cmp::Reverse(p)));
        if successor.is_none() && !force {
            return (None, Vec::new());
        }
        let term = self.term;
        self.step_down(
            now,
            "asked to step down for a planned operation".to_string(),
        );
        match successor {
            Some(p) => {
                let name = self.cfg.members[p].clone();
                let from = self.me;
                (Some(name), vec![(p, Message::TimeoutNow { term, from })])
            }
            None => (None, Vec::new()),
        }
    }

    /// `TimeoutNow` from the primary of this member's term: stand at once, asking for
    /// transfer votes. Anything stale is ignored.
    fn on_timeout_now(&mut self, now: Duration, term: Term, from: usize) -> Vec<(usize, Message)> {
        if term != self.term || self.role != MemberRole::Secondary || self.primary != Some(from) {
            return Vec::new();
        }
        self.stand(now)
            .into_iter()
            .map(|(p, m)| match m {
                Message::Vote {
                    term,
                    from,
                    last_index,
                    last_term,
                    dry_run: false,
                } => (
                    p,
                    Message::TransferVote {
                        term,
                        from,
                        last_index,
                        last_term,
                    },
                ),
                other => (p, other),
            })
            .collect()
    }

    /// A transfer vote: as a real vote, except that hearing the old primary is no reason
    /// to refuse.
    fn on_transfer_vote(
        &mut self,
        now: Duration,
        term: Term,
        from: usize,
        last_index: Index,
        last_term: Term,
    ) -> Message {
        let up_to_date = (last_term, last_index) >= (self.last_term(), self.last_index());
        if term > self.term {
            self.adopt_term(now, term, from);
        }
        let granted = term == self.term && up_to_date && self.voted_for.is_none_or(|v| v == from);
        if granted {
            self.voted_for = Some(from);
            self.reset_deadline(now);
        }
        Message::VoteReply {
            term: self.term,
            from: self.me,
            granted,
            dry_run: false,
        }
    }
}

#[cfg(test)]
mod tests;
