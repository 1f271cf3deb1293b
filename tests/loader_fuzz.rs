//! Fuzzing the scenario loader (issue 12): the shipped scenarios in `scenarios/` and the
//! fixtures of `harness check` and `harness serve` ([`CORPUS`]), mutated, fed to the
//! loader (`scenario::load::decode`, then `scenario::parse`) and, when one loads, to the
//! static preflight (`harness::check::check_text`).
//!
//! Mutations, one to [`MAX_MUTATIONS`] per case: bit flips; deletions; insertions of
//! interesting bytes and tokens (CR, NUL, a BOM, invalid UTF-8, quotes, brackets, table
//! headers); values replaced by huge, negative and non-finite numbers and by durations at
//! and one step past the edges of every documented range ([`edge_values`]); and lines
//! copied elsewhere, which duplicates keys and tables.
//!
//! Properties of every input ([`judge`]):
//! - no panic;
//! - an error has a position inside the file: `line` and `column` at least 1, and they
//!   are the line and column its byte `offset` falls on;
//! - an error says what was expected: its `expected` field is not empty and ends the
//!   message. The field is the loader's typed answer to "what was expected here" (the
//!   clause of the message from its first `expected` outside quoted values, see
//!   `ScenarioError::expected`), so the test reads a field and matches no English;
//! - an error is one line.
//!
//! A second test walks the edges of every range the loader checks ([`Edge`]): the exact
//! minimum and maximum load, one step past fails naming the key.
//!
//! Cases: [`CI_CASES`] by default, [`LONG_CASES`] with `HARNESS_LONG=1`. The random seed
//! is fixed ([`SEED`]), so CI runs the same cases every time; `HARNESS_FUZZ_SEED=N` runs
//! others. A failure prints the seed and the shrunk input as an escaped byte string.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use harness::scenario::{self, ScenarioError};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

/// Cases in CI (about 3 s in the test profile, preflight included; measured in the
/// closing note of issue 12).
const CI_CASES: u32 = 10_000;
/// Cases with `HARNESS_LONG=1` (about a minute).
const LONG_CASES: u32 = 200_000;
/// The directories whose `.toml` files are mutated.
const CORPUS: &[&str] = &["scenarios", "tests/fixtures/check", "tests/fixtures/serve"];
/// The seed CI runs with.
const SEED: u64 = 12;
/// Most mutations applied to one scenario in one case.
const MAX_MUTATIONS: usize = 4;
/// Longest run of bytes one deletion removes.
const MAX_DELETE_BYTES: usize = 32;

/// Bytes and tokens worth inserting anywhere.
const TOKENS: &[&[u8]] = &[
    b"\r",
    b"\r\n",
    b"\n",
    b"\0",
    b"\t",
    b"\x7f",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    "é".as_bytes(),
    "\u{2028}".as_bytes(),
    b"\"",
    b"'",
    b"\"\"\"",
    b"\\",
    b"\\u0000",
    b"[",
    b"]",
    b"[[",
    b"{",
    b"}",
    b"=",
    b",",
    b".",
    b"#",
    b" ",
    b"[steps]\n",
    b"[[steps]]\nat = \"1s\"\n",
    b"[topology]\n",
    b"[topology.addresses]\n\"node[x\" = [\"10.0.1.99\"]\n",
    b"[topology.replica_set.priority]\n\"a.b[c]\" = 1\n",
    b"[[topology.firewall]]\n",
    b"[expect]\n",
    b"[load]\n",
    b"x = 1\n",
    b"a.b.c = 1\n",
];

/// Integers at and past the edges of the types and of the documented ranges.
const EDGE_INTEGERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "7",
    "8",
    "16",
    "100",
    "101",
    "1024",
    "1025",
    "2000",
    "2001",
    "65535",
    "65536",
    "100000",
    "100001",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551616",
    "99999999999999999999999999999",
];

