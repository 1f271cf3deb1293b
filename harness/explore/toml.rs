//! Writing a scenario with explicit steps, as TOML, from the file it came from.
//!
//! The original document is edited (toml_edit), not rewritten: its topology, load,
//! expectations and comments stay as they were; `seed`, `duration` and
//! `load.rate_per_s` are set, `[nemesis]` is removed, and `[[steps]]` is replaced by the
//! given steps, each with its time and nodes explicit.

use std::time::Duration;

use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value, value};

use crate::faults::{
    Block, ClockStep, CrashMode, Disposition, HostFault, LinkFault, PartitionShape, Protocol,
};
use crate::scenario::spec::{Action, Step};

/// What a written scenario changes in its original.
#[derive(Debug, Clone, PartialEq)]
pub struct Edits {
    pub seed: u64,
    pub duration: Duration,
    pub rate_per_s: f64,
    pub steps: Vec<Step>,
}

/// `original` (a scenario file that loaded) with `edits` applied.
pub fn write(original: &str, edits: &Edits) -> String {
    let mut doc: DocumentMut = original
        .parse()
        .expect("the original is a scenario file that loaded");
    doc.remove("steps");
    doc.remove("nemesis");
    doc["seed"] = value(i64::try_from(edits.seed).unwrap_or(i64::MAX));
    doc["duration"] = value(time(edits.duration));
    let load = doc
        .entry("load")
        .or_insert_with(|| Item::Table(Table::new()));
    if let Some(load) = load.as_table_like_mut() {
        load.insert("rate_per_s", value(edits.rate_per_s));
    }
    let mut steps = ArrayOfTables::new();
    for step in &edits.steps {
        steps.push(step_table(step));
    }
    if !steps.is_empty() {
        doc.insert("steps", Item::ArrayOfTables(steps));
    }
    let mut text = doc.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// A duration as the scenario format reads it (`"34s 120ms"`).
pub fn time(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_string();
    }
    humantime::format_duration(d).to_string()
}

/// A signed clock offset as the format reads it (`"-10m"`, `"+3s 200ms"`).
fn signed(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "+" };
    format!("{sign}{}", time(Duration::from_nanos(ns.unsigned_abs())))
}

fn strings(list: &[String]) -> Value {
    Value::Array(list.iter().map(String::as_str).collect::<Array>())
}

fn inline(pairs: Vec<(&str, Value)>) -> Item {
    let mut t = InlineTable::new();
    for (k, v) in pairs {
        t.insert(k, v);
    }
    Item::Value(Value::InlineTable(t))
}

fn mode(d: Disposition) -> Value {
    match d {
        Disposition::Drop => "drop".into(),
        Disposition::Reject => "reject".into(),
    }
}

/// One `[[steps]]` table: `at` and the action.
fn step_table(step: &Step) -> Table {
    let mut t = Table::new();
    t["at"] = value(time(step.at));
    let (key, item) = action(&step.action);
    t[key] = item;
    t
}

fn action(action: &Action) -> (&'static str, Item) {
    let node = |n: &String| ("node", Value::from(n.as_str()));
    match action {
        Action::Crash { node: n, mode } => {
            let mode = match mode {
                CrashMode::PowerOff => "power-off",
                CrashMode::Process => "process",
            };
            ("crash", inline(vec![node(n), ("mode", mode.into())]))
        }
        Action::Restart { node: n } => ("restart", inline(vec![node(n)])),
        Action::Host(HostFault::Slow { node: n, factor }) => {
            ("slow", inline(vec![node(n), ("factor", (*factor).into())]))
        }
        Action::Host(fault) => (fault.verb(), inline(vec![("node", fault.node().into())])),
        Action::Heal => ("heal", inline(Vec::new())),
        Action::Unblock { id } => ("unblock", inline(vec![("id", id.as_str().into())])),
        Action::Block(b) => ("block", block(b)),
        Action::Link(l) => ("link", link(l)),
        Action::Ssh(session) => ("ssh", ssh(session)),
        Action::Clock { node: n, change } => {
            let (k, v) = match change {
                ClockStep::Offset(ns) => ("offset", signed(*ns)),
                ClockStep::Jump(ns) => ("jump", signed(*ns)),
                ClockStep::Drift(ppb) => ("drift", format!("{}ppm", *ppb as f64 / 1000.0)),
            };
            ("clock", inline(vec![node(n), (k, v.into())]))
        }
        Action::Service(s) => service(s),
        Action::Partition(p) => {
            let m = ("mode", mode(p.disposition));
            match &p.shape {
                PartitionShape::Isolate { node: n, .. } => ("isolate", inline(vec![node(n), m])),
                PartitionShape::Bridge { node: n, .. } => ("bridge", inline(vec![node(n), m])),
                PartitionShape::Split { groups } => {
                    let groups: Array = groups.iter().map(|g| strings(g)).collect();
                    ("split", inline(vec![("groups", Value::Array(groups)), m]))
                }
                PartitionShape::OneWay { from, to } => (
                    "one_way",
                    inline(vec![("from", strings(from)), ("to", strings(to)), m]),
                ),
            }
        }
    }
}

