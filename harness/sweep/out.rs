//! A sweep's output directory (`--out DIR`): what one shard (or the whole sweep) ran,
//! kept so that `harness merge` can put shards back together.
//!
//! - `DIR/seeds.jsonl`: one JSON line per seed ([`SeedRecord`]), in seed order.
//! - `DIR/sweep.json`: the [`Manifest`]: the sweep's [`Header`] (scenario, range,
//!   version) and which shard of how many this directory holds.
//! - `DIR/summary.txt`: the summary as printed, for a person browsing the artifacts.
//!
//! Each file is written whole (a temporary file renamed over the target), after every
//! seed has run: a directory holds a finished shard or nothing new.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::record::SeedRecord;
use super::summary::Header;
use crate::export::file;
use crate::files::{Refusal, read_bounded};

/// The records file's name in an output directory.
pub const RECORDS_FILE: &str = "seeds.jsonl";
/// The manifest's name in an output directory.
pub const MANIFEST_FILE: &str = "sweep.json";
/// The summary's name in an output directory.
pub const SUMMARY_FILE: &str = "summary.txt";

/// The largest records file `merge` reads (a record is about a kilobyte: a million seeds).
pub const RECORDS_FILE_MAX_BYTES: u64 = 2 << 30;
/// The largest manifest `merge` reads.
pub const MANIFEST_MAX_BYTES: u64 = 64 << 10;

/// The version of the directory's layout; `merge` refuses another.
pub const LAYOUT_VERSION: u32 = 1;

/// What an output directory holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`LAYOUT_VERSION`].
    pub layout_version: u32,
    #[serde(flatten)]
    pub header: Header,
    /// Which shard this is, from 1.
    pub shard_index: u64,
    /// Of how many.
    pub shard_count: u64,
}

/// Writes the three files into `dir` (created if missing).
pub fn write(
    dir: &Path,
    manifest: &Manifest,
    records: &[SeedRecord],
    summary: &str,
) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("--out {}: cannot create the directory: {e}", dir.display()))?;
    let mut lines = String::new();
    for r in records {
        lines.push_str(&r.to_line());
        lines.push('\n');
    }
    let manifest = serde_json::to_string_pretty(manifest).expect("a manifest is plain data") + "\n";
    for (name, text) in [
        (RECORDS_FILE, lines.as_str()),
        (SUMMARY_FILE, summary),
        // Last: a directory with a manifest is complete.
        (MANIFEST_FILE, manifest.as_str()),
    ] {
        let path = dir.join(name);
        file::write(&path, text)
            .map_err(|e| format!("--out {}: cannot write: {e}", path.display()))?;
    }
    Ok(())
}

/// One output directory read back: its manifest and records.
#[derive(Debug)]
pub struct Shard {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub records: Vec<SeedRecord>,
}

/// Reads `dir`'s manifest and records; the error names the file (and line) at fault.
pub fn read(dir: &Path) -> Result<Shard, String> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let text = read_text(&manifest_path, MANIFEST_MAX_BYTES)?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not a sweep manifest: {e}",
            manifest_path.display(),
            e.line(),
            e.column()
        )
    })?;
    if manifest.layout_version != LAYOUT_VERSION {
        return Err(format!(
            "{}: layout_version {}; this harness reads {LAYOUT_VERSION}",
            manifest_path.display(),
            manifest.layout_version
        ));
    }
    let records_path = dir.join(RECORDS_FILE);
    let text = read_text(&records_path, RECORDS_FILE_MAX_BYTES)?;
    let mut records = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let record: SeedRecord = serde_json::from_str(line).map_err(|e| {
            format!(
                "{}:{}:{}: not a seed record: {e}",
                records_path.display(),
                i + 1,
                e.column()
            )
        })?;
        records.push(record);
    }
    Ok(Shard {
        dir: dir.to_path_buf(),
        manifest,
        records,
    })
}

fn read_text(path: &Path, max_bytes: u64) -> Result<String, String> {
    let bytes = read_bounded(path, max_bytes).map_err(|refusal| match refusal {
        Refusal::Io(e) => format!("{}: cannot read: {e}", path.display()),
        Refusal::NotAFile(kind) => format!("{}: {kind}, not a file", path.display()),
        Refusal::TooLarge => format!("{}: larger than {max_bytes} bytes", path.display()),
    })?;
    String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8", path.display()))
}
