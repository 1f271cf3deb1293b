//! Sharded sweeps and CI formats, end to end through the `harness` binary: the worked
//! examples in `examples/ci/` are parsed (serde_yaml_ng), their commands run here as
//! Kubernetes and GitHub Actions would run them, for every index on a small seed range
//! of `tests/fixtures/sweep-tiny.toml`, and `harness merge` of the shards prints, writes
//! and reports exactly what the unsharded sweep does. Also: JUnit's shape, and `merge`
//! refusing shards that do not make one sweep.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_yaml_ng::Value;

/// The small scenario every sweep here runs.
const TINY: &str = "tests/fixtures/sweep-tiny.toml";
/// The small range the examples' 10,000 seeds are replaced with.
const SMALL_SEEDS: &str = "1..8";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, empty directory under the target directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// A directory holding `harness` (a link to the binary under test), for PATH.
fn bin_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("shards-bin");
    let link = dir.join("harness");
    if !link.exists() {
        std::fs::create_dir_all(&dir).expect("a bin directory");
        let _ = std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_harness"), &link);
    }
    dir
}

/// PATH with the binary under test first.
fn path_var() -> String {
    format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn harness(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The unsharded sweep of [`TINY`] over [`SMALL_SEEDS`] run from `cwd` with the scenario
/// named as `scenario`: its stdout, and its `--out` directory and JUnit file.
fn unsharded(scenario: &str, cwd: &Path, dir: &Path) -> (String, PathBuf, PathBuf) {
    let (out, junit) = (dir.join("whole"), dir.join("whole.xml"));
    let run = harness(
        &[
            "sweep",
            scenario,
            "--seeds",
            SMALL_SEEDS,
            "--jobs",
            "2",
            "--out",
            out.to_str().expect("UTF-8"),
            "--junit",
            junit.to_str().expect("UTF-8"),
        ],
        cwd,
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    (text(&run.stdout), out, junit)
}

/// Asserts the merged run printed and wrote what the unsharded one did.
fn assert_same(
    merged_stdout: &str,
    merged: &Path,
    junit: &Path,
    whole: &(String, PathBuf, PathBuf),
) {
    assert_eq!(merged_stdout, whole.0, "the merged summary differs");
    for file in ["seeds.jsonl", "summary.txt", "sweep.json"] {
        assert_eq!(
            read(&merged.join(file)),
            read(&whole.1.join(file)),
            "{file} differs"
        );
    }
    assert_eq!(read(junit), read(&whole.2), "the JUnit XML differs");
}

/// Kubernetes' expansion of `$(VAR)` in a container's command and args: replaced by the
/// variable's value when the container's env defines it, `$$` for a literal `$`, other
/// references left as written.
fn expand(arg: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(name) = rest.strip_prefix("$(").and_then(|r| r.split_once(')'))
            && let Some(value) = env.get(name.0)
        {
            out.push_str(value);
            rest = name.1;
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out + rest
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// One Job's container as the kubelet would start it: the command line (with `$(VAR)`
/// expanded from its env, `extra` added to that env) and its working directory. The
/// results volume's mount path is mapped to `results`, the working directory to the
/// repository.
fn container_command(job: &Value, extra: &BTreeMap<String, String>, results: &Path) -> Vec<String> {
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["workingDir"].as_str(), Some("/src"));
    let mount = container["volumeMounts"][0]["mountPath"]
        .as_str()
        .expect("a results mount");
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for var in container["env"].as_sequence().into_iter().flatten() {
        let name = var["name"].as_str().expect("env name").to_string();
        env.insert(name, var["value"].as_str().expect("env value").to_string());
    }
    env.extend(extra.clone());
    let mut line = strings(&container["command"]);
    line.extend(strings(&container["args"]));
    line.iter()
        .map(|a| expand(a, &env).replace(mount, results.to_str().expect("UTF-8")))
        .collect()
}

fn run_line(line: &[String], what: &str) -> Output {
    let out = Command::new(&line[0])
        .args(&line[1..])
        .current_dir(repo())
        .env("PATH", path_var())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {line:?}: {e}"));
    assert!(
        matches!(out.status.code(), Some(0)),
        "{what}: {line:?}: {}",
        text(&out.stderr)
    );
    out
}

/// Proves the Kubernetes example shards and merges: every index of the Indexed Job runs
/// its command (JOB_COMPLETION_INDEX set, `$(VAR)` expanded from the container's env,
/// SCENARIO and SEEDS set to a small sweep), `--shards` matches `completions`, and the
/// merge Job's command prints and writes exactly what the unsharded sweep does.
#[test]
fn kubernetes_indexed_job_example_equals_the_unsharded_sweep() {
    let yaml = read(&repo().join("examples/ci/kubernetes-indexed-job.yaml"));
    let docs: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&yaml)
        .map(|d| serde::Deserialize::deserialize(d).expect("each document is YAML"))
        .collect();
    let indexed = docs
        .iter()
        .find(|d| d["spec"]["completionMode"].as_str() == Some("Indexed"))
        .expect("an Indexed Job");
    let merge_job = docs
        .iter()
        .find(|d| d["spec"]["completionMode"].is_null() && d["kind"].as_str() == Some("Job"))
        .expect("the merge Job");
    let completions = indexed["spec"]["completions"]
        .as_u64()
        .expect("completions");
    let results = scratch("k8s-results");
    let small: BTreeMap<String, String> = [("SCENARIO", TINY), ("SEEDS", SMALL_SEEDS)]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    for index in 0..completions {
        let mut env = small.clone();
        env.insert("JOB_COMPLETION_INDEX".into(), index.to_string());
        let line = container_command(indexed, &env, &results);
        let shards = line.iter().position(|a| a == "--shards").expect("--shards");
        assert_eq!(
            line[shards + 1],
            completions.to_string(),
            "--shards is the completions"
        );
        let out = Command::new(&line[0])
            .args(&line[1..])
            .current_dir(repo())
            .env("PATH", path_var())
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .output()
            .expect("the sweep runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "index {index}: {}",
            text(&out.stderr)
        );
    }
    let merged = run_line(
        &container_command(merge_job, &BTreeMap::new(), &results),
        "merge",
    );
    let whole = unsharded(TINY, &repo(), &scratch("k8s-whole"));
    assert_same(
        &text(&merged.stdout),
        &results.join("merged"),
        &results.join("junit.xml"),
        &whole,
    );
}

/// The step of `job` whose `run` script calls `harness VERB`.
fn step<'a>(job: &'a Value, verb: &str) -> &'a Value {
    job["steps"]
        .as_sequence()
        .expect("steps")
        .iter()
        .find(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains(&format!("harness {verb}")))
        })
        .unwrap_or_else(|| panic!("a step runs harness {verb}"))
}

