//! The event log's words for the monitoring host (`services::monitor`): what it polls,
//! the alerts it raises and clears, and every distinct answer it received (for the
//! checker that monitoring answers carry no user data, `checkers::monitoring`).

use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

/// One thing the monitoring host did or saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "monitor", rename_all = "snake_case")]
pub enum MonitorEvent {
    /// The monitor started polling `nodes`: `/testall` and `endpoints` each round, a
    /// round every `interval`; an alert after `raise_after` failed polls in a row,
    /// cleared after `clear_after` passed ones.
    Started {
        nodes: Vec<String>,
        endpoints: Vec<String>,
        #[serde(rename = "interval_ms", serialize_with = "super::as_ms")]
        #[schemars(with = "u64")]
        interval: Duration,
        raise_after: u32,
        clear_after: u32,
    },
    /// An answer from `endpoint` of `node` unlike the last one recorded from it (the
    /// first one, and each change of status or body): so the log holds every distinct
    /// body the monitor received.
    Answer {
        node: String,
        endpoint: String,
        status: u16,
        body: String,
    },
    /// `check` of `node` failed `raise_after` polls in a row: an alert, with the last
    /// failure's words. `check` is `"unreachable"` (no HTTP answer at all),
    /// `"testall"` or a status endpoint's subsystem (`"db"`).
    Raised {
        node: String,
        check: String,
        detail: String,
    },
    /// `check` of `node` passed `clear_after` polls in a row: its alert is cleared.
    Cleared { node: String, check: String },
}
