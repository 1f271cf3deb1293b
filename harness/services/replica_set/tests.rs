//! The replica set's rules on a tiny in-memory network: members, a message queue, links
//! that can be cut, and time advanced in 100 ms steps.

use super::*;

const STEP: Duration = Duration::from_millis(100);

struct Net {
    members: Vec<Member>,
    /// `cut[a][b]`: messages from a to b are lost.
    cut: Vec<Vec<bool>>,
    now: Duration,
    events: Vec<(String, RsEvent)>,
}

impl Net {
    fn new(n: usize) -> Self {
        let cfg = RsConfig {
            members: (1..=n).map(|i| format!("node-{i}")).collect(),
            priorities: vec![1; n],
            heartbeat: Duration::from_secs(2),
            election_timeout: Duration::from_secs(10),
            lag_threshold: Duration::from_secs(5),
        };
        let members = (0..n).map(|i| Member::new(cfg.clone(), i, 7)).collect();
        Self {
            members,
            cut: vec![vec![false; n]; n],
            now: Duration::ZERO,
            events: Vec::new(),
        }
    }

    fn isolate(&mut self, node: usize, cut: bool) {
        for other in 0..self.members.len() {
            if other != node {
                self.cut[node][other] = cut;
                self.cut[other][node] = cut;
            }
        }
    }

    /// Delivers messages (and their replies, transitively) until none are left.
    fn deliver(&mut self, mut queue: Vec<(usize, usize, Message)>) {
        while let Some((from, to, msg)) = queue.pop() {
            if self.cut[from][to] {
                continue;
            }
            let (reply, more) = self.members[to].handle(self.now, msg);
            if let Some(reply) = reply
                && !self.cut[to][from]
            {
                let (_, more_after_reply) = self.members[from].handle(self.now, reply);
                queue.extend(more_after_reply.into_iter().map(|(t, m)| (from, t, m)));
            }
            queue.extend(more.into_iter().map(|(t, m)| (to, t, m)));
        }
    }

    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += STEP;
            for i in 0..self.members.len() {
                let out = self.members[i].tick(self.now);
                self.deliver(out.into_iter().map(|(t, m)| (i, t, m)).collect());
            }
            for m in &mut self.members {
                let name = m.name().to_string();
                self.events
                    .extend(m.drain_events().into_iter().map(|e| (name.clone(), e)));
            }
        }
    }

    fn write(&mut self, on: usize, user: &str) -> Result<(Term, Index), String> {
        let op = Op::Signup {
            user: user.to_string(),
            password: "pw".to_string(),
        };
        let at = self.members[on].propose(self.now, op)?;
        let out = self.members[on].replicate_now();
        self.deliver(out.into_iter().map(|(t, m)| (on, t, m)).collect());
        Ok(at)
    }

    fn primaries(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| self.members[i].role() == Role::Primary)
            .collect()
    }

    /// Every (term, winner) the run elected.
    fn elections(&self) -> Vec<(Term, String)> {
        self.events
            .iter()
            .filter_map(|(who, e)| match e {
                RsEvent::Elected { term, .. } => Some((*term, who.clone())),
                _ => None,
            })
            .collect()
    }
}

/// Proves a write on the primary commits once a majority holds it, and not before.
#[test]
fn write_commits_with_a_majority() {
    let mut net = Net::new(3);
    net.cut[0][1] = true;
    net.cut[0][2] = true;
    let (term, index) = net.write(0, "a").unwrap();
    assert_eq!(
        net.members[0].write_status(term, index),
        WriteStatus::Pending
    );
    net.cut[0][1] = false;
    net.run_for(Duration::from_secs(2));
    assert_eq!(
        net.members[0].write_status(term, index),
        WriteStatus::Committed
    );
    assert_eq!(net.members[1].password("a"), Some("pw"));
    assert!(
        net.members[1].propose(net.now, Op::NewPrimary).is_err(),
        "only the primary takes writes"
    );
}

/// Proves a lost primary is replaced within the election timeout plus its random part
/// and a few steps, by exactly one member, in the next term.
#[test]
fn primary_loss_elects_one_new_primary() {
    let mut net = Net::new(3);
    net.run_for(Duration::from_secs(3));
    net.isolate(0, true);
    let lost_at = net.now;
    net.run_for(Duration::from_secs(15));
    let elections = net.elections();
    assert_eq!(elections.len(), 1, "{elections:?}");
    assert_eq!(elections[0].0, 2);
    let new = net
        .primaries()
        .into_iter()
        .find(|&p| p != 0)
        .expect("a new primary");
    assert!(net.members[new].term() == 2);
    let elected_after = net
        .events
        .iter()
        .position(|(_, e)| matches!(e, RsEvent::Elected { .. }));
    assert!(elected_after.is_some());
    assert!(net.now - lost_at <= Duration::from_secs(15));
    // The old primary, cut off, stepped down: it could not see a majority.
    assert_eq!(net.members[0].role(), Role::Secondary);
    assert!(
        net.events
            .iter()
            .any(|(who, e)| who == "node-1" && matches!(e, RsEvent::SteppedDown { .. }))
    );
}

