//! A node's replica-set member on the network: port 27017, its timers, and the write path
//! the node's API uses.
//!
//! Real component: the `mongod` process on each appliance node.
//!
//! Modelled: the rules live in [`super::replica_set`]; this file moves their messages.
//! Every message is one exchange on a fresh TCP connection to the peer's port 27017: a
//! frame out (a 4-byte big-endian length, then the message as JSON), a frame back. The
//! member's timer sleeps until the member's next deadline ([`Member::next_deadline`]:
//! its election deadline, or a primary's next heartbeat, step-down or lag report) and
//! ticks it then, to the millisecond; a message that brings a deadline forward wakes it
//! early. A write on the primary is appended, replicated at once, and acknowledged when
//! the member reports it committed (majority): every change to the member wakes the
//! writes waiting on it, none polls. A write on a secondary is forwarded to the primary
//! it follows. Every wait
//! is bounded: connecting to a peer by [`PEER_CONNECT_TIMEOUT`], its answer by
//! [`PEER_REPLY_TIMEOUT`], a write by the configured write timeout (MongoDB's
//! `wtimeout`; a write that times out may still commit later, as in MongoDB). Served,
//! accepts never fail and at most [`crate::net::MAX_CONNECTIONS_PER_LISTENER`] peer
//! connections are open at once ([`crate::net`]); each waits at most
//! [`PEER_REPLY_TIMEOUT`] for its request.
//!
//! The member's state is owned by the world, not by this task: the data files survive a
//! crash, and the world reads every member's log at the end of the run for the checkers.
//!
//! Port: TCP 27017. Faults: crashes, partitions and firewall rules, all applied outside.
//! A pause (issue 18) stops the member's timer and its message handling: peers' frames
//! wait in the paused host's sockets (its kernel still completes their connects) and
//! time out on their side; on resume the timer finds every lapsed deadline at once. A
//! `slow` step does not touch it: its waits are protocol timeouts, not service times.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use crate::env::Env;
use crate::events::EventKind;
use crate::net::Net;
pub use crate::services::replica_set::WriteError;
use crate::services::replica_set::{Member, MemberRole, Message, Op, WriteStatus};

/// The replica set's port.
pub const PORT: u16 = 27017;
/// Frames larger than this are refused: a batch of [`super::replica_set::MAX_BATCH`]
/// entries is a few tens of kilobytes.
pub const MAX_FRAME_BYTES: usize = 1 << 20;
/// The shortest sleep of the member's timer: a deadline that is due but did not act
/// (it fell within the same millisecond) is tried again after this, never in a busy loop.
const MIN_TIMER_SLEEP: Duration = Duration::from_millis(1);
/// Bound on connecting to a peer.
pub const PEER_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Bound on a peer's answer once connected (forwarded writes add the write timeout).
pub const PEER_REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// What a forwarded write may take beyond the primary's own write timeout.
pub const FORWARD_MARGIN: Duration = Duration::from_secs(1);

/// A member shared between its node's tasks and the world.
pub type SharedMember = Arc<Mutex<Member>>;

/// How a node reaches its replica set.
#[derive(Debug, Clone)]
pub struct DbConfig {
    pub member: SharedMember,
    /// Every member's 27017 address, in member order.
    pub peers: Vec<SocketAddr>,
    /// How long a write waits for a majority before it fails.
    pub write_timeout: Duration,
    /// Out of touch with a majority through a primary for longer than this, the member is
    /// unhealthy and `/testall` fails.
    pub contact_max: Duration,
}

/// A running member: cheap to clone, shared by the node's request handlers.
#[derive(Clone)]
pub struct Database<N: Net> {
    env: Env<N>,
    config: Arc<DbConfig>,
    wake: Arc<Wake>,
}

/// How the member's tasks wake each other instead of polling.
#[derive(Debug)]
struct Wake {
    /// The deadline the timer sleeps towards (simulated ns since the run began;
    /// `u64::MAX`: none): a change that brings the member's next deadline before it
    /// wakes the timer.
    armed_ns: AtomicU64,
    /// Wakes the timer.
    timer: Notify,
    /// Wakes every write waiting for its commit: the member changed.
    changed: Notify,
}

