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

/// Values in one place: numbers at and past the edges of the types and of the documented
/// ranges, and durations one nanosecond either side of every documented bound.
fn edge_values() -> Vec<String> {
    let numbers = [
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
    let bounds_ms = [
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
    let mut values: Vec<String> = numbers.iter().map(|n| (*n).to_string()).collect();
    let mut durations = vec![Duration::from_micros(100), Duration::MAX];
    durations.extend(bounds_ms.iter().map(|ms| Duration::from_millis(*ms)));
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
    if e.expected.trim().is_empty() || !e.message.ends_with(&e.expected) {
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
