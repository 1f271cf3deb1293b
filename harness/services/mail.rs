//! A node's mail queue: verification mail for every signup, delivered through SMTP.
//!
//! Real component: the appliance's mail sender (verification, password reset), which
//! must survive restarts and retry through relay outages.
//!
//! Modelled: the queue lives in the replicated database. A signup's log entry queues its
//! verification mail, and an `Op::MailSent` entry, written with majority write concern
//! once the relay answered 250, removes it. So the queue survives any node's crash and
//! fails over with the primary. Only the primary delivers, and only mail whose signup is
//! committed (mail for a write that may still roll back waits). Delivery is one message
//! at a time, every [`POLL`]; a failed message waits `retry_initial`, doubled on each
//! further failure, up to `retry_max`.
//!
//! Delivery is at least once: if the relay accepted a message and the primary lost its
//! majority before `MailSent` committed, the next primary sends it again. The checkers
//! count every message the relay accepted, so a duplicate would show.
//!
//! Without a relay (`relay = None`, the dev/test instance's default) the queue holds its
//! mail: nothing is attempted, nothing connects, and every message stays queued.
//!
//! Left out on purpose: password-reset mail, bounces, several relays.
//!
//! Ports: none of its own; connects to the relay on 587.
//!
//! Faults it reacts to: the relay's crash (every connect refused or timing out) and its
//! `smtp` answers: `auth-rejected` (535) and `temporary` (451) fail an attempt at once,
//! `slow` fails it by the session timeout (`smtp.timeout`) when the relay's replies
//! outlast it; each failure waits out its backoff and the queue never gives up a message
//! (`checkers::retries` judges both). A failover moves the queue to the new primary,
//! which starts its counts over; a pause of the primary stops the queue with it (its
//! poll is a timer); partitions, firewall rules and link faults between the node and the
//! relay fail or slow the session.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::env::Env;
use crate::events::EventKind;
use crate::net::Net;
use crate::services::database::Database;
use crate::services::replica_set::Op;
use crate::services::smtp::{self, Outgoing};

/// How often the primary looks at its queue.
pub const POLL: Duration = Duration::from_millis(500);
/// At most this many messages are attempted per poll, so one poll stays short.
pub const MAX_PER_POLL: usize = 20;

/// How a node sends mail.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// The relay's submission address; `None`: no relay configured, mail stays queued.
    pub relay: Option<SocketAddr>,
    pub username: String,
    pub password: String,
    /// The deployment's domain, for the sender and message ids.
    pub domain: String,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub timeout: Duration,
}

/// The message id of `user`'s verification mail: what the checkers look for.
pub fn message_id(user: &str, domain: &str) -> String {
    format!("<verify-{user}@{domain}>")
}

/// The delay before attempt `failures + 1`, after `failures` failed ones.
pub fn backoff(failures: u32, initial: Duration, max: Duration) -> Duration {
    let factor = 1u32
        .checked_shl(failures.saturating_sub(1))
        .unwrap_or(u32::MAX);
    initial.saturating_mul(factor).min(max)
}

/// Runs the queue for this node until the node stops.
/// Each delivery's result goes to `vitals` too (the node's status endpoints read it).
pub async fn run<N: Net>(
    env: Env<N>,
    db: Database<N>,
    config: MailConfig,
    vitals: super::status::Vitals,
) {
    let Some(relay) = config.relay else {
        // No relay: the queue (in the database) holds the mail; there is nothing to do.
        return;
    };
    // Failed attempts and the earliest next attempt, by user. Held in memory: after a
    // restart or a failover, delivery simply starts over at once.
    let mut retries: BTreeMap<String, (u32, Duration)> = BTreeMap::new();
    let mut ticker = crate::timers::Interval::delay(POLL);
    loop {
        ticker.tick().await;
        if !db.is_primary() {
            retries.clear();
            continue;
        }
        let now = env.clock.elapsed();
        let due: Vec<(String, u64)> = db
            .pending_mail()
            .into_iter()
            .filter(|(user, _)| retries.get(user).is_none_or(|(_, next)| *next <= now))
            .take(MAX_PER_POLL)
            .collect();
        for (user, queued_ms) in due {
            let sent = deliver(&env, &db, &config, relay, &mut retries, &user, queued_ms).await;
            vitals.delivered(sent.as_ref().map_err(String::as_str).copied());
        }
    }
}

async fn deliver<N: Net>(
    env: &Env<N>,
    db: &Database<N>,
    config: &MailConfig,
    relay: SocketAddr,
    retries: &mut BTreeMap<String, (u32, Duration)>,
    user: &str,
    queued_ms: u64,
) -> Result<(), String> {
    let id = message_id(user, &config.domain);
    let mail = Outgoing {
        from: format!("no-reply@{}", config.domain),
        to: format!("{user}@{}", config.domain),
        message_id: id.clone(),
        subject: "Verify your email".to_string(),
        body: format!("Welcome, {user}. Follow the link to verify your address."),
    };
    let credentials = (config.username.as_str(), config.password.as_str());
    let sent = smtp::send(&env.net, relay, credentials, &mail, config.timeout).await;
    let failures = retries.get(user).map_or(0, |(f, _)| *f);
    match sent {
        Ok(()) => {
            let waited_ms = u64::try_from(env.clock.elapsed().as_millis())
                .unwrap_or(u64::MAX)
                .saturating_sub(queued_ms);
            env.record(EventKind::MailSent {
                message_id: id,
                attempts: failures + 1,
                waited_ms,
            });
            retries.remove(user);
            // If this write fails, the mail stays queued and is sent again (at least once).
            if let Err(unrecorded) = db
                .write(Op::MailSent {
                    user: user.to_string(),
                })
                .await
            {
                drop(unrecorded);
            }
            Ok(())
        }
        Err(reason) => {
            let delay = backoff(failures + 1, config.retry_initial, config.retry_max);
            let next = env.clock.elapsed() + delay;
            retries.insert(user.to_string(), (failures + 1, next));
            let retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
            env.record(EventKind::MailFailed {
                message_id: id,
                attempt: failures + 1,
                reason: reason.clone(),
                retry_in_ms,
            });
            Err(reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves the backoff doubles from the initial delay and stops at the maximum.
    #[test]
    fn exponential_backoff_is_bounded() {
        let (initial, max) = (Duration::from_secs(1), Duration::from_secs(30));
        let delays: Vec<u64> = (1..=7)
            .map(|f| backoff(f, initial, max).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff(200, initial, max), max);
    }
}