/// A service step as the scenario writes it: `dns = { answer = "servfail" }`,
/// `lb = { drain = "node-2" }`.
fn service(s: &crate::faults::service::ServiceStep) -> (&'static str, Item) {
    use crate::faults::service::{DnsAnswer, ServiceStep, SmtpAnswer};
    match s {
        ServiceStep::Dns(answer) => {
            let mut pairs = vec![("answer", Value::from(answer.word()))];
            if let DnsAnswer::WrongAddress { address } = answer {
                pairs.push(("address", address.to_string().into()));
            }
            ("dns", inline(pairs))
        }
        ServiceStep::Smtp(answer) => {
            let mut pairs = vec![("answer", Value::from(answer.word()))];
            if let SmtpAnswer::Slow { .. } = answer {
                pairs.push(("delay", time(answer.delay()).into()));
            }
            ("smtp", inline(pairs))
        }
        ServiceStep::Drain { node } => ("lb", inline(vec![("drain", node.as_str().into())])),
        ServiceStep::Ready { node } => ("lb", inline(vec![("ready", node.as_str().into())])),
        ServiceStep::Checks(change) => {
            let mut pairs = Vec::new();
            if let Some(ms) = change.interval_ms {
                pairs.push(("interval", time(Duration::from_millis(ms)).into()));
            }
            if let Some(rise) = change.rise {
                pairs.push(("rise", i64::from(rise).into()));
            }
            if let Some(fall) = change.fall {
                pairs.push(("fall", i64::from(fall).into()));
            }
            ("lb", inline(pairs))
        }
        ServiceStep::Egress(change) => {
            let mut pairs = Vec::new();
            if let Some(allow) = &change.allow {
                pairs.push(("allow", strings(allow)));
            }
            if let Some(exception) = change.exception {
                pairs.push(("exception", exception.into()));
            }
            ("egress", inline(pairs))
        }
    }
}

/// A link step as a file writes it: its ends, and its settings or `clear = true`.
fn link(l: &LinkFault) -> Item {
    let mut pairs = vec![("between", strings(&l.between))];
    if !l.and.is_empty() {
        pairs.push(("and", strings(&l.and)));
    }
    let Some(i) = l.impairment else {
        pairs.push(("clear", true.into()));
        return inline(pairs);
    };
    let ms = |v: u64| Value::from(format!("{v}ms"));
    pairs.push(("latency", ms(i.latency_ms)));
    pairs.push(("jitter", ms(i.jitter_ms)));
    pairs.push(("loss", i.loss.into()));
    if let Some(kb) = i.bandwidth_kb_per_s {
        pairs.push(("bandwidth_kb_per_s", (kb as i64).into()));
    }
    inline(pairs)
}

fn block(b: &Block) -> Item {
    let ports: Array = b.ports.iter().map(|p| i64::from(*p)).collect();
    let protocol = match b.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Any => "any",
    };
    inline(vec![
        ("id", b.id.as_str().into()),
        ("from", strings(&b.from)),
        ("to", strings(&b.to)),
        ("ports", Value::Array(ports)),
        ("protocol", protocol.into()),
        ("action", mode(b.disposition)),
        ("both_ways", b.both_ways.into()),
    ])
}

/// `ssh = { from, to, duration }` as the step wrote it.
fn ssh(session: &crate::faults::access::SshSession) -> Item {
    inline(vec![
        ("from", session.from.as_str().into()),
        ("to", session.to.as_str().into()),
        ("duration", format!("{}ms", session.duration_ms).into()),
    ])
}
