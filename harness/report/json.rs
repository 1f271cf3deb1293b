//! The JSON report for scripts: a view of [`Outcome`] with a published schema.
//!
//! `harness run --format json` prints [`Report`]; `harness schema` prints its JSON Schema
//! (generated from these types with schemars, committed as `docs/report.schema.json`).
//! Every section is an object with named fields, every duration an integer with its unit
//! in its name (`_ms`, `_us`), and each timeline entry an event typed by its `kind` with
//! the text report's line beside it. Bulky lists (every signup id of every member) are
//! left out unless asked for ([`Options::signups`]).
//!
//! [`SCHEMA_VERSION`] changes whenever a script written against the previous version
//! could misread a report: a field removed or renamed, a type or unit changed, a `kind`
//! renamed or its fields changed. Adding an optional field, a new `kind` or a new
//! section does not change it (scripts ignore what they do not know).

use schemars::JsonSchema;
use serde::Serialize;

use super::outcome::{Happened, Host, Outcome, Totals, Window};
use super::outside::{ClockEnd, EgressTally};
use super::verdicts::Phrased;

/// The version of the report's shape (see the module's documentation for when it changes).
pub const SCHEMA_VERSION: u32 = 1;

/// What the JSON report includes beyond its default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Every member's signup ids (`members[].signups`); without it, only their count.
    pub signups: bool,
}

/// The JSON report of one run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Report {
    /// The report's shape version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    pub run: RunInfo,
    pub hosts: Vec<Host>,
    /// Significant events by time: each typed by `kind`, with the text report's line.
    pub timeline: Vec<TimelineEvent>,
    /// Requests by start time, in windows of `window_ms`.
    pub window_ms: u64,
    pub windows: Vec<Window>,
    pub totals: Totals,
    pub members: Vec<Member>,
    /// Entries the replica set rolled back over the run.
    pub rolled_back: u64,
    pub mail: Mail,
    pub front: Front,
    pub outside: Outside,
    /// The dev/test instance and its boundary; absent when it is not deployed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<super::outside::DevSummary>,
    /// The egress's decisions against consent, by purpose; absent when the topology
    /// declares no consent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<super::consent::ConsentSummary>,
    /// Every verdict, as the report phrases it.
    pub verdicts: Vec<Phrased>,
    /// True when every verdict holds (the exit code is 0).
    pub passed: bool,
    /// The command that replays this run (the scenario file and the seed), with the
    /// harness's version after a `#`; `harness run` always gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reproduce: Option<String>,
}

/// The run: what was simulated and how.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunInfo {
    pub scenario: String,
    pub description: String,
    pub seed: u64,
    /// Length of the load (the run drains in-flight requests after it).
    pub duration_ms: u64,
    pub tick_us: u64,
    pub topology: String,
    pub rate_per_s: f64,
}

/// One timeline entry: `{at_ms, host, kind, ...fields, text}`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TimelineEvent {
    /// Simulated time since the run began.
    pub at_ms: u64,
    /// The host that recorded it (`scenario` for the scenario's steps).
    pub host: String,
    /// Its `kind` and fields.
    #[serde(flatten)]
    pub what: Happened,
    /// The line the text report prints.
    pub text: String,
}

/// A replica-set member at the end of the run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Member {
    pub node: String,
    /// False when the node was down at the end.
    pub up: bool,
    /// `primary`, `secondary` or `candidate`.
    pub role: String,
    pub term: u64,
    pub last_index: u64,
    pub last_term: u64,
    /// Signups in its log.
    pub signup_count: usize,
    /// Every signup id, in log order: only with `--signups`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signups: Option<Vec<String>>,
}

/// Production's verification mail over the run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Mail {
    pub sent: usize,
    pub failed_attempts: usize,
    /// The longest wait from queue to delivery.
    pub longest_wait_ms: u64,
    /// Messages the relay accepted more than once.
    pub duplicates: usize,
}

/// The published side: the balancer, its clients, denials, TLS failures, the connector.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Front {
    /// `https (TLS offloaded at the lb)`, `tcp, PROXY v2, TLS at the nodes`, ...
    pub mode: String,
    /// Requests the nodes served from outside, by the client address they took.
    pub clients: Vec<Client>,
    /// Connections and requests the balancer turned away.
    pub denied: Vec<Denied>,
    /// TCP-mode connections no backend took.
    pub unrelayed: usize,
    /// Users' requests whose TLS handshake failed, by reason.
    pub tls_failures: Vec<TlsFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector: Option<super::front::ConnectorSummary>,
}

/// A client address as the nodes took it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Client {
    pub address: String,
    /// Where it was read: `x-forwarded-for`, `proxy v1`, `proxy v2` or `connection`.
    pub via: String,
    pub requests: usize,
}

/// What the balancer refused, from whom, how often.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Denied {
    pub client: String,
    pub what: String,
    pub count: usize,
}

/// TLS handshakes that failed for one reason.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TlsFailure {
    pub reason: String,
    pub requests: usize,
}

/// Clocks, NTP, tokens, the egress and the nodes' calls out.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Outside {
    pub clocks: Vec<ClockEnd>,
    pub tokens_issued: usize,
    pub tokens_checked: usize,
    pub tokens_rejected: usize,
    pub egress: Vec<EgressTally>,
    /// The nodes' periodic calls out, by purpose.
    pub outbound: Vec<Outbound>,
}

/// One purpose of the nodes' calls out and how they went.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Outbound {
    pub purpose: String,
    pub ok: usize,
    pub failed: usize,
}