/// Floats at and past the edges of the documented ranges, and the non-finite ones.
const EDGE_FLOATS: &[&str] = &[
    "0.0",
    "-0.0",
    "1.0",
    "1.0000001",
    "0.9999999",
    "100.0",
    "100.00001",
    "2000.0",
    "2000.0000001",
    "1e308",
    "1e309",
    "-1e309",
    "5e-324",
    "nan",
    "inf",
    "-inf",
];

/// Values of other types, unknown names, and drifts and durations that are malformed or
/// at and past the edges of their range.
const EDGE_OTHERS: &[&str] = &[
    "true",
    "\"\"",
    "[]",
    "{}",
    "[[]]",
    "\"node-9\"",
    "\"users\"",
    "\"lb\"",
    "\"100000ppm\"",
    "\"100001ppm\"",
    "\"-100000ppm\"",
    "\"nanppm\"",
    "\"infppm\"",
    "\"1e400ppm\"",
    "\"-\"",
    "\"+\"",
    "\"--1s\"",
    "\"1s 1s\"",
    "\"1 parsec\"",
];

/// The documented duration bounds, in milliseconds, besides 100 µs and [`Duration::MAX`].
const EDGE_BOUNDS_MS: &[u64] = &[
    0,
    1,
    100,
    1000,
    60_000,
    3_600_000,
    86_400_000,
    3_153_600_000_000,
    u64::MAX / 1000,
];

/// Values in one place: numbers at and past the edges of the types and of the documented
/// ranges, and durations one nanosecond either side of every documented bound.
fn edge_values() -> Vec<String> {
    let literals = [EDGE_INTEGERS, EDGE_FLOATS, EDGE_OTHERS].concat();
    let mut values: Vec<String> = literals.iter().map(|n| (*n).to_string()).collect();
    let mut durations = vec![Duration::from_micros(100), Duration::MAX];
    durations.extend(EDGE_BOUNDS_MS.iter().map(|ms| Duration::from_millis(*ms)));
    for d in durations {
        let around = [
            d.checked_sub(Duration::from_nanos(1)),
            Some(d),
            d.checked_add(Duration::from_nanos(1)),
        ];
        for d in around.into_iter().flatten() {
            let text = humantime::format_duration(d).to_string();
            values.push(format!("{text:?}"));
            values.push(format!("\"-{text}\""));
        }
    }
    values.push(format!("\"{}s\"", u64::MAX));
    values.push(format!("\"{}s\"", u128::from(u64::MAX) + 1));
    values
}

/// One change to a scenario's bytes; positions are relative to its length when applied.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Delete(Index, usize),
    Insert(Index, Index),
    /// Replace the value after a `=` by one of [`edge_values`].
    Value(Index, Index),
    /// Copy the line at the first index to before the line at the second.
    CopyLine(Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0..8u8).prop_map(|(i, bit)| Mutation::Flip(i, bit)),
        (any::<Index>(), 1..=MAX_DELETE_BYTES).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::Insert(i, t)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, v)| Mutation::Value(i, v)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::CopyLine(a, b)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation, values: &[String]) {
    let len = bytes.len().max(1);
    match m {
        Mutation::Flip(i, bit) => {
            if !bytes.is_empty() {
                let at = i.index(len);
                bytes[at] ^= 1 << bit;
            }
        }
        Mutation::Delete(i, n) => {
            let at = i.index(len).min(bytes.len());
            let end = (at + n).min(bytes.len());
            bytes.drain(at..end);
        }
        Mutation::Insert(i, t) => {
            let at = i.index(len + 1).min(bytes.len());
            let token = TOKENS[t.index(TOKENS.len())];
            bytes.splice(at..at, token.iter().copied());
        }
        Mutation::Value(i, v) => {
            let starts: Vec<usize> = (0..bytes.len().saturating_sub(1))
                .filter(|&k| bytes[k..].starts_with(b"= "))
                .map(|k| k + 2)
                .collect();
            if starts.is_empty() {
                return;
            }
            let start = starts[i.index(starts.len())];
            let end = bytes[start..]
                .iter()
                .position(|b| b",}]\n#".contains(b))
                .map_or(bytes.len(), |p| start + p);
            let value = values[v.index(values.len())].as_bytes();
            bytes.splice(start..end, value.iter().copied());
        }
        Mutation::CopyLine(a, b) => {
            let lines: Vec<Vec<u8>> = bytes
                .split_inclusive(|b| *b == b'\n')
                .map(<[u8]>::to_vec)
                .collect();
            if lines.is_empty() {
                return;
            }
            let line = lines[a.index(lines.len())].clone();
            let to = b.index(lines.len());
            let at: usize = lines[..to].iter().map(Vec::len).sum();
            bytes.splice(at..at, line);
        }
    }
}

