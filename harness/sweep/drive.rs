//! The `sweep` and `merge` commands end to end: options in, summary on stdout, files
//! out, an exit code back. `harness/main.rs` parses the command line and calls these.

use std::path::{Path, PathBuf};

use super::html;
use super::junit;
use super::merge;
use super::one::VERSION;
use super::out::{self, Manifest};
use super::pool::run_all;
use super::progress::Progress;
use super::record::SeedRecord;
use super::seeds::{SeedRange, Shard};
use super::summary::{self, Header};
use crate::scenario;

/// What `harness sweep` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// The scenario file.
    pub file: PathBuf,
    pub seeds: SeedRange,
    /// Simulations at once (default: the machine's available cores).
    pub jobs: Option<usize>,
    /// The share of the seeds this process runs ([`Shard::WHOLE`] for all).
    pub shard: Shard,
    /// Where to write the records, the manifest and the summary.
    pub out: Option<PathBuf>,
    /// Where to write JUnit XML.
    pub junit: Option<PathBuf>,
    /// Where to write the summary as an HTML page.
    pub html: Option<PathBuf>,
    /// Exit 1 when a check was not judged or vacuous too.
    pub strict: bool,
    /// Run each seed twice and fail a seed whose two event logs differ.
    pub check_determinism: bool,
}

/// `harness sweep`: the exit code (0, 1, 2 on bad input or an unwritable output, 3 when
/// a simulation failed).
pub fn sweep(options: &Options) -> u8 {
    let scenario = match scenario::load(&options.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let seeds = options.seeds.share(options.shard);
    let jobs = options
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let mut progress = Progress::new(seeds.len() as u64);
    let records = run_all(&scenario, &seeds, jobs, options.check_determinism, |r| {
        progress.seed_done(r);
    });
    progress.finish();
    let header = Header {
        scenario: options.file.display().to_string(),
        first: options.seeds.first,
        last: options.seeds.last,
        harness: VERSION.to_string(),
        check_determinism: options.check_determinism,
    };
    let manifest = Manifest {
        layout_version: out::LAYOUT_VERSION,
        header,
        shard_index: options.shard.index,
        shard_count: options.shard.count,
    };
    let files = Files {
        out: options.out.as_deref(),
        junit: options.junit.as_deref(),
        html: options.html.as_deref(),
    };
    finish(&manifest, &records, &files, options.strict)
}

/// The files a sweep or a merge writes besides its summary on stdout.
#[derive(Debug, Clone, Copy, Default)]
pub struct Files<'a> {
    /// `--out DIR`: records, manifest and summary.
    pub out: Option<&'a Path>,
    /// `--junit PATH`.
    pub junit: Option<&'a Path>,
    /// `--html PATH`.
    pub html: Option<&'a Path>,
}

/// `harness merge DIR...`: the same summary (and JUnit, and with `out` a merged output
/// directory) as the unsharded sweep; 2 when the directories do not make one sweep.
pub fn merge(dirs: &[PathBuf], files: &Files, strict: bool) -> u8 {
    let merged = match merge::merge(dirs) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: merge: {e}");
            return 2;
        }
    };
    let manifest = Manifest {
        layout_version: out::LAYOUT_VERSION,
        header: merged.header,
        shard_index: Shard::WHOLE.index,
        shard_count: Shard::WHOLE.count,
    };
    finish(&manifest, &merged.records, files, strict)
}

/// Prints the summary (for a shard: of its seeds, under the whole sweep's header), writes
/// the files asked for, and returns the exit code.
fn finish(manifest: &Manifest, records: &[SeedRecord], files: &Files, strict: bool) -> u8 {
    let text = summary::render(&manifest.header, records, strict);
    if manifest.shard_count > 1 {
        println!(
            "shard {}/{}: {} of the range's seeds",
            manifest.shard_index,
            manifest.shard_count,
            records.len()
        );
    }
    print!("{text}");
    let mut written = Ok(());
    if let Some(dir) = files.out {
        written = written.and(out::write(dir, manifest, records, &text));
    }
    if let Some(path) = files.html {
        written = written.and(write_html(path, &manifest.header, records, strict));
    }
    if let Some(path) = files.junit {
        written = written.and(write_junit(
            path,
            &manifest.header.scenario,
            records,
            strict,
        ));
    }
    match written {
        Ok(()) => summary::exit_code(records, strict),
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

/// Writes the summary page of `records` to `path`, whole.
fn write_html(
    path: &Path,
    header: &Header,
    records: &[SeedRecord],
    strict: bool,
) -> Result<(), String> {
    let page = html::render(header, records, strict)
        .map_err(|e| format!("--html: {e} (a bug in the harness)"))?;
    crate::export::file::write(path, &page)
        .map_err(|e| format!("--html {}: cannot write: {e}", path.display()))
}

/// Writes the JUnit XML of `records` (of the scenario file `scenario`) to `path`, whole.
pub fn write_junit(
    path: &Path,
    scenario: &str,
    records: &[SeedRecord],
    strict: bool,
) -> Result<(), String> {
    crate::export::file::write(path, &junit::render(scenario, records, strict))
        .map_err(|e| format!("--junit {}: cannot write: {e}", path.display()))
}
