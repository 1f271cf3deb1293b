//! A member's log and the users it holds, compact: what MongoDB keeps in its oplog and its
//! users collection, in two allocations that grow with the run instead of one or two
//! small ones per entry.
//!
//! A member keeps every entry for the whole run (the oplog's size limit is not modelled):
//! at the reference rate a signup and its verification mail are two entries a second, on
//! every member. Kept as [`Entry`] values with their own `String`s, plus a users map of
//! `String`s, an hour held about 14 MB per member in some 400,000 small allocations,
//! scattered among the connections' short-lived ones so that glibc's heap was half empty
//! and could not give it back. Here an entry is a [`Row`] of 40 bytes, its text (user and
//! password, end to end) appended to one `String`, and the users are a hash table of row
//! numbers whose keys are read from that text ([`Users`]). [`OpLog::get`] lends an entry
//! as an [`EntryRef`]; [`OpLog::entries`] rebuilds owned [`Entry`]s for a message.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::ops::Range;

use hashbrown::HashTable;

use super::{Entry, Op, Term};

/// What an entry does, without its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    NewPrimary,
    Signup,
    MailSent,
}

/// One entry: its term, time and kind, its text by position in [`OpLog::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    term: Term,
    written_ms: u64,
    /// Where the entry's text starts (the user, then the password): text is appended in
    /// log order, so rows' starts never decrease.
    text_start: usize,
    user_len: u32,
    password_len: u32,
    kind: Kind,
}

/// An entry of the log, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    pub term: Term,
    /// When the primary wrote it (simulated time, ms).
    pub written_ms: u64,
    pub op: OpRef<'a>,
}

/// An [`Op`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpRef<'a> {
    NewPrimary,
    Signup { user: &'a str, password: &'a str },
    MailSent { user: &'a str },
}

impl EntryRef<'_> {
    /// The entry as a message carries it.
    pub fn to_entry(&self) -> Entry {
        let op = match self.op {
            OpRef::NewPrimary => Op::NewPrimary,
            OpRef::Signup { user, password } => Op::Signup {
                user: user.to_string(),
                password: password.to_string(),
            },
            OpRef::MailSent { user } => Op::MailSent {
                user: user.to_string(),
            },
        };
        Entry {
            term: self.term,
            written_ms: self.written_ms,
            op,
        }
    }
}

/// A member's log: entry `i` (from 0) is the one at index `i + 1`.
#[derive(Clone, Default)]
pub struct OpLog {
    rows: Vec<Row>,
    /// Every entry's text, end to end, in log order.
    text: String,
}

/// Two logs are equal when they hold the same entries.
impl PartialEq for OpLog {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for OpLog {}

impl std::fmt::Debug for OpLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A text's length as a row keeps it.
fn text_len(text: &str) -> u32 {
    // A request body is at most `http::MAX_BODY_BYTES` (64 KiB), so its strings are too.
    u32::try_from(text.len()).expect("an entry's strings come from bodies of at most 64 KiB")
}

impl OpLog {
    pub const fn new() -> Self {
        Self {
            rows: Vec::new(),
            text: String::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Entry `i` (from 0), if the log reaches it.
    pub fn get(&self, i: usize) -> Option<EntryRef<'_>> {
        self.rows.get(i).map(|row| self.lend(row))
    }

    pub fn last(&self) -> Option<EntryRef<'_>> {
        self.rows.last().map(|row| self.lend(row))
    }

    pub fn iter(&self) -> impl Iterator<Item = EntryRef<'_>> {
        self.rows.iter().map(|row| self.lend(row))
    }

    /// Entries `range` (from 0), owned, for a message.
    pub fn entries(&self, range: Range<usize>) -> Vec<Entry> {
        self.rows[range]
            .iter()
            .map(|row| self.lend(row).to_entry())
            .collect()
    }

    /// The term of entry `i` (from 0), if the log reaches it.
    pub fn term(&self, i: usize) -> Option<Term> {
        self.rows.get(i).map(|row| row.term)
    }

    /// About how many bytes entry `i` takes in a message ([`Entry`]'s estimate).
    pub fn size_hint(&self, i: usize) -> usize {
        let row = &self.rows[i];
        super::ENTRY_OVERHEAD_BYTES + row.user_len as usize + row.password_len as usize
    }

    pub fn push(&mut self, entry: &Entry) {
        let text_start = self.text.len();
        let (kind, user, password) = match &entry.op {
            Op::NewPrimary => (Kind::NewPrimary, "", ""),
            Op::Signup { user, password } => (Kind::Signup, user.as_str(), password.as_str()),
            Op::MailSent { user } => (Kind::MailSent, user.as_str(), ""),
        };
        self.text.push_str(user);
        self.text.push_str(password);
        self.rows.push(Row {
            term: entry.term,
            written_ms: entry.written_ms,
            text_start,
            user_len: text_len(user),
            password_len: text_len(password),
            kind,
        });
    }

    /// Removes entries `at..` (from 0) and gives them back, in order.
    pub fn split_off(&mut self, at: usize) -> Vec<Entry> {
        let removed = self.entries(at..self.rows.len());
        if let Some(first) = self.rows.get(at) {
            self.text.truncate(first.text_start);
        }
        self.rows.truncate(at);
        removed
    }