/// The properties of one loader error on `bytes`; `Err` says which fails.
fn judge_error(e: &ScenarioError, bytes: &[u8]) -> Result<(), String> {
    if e.line < 1 || e.column < 1 {
        return Err(format!("no position: {e}"));
    }
    if e.offset > bytes.len() {
        return Err(format!(
            "offset {} past the end ({}): {e}",
            e.offset,
            bytes.len()
        ));
    }
    let before = String::from_utf8_lossy(&bytes[..e.offset]);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    if (line, column) != (e.line, e.column) {
        return Err(format!(
            "offset {} is at {line}:{column}, not {}:{}: {e}",
            e.offset, e.line, e.column
        ));
    }
    // The loader cuts `expected` from the message's own "expected ..." clause (empty when
    // there is none), so it is non-empty exactly when the message says what was expected.
    if e.expected.trim().is_empty() {
        return Err(format!("does not say what was expected: {e}"));
    }
    if e.to_string().lines().count() != 1 {
        return Err(format!("not one line: {e:?}"));
    }
    Ok(())
}

/// What became of one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    NotUtf8,
    Refused,
    Loaded,
}

/// Loads `bytes` as `path` and, when it loads, checks it; `Err` names a broken property
/// (a panic is caught by the runner).
fn judge(path: &Path, bytes: &[u8]) -> Result<Outcome, String> {
    let text = match scenario::load::decode(path, bytes) {
        Ok(text) => text,
        Err(e) => return judge_error(&e, bytes).map(|()| Outcome::NotUtf8),
    };
    match scenario::parse(path, text) {
        Err(e) => judge_error(&e, bytes).map(|()| Outcome::Refused),
        Ok(_) => match harness::check::check_text(path, text) {
            Ok(_) => Ok(Outcome::Loaded),
            Err(e) => judge_error(&e, bytes)
                .map(|()| Outcome::Loaded)
                .map_err(|m| format!("harness check: {m}")),
        },
    }
}

/// The corpus: the shipped scenarios, and the fixtures of `harness check` and `harness
/// serve` (topology-only files, and files naming certificate, key and trust files).
fn shipped() -> Vec<(PathBuf, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = CORPUS
        .iter()
        .flat_map(|dir| std::fs::read_dir(root.join(dir)).expect("a corpus directory"))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("a shipped scenario is readable");
            (p, bytes)
        })
        .collect()
}