/// The `with` value `key` of the first step using `action`, with the shard substituted.
fn with(job: &Value, action: &str, key: &str, shard: &str) -> String {
    let s = job["steps"]
        .as_sequence()
        .expect("steps")
        .iter()
        .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
        .unwrap_or_else(|| panic!("a step uses {action}"));
    s["with"][key]
        .as_str()
        .expect("a with value")
        .replace("${{ matrix.shard }}", shard)
}

/// Runs a step's script as the runner does (`bash -e`), in `cwd`, with `env`.
fn bash(script: &str, cwd: &Path, env: &BTreeMap<String, String>) -> Output {
    assert!(
        !script.contains("${{"),
        "an expression left unsubstituted: {script}"
    );
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(cwd)
        .envs(env)
        .env("PATH", path_var())
        .output()
        .expect("bash runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{script}: {}",
        text(&out.stderr)
    );
    out
}

/// Proves the GitHub Actions example shards and merges: each matrix value's sweep step
/// runs (its `${{ matrix.shard }}` substituted, the workflow's env with SCENARIO and
/// SEEDS set to a small sweep), each upload is copied to where the download puts it
/// (`path/<artifact name>/`), and the merge step prints and writes exactly what the
/// unsharded sweep does; `SHARDS` is the matrix's size.
#[test]
fn github_actions_matrix_example_equals_the_unsharded_sweep() {
    let yaml = read(&repo().join("examples/ci/github-actions-sweep.yml"));
    let workflow: Value = serde_yaml_ng::from_str(&yaml).expect("the workflow is YAML");
    let mut env: BTreeMap<String, String> =
        serde_yaml_ng::from_value(workflow["env"].clone()).expect("the workflow's env");
    let scenario = repo().join(TINY).display().to_string();
    env.insert("SCENARIO".into(), scenario.clone());
    env.insert("SEEDS".into(), SMALL_SEEDS.into());
    let (sweep_job, merge_job) = (&workflow["jobs"]["sweep"], &workflow["jobs"]["merge"]);
    let matrix: Vec<u64> =
        serde_yaml_ng::from_value(sweep_job["strategy"]["matrix"]["shard"].clone())
            .expect("a shard matrix");
    assert_eq!(
        env["SHARDS"],
        matrix.len().to_string(),
        "SHARDS is the matrix's size"
    );
    let (runner, merger) = (scratch("gha-sweep"), scratch("gha-merge"));
    let download = merger.join(with(merge_job, "actions/download-artifact", "path", ""));
    for shard in matrix.iter().map(u64::to_string) {
        let script = step(sweep_job, "sweep")["run"].as_str().expect("a script");
        bash(
            &script.replace("${{ matrix.shard }}", &shard),
            &runner,
            &env,
        );
        let uploaded = runner.join(with(sweep_job, "actions/upload-artifact", "path", &shard));
        let name = with(sweep_job, "actions/upload-artifact", "name", &shard);
        copy_dir(&uploaded, &download.join(name));
    }
    let merge = bash(
        step(merge_job, "merge")["run"].as_str().expect("a script"),
        &merger,
        &env,
    );
    let whole = unsharded(&scenario, &repo(), &scratch("gha-whole"));
    assert_same(
        &text(&merge.stdout),
        &merger.join("merged"),
        &merger.join("junit.xml"),
        &whole,
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("the artifact directory");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("a directory entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("a copy");
    }
}

/// Proves `merge` refuses shards that do not make one sweep: a shard given twice (its
/// seeds recorded twice), a shard missing, and directories of different ranges; each is
/// one error line and exit 2.
#[test]
fn merge_refuses_duplicate_and_missing_shards() {
    let dir = scratch("merge-refusals");
    let shard = |k: &str, seeds: &str, name: &str| {
        let out = dir.join(name);
        let run = harness(
            &[
                "sweep",
                TINY,
                "--seeds",
                seeds,
                "--shard",
                k,
                "--out",
                out.to_str().expect("UTF-8"),
            ],
            &repo(),
        );
        assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
        out.display().to_string()
    };
    let (one, two) = (shard("1/2", "1..2", "a"), shard("2/2", "1..2", "b"));
    let other_range = shard("2/2", "1..3", "c");
    for (dirs, expected) in [
        (vec![one.as_str(), one.as_str()], "both hold shard 1/2"),
        (vec![one.as_str()], "shard(s) 2/2 missing"),
        (
            vec![one.as_str(), other_range.as_str()],
            "not shards of one sweep: seeds 1..2 against 1..3",
        ),
        (
            vec![one.as_str(), "/nonexistent-dir"],
            "/nonexistent-dir/sweep.json: cannot read",
        ),
    ] {
        let out = harness(&[&["merge"], dirs.as_slice()].concat(), &repo());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{dirs:?}: {stderr}");
        assert!(stderr.contains(expected), "{dirs:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let ok = harness(&["merge", &one, &two], &repo());
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
}

/// Proves JUnit carries verdicts: a failing seed is a `failure` naming the failed
/// verdict's key, with its expectation and the command that replays it; `run --junit`
/// writes one test case named for the seed; a vacuous check (node-loss's failover bound)
/// is `skipped` with its reason, and a failure under `--strict`.
#[test]
fn junit_reports_failures_with_the_verdict_and_skips_vacuous_checks() {
    let dir = scratch("junit");
    let xml = dir.join("tight.xml");
    let tight = harness(
        &[
            "sweep",
            "tests/fixtures/sweep-too-tight.toml",
            "--seeds",
            "1..2",
            "--junit",
            xml.to_str().expect("UTF-8"),
        ],
        &repo(),
    );
    assert_eq!(tight.status.code(), Some(1), "{}", text(&tight.stderr));
    let report = read(&xml);
    assert!(
        report.contains(
            r#"<testsuites name="harness" tests="2" skipped="0" failures="2" errors="0">"#
        ),
        "{report}"
    );
    assert!(
        report.contains(r#"<failure message="FAIL: failover_max">"#),
        "{report}"
    );
    assert!(report.contains("a new primary within 5s"), "{report}");
    assert!(
        report.contains(
            "reproduce: cargo run -- run tests/fixtures/sweep-too-tight.toml --seed 2  # harness"
        ),
        "{report}"
    );
    // sweep-tiny's failover bound is vacuous on every seed: it crashes a secondary.
    for (strict, expected) in [
        (false, r#"<skipped message="failover_max vacuous">"#),
        (true, r#"<failure message="strict: failover_max vacuous">"#),
    ] {
        let run_xml = dir.join("run.xml");
        let mut args = vec![
            "run",
            TINY,
            "--seed",
            "3",
            "--junit",
            run_xml.to_str().expect("UTF-8"),
        ];
        args.extend(strict.then_some("--strict"));
        let run = harness(&args, &repo());
        assert_eq!(
            run.status.code(),
            Some(i32::from(strict)),
            "{}",
            text(&run.stderr)
        );
        let report = read(&run_xml);
        assert!(
            report
                .contains(r#"<testcase name="seed 3" classname="tests/fixtures/sweep-tiny.toml">"#),
            "{report}"
        );
        assert!(report.contains(expected), "{report}");
        assert!(report.contains("no step lost the primary"), "{report}");
        assert!(report.contains("--seed 3  # harness"), "{report}");
    }
}
