//! What the world lends the checkers while a run goes on: plain views of the replica set's
//! members and of what the fault table says about the primary. The world gathers them;
//! `checkers::convergence` judges them. Nothing here decides anything.

use crate::services::replica_set::OpLog;

/// One member that is up, as the convergence checker reads it.
#[derive(Debug, Clone, Copy)]
pub struct MemberView<'a> {
    pub name: &'a str,
    /// True when it holds the primary role.
    pub primary: bool,
    pub term: u64,
    /// The primary it follows (itself when primary).
    pub follows: Option<&'a str>,
    pub log: &'a OpLog,
    /// When its oldest committed, unsent verification mail was queued (ms).
    pub oldest_pending_mail_ms: Option<u64>,
}

/// The current primary, as the fault table sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrimarySeen {
    /// True when its host is down.
    pub down: bool,
    /// True when a `pause` step has its host stopped.
    pub paused: bool,
    /// The nodes it reaches both ways on the database port, itself included (only those
    /// that are up).
    pub reaches: usize,
    /// The replica set's members.
    pub members: usize,
}