/// Proves the loader, on thousands of mutations of the shipped scenarios, never panics
/// and refuses every file it refuses with an error that has a line and column inside the
/// file and says what was expected there (properties above); so does `harness check` on
/// every mutation that loads.
#[test]
fn mutated_scenarios_give_clear_errors() {
    let long = std::env::var("HARNESS_LONG").is_ok_and(|v| v == "1");
    let seed = std::env::var("HARNESS_FUZZ_SEED")
        .ok()
        .map_or(SEED, |s| s.parse().expect("HARNESS_FUZZ_SEED is a number"));
    let cases = if long { LONG_CASES } else { CI_CASES };
    println!("loader fuzz: seed {seed}, {cases} cases (HARNESS_FUZZ_SEED={seed} reruns them)");
    let files = shipped();
    assert!(files.len() >= 20, "the shipped scenarios are found");
    let values = edge_values();
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let strategy = (
        0..files.len(),
        prop::collection::vec(mutation(), 1..=MAX_MUTATIONS),
    );
    let started = Instant::now();
    let counts = std::sync::Mutex::new(std::collections::BTreeMap::<String, u32>::new());
    let outcome = runner.run(&strategy, |(file, mutations)| {
        let (path, original) = &files[file];
        let mut bytes = original.clone();
        for m in &mutations {
            apply(&mut bytes, m, &values);
        }
        let outcome = judge(path, &bytes).map_err(|why| {
            TestCaseError::fail(format!("{why}\ninput: {}", bytes.escape_ascii()))
        })?;
        let mut counts = counts.lock().expect("no case panics while holding it");
        *counts.entry(format!("{outcome:?}")).or_default() += 1;
        Ok(())
    });
    println!(
        "loader fuzz: {cases} cases in {:.1}s: {:?}",
        started.elapsed().as_secs_f64(),
        counts.lock().expect("the run is over")
    );
    match outcome {
        Ok(()) => {}
        Err(TestError::Fail(why, (file, mutations))) => panic!(
            "seed {seed}: {} with {mutations:?}: {why}",
            files[file].0.display()
        ),
        Err(TestError::Abort(why)) => panic!("seed {seed}: aborted: {why}"),
    }
}

/// One range the loader checks, at its edges: `toml` is the scenario after its
/// format_version, name and seed, with `{}` where the value goes; `min` and `max` load, and `below` and `above`, one
/// step past (a nanosecond, the next float, the next integer), fail with an error naming
/// `key` (or the companion key the bound is written against) on that key's line.
struct Edge {
    toml: String,
    key: String,
    min: String,
    max: String,
    below: Option<(String, String)>,
    above: Option<(String, String)>,
}

impl Edge {
    /// A range from `min` to `max` on `key`; the steps past are added with
    /// [`Edge::below`] and [`Edge::above`].
    fn new(key: &str, toml: String, min: String, max: String) -> Self {
        Edge {
            toml,
            key: key.to_string(),
            min,
            max,
            below: None,
            above: None,
        }
    }

    fn below(mut self, value: String) -> Self {
        self.below = Some((value, self.key.clone()));
        self
    }

    fn above(mut self, value: String) -> Self {
        self.above = Some((value, self.key.clone()));
        self
    }

    /// The error for the last step past given names another key: the bound is written
    /// against it.
    fn named(mut self, key: &str) -> Self {
        let last = self.above.as_mut().or(self.below.as_mut());
        last.expect("a step past was given").1 = key.to_string();
        self
    }
}

const NS: Duration = Duration::from_nanos(1);
const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);

/// A duration as a scenario writes it, quoted.
fn d(value: Duration) -> String {
    format!("{:?}", humantime::format_duration(value).to_string())
}

/// A float as TOML writes it (the shortest text that reads back the same).
fn f(value: f64) -> String {
    format!("{value:?}")
}

/// The smallest float below zero.
fn below_zero() -> String {
    f(-f64::from_bits(1))
}

/// A one-minute scenario's lines after its name and seed.
fn minute(lines: &[&str]) -> String {
    format!("duration = \"1m\"\n{}\n", lines.join("\n"))
}

/// A duration key of `[topology.TABLE]` from 0 (or 1ns) to 1h that no other key bounds.
fn plain_duration(table: &str, key: &str, zero_ok: bool) -> Edge {
    let header = format!("[topology.{table}]");
    let line = format!("{key} = {{}}");
    let min = if zero_ok { Duration::ZERO } else { NS };
    let edge = Edge::new(
        &format!("topology.{table}.{key}"),
        minute(&[&header, &line]),
        d(min),
        d(HOUR),
    );
    let edge = edge.above(d(HOUR + NS));
    if zero_ok {
        edge
    } else {
        edge.below(d(Duration::ZERO))
    }
}

