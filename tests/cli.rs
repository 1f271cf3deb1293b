//! The `harness` binary: exit codes, output formats, and one clear error per bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn write(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).expect("the target tmp dir is writable");
    path
}

const SHORT: &str = r#"name = "short"
seed = 5
duration = "20s"

[[steps]]
at = "5s"
crash = { node = "node-3" }

[expect]
detection_max = "10s"
"#;

/// Proves a bad scenario gets exactly one error line naming file:line:column and key,
/// exit code 2, and no panic, for each kind of mistake the issue lists.
#[test]
fn bad_input_is_one_clear_error() {
    let cases = [
        (
            "unknown-key.toml",
            SHORT.replace("seed = 5", "seed = 5\ncolour = \"red\""),
            ":3:1: colour: unknown field `colour`",
        ),
        (
            "wrong-type.toml",
            SHORT.replace("seed = 5", "seed = \"five\""),
            ":2:8: seed: invalid type: string \"five\", expected u64",
        ),
        (
            "past-end.toml",
            SHORT.replace("at = \"5s\"", "at = \"25s\""),
            ":6:6: steps[0].at: 25s is at or past the run's end",
        ),
        (
            "unknown-node.toml",
            SHORT.replace("node-3", "node-4"),
            ":7:18: steps[0].crash.node: unknown node \"node-4\"",
        ),
        (
            "syntax.toml",
            SHORT.replace("seed = 5", "seed = = 5"),
            ":2:8: ",
        ),
        (
            "bad-lb.toml",
            format!("{SHORT}\n[topology.lb]\nfall = 0\n"),
            ":13:8: topology.lb.fall: expected at least 1",
        ),
    ];
    for (name, text, expected) in cases {
        let path = write(name, &text);
        let out = harness(&["run", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{name}: nothing half-written to stdout"
        );
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: {}", path.display())),
            "{name}: {stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{name}: {stderr:?} lacks {expected:?}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let out = harness(&["run", "no/such/file.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no/such/file.toml: cannot read the scenario")
    );
}

/// Proves exit 0 when every expectation holds, exit 1 with the seed and the reproducing
/// command when one fails, and that --seed and --format json are honoured.
#[test]
fn exit_codes_seed_and_json() {
    let pass = write("pass.toml", SHORT);
    let out = harness(&["run", pass.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let fail = write(
        "fail.toml",
        &SHORT.replace("detection_max = \"10s\"", "detection_max = \"1s\""),
    );
    let out = harness(&["run", fail.to_str().unwrap(), "--seed", "9"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("result: FAIL (1 of 5 expectations failed) with seed 9"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "reproduce: cargo run --release -- run {} --seed 9",
            fail.display()
        )),
        "{stdout}"
    );

    let out = harness(&[
        "run",
        pass.to_str().unwrap(),
        "--format",
        "json",
        "--seed",
        "6",
    ]);
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--format json prints JSON");
    assert_eq!(json["seed"], 6);
    assert_eq!(json["passed"], true);
    assert!(json["totals"]["sent"].as_u64().unwrap() > 100);
}
