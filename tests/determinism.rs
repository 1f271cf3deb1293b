//! The same scenario and seed give a byte-identical outcome; another seed gives another
//! run; the dev and release binaries print the same reports (docs/ARCHITECTURE.md
//! section 4). The last builds the release binary, the one test that does.

use std::path::Path;

use harness::executor;
use harness::report::{Outcome, json, text};
use harness::scenario;

fn outcome(seed: u64) -> (String, String, Vec<u64>) {
    let scenario = scenario::load(Path::new("scenarios/node-loss.toml"))
        .expect("the reference scenario loads");
    let run = executor::run(&scenario, seed).expect("the run completes");
    let outcome = Outcome::new(&scenario, seed, &run.events);
    let starts = run
        .events
        .requests()
        .iter()
        .map(|r| u64::try_from(r.started.as_micros()).unwrap())
        .collect();
    let json = json::render(&outcome, json::Options { signups: true });
    (text::render(&outcome, "reproduce"), json, starts)
}

/// Proves two runs with one seed agree byte for byte (text and JSON, every request's
/// start time), and a different seed changes the arrivals.
#[test]
fn same_seed_same_outcome_other_seed_other_arrivals() {
    let (text_a, json_a, starts_a) = outcome(1);
    let (text_b, json_b, starts_b) = outcome(1);
    assert_eq!(text_a, text_b);
    assert_eq!(json_a, json_b);
    assert_eq!(starts_a, starts_b);
    let (_, _, starts_c) = outcome(2);
    assert_ne!(starts_a, starts_c);
    assert!(starts_a.len() > 5_000 && starts_c.len() > 5_000);
}

/// Proves the outside world is deterministic too: egress-blocked (the proxy, NAT'd NTP
/// datagrams with their PROXY headers, clock drift and slews, social logins) gives the
/// same event log, event for event, on two runs with one seed.
#[test]
fn same_seed_same_events_through_the_egress() {
    let scenario =
        scenario::load(Path::new("scenarios/egress-blocked.toml")).expect("the scenario loads");
    let events = || {
        format!(
            "{:?}",
            executor::run(&scenario, 7)
                .expect("the run completes")
                .events
        )
    };
    let first = events();
    assert!(
        first.contains("NtpSynced")
            && first.contains("Egress(")
            && first.contains("POST /login/social")
    );
    assert_eq!(first, events());
}

/// Proves the dev/test instance is deterministic too: dev-bridged (dev-1's tester, its
/// one-member set, its mail crossing to production's relay, the boundary's records) gives
/// the same event log, event for event, on two runs with one seed.
#[test]
fn same_seed_same_events_across_the_dev_boundary() {
    let scenario =
        scenario::load(Path::new("scenarios/dev-bridged.toml")).expect("the scenario loads");
    let events = || {
        format!(
            "{:?}",
            executor::run(&scenario, 3)
                .expect("the run completes")
                .events
        )
    };
    let first = events();
    assert!(first.contains("Boundary(") && first.contains("Crossed") && first.contains("DevFinal"));
    assert_eq!(first, events());
}

/// The scenarios the dev and release binaries must agree on: a crash (node-loss), a
/// partition with an election and a rollback (partition-minority), and a certificate
/// expiring under TLS (cert-expires); every one makes a TLS handshake per user request.
const ACROSS_PROFILES: &[&str] = &[
    "scenarios/node-loss.toml",
    "scenarios/partition-minority.toml",
    "scenarios/cert-expires.toml",
];

/// Builds the release binary (`cargo build --release --bin harness`, with the cargo that
/// runs these tests, into the same target directory) and returns its path. Cold, this is
/// the release build of every crate; warm, cargo finds nothing to do.
fn release_binary() -> std::path::PathBuf {
    let debug = Path::new(env!("CARGO_BIN_EXE_harness"));
    let target = debug
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in TARGET/debug");
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--bin", "harness", "--target-dir"])
        .arg(target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build --release failed: {status}");
    target
        .join("release")
        .join(debug.file_name().expect("a file name"))
}

/// `harness run FILE --format FORMAT` with `binary`: stdout and the exit code (stderr
/// holds the wall time, which differs between any two runs).
fn run_with(binary: &Path, file: &str, format: &str) -> (String, Option<i32>) {
    let out = std::process::Command::new(binary)
        .args(["run", file, "--format", format])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

/// Proves the dev profile's binary (debug assertions and overflow checks on, what the
/// tests and the README's run command use) and the release binary print byte-identical
/// reports, text and JSON, with the same exit code, for a crash, a partition and an
/// expiring certificate.
///
/// Ignored by default: it builds the release binary, about 10 minutes cold on a busy
/// 2-core machine (and the harness crate again after every commit, since build.rs stamps
/// the commit), which would double the README's cold test time. Run it with
/// `cargo test --test determinism -- --ignored` (or `just determinism`).
#[test]
#[ignore = "builds the release binary (about 10 min cold); cargo test --test determinism -- --ignored"]
fn debug_and_release_binaries_agree() {
    let release = release_binary();
    let debug = Path::new(env!("CARGO_BIN_EXE_harness"));
    for file in ACROSS_PROFILES {
        for format in ["text", "json"] {
            let (dev_out, dev_code) = run_with(debug, file, format);
            let (release_out, release_code) = run_with(&release, file, format);
            assert!(
                dev_out.len() > 1_000,
                "{file} {format}: a whole report: {dev_out}"
            );
            assert_eq!(dev_code, release_code, "{file} {format}: exit codes");
            assert!(
                dev_out == release_out,
                "{file} --format {format}: the dev and release reports differ; first differing line: {:?}",
                dev_out
                    .lines()
                    .zip(release_out.lines())
                    .find(|(a, b)| a != b)
            );
        }
    }
}
