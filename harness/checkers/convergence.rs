//! Convergence, while the run goes on: whether the members that are up form a healthy
//! set, whether the primary's mail is flowing (apart: a relay's fault is not the set's),
//! whether their writes have settled, and whether the primary is lost.
//!
//! Pure functions over what the world lends (`world::view`): a [`MemberView`] of each
//! member that is up (borrowed from the member, so asking every tick costs no copies)
//! and, for the primary, the fault table's answer on whom it reaches ([`PrimarySeen`]).
//! The executor asks these functions and has the world record what they conclude; the
//! world itself judges nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::events::PrimaryLoss;
use crate::world::view::{MemberView, PrimarySeen};

/// Mail that waits this long or longer means delivery is failing: the queue is polled
/// every 500 ms, so fresh mail never waits this long.
pub const MAIL_STALE: Duration = Duration::from_secs(2);

impl MemberView<'_> {
    /// The index of its last entry (0 for an empty log).
    fn last_index(&self) -> u64 {
        self.log.len() as u64
    }

    /// The term of the entry at `index` (0 for index 0), if the log reaches it.
    fn entry_term(&self, index: u64) -> Option<u64> {
        if index == 0 {
            return Some(0);
        }
        self.log
            .get(usize::try_from(index - 1).ok()?)
            .map(|e| e.term)
    }
}

/// True when the members that are up form a healthy set: exactly one primary, every
/// member in its term and following it, every log a prefix of the primary's, and no
/// member missing an entry older than one `heartbeat`. (Under load logs differ for a few
/// milliseconds around every write; identical logs are only required at the end, by the
/// checkers.) The mail queue is not the set's health: see [`mail_flowing`].
pub fn healthy(up: &[MemberView], now: Duration, heartbeat: Duration) -> bool {
    let primaries: Vec<&MemberView> = up.iter().filter(|m| m.primary).collect();
    let [primary] = primaries.as_slice() else {
        return false;
    };
    up.iter().all(|m| {
        let last = m.last_index();
        let follows = m.term == primary.term && m.follows == Some(primary.name);
        let prefix = last <= primary.last_index() && primary.entry_term(last) == m.entry_term(last);
        let recent = usize::try_from(last)
            .ok()
            .and_then(|i| primary.log.get(i))
            .is_none_or(|e| now.saturating_sub(Duration::from_millis(e.written_ms)) < heartbeat);
        follows && prefix && recent
    })
}

/// True when the mail is flowing: there is a primary, and no primary's oldest committed,
/// unsent mail has waited [`MAIL_STALE`] or longer.
pub fn mail_flowing(up: &[MemberView], now: Duration) -> bool {
    let mut primaries = up.iter().filter(|m| m.primary).peekable();
    primaries.peek().is_some()
        && primaries.all(|p| {
            p.oldest_pending_mail_ms.is_none_or(|queued_ms| {
                now.saturating_sub(Duration::from_millis(queued_ms)) < MAIL_STALE
            })
        })
}

/// The earliest moment after `now` at which [`healthy`] or [`mail_flowing`] could change
/// while no member changes: when an entry some member still lacks turns `heartbeat`
/// old, or a primary's oldest unsent mail turns [`MAIL_STALE`] old. `None` when time
/// alone changes neither. The executor jumps over idle time no further than this.
pub fn next_change(up: &[MemberView], now: Duration, heartbeat: Duration) -> Option<Duration> {
    let lacking = up.iter().flat_map(|m| {
        let first_missing = usize::try_from(m.last_index()).ok();
        up.iter()
            .filter_map(move |p| first_missing.and_then(|i| p.log.get(i)))
            .map(|e| Duration::from_millis(e.written_ms) + heartbeat)
    });
    let mail = up
        .iter()
        .filter_map(|p| p.oldest_pending_mail_ms)
        .map(|queued_ms| Duration::from_millis(queued_ms) + MAIL_STALE);
    lacking.chain(mail).filter(|&at| at > now).min()
}

/// True when every member that is up ends its log at the same entry: nothing is in
/// flight, so the final data the checkers read is settled.
pub fn settled(up: &[MemberView]) -> bool {
    let ends: BTreeSet<(u64, Option<u64>)> = up
        .iter()
        .map(|m| (m.last_index(), m.entry_term(m.last_index())))
        .collect();
    ends.len() <= 1
}

/// Whether the primary is lost: down, or cut off from a majority of the members.
pub fn primary_loss(seen: PrimarySeen) -> Option<PrimaryLoss> {
    if seen.down {
        Some(PrimaryLoss::Down)
    } else if seen.paused {
        Some(PrimaryLoss::Paused)
    } else if seen.reaches * 2 > seen.members {
        None
    } else {
        Some(PrimaryLoss::Cut {
            reaches: seen.reaches,
            members: seen.members,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::services::replica_set::OpLog;

    static EMPTY_LOG: OpLog = OpLog::new();

    /// Three members following `node-1` in term 1 with empty logs; the primary's oldest
    /// unsent mail queued at `mail_ms`, if any.
    fn set(mail_ms: Option<u64>) -> Vec<MemberView<'static>> {
        ["node-1", "node-2", "node-3"]
            .into_iter()
            .map(|name| MemberView {
                name,
                primary: name == "node-1",
                term: 1,
                follows: Some("node-1"),
                log: &EMPTY_LOG,
                oldest_pending_mail_ms: if name == "node-1" { mail_ms } else { None },
            })
            .collect()
    }

    /// Proves mail stuck in the primary's queue (a relay refusing the nodes' password)
    /// leaves the replica set healthy and only the mail not flowing, and that fresh mail
    /// (or none) flows.
    #[test]
    fn stale_mail_is_not_the_sets_health() {
        let now = Duration::from_secs(60);
        let heartbeat = Duration::from_secs(2);
        let stuck = set(Some(1_000));
        assert!(healthy(&stuck, now, heartbeat));
        assert!(!mail_flowing(&stuck, now));
        assert!(mail_flowing(&set(Some(59_500)), now));
        assert!(mail_flowing(&set(None), now));
        assert!(!mail_flowing(&[], now), "no primary, no mail flowing");
    }
}
