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
    /// When each of `events` was drained: the end of its 100 ms step.
    event_times: Vec<Duration>,
    /// A member stopped as by `SIGSTOP`: it neither ticks nor handles messages.
    paused: Option<usize>,
}

impl Net {
    fn new(n: usize) -> Self {
        let cfg = RsConfig {
            members: (1..=n).map(|i| format!("node-{i}")).collect(),
            priorities: vec![1; n],
            heartbeat: Duration::from_secs(2),
            election_timeout: Duration::from_secs(10),
            election_jitter: 0.15,
            lag_threshold: Duration::from_secs(5),
        };
        let members = (0..n).map(|i| Member::new(cfg.clone(), i, 7)).collect();
        Self {
            members,
            cut: vec![vec![false; n]; n],
            now: Duration::ZERO,
            events: Vec::new(),
            event_times: Vec::new(),
            paused: None,
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
            if self.cut[from][to] || self.paused == Some(to) {
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
                if self.paused == Some(i) {
                    continue;
                }
                let out = self.members[i].tick(self.now);
                self.deliver(out.into_iter().map(|(t, m)| (i, t, m)).collect());
            }
            for m in &mut self.members {
                let name = m.name().to_string();
                for e in m.drain_events() {
                    self.events.push((name.clone(), e));
                    self.event_times.push(self.now);
                }
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
            .filter(|&i| self.members[i].role() == MemberRole::Primary)
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
    // Elected no sooner than the election timeout after the last heartbeat before the
    // loss (sent at most 2 s before it), and no later than timeout + its random part
    // (15%) + one 100 ms step for the dry run and the vote, after the loss.
    let at = net
        .events
        .iter()
        .position(|(_, e)| matches!(e, RsEvent::Elected { .. }))
        .map(|i| net.event_times[i]);
    let after = at.expect("an election") - lost_at;
    assert!(
        after >= Duration::from_secs(8) && after <= Duration::from_millis(11_600),
        "elected {after:?} after the loss"
    );
    // The old primary, cut off, stepped down: it could not see a majority.
    assert_eq!(net.members[0].role(), MemberRole::Secondary);
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

/// The members that stood for election in a minute after the primary (node-1) is cut
/// off, with `priorities`: node-2 and node-3 still reach each other, so together they
/// are a majority, and either could be elected if its priority let it stand.
fn stood_after_primary_loss(priorities: [u32; 3]) -> Vec<String> {
    let mut net = Net::new(3);
    for m in &mut net.members {
        m.cfg.priorities = priorities.to_vec();
    }
    net.run_for(Duration::from_secs(3));
    net.isolate(0, true);
    net.run_for(Duration::from_secs(60));
    let mut stood: Vec<String> = net
        .events
        .iter()
        .filter(|(_, e)| matches!(e, RsEvent::StoodForElection { .. }))
        .map(|(who, _)| who.clone())
        .collect();
    stood.dedup();
    stood
}

/// Proves a priority-0 member never stands, even when a majority could elect it: with
/// node-2 and node-3 both at priority 0 no one stands; with node-3 at 1 (the control)
/// node-3 stands and node-2 still does not.
#[test]
fn priority_zero_never_stands() {
    assert_eq!(stood_after_primary_loss([1, 0, 0]), Vec::<String>::new());
    assert_eq!(stood_after_primary_loss([1, 0, 1]), ["node-3"]);
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

/// Proves a new primary does not commit an entry of an older term just because a
/// majority holds it (Raft's "Figure 8" hazard): only an entry of its own term commits,
/// and the older ones with it.
#[test]
fn older_term_entries_commit_only_with_the_current_term() {
    let mut net = Net::new(3);
    let m = &mut net.members[0];
    let old = Entry {
        term: 2,
        written_ms: 0,
        op: Op::Signup {
            user: "old".into(),
            password: "pw".into(),
        },
    };
    let append = Message::Append {
        term: 2,
        from: 1,
        prev_index: 0,
        prev_term: 0,
        entries: vec![old],
        commit: 0,
    };
    m.handle(Duration::ZERO, append);
    assert_eq!(
        (m.role(), m.last_index(), m.commit()),
        (MemberRole::Secondary, 1, 0)
    );
    // Silence from node-2's term: node-1 runs a dry run, then the election, and wins.
    let later = Duration::from_secs(30);
    let asks = m.tick(later);
    assert!(matches!(
        asks[0].1,
        Message::Vote {
            dry_run: true,
            term: 3,
            ..
        }
    ));
    let yes = |from, dry_run, term| Message::VoteReply {
        term,
        from,
        granted: true,
        dry_run,
    };
    let (_, votes) = m.handle(later, yes(2, true, 2));
    assert!(matches!(
        votes[0].1,
        Message::Vote {
            dry_run: false,
            term: 3,
            ..
        }
    ));
    m.handle(later, yes(2, false, 3));
    assert_eq!(
        (m.role(), m.term(), m.last_index()),
        (MemberRole::Primary, 3, 2),
        "won, and wrote its no-op entry"
    );
    // node-3's acknowledgement that its log matches up to `last`.
    let holds = |last| Message::AppendReply {
        term: 3,
        from: 2,
        ok: true,
        last,
    };
    // node-3 holds the term-2 entry: a majority has index 1, but it is not of term 3.
    m.handle(later, holds(1));
    assert_eq!(m.commit(), 0);
    // Once node-3 holds the term-3 entry too, both commit.
    m.handle(later, holds(2));
    assert_eq!(m.commit(), 2);
}

/// Proves a secondary's commit point never passes what the primary's message verified:
/// an unverified tail stays uncommitted, and a stale, reordered Append changes nothing.
#[test]
fn commit_stops_at_the_verified_prefix() {
    let mut net = Net::new(3);
    let m = &mut net.members[1];
    let entry = |term, user: &str| Entry {
        term,
        written_ms: 0,
        op: Op::Signup {
            user: user.into(),
            password: "pw".into(),
        },
    };
    let both = Message::Append {
        term: 1,
        from: 0,
        prev_index: 0,
        prev_term: 0,
        entries: vec![entry(1, "a"), entry(1, "b")],
        commit: 0,
    };
    m.handle(Duration::ZERO, both);
    // A new primary of term 2 knows only index 1 matches so far; its commit point is 2.
    let heartbeat = Message::Append {
        term: 2,
        from: 2,
        prev_index: 1,
        prev_term: 1,
        entries: vec![],
        commit: 2,
    };
    m.handle(Duration::ZERO, heartbeat);
    assert_eq!(
        m.commit(),
        1,
        "index 2 is not verified to match the primary's log"
    );
    // A stale Append from the first batch arrives late: no truncation, no change.
    let stale = Message::Append {
        term: 2,
        from: 2,
        prev_index: 0,
        prev_term: 0,
        entries: vec![entry(1, "a")],
        commit: 1,
    };
    m.handle(Duration::ZERO, stale);
    assert_eq!((m.last_index(), m.commit()), (2, 1));
    assert_eq!(m.password("b"), Some("pw"));
}

/// Proves the stale primary of a pause (issue 18): a primary stopped past the election
/// timeout (no timers, no messages), resumed after another was elected, still believes
/// it leads; the first write its backlog hands it is refused ("not primary") and it
/// steps down then, before its own timer runs, so it never takes a write it cannot
/// commit; afterwards the set has one primary and the write is nowhere.
#[test]
fn paused_primary_resumes_stale_and_takes_no_write() {
    let mut net = Net::new(3);
    net.run_for(Duration::from_secs(3));
    assert_eq!(net.primaries(), [0]);
    net.paused = Some(0);
    net.run_for(Duration::from_secs(20));
    let new = *net
        .primaries()
        .iter()
        .find(|p| **p != 0)
        .expect("an election");
    assert_eq!(
        net.members[0].role(),
        MemberRole::Primary,
        "it still believes"
    );
    net.paused = None;
    assert_eq!(net.write(0, "stale"), Err("not primary".to_string()));
    assert_eq!(net.members[0].role(), MemberRole::Secondary);
    let stepped_down = net.members[0].drain_events();
    assert!(
        stepped_down
            .iter()
            .any(|e| matches!(e, RsEvent::SteppedDown { term: 1, .. })),
        "{stepped_down:?}"
    );
    net.run_for(Duration::from_secs(3));
    assert_eq!(net.primaries(), [new]);
    assert_eq!(net.members[0].term(), net.members[new].term());
    assert!(net.members.iter().all(|m| m.password("stale").is_none()));
}
