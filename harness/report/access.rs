//! How the report tells remote maintenance access: every SSH attempt in the timeline
//! (asked, accepted or refused and why, how the session ended), and the access
//! verdict's words, from the event log alone.

use std::time::Duration;

use crate::checkers::access::{Breach, Broken, Sessions};
use crate::duration::{clock, span};
use crate::events::access::{SshClose, SshEvent};
use crate::faults::access::SshRefusal;

/// The timeline's words for one SSH event.
pub fn timeline_line(event: &SshEvent) -> String {
    match event {
        SshEvent::Asked(s) => format!(
            "ssh {} -> {} asked, for a {} session",
            s.from,
            s.to,
            span(Duration::from_millis(s.duration_ms))
        ),
        SshEvent::Refused { from, reason, .. } => {
            format!("ssh from {from} refused: {}", refusal(*reason))
        }
        SshEvent::Opened {
            from,
            window: Some(w),
            ..
        } => format!("ssh session from {from} accepted in maintenance window {w}"),
        SshEvent::Opened {
            from, window: None, ..
        } => format!(
            "ssh session from {from} accepted outside every maintenance window (access left enabled)"
        ),
        SshEvent::Closed {
            from,
            after_ms,
            why,
            ..
        } => format!(
            "ssh session from {from} ended after {}: {}",
            span(Duration::from_millis(*after_ms)),
            close(*why)
        ),
        SshEvent::Failed { to, error } => format!("ssh to {to} failed: {error}"),
    }
}

fn refusal(reason: SshRefusal) -> &'static str {
    match reason {
        SshRefusal::NotThroughJumphost => "not through the jumphost",
        SshRefusal::NoWindow => "no maintenance window declared",
        SshRefusal::OutsideWindow => "outside the maintenance windows",
    }
}

fn close(why: SshClose) -> &'static str {
    match why {
        SshClose::Logout => "logged out",
        SshClose::WindowEnded => "its maintenance window ended, access disabled",
        SshClose::Lost => "connection lost",
    }
}

/// The access expectation as the report states it.
pub const EXPECTATION: &str = "ssh only through the jumphost, inside a maintenance window";

/// What the run's sessions came to, in words.
pub fn observed(s: &Sessions) -> String {
    let counts = format!(
        "{} asked, {} sessions opened, {} refused",
        s.asked, s.opened, s.refused
    );
    match &s.breaches {
        None => counts,
        Some(b) => format!(
            "{counts}; {} breach(es), first: {}",
            b.count,
            breach(&b.first)
        ),
    }
}

fn breach(b: &Breach) -> String {
    let session = format!("{} -> {} opened at {}", b.from, b.to, clock(b.at));
    match b.rule {
        Broken::NotThroughJumphost => format!("{session}, not through the jumphost"),
        Broken::OutsideWindow => format!("{session}, outside every maintenance window"),
        Broken::PastWindow { end } => {
            format!(
                "{session}, still open after its window ended at {}",
                clock(end)
            )
        }
    }
}