impl Report {
    /// The JSON view of `o`.
    pub fn new(o: &Outcome, options: Options) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            run: RunInfo {
                scenario: o.scenario.clone(),
                description: o.description.clone(),
                seed: o.seed,
                duration_ms: o.duration_ms,
                tick_us: o.tick_us,
                topology: o.topology.clone(),
                rate_per_s: o.rate_per_s,
            },
            hosts: o.host_details.clone(),
            timeline: o
                .timeline
                .iter()
                .map(|l| TimelineEvent {
                    at_ms: l.at_ms,
                    host: l.host.clone(),
                    what: l.what.clone(),
                    text: l.text.clone(),
                })
                .collect(),
            window_ms: u64::try_from(super::outcome::WINDOW.as_millis()).unwrap_or(u64::MAX),
            windows: o.windows.clone(),
            totals: o.totals.clone(),
            members: members(o, options),
            rolled_back: o.rolled_back,
            mail: Mail {
                sent: o.mail_sent,
                failed_attempts: o.mail_failed_attempts,
                longest_wait_ms: o.mail_longest_wait_ms,
                duplicates: o.mail_duplicates,
            },
            front: front(&o.front),
            outside: outside(&o.outside),
            dev: o.dev.clone(),
            consent: o.consent.clone(),
            verdicts: o.verdicts.clone(),
            passed: o.passed,
            reproduce: None,
        }
    }
}

fn members(o: &Outcome, options: Options) -> Vec<Member> {
    o.members
        .iter()
        .map(|m| Member {
            node: m.node.clone(),
            up: m.up,
            role: m.role.clone(),
            term: m.term,
            last_index: m.last_index,
            last_term: m.last_term,
            signup_count: m.signups.len(),
            signups: options.signups.then(|| m.signups.clone()),
        })
        .collect()
}

fn front(f: &super::front::FrontSummary) -> Front {
    Front {
        mode: f.mode.clone(),
        clients: f
            .clients
            .iter()
            .map(|(address, via, requests)| Client {
                address: address.clone(),
                via: via.clone(),
                requests: *requests,
            })
            .collect(),
        denied: f
            .denied
            .iter()
            .map(|(client, what, count)| Denied {
                client: client.clone(),
                what: what.clone(),
                count: *count,
            })
            .collect(),
        unrelayed: f.unrelayed,
        tls_failures: f
            .tls_failures
            .iter()
            .map(|(reason, requests)| TlsFailure {
                reason: reason.clone(),
                requests: *requests,
            })
            .collect(),
        connector: f.connector.clone(),
    }
}

fn outside(o: &super::outside::OutsideSummary) -> Outside {
    Outside {
        clocks: o.clocks.clone(),
        tokens_issued: o.tokens_issued,
        tokens_checked: o.tokens_checked,
        tokens_rejected: o.tokens_rejected,
        egress: o.egress.clone(),
        outbound: o
            .outbound
            .iter()
            .map(|(purpose, ok, failed)| Outbound {
                purpose: purpose.clone(),
                ok: *ok,
                failed: *failed,
            })
            .collect(),
    }
}

/// The report as pretty JSON.
pub fn render(o: &Outcome, options: Options) -> String {
    serde_json::to_string_pretty(&Report::new(o, options)).unwrap_or_else(|e| {
        // Serializing plain data cannot fail; say so rather than panic if it ever did.
        format!("{{\"error\": \"the report could not be serialized: {e}\"}}")
    })
}

/// The report as pretty JSON, with the command that replays the run (`reproduce`).
pub fn render_reproducible(o: &Outcome, options: Options, reproduce: &str) -> String {
    let mut report = Report::new(o, options);
    report.reproduce = Some(reproduce.to_string());
    serde_json::to_string_pretty(&report)
        .unwrap_or_else(|e| format!("{{\"error\": \"the report could not be serialized: {e}\"}}"))
}

/// The report's JSON Schema, pretty, as committed in `docs/report.schema.json`.
pub fn schema() -> String {
    let schema = schemars::schema_for!(Report);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the committed report schema lives.
    const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/report.schema.json");

    /// Proves the committed `docs/report.schema.json` is the one the types generate: a
    /// change to the report's shape must regenerate it (`harness schema > docs/...`).
    #[test]
    fn committed_schema_is_generated() {
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        assert!(
            committed == schema(),
            "docs/report.schema.json differs from the generated schema: run `cargo run -- schema > docs/report.schema.json` (and bump SCHEMA_VERSION if scripts could misread the new shape)"
        );
    }

    /// Proves the schema pins what scripts rely on: the version, hosts as objects, and
    /// timeline entries with `at_ms`, `host` and `text` required.
    #[test]
    fn schema_requires_version_hosts_and_timeline_fields() {
        let schema: serde_json::Value = serde_json::from_str(&schema()).unwrap_or_default();
        let required = |path: &str| -> Vec<String> {
            serde_json::from_value(schema.pointer(path).cloned().unwrap_or_default())
                .unwrap_or_default()
        };
        assert!(required("/required").contains(&"schema_version".to_string()));
        for field in ["name", "address", "role"] {
            assert!(required("/$defs/Host/required").contains(&field.to_string()));
        }
        let timeline = required("/$defs/TimelineEvent/required");
        for field in ["at_ms", "host", "text"] {
            assert!(timeline.contains(&field.to_string()), "{timeline:?}");
        }
    }
}