fn as_ns(at: Option<Duration>) -> u64 {
    at.map_or(u64::MAX, |d| {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
    })
}

impl<N: Net> Database<N> {
    /// Starts the member's server on 27017 and its timer; returns the handle.
    pub async fn start(env: Env<N>, config: DbConfig) -> std::io::Result<Self> {
        let db = Self {
            env,
            config: Arc::new(config),
            wake: Arc::new(Wake {
                armed_ns: AtomicU64::new(u64::MAX),
                timer: Notify::new(),
                changed: Notify::new(),
            }),
        };
        let listener = db.env.net.listen(PORT).await?;
        db.env.record(EventKind::ServiceStarted {
            service: "db".to_string(),
            port: PORT,
        });
        tokio::spawn(serve(db.clone(), listener));
        tokio::spawn(timers(db.clone()));
        Ok(db)
    }

    fn member(&self) -> MutexGuard<'_, Member> {
        self.config
            .member
            .lock()
            .expect("no code panics while holding a member")
    }

    /// Runs `f` on the member, records its events and sends the messages it returns.
    fn with_member<T>(
        &self,
        f: impl FnOnce(&mut Member, Duration) -> (T, Vec<(usize, Message)>),
    ) -> T {
        let now = self.env.clock.elapsed();
        let (value, out, events, next) = {
            let mut m = self.member();
            let (value, out) = f(&mut m, now);
            (value, out, m.drain_events(), m.next_deadline())
        };
        if as_ns(next) < self.wake.armed_ns.load(Ordering::Relaxed) {
            self.wake.timer.notify_one();
        }
        self.wake.changed.notify_waiters();
        for e in events {
            self.env.record(EventKind::ReplicaSet(e));
        }
        for (to, message) in out {
            self.send(to, message);
        }
        value
    }

    fn send(&self, to: usize, message: Message) {
        let db = self.clone();
        tokio::spawn(async move {
            if let Ok(reply) = exchange(
                &db.env.net,
                db.config.peers[to],
                &message,
                PEER_REPLY_TIMEOUT,
            )
            .await
            {
                db.with_member(|m, now| m.handle(now, reply));
            }
        });
    }

    /// True while this member is the primary.
    pub fn is_primary(&self) -> bool {
        self.member().role() == MemberRole::Primary
    }

    /// Committed verification mail not yet sent: (user, when queued, ms), oldest first.
    pub fn pending_mail(&self) -> Vec<(String, u64)> {
        self.member().pending_mail()
    }

    /// The password this member's data holds for `user`.
    pub fn password(&self, user: &str) -> Option<String> {
        self.member().password(user).map(str::to_string)
    }

    /// `Ok` while the member is in touch with a majority through a primary, else why not.
    pub fn health(&self) -> Result<(), String> {
        let out = self.member().out_of_contact(self.env.clock.elapsed());
        if out > self.config.contact_max {
            return Err(format!(
                "no contact with a primary for {}",
                crate::duration::span(out)
            ));
        }
        Ok(())
    }

    /// Writes `op` with majority write concern, from whichever member this is.
    pub async fn write(&self, op: Op) -> Result<(), WriteError> {
        let proposed = self.with_member(|m, now| match m.role() {
            MemberRole::Primary => match m.propose(now, op.clone()) {
                Ok(at) => (Some(Ok(at)), m.replicate_now()),
                Err(_) => (None, Vec::new()),
            },
            _ => (m.primary().map(|p| Err(p.to_string())), Vec::new()),
        });
        match proposed {
            None => Err(WriteError::NoPrimary),
            Some(Ok((term, index))) => self.await_commit(term, index).await,
            Some(Err(primary)) => self.forward(primary, op).await,
        }
    }

    async fn await_commit(&self, term: u64, index: u64) -> Result<(), WriteError> {
        let timeout = self.config.write_timeout;
        let wait = async {
            loop {
                // Registered before the check: a change after it wakes this wait.
                let changed = self.wake.changed.notified();
                match self.member().write_status(term, index) {
                    WriteStatus::Committed => return Ok(()),
                    WriteStatus::Lost => return Err(WriteError::RolledBack),
                    WriteStatus::Pending => {}
                }
                changed.await;
            }
        };
        crate::timers::timeout(timeout, wait)
            .await
            .unwrap_or(Err(WriteError::NotAcknowledged(timeout.as_millis() as u64)))
    }

    async fn forward(&self, primary: String, op: Op) -> Result<(), WriteError> {
        let index = self.member_index(&primary);
        let to = self.config.peers[index];
        // The primary answers within its write timeout; one more second covers the trip.
        let bound = self.config.write_timeout + FORWARD_MARGIN;
        match exchange(&self.env.net, to, &Message::Write { op }, bound).await {
            Ok(Message::WriteReply { result }) => result,
            Ok(other) => Err(WriteError::PrimaryUnreachable {
                primary,
                reason: format!("unexpected answer {other:?}"),
            }),
            Err(reason) => Err(WriteError::PrimaryUnreachable { primary, reason }),
        }
    }

    fn member_index(&self, name: &str) -> usize {
        let m = self.member();
        (0..self.config.peers.len())
            .find(|&i| m.member_name(i) == name)
            .expect("a member follows a primary of its own set")
    }
}