/// The topology's duration keys that no other key bounds.
fn plain_durations() -> Vec<Edge> {
    [
        ("node", "login_time", true),
        ("node", "signup_time", true),
        ("node", "userinfo_time", true),
        ("node", "testall_time", true),
        ("node", "token_lifetime", false),
        ("node", "token_leeway", true),
        ("node", "update_interval", false),
        ("replica_set", "lag_threshold", false),
        ("replica_set", "contact_max", false),
        ("smtp", "retry_initial", false),
        ("smtp", "retry_max", false),
        ("smtp", "timeout", false),
        ("egress", "upstream_timeout", false),
        ("egress", "udp_idle", false),
        ("network", "lan_latency", true),
        ("network", "internet_latency", true),
    ]
    .into_iter()
    .map(|(table, key, zero_ok)| plain_duration(table, key, zero_ok))
    .collect()
}

/// The balancer's durations: a check's connect and response timeouts must end before the
/// next check is due, and the response timeout leaves room for a social login (1s) and a
/// forwarded write (2s).
fn lb_durations() -> Vec<Edge> {
    let lb = |first: &str, second: &str, key: &str| {
        minute(&["[topology.lb]", first, second, &format!("{key} = {{}}")])
    };
    let interval = "topology.lb.interval";
    vec![
        Edge::new(
            interval,
            lb("timeout = \"1ns\"", "connect_timeout = \"1ns\"", "interval"),
            d(2 * NS),
            d(HOUR),
        )
        .below(d(NS))
        .above(d(HOUR + NS)),
        Edge::new(
            "topology.lb.timeout",
            lb("interval = \"1h\"", "connect_timeout = \"1ns\"", "timeout"),
            d(NS),
            d(HOUR - NS),
        )
        .below(d(Duration::ZERO))
        .above(d(HOUR))
        .named(interval),
        Edge::new(
            "topology.lb.connect_timeout",
            lb("interval = \"1h\"", "timeout = \"1ns\"", "connect_timeout"),
            d(NS),
            d(HOUR - NS),
        )
        .below(d(Duration::ZERO))
        .above(d(HOUR))
        .named(interval),
        Edge::new(
            "topology.lb.response_timeout",
            minute(&[
                "[topology.node]",
                "social_timeout = \"1ns\"",
                "[topology.replica_set]",
                "write_timeout = \"1ns\"",
                "[topology.lb]",
                "response_timeout = {}",
            ]),
            d(2 * SECOND + NS),
            d(HOUR),
        )
        .below(d(2 * SECOND))
        .named("topology.replica_set.write_timeout")
        .above(d(HOUR + NS)),
        Edge::new(
            "topology.node.social_timeout",
            minute(&[
                "[topology.lb]",
                "response_timeout = \"1h\"",
                "[topology.node]",
                "social_timeout = {}",
            ]),
            d(NS),
            d(HOUR - SECOND),
        )
        .below(d(Duration::ZERO))
        .above(d(HOUR - SECOND + NS)),
    ]
}

