//! Build script: the harness's version for reproduce lines and `harness --version`.
//!
//! Sets `HARNESS_VERSION` to the crate version and the git commit the build is made from
//! (`0.1.0, commit 5aa4932c1d2e`; 12 hex digits) when the source is a git checkout and
//! `git` runs, and to the crate version alone otherwise (a source tarball, no git
//! installed). It never fails the build: every git error only leaves the commit out.
//!
//! The script reruns when `.git/HEAD` or the ref it names changes (a commit, a checkout),
//! found with `git rev-parse --git-path` so that worktrees and packed refs work, and when
//! this file changes. Each rerun recompiles the crate, as any change of an environment
//! variable the code reads would.

use std::path::Path;
use std::process::Command;

/// Hex digits of the commit kept: unambiguous in this repository for years, short enough
/// for a reproduce line.
const COMMIT_HEX_DIGITS: usize = 12;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "HEAD"])
        .filter(|c| c.len() >= COMMIT_HEX_DIGITS && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|c| c[..COMMIT_HEX_DIGITS].to_string())
        .unwrap_or_default();
    let crate_version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    if commit.is_empty() {
        println!("cargo:rustc-env=HARNESS_VERSION={crate_version}");
        return;
    }
    println!("cargo:rustc-env=HARNESS_VERSION={crate_version}, commit {commit}");
    // HEAD itself, the branch it names (absent when detached), and packed-refs, where git
    // keeps a branch's commit after `git pack-refs`.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name])
            && Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

/// `git ARGS` in the package's directory: its first output line, when it succeeds.
fn git(args: &[&str]) -> Option<String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let out = Command::new("git")
        .args(args)
        .current_dir(&dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let line = text.lines().next()?.trim();
    if line.is_empty() {
        return None;
    }
    // --git-path answers relative to the working directory.
    if args.first() == Some(&"rev-parse") && args.get(1) == Some(&"--git-path") {
        return Some(Path::new(&dir).join(line).to_string_lossy().into_owned());
    }
    Some(line.to_string())
}