async fn serve<N: Net>(db: Database<N>, listener: N::Listener) -> std::io::Result<()> {
    let mut connections = crate::net::Connections::new(listener);
    loop {
        let (mut stream, _peer, slot) = connections.next().await;
        let db = db.clone();
        tokio::spawn(async move {
            // The slot goes with the connection, whichever way this task ends.
            let _slot = slot;
            let Ok(Ok(request)) =
                crate::timers::timeout(PEER_REPLY_TIMEOUT, read_frame(&mut stream)).await
            else {
                return;
            };
            let reply = match request {
                Message::Write { op } => {
                    let result = db.write_on_primary(op).await;
                    Some(Message::WriteReply { result })
                }
                other => db.with_member(|m, now| m.handle(now, other)),
            };
            // The asker may have given up; its own timeout already tells it so, and the
            // answer has nowhere else to go.
            if let Some(reply) = reply
                && let Err(gone) = write_frame(&mut stream, &reply).await
            {
                drop(gone);
            }
        });
    }
}

impl<N: Net> Database<N> {
    /// A write forwarded by a secondary: only a primary takes it (no second forward).
    async fn write_on_primary(&self, op: Op) -> Result<(), WriteError> {
        let proposed = self.with_member(|m, now| match m.propose(now, op) {
            Ok(at) => (Some(at), m.replicate_now()),
            Err(_) => (None, Vec::new()),
        });
        match proposed {
            Some((term, index)) => self.await_commit(term, index).await,
            None => Err(WriteError::NoPrimary),
        }
    }
}

/// What an operator and the node's driver ask of the member beyond reads and writes.
impl<N: Net> Database<N> {
    /// Asks the member to step down, if it is primary, and hand over to a secondary
    /// holding all of its log ([`Member::hand_over`], MongoDB's `replSetStepDown` with
    /// election handoff); the successor's name, if one was named. While every secondary
    /// lacks a write still on its way, it waits for one to catch up (woken by every
    /// change to the member, never polling), at most `catch_up_max` (MongoDB's
    /// `secondaryCatchUpPeriodSecs`); then it steps down naming none.
    pub async fn hand_over(&self, catch_up_max: Duration) -> Option<String> {
        let wait = async {
            loop {
                if !self.is_primary() {
                    return None;
                }
                if let Some(successor) = self.with_member(|m, now| m.hand_over(now, false)) {
                    return Some(successor);
                }
                // Registered after the attempt, which itself notifies (a member touched),
                // and before any await: nothing runs in between on the simulation's one
                // thread, so the next change to the member wakes this wait.
                self.wake.changed.notified().await;
            }
        };
        match crate::timers::timeout(catch_up_max, wait).await {
            Ok(named) => named,
            Err(_) => self.with_member(|m, now| m.hand_over(now, true)),
        }
    }