/// The replica set's, NTP's, DNS's and the certificate's bounded durations.
fn bounded_durations() -> Vec<Edge> {
    let rs = |first: &str, key: &str| {
        minute(&["[topology.replica_set]", first, &format!("{key} = {{}}")])
    };
    let ntp = |first: &str, key: &str| minute(&["[topology.ntp]", first, &format!("{key} = {{}}")]);
    let century = 100 * 365 * 24 * HOUR;
    vec![
        Edge::new(
            "topology.replica_set.heartbeat",
            rs("election_timeout = \"1h\"", "heartbeat"),
            d(NS),
            d(HOUR - NS),
        )
        .below(d(Duration::ZERO))
        .above(d(HOUR)),
        Edge::new(
            "topology.replica_set.election_timeout",
            rs("heartbeat = \"1ns\"", "election_timeout"),
            d(2 * NS),
            d(HOUR),
        )
        .below(d(NS))
        .named("topology.replica_set.heartbeat")
        .above(d(HOUR + NS)),
        Edge::new(
            "topology.replica_set.write_timeout",
            minute(&[
                "[topology.lb]",
                "response_timeout = \"1h\"",
                "[topology.replica_set]",
                "write_timeout = {}",
            ]),
            d(NS),
            d(HOUR - 2 * SECOND),
        )
        .below(d(Duration::ZERO))
        .above(d(HOUR - 2 * SECOND + NS)),
        Edge::new(
            "topology.ntp.poll",
            ntp("timeout = \"1ns\"", "poll"),
            d(2 * NS),
            d(HOUR),
        )
        .below(d(NS))
        .named("topology.ntp.timeout")
        .above(d(HOUR + NS)),
        Edge::new(
            "topology.ntp.timeout",
            ntp("poll = \"1h\"", "timeout"),
            d(NS),
            d(HOUR - NS),
        )
        .below(d(Duration::ZERO))
        .above(d(HOUR)),
        // TTLs are whole seconds.
        Edge::new(
            "topology.dns.ttl",
            minute(&["[topology.dns]", "ttl = {}"]),
            d(SECOND),
            d(HOUR),
        )
        .below(d(SECOND - NS))
        .above(d(HOUR + NS)),
        Edge::new(
            "topology.tls.expires",
            minute(&["[topology.tls]", "expires = {}"]),
            d(NS),
            d(century),
        )
        .below(d(Duration::ZERO))
        .above(d(century + NS)),
    ]
}

/// An integer or float key of the topology (`table` is `""` or `".lb"`), the steps past
/// given as written.
fn number(table: &str, key: &str, range: [&str; 4]) -> Edge {
    let [below, min, max, above] = range.map(str::to_string);
    let header = format!("[topology{table}]");
    let line = format!("{key} = {{}}");
    Edge::new(
        &format!("topology{table}.{key}"),
        minute(&[&header, &line]),
        min,
        max,
    )
    .below(below)
    .above(above)
}

/// The topology's numbers and ports. Past a type's end (a negative count, a port above
/// 65535) the error is serde's, which names the key and the type.
fn topology_numbers() -> Vec<Edge> {
    let u32_past = "4294967296";
    let mut edges = vec![
        number("", "nodes", ["0", "1", "7", "8"]),
        number(".node", "workers", ["0", "1", "1024", "1025"]),
        number(".node", "queue_max", ["-1", "0", "100000", "100001"]),
        number(".node", "accounts", ["0", "1", "4294967295", u32_past]),
        number(".lb", "rise", ["0", "1", "4294967295", u32_past]),
        number(".lb", "fall", ["0", "1", "4294967295", u32_past]),
        number(".lb", "retries", ["-1", "0", "4294967295", u32_past]),
        number(
            ".dev",
            "signups_per_s",
            [&below_zero(), "0.0", "100.0", &f(100.0f64.next_up())],
        ),
    ];
    let firewall =
        "[[topology.firewall]]\nfrom = [\"node-1\"]\nto = [\"node-2\"]\naction = \"drop\"\nports";
    for (table, key) in [
        (firewall, "topology.firewall[0].ports"),
        ("[topology.egress]\nudp_ports", "topology.egress.udp_ports"),
    ] {
        let toml = minute(&[&format!("{table} = [{{}}]")]);
        edges.push(
            Edge::new(key, toml, "1".to_string(), "65535".to_string())
                .below("0".to_string())
                .above("65536".to_string())
                .named(&format!("{key}[0]")),
        );
    }
    edges
}

