//! The README's examples, kept true: every fenced block right after a line
//! `<!-- checked: ... -->` is compared with what it shows.
//!
//! - `<!-- checked: snapshot NAME -->`: an excerpt of `snapshots/report@NAME.toml.snap`
//!   (the report `harness run scenarios/NAME.toml` prints): every line of the block is a
//!   line of the snapshot, byte for byte and in the snapshot's order; a line `...` marks
//!   lines left out.
//! - `<!-- checked: harness ARGS (exit N) -->`: exactly what the binary prints (stdout,
//!   then stderr) for those arguments, run from the repository's root, and its exit code.
//!
//! The README's screenshots are not checked: `tools/screenshots` regenerates them.

use std::path::PathBuf;
use std::process::Command;

/// What starts a marker line.
const MARKER: &str = "<!-- checked: ";
/// A line of an excerpt that stands for lines left out.
const ELLIPSIS: &str = "...";
/// The fewest checked blocks the README holds: the quick start's report, the sample
/// report, the error example and `harness check` on a scenario with TLS off. A marker
/// lost in an edit fails here instead of leaving its block unchecked.
const MIN_CHECKED_BLOCKS: usize = 4;

/// What a checked block is compared with.
#[derive(Debug)]
enum Against {
    /// An excerpt of a scenario's report snapshot.
    Snapshot(String),
    /// The binary's output for these arguments, and its exit code.
    Output(Vec<String>, i32),
}

/// One checked block: the README line of its marker, what it is checked against, and
/// its text (the lines between the fences).
#[derive(Debug)]
struct Block {
    line: usize,
    against: Against,
    text: Vec<String>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The README's checked blocks, in order; a marker that is not followed by a fenced block,
/// or that the test cannot read, fails the test with its line.
fn blocks() -> Vec<Block> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md reads");
    let lines: Vec<&str> = readme.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix(MARKER) else {
            continue;
        };
        let spec = rest
            .strip_suffix(" -->")
            .unwrap_or_else(|| panic!("README.md:{}: a marker ends with ` -->`", i + 1));
        let against = parse(spec).unwrap_or_else(|| {
            panic!(
                "README.md:{}: expected `snapshot NAME` or `harness ARGS (exit N)`",
                i + 1
            )
        });
        let fence = lines.get(i + 1).copied().unwrap_or_default();
        assert!(
            fence.starts_with("```"),
            "README.md:{}: a checked marker is followed by a fenced block",
            i + 1
        );
        let text = lines[i + 2..]
            .iter()
            .take_while(|l| !l.starts_with("```"))
            .map(|l| (*l).to_string())
            .collect();
        out.push(Block {
            line: i + 1,
            against,
            text,
        });
    }
    out
}

/// A marker's words: `snapshot NAME` or `harness ARGS (exit N)`.
fn parse(spec: &str) -> Option<Against> {
    if let Some(name) = spec.strip_prefix("snapshot ") {
        return Some(Against::Snapshot(name.trim().to_string()));
    }
    let command = spec.strip_prefix("harness ")?;
    let (args, exit) = command.rsplit_once(" (exit ")?;
    let code = exit.strip_suffix(')')?.parse().ok()?;
    Some(Against::Output(
        args.split_whitespace().map(str::to_string).collect(),
        code,
    ))
}

/// The report a snapshot holds: its lines after insta's header.
fn snapshot(name: &str) -> Vec<String> {
    let path = root().join(format!("snapshots/report@{name}.toml.snap"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let body = text
        .splitn(3, "---\n")
        .nth(2)
        .unwrap_or_else(|| panic!("{}: an insta header between --- lines", path.display()));
    body.lines().map(str::to_string).collect()
}

/// The first line of `excerpt` (not `...`) that is not in `report` after the lines before
/// it: `None` when the excerpt is true.
fn first_untrue<'a>(excerpt: &'a [String], report: &[String]) -> Option<&'a str> {
    let mut from = 0;
    for line in excerpt.iter().filter(|l| l.trim() != ELLIPSIS) {
        match report[from..].iter().position(|r| r == line) {
            Some(at) => from += at + 1,
            None => return Some(line),
        }
    }
    None
}

/// Proves the README still holds its checked blocks, so none goes unchecked unnoticed.
#[test]
fn readme_marks_its_examples() {
    let blocks = blocks();
    assert!(
        blocks.len() >= MIN_CHECKED_BLOCKS,
        "README.md has {} checked blocks, expected at least {MIN_CHECKED_BLOCKS}: {blocks:#?}",
        blocks.len()
    );
    assert!(
        blocks.iter().all(|b| !b.text.is_empty()),
        "an empty checked block checks nothing: {blocks:#?}"
    );
    // Each of the two tests below checks one kind and skips the other: with no block of
    // its kind it would check nothing.
    let excerpts = blocks
        .iter()
        .filter(|b| matches!(b.against, Against::Snapshot(_)))
        .count();
    let outputs = blocks.len() - excerpts;
    assert!(
        excerpts >= 1 && outputs >= 1,
        "README.md has {excerpts} report excerpts and {outputs} command outputs; each kind \
         needs at least one: {blocks:#?}"
    );
}

/// Proves every report excerpt in the README is lines of the scenario's snapshot, in order.
#[test]
fn readme_reports_match_the_snapshots() {
    for block in blocks() {
        let Against::Snapshot(name) = &block.against else {
            continue;
        };
        let report = snapshot(name);
        if let Some(line) = first_untrue(&block.text, &report) {
            panic!(
                "README.md:{}: the excerpt of snapshots/report@{name}.toml.snap has a line the \
                 report does not (or not in this order):\n  {line}\nRefresh it: copy the same \
                 lines from snapshots/report@{name}.toml.snap (what `cargo run -- run \
                 scenarios/{name}.toml` prints) into the block, `...` where lines are left out.",
                block.line
            );
        }
    }
}

/// Proves every command output in the README is what the binary prints now, exit code
/// included.
#[test]
fn readme_outputs_match_the_binary() {
    for block in blocks() {
        let Against::Output(args, code) = &block.against else {
            continue;
        };
        let out = Command::new(env!("CARGO_BIN_EXE_harness"))
            .args(args)
            .current_dir(root())
            .output()
            .expect("the binary runs");
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let shown = block.text.join("\n");
        let refresh = format!(
            "Refresh it: run `cargo run -q -- {}` from the repository's root and paste what it \
             prints into the block.",
            args.join(" ")
        );
        assert_eq!(
            printed.trim_end(),
            shown,
            "README.md:{}: `harness {}` prints something else. {refresh}",
            block.line,
            args.join(" ")
        );
        assert_eq!(
            out.status.code(),
            Some(*code),
            "README.md:{}: `harness {}` exits {:?}, the marker says {code}",
            block.line,
            args.join(" "),
            out.status.code()
        );
    }
}

/// Proves the excerpt rule can fail: a line the report lacks, or lines out of order, are
/// found, and `...` stands for any lines.
#[test]
fn excerpts_must_be_true_and_in_order() {
    let report: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let lines = |l: &[&str]| l.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    assert_eq!(first_untrue(&lines(&["a", "...", "c"]), &report), None);
    assert_eq!(first_untrue(&lines(&["c", "a"]), &report), Some("a"));
    assert_eq!(first_untrue(&lines(&["a", "d"]), &report), Some("d"));
}