    /// The members this member, as primary, reports lagging (empty on a secondary).
    pub fn lagging(&self) -> Vec<String> {
        let member = self.member();
        member
            .lagging_members()
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// The primary this member knows (itself or the one it follows), if any.
    pub fn primary(&self) -> Option<String> {
        self.member().primary().map(str::to_string)
    }

    /// Waits, at most `max`, until the member knows a primary other than `not`; true if
    /// it does then. Woken by every change to the member, never polling.
    pub async fn await_primary_other_than(&self, not: Option<&str>, max: Duration) -> bool {
        let wait = async {
            loop {
                // Registered before the check: a change after it wakes this wait.
                let changed = self.wake.changed.notified();
                let known = self.member().primary().map(str::to_string);
                if known.is_some() && known.as_deref() != not {
                    return;
                }
                changed.await;
            }
        };
        crate::timers::timeout(max, wait).await.is_ok()
    }
}

/// Ticks the member at each of its deadlines; sleeps in between.
async fn timers<N: Net>(db: Database<N>) {
    loop {
        // The timer is awake: nothing needs to wake it while it ticks.
        db.wake.armed_ns.store(0, Ordering::Relaxed);
        let (next, now) = db.with_member(|m, now| {
            let out = m.tick(now);
            ((m.next_deadline(), now), out)
        });
        db.wake.armed_ns.store(as_ns(next), Ordering::Relaxed);
        match next {
            Some(at) => {
                let wait = at.saturating_sub(now).max(MIN_TIMER_SLEEP);
                tokio::select! {
                    () = crate::timers::sleep(wait) => {}
                    () = db.wake.timer.notified() => {}
                }
            }
            None => db.wake.timer.notified().await,
        }
    }
}

/// One exchange with a peer: connect, send `message`, read the answer.
async fn exchange<N: Net>(
    net: &N,
    to: SocketAddr,
    message: &Message,
    reply_timeout: Duration,
) -> Result<Message, String> {
    let mut stream = crate::net::connect_within(net, to, PEER_CONNECT_TIMEOUT).await?;
    let talk = async {
        write_frame(&mut stream, message)
            .await
            .map_err(|e| format!("send failed: {e}"))?;
        read_frame(&mut stream)
            .await
            .map_err(|e| format!("no answer: {e}"))
    };
    match crate::timers::timeout(reply_timeout, talk).await {
        Ok(answer) => answer,
        Err(_elapsed) => Err(format!(
            "no answer within {}",
            crate::duration::span(reply_timeout)
        )),
    }
}

async fn write_frame<S: tokio::io::AsyncWrite + Unpin>(
    stream: &mut S,
    message: &Message,
) -> std::io::Result<()> {
    let body = serde_json::to_vec(message).expect("messages are plain data");
    let len = u32::try_from(body.len()).map_err(|_| std::io::Error::other("frame too large"))?;
    stream.write_all(&len.to_be_bytes()).await?;
    stream.write_all(&body).await?;
    stream.flush().await
}

async fn read_frame<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Message> {
    let len = stream.read_u32().await? as usize;
    if len > MAX_FRAME_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {len} bytes"),
        ));
    }
    let mut body = vec![0; len];
    stream.read_exact(&mut body).await?;
    serde_json::from_slice(&body)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves a message survives the frame format byte for byte, and an oversized length
    /// is refused before anything is allocated.
    #[tokio::test]
    async fn frames_round_trip() {
        let message = Message::Vote {
            term: 3,
            from: 1,
            last_index: 9,
            last_term: 2,
            dry_run: true,
        };
        let mut buf = Vec::new();
        write_frame(&mut buf, &message).await.unwrap();
        assert_eq!(
            u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize,
            buf.len() - 4
        );
        assert_eq!(read_frame(&mut buf.as_slice()).await.unwrap(), message);
        let huge = (MAX_FRAME_BYTES as u32 + 1).to_be_bytes();
        assert!(read_frame(&mut huge.as_slice()).await.is_err());
    }
}