/// The top level and the load.
fn run_edges() -> Vec<Edge> {
    let (fine, coarse) = harness::scenario::load::TICK_RANGE;
    let load = |lines: &[&str]| minute(&[&["[load]"], lines].concat());
    let mut edges = vec![
        Edge::new("duration", "duration = {}\n".to_string(), d(NS), d(HOUR))
            .below(d(Duration::ZERO))
            .above(d(HOUR + NS)),
        Edge::new("tick", minute(&["tick = {}"]), d(fine), d(coarse))
            .below(d(fine - NS))
            .above(d(coarse + NS)),
        Edge::new(
            "load.rate_per_s",
            load(&["rate_per_s = {}"]),
            f(f64::from_bits(1)),
            f(2000.0),
        )
        .below(f(0.0))
        .above(f(2000.0f64.next_up())),
        Edge::new(
            "load.timeout",
            load(&["timeout = {}"]),
            d(NS),
            d(60 * SECOND),
        )
        .below(d(Duration::ZERO))
        .above(d(60 * SECOND + NS)),
        // The shares add up to at most 1, signup_share named when they do not. They add in
        // floating point: one step above 0.5 still sums to 1.0 with another 0.5, two exceed it.
        Edge::new(
            "load.signup_share",
            load(&["userinfo_share = 0.5", "signup_share = {}"]),
            f(0.0),
            f(0.5),
        )
        .below(below_zero())
        .above(f(0.5f64.next_up().next_up())),
    ];
    let shares = [
        "userinfo_share",
        "signup_share",
        "social_share",
        "dashboard_share",
    ];
    for share in shares {
        let mut lines: Vec<String> = shares
            .iter()
            .filter(|s| **s != share)
            .map(|s| format!("{s} = 0.0"))
            .collect();
        lines.push(format!("{share} = {{}}"));
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        edges.push(
            Edge::new(&format!("load.{share}"), load(&lines), f(0.0), f(1.0))
                .below(below_zero())
                .above(f(1.0f64.next_up())),
        );
    }
    edges
}

/// A crash and a restart, for the expectations that measure them.
const STEPS: &str = "[[steps]]\nat = \"10s\"\ncrash = { node = \"node-2\" }\n[[steps]]\nat = \"20s\"\nrestart = { node = \"node-2\" }";

/// The expectations.
fn expect_edges() -> Vec<Edge> {
    let expect = |key: &str| minute(&[STEPS, "[expect]", &format!("{key} = {{}}")]);
    let mut edges = vec![
        Edge::new(
            "expect.availability_pct_min",
            expect("availability_pct_min"),
            f(0.0),
            f(100.0),
        )
        .below(below_zero())
        .above(f(100.0f64.next_up())),
    ];
    for key in [
        "failure_window_max",
        "failover_max",
        "detection_max",
        "recovery_max",
    ] {
        edges.push(
            Edge::new(
                &format!("expect.{key}"),
                expect(key),
                d(Duration::ZERO),
                d(HOUR),
            )
            .above(d(HOUR + NS)),
        );
    }
    for key in ["failure_gap", "converge_within"] {
        edges.push(
            Edge::new(&format!("expect.{key}"), expect(key), d(NS), d(HOUR))
                .below(d(Duration::ZERO))
                .above(d(HOUR + NS)),
        );
    }
    edges
}