    /// The user of entry `i` (from 0); empty for a new primary's entry.
    fn user(&self, i: usize) -> &str {
        let row = &self.rows[i];
        &self.text[row.text_start..row.text_start + row.user_len as usize]
    }

    fn lend(&self, row: &Row) -> EntryRef<'_> {
        let user_end = row.text_start + row.user_len as usize;
        let user = &self.text[row.text_start..user_end];
        let op = match row.kind {
            Kind::NewPrimary => OpRef::NewPrimary,
            Kind::Signup => OpRef::Signup {
                user,
                password: &self.text[user_end..user_end + row.password_len as usize],
            },
            Kind::MailSent => OpRef::MailSent { user },
        };
        EntryRef {
            term: row.term,
            written_ms: row.written_ms,
            op,
        }
    }
}

/// The users a member's data holds: each the signup entry that created it, found by name
/// through the log's text (a fixed-key hasher: the table is never iterated, so its order
/// could not leak into a run, but nothing here varies between processes either).
#[derive(Clone, Default)]
pub struct Users {
    /// Entry numbers (from 0) of the signups that created a user.
    signups: HashTable<u32>,
    hasher: BuildHasherDefault<DefaultHasher>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Users({})", self.signups.len())
    }
}

impl Users {
    /// The entry number of `user`'s signup, if the data holds the user.
    pub fn find(&self, log: &OpLog, user: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(user);
        self.signups
            .find(hash, |&i| log.user(i as usize) == user)
            .map(|&i| i as usize)
    }

    /// `user`'s password, if the data holds the user.
    pub fn password<'a>(&self, log: &'a OpLog, user: &str) -> Option<&'a str> {
        match log.get(self.find(log, user)?)?.op {
            OpRef::Signup { password, .. } => Some(password),
            OpRef::NewPrimary | OpRef::MailSent { .. } => None,
        }
    }

    /// Adds the user entry `i` (from 0, a signup of a user not yet held) created.
    pub fn insert(&mut self, log: &OpLog, i: usize) {
        let hasher = self.hasher.clone();
        let hash = hasher.hash_one(log.user(i));
        let entry = u32::try_from(i).expect("a member's log holds fewer than 2^32 entries");
        self.signups
            .insert_unique(hash, entry, |&j| hasher.hash_one(log.user(j as usize)));
    }

    pub fn clear(&mut self) {
        self.signups.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signup(term: Term, user: &str, password: &str) -> Entry {
        Entry {
            term,
            written_ms: term * 10,
            op: Op::Signup {
                user: user.to_string(),
                password: password.to_string(),
            },
        }
    }

    fn mail(term: Term, user: &str) -> Entry {
        Entry {
            term,
            written_ms: 5,
            op: Op::MailSent {
                user: user.to_string(),
            },
        }
    }

    fn new_primary(term: Term) -> Entry {
        Entry {
            term,
            written_ms: 1,
            op: Op::NewPrimary,
        }
    }

    #[test]
    fn entries_come_back_as_they_were_pushed() {
        let pushed = vec![
            new_primary(1),
            signup(1, "ann", "secret"),
            mail(1, "ann"),
            signup(2, "bob", ""),
        ];
        let mut log = OpLog::default();
        for e in &pushed {
            log.push(e);
        }
        assert_eq!(log.len(), 4);
        assert_eq!(log.entries(0..4), pushed);
        assert_eq!(log.iter().map(|e| e.to_entry()).collect::<Vec<_>>(), pushed);
        assert_eq!(
            log.get(2).map(|e| e.op),
            Some(OpRef::MailSent { user: "ann" })
        );
        assert_eq!(log.term(3), Some(2));
        assert_eq!(log.term(4), None);
        assert_eq!(log.last().map(|e| e.written_ms), Some(20));
    }

    #[test]
    fn split_off_gives_back_the_tail_and_frees_its_text() {
        let mut log = OpLog::default();
        for e in [
            signup(1, "ann", "pw1"),
            signup(2, "bob", "pw2"),
            mail(2, "bob"),
        ] {
            log.push(&e);
        }
        let removed = log.split_off(1);
        assert_eq!(removed, vec![signup(2, "bob", "pw2"), mail(2, "bob")]);
        assert_eq!(log.len(), 1);
        assert_eq!(log.text, "annpw1");
        log.push(&signup(3, "cy", "x"));
        assert_eq!(
            log.entries(0..2),
            vec![signup(1, "ann", "pw1"), signup(3, "cy", "x")]
        );
        assert!(log.split_off(2).is_empty());
    }

    #[test]
    fn users_are_found_by_name_with_their_password() {
        let mut log = OpLog::default();
        let mut users = Users::default();
        for (i, name) in ["ann", "annie", "an"].into_iter().enumerate() {
            log.push(&signup(1, name, &format!("{name}-pw")));
            users.insert(&log, i);
        }
        log.push(&mail(1, "ann"));
        assert_eq!(users.password(&log, "annie"), Some("annie-pw"));
        assert_eq!(users.password(&log, "an"), Some("an-pw"));
        assert_eq!(users.find(&log, "ann"), Some(0));
        assert_eq!(users.find(&log, "bob"), None);
        users.clear();
        assert_eq!(users.password(&log, "ann"), None);
    }
}