/// Proves writes taken by a cut-off primary never commit, and are rolled back, counted and
/// reported when it rejoins; afterwards every member holds the same log.
#[test]
fn isolated_primary_writes_roll_back() {
    let mut net = Net::new(3);
    net.run_for(Duration::from_secs(3));
    net.isolate(0, true);
    let doomed: Vec<_> = (0..3)
        .map(|i| net.write(0, &format!("lost-{i}")).unwrap())
        .collect();
    net.run_for(Duration::from_secs(15));
    let new = net.primaries()[0];
    assert_ne!(new, 0);
    net.write(new, "kept").unwrap();
    for (t, i) in &doomed {
        assert_ne!(net.members[0].write_status(*t, *i), WriteStatus::Committed);
    }
    net.isolate(0, false);
    net.run_for(Duration::from_secs(5));
    for (t, i) in &doomed {
        assert_eq!(net.members[0].write_status(*t, *i), WriteStatus::Lost);
    }
    let rolled: Vec<_> = net
        .events
        .iter()
        .filter_map(|(who, e)| match e {
            RsEvent::RolledBack {
                entries, signups, ..
            } if who == "node-1" => Some((*entries, signups.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        rolled,
        [(
            3,
            vec!["lost-0".to_string(), "lost-1".into(), "lost-2".into()]
        )]
    );
    assert_eq!(net.members[0].log(), net.members[new].log());
    assert_eq!(net.members[1].log(), net.members[2].log());
    assert_eq!(net.members[0].password("kept"), Some("pw"));
    assert_eq!(net.members[0].password("lost-0"), None);
}

/// Proves a member grants one vote per term, and only to a candidate whose log is at
/// least as up to date as its own.
#[test]
fn one_vote_per_term_and_up_to_date_logs() {
    let mut net = Net::new(3);
    let later = Duration::from_secs(30);
    let m = &mut net.members[2];
    m.restart(Duration::ZERO); // forgets the primary: it will vote
    let vote = |from, last_index, term| Message::Vote {
        term,
        from,
        last_index,
        last_term: 1,
        dry_run: false,
    };
    let granted =
        |reply: Option<Message>| matches!(reply, Some(Message::VoteReply { granted: true, .. }));
    assert!(granted(m.handle(later, vote(0, 0, 2)).0));
    assert!(
        !granted(m.handle(later, vote(1, 0, 2)).0),
        "second vote in term 2"
    );
    assert!(
        granted(m.handle(later, vote(1, 0, 3)).0),
        "a new term, a new vote"
    );
    m.propose(later, Op::NewPrimary).unwrap_err();
    let mut behind = Net::new(3);
    behind.write(0, "x").unwrap();
    let voter = &mut behind.members[1];
    voter.restart(Duration::ZERO);
    let stale = Message::Vote {
        term: 5,
        from: 2,
        last_index: 0,
        last_term: 0,
        dry_run: false,
    };
    assert!(
        !granted(voter.handle(later, stale).0),
        "the candidate lacks an entry the voter has"
    );
}

/// Proves the dry run keeps an isolated secondary's term from growing, so its return does
/// not depose the healthy primary.
#[test]
fn isolated_secondary_does_not_disrupt() {
    let mut net = Net::new(3);
    net.run_for(Duration::from_secs(3));
    net.isolate(2, true);
    net.run_for(Duration::from_secs(40));
    assert_eq!(net.members[2].term(), 1);
    net.isolate(2, false);
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.primaries(), [0]);
    assert!(net.elections().is_empty());
}

/// Proves a priority-0 member never stands, even when it is the only one left able to.
#[test]
fn priority_zero_never_stands() {
    let mut net = Net::new(3);
    for m in &mut net.members {
        m.cfg.priorities = vec![1, 1, 0];
    }
    net.isolate(0, true);
    net.cut[1][2] = true;
    net.cut[2][1] = true;
    net.run_for(Duration::from_secs(60));
    assert!(
        net.events
            .iter()
            .all(|(who, e)| !(who == "node-3" && matches!(e, RsEvent::StoodForElection { .. })))
    );
}

/// Proves the primary reports a secondary whose replication lag crosses the threshold,
/// and again when it catches up.
#[test]
fn lag_is_reported_both_ways() {
    let mut net = Net::new(3);
    net.cut[0][2] = true;
    net.write(0, "a").unwrap();
    net.run_for(Duration::from_secs(7));
    net.cut[0][2] = false;
    net.run_for(Duration::from_secs(3));
    let lags: Vec<_> = net
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            RsEvent::Lag {
                member, lagging, ..
            } => Some((member.clone(), *lagging)),
            _ => None,
        })
        .collect();
    assert_eq!(
        lags,
        [("node-3".to_string(), true), ("node-3".to_string(), false)]
    );
}