/// The steps: their times and the clock changes.
fn step_edges() -> Vec<Edge> {
    let day = 24 * HOUR;
    let clock = |rest: &str| {
        let step = format!("clock = {{ node = \"node-1\", {rest} }}");
        format!("duration = \"1h\"\n[[steps]]\nat = \"1s\"\n{step}\n")
    };
    let strobe = |rest: &str| clock(&format!("strobe = [\"0s\", \"1s\"], {rest}"));
    let ppm = |value: f64| format!("\"{}ppm\"", f(value));
    let crash = minute(&["[[steps]]", "at = {}", "crash = { node = \"node-2\" }"]);
    let mut edges = vec![
        Edge::new("steps[0].at", crash, d(Duration::ZERO), d(60 * SECOND - NS))
            .below("\"-1ns\"".to_string())
            .above(d(60 * SECOND)),
        Edge::new(
            "steps[0].clock.drift",
            clock("drift = {}"),
            ppm(-100_000.0),
            ppm(100_000.0),
        )
        .below(ppm((-100_000.0f64).next_down()))
        .above(ppm(100_000.0f64.next_up())),
        Edge::new(
            "steps[0].clock.period",
            strobe("period = {}, for = \"10s\""),
            d(100 * MS),
            d(10 * SECOND),
        )
        .below(d(100 * MS - NS))
        .above(d(10 * SECOND + NS))
        .named("steps[0].clock.for"),
        // At most 10,000 flips: 1000s of a 100ms strobe.
        Edge::new(
            "steps[0].clock.for",
            strobe("period = \"100ms\", for = {}"),
            d(100 * MS),
            d(1000 * SECOND),
        )
        .below(d(100 * MS - NS))
        .above(d(1000 * SECOND + NS)),
    ];
    let signed =
        |sign: &str, value: Duration| format!("\"{sign}{}\"", humantime::format_duration(value));
    for key in ["offset", "jump"] {
        edges.push(
            Edge::new(
                &format!("steps[0].clock.{key}"),
                clock(&format!("{key} = {{}}")),
                signed("-", day),
                signed("+", day),
            )
            .below(signed("-", day + NS))
            .above(signed("", day + NS)),
        );
    }
    edges
}

/// `edge`'s scenario with `value` in its place, loaded.
fn load_with(edge: &Edge, value: &str) -> (String, Result<scenario::Scenario, ScenarioError>) {
    let text = format!(
        "format_version = 1\nname = \"edges\"\nseed = 1\n{}",
        edge.toml.replace("{}", value)
    );
    let loaded = scenario::parse(Path::new("edges.toml"), &text);
    (text, loaded)
}

/// The line an error about `key` belongs on in `text`, `edge`'s scenario: the value's line
/// for the key itself (or an element of it), else the line that writes the companion key
/// it names; 0 when `text` writes neither.
fn line_of(text: &str, key: &str, edge: &Edge) -> usize {
    let own = key == edge.key || key.starts_with(&format!("{}[", edge.key));
    if own {
        // The format_version, name and seed lines come first.
        return edge
            .toml
            .find("{}")
            .map_or(0, |i| edge.toml[..i].matches('\n').count() + 4);
    }
    let name = key.rsplit('.').next().expect("a key");
    [format!("\n{name} = "), format!(" {name} = ")]
        .iter()
        .find_map(|written| text.find(written.as_str()))
        .map_or(0, |at| text[..=at].matches('\n').count() + 1)
}

/// Proves every range the loader checks holds at its edges: a file at the exact minimum
/// and at the exact maximum of each loads, and one a step past either (a nanosecond, the
/// next float, the next integer) fails with an error naming the key (or the companion key
/// the bound is written against), on that key's line, saying what was expected (issue 12:
/// "valid-looking files at the edges of every range").
#[test]
fn edges_of_every_range() {
    let mut failures = Vec::new();
    let edges = [
        plain_durations(),
        lb_durations(),
        bounded_durations(),
        topology_numbers(),
        run_edges(),
        expect_edges(),
        step_edges(),
    ];
    for edge in edges.iter().flatten() {
        for value in [&edge.min, &edge.max] {
            if let (_, Err(e)) = load_with(edge, value) {
                failures.push(format!("{} = {value} should load: {e}", edge.key));
            }
        }
        for (value, key) in edge.below.iter().chain(edge.above.iter()) {
            let (text, loaded) = load_with(edge, value);
            let Err(e) = loaded else {
                failures.push(format!("{} = {value} should fail naming {key}", edge.key));
                continue;
            };
            let line = line_of(&text, key, edge);
            if e.key != *key || e.line != line || e.expected.is_empty() {
                failures.push(format!(
                    "{} = {value} should fail naming {key} on line {line}, saying what was expected: {e}",
                    edge.key
                ));
            }
        }
    }
    println!(
        "{} ranges checked at their edges",
        edges.iter().flatten().count()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
