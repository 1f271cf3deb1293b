//! A sweep's summary: per verdict, how many seeds passed, failed, could not be judged or
//! were vacuous; the spread (min, p50, p99, max) of the four figures; the failing seeds
//! grouped by which verdicts failed, each with the command that replays it; and the exit
//! `harness run` would give the sweep as a whole.
//!
//! The summary is a function of the records alone (in seed order), so a merge of shards
//! prints exactly what one machine running every seed would have printed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::record::{SeedRecord, Status};
use super::seeds::SeedRange;
use crate::duration::span;

/// Failing seeds listed per group of failed verdicts; the rest are counted.
pub const FAILING_LISTED_MAX: usize = 20;

/// What a sweep was: the same for every shard of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Header {
    /// The scenario file, as given on the command line.
    pub scenario: String,
    /// The first seed of the range swept.
    pub first: u64,
    /// The last seed of the range swept (included).
    pub last: u64,
    /// The harness's version (crate and commit) that ran it.
    pub harness: String,
    /// Each seed was run twice and compared.
    pub check_determinism: bool,
}

/// How a sweep ends, as `harness run` would end: 0, 1 (a verdict failed; with strict,
/// also one not judged or vacuous) or 3 (a simulation failed).
pub fn exit_code(records: &[SeedRecord], strict: bool) -> u8 {
    if records.iter().any(|r| r.error.is_some()) {
        3
    } else if records.iter().any(|r| !r.passed)
        || (strict && records.iter().any(|r| r.unpassed().next().is_some()))
    {
        1
    } else {
        0
    }
}

/// The summary in words.
pub fn render(header: &Header, records: &[SeedRecord], strict: bool) -> String {
    let range = SeedRange {
        first: header.first,
        last: header.last,
    };
    let mut out = String::new();
    line(
        &mut out,
        format_args!(
            "sweep of {}, seeds {range} ({} seeds), harness {}{}",
            header.scenario,
            range.len(),
            header.harness,
            if header.check_determinism {
                ", each run twice"
            } else {
                ""
            }
        ),
    );
    verdict_table(&mut out, records);
    figure_table(&mut out, records);
    failing(&mut out, records);
    errors(&mut out, records);
    result_line(&mut out, records, strict);
    out
}

/// Appends `text` and a newline (writing to a `String` cannot fail).
fn line(out: &mut String, text: std::fmt::Arguments) {
    part(out, text);
    out.push('\n');
}

/// Appends `text` (writing to a `String` cannot fail).
fn part(out: &mut String, text: std::fmt::Arguments) {
    out.write_fmt(text)
        .expect("writing to a String cannot fail");
}

/// Per verdict key, seeds by status (a seed counts once per key: its worst verdict).
fn verdict_table(out: &mut String, records: &[SeedRecord]) {
    let mut worst: BTreeMap<&str, (usize, BTreeMap<u64, Status>)> = BTreeMap::new();
    for r in records {
        for (i, v) in r.verdicts.iter().enumerate() {
            let entry = worst.entry(&v.key).or_insert((i, BTreeMap::new()));
            entry.0 = entry.0.min(i);
            let status = entry.1.entry(r.seed).or_insert(v.status);
            *status = (*status).max(v.status);
        }
    }
    // Report order: by where the key first appears in a seed's verdicts.
    let mut keys: Vec<(&str, usize, &BTreeMap<u64, Status>)> =
        worst.iter().map(|(k, (i, s))| (*k, *i, s)).collect();
    keys.sort_by_key(|(k, i, _)| (*i, *k));
    line(out, format_args!("\nverdicts, seeds by status"));
    line(
        out,
        format_args!(
            "  {:<24} {:>6} {:>6} {:>11} {:>8}",
            "verdict", "pass", "FAIL", "not judged", "vacuous"
        ),
    );
    for (key, _, seeds) in keys {
        let count = |s: Status| seeds.values().filter(|v| **v == s).count();
        line(
            out,
            format_args!(
                "  {key:<24} {:>6} {:>6} {:>11} {:>8}",
                count(Status::Pass),
                count(Status::Fail),
                count(Status::NotJudged),
                count(Status::Vacuous)
            ),
        );
    }
}

/// The value at nearest rank `pct` of sorted `values` (not empty).
fn nearest_rank<T: Copy>(sorted: &[T], pct: usize) -> T {
    let rank = (sorted.len() * pct).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// min, p50, p99 and max of each figure over the seeds that measured it.
fn figure_table(out: &mut String, records: &[SeedRecord]) {
    line(
        out,
        format_args!("\nfigures over the seeds that measured them (nearest rank)"),
    );
    line(
        out,
        format_args!(
            "  {:<24} {:>6} {:>9} {:>9} {:>9} {:>9}",
            "figure", "seeds", "min", "p50", "p99", "max"
        ),
    );
    let ms = |f: fn(&SeedRecord) -> Option<u64>| {
        let mut values: Vec<u64> = records.iter().filter_map(f).collect();
        values.sort_unstable();
        values
    };
    let time_rows: [(&str, Vec<u64>); 3] = [
        ("failover", ms(|r| r.figures.failover_ms)),
        ("detection", ms(|r| r.figures.detection_ms)),
        (
            "longest failure window",
            ms(|r| r.figures.longest_failure_window_ms),
        ),
    ];
    for (name, values) in &time_rows {
        row(out, name, values, |v| span(Duration::from_millis(*v)));
    }
    let mut pct: Vec<f64> = records
        .iter()
        .filter_map(|r| r.figures.availability_pct)
        .collect();
    pct.sort_by(f64::total_cmp);
    row(out, "availability", &pct, |v| format!("{v:.2}%"));
}

fn row<T: Copy>(out: &mut String, name: &str, sorted: &[T], show: impl Fn(&T) -> String) {
    if sorted.is_empty() {
        line(out, format_args!("  {name:<24} {:>6}  not measured", 0));
        return;
    }
    line(
        out,
        format_args!(
            "  {name:<24} {:>6} {:>9} {:>9} {:>9} {:>9}",
            sorted.len(),
            show(&sorted[0]),
            show(&nearest_rank(sorted, 50)),
            show(&nearest_rank(sorted, 99)),
            show(&sorted[sorted.len() - 1])
        ),
    );
}

/// Failing seeds, grouped by the set of verdicts that failed, each with its command.
fn failing(out: &mut String, records: &[SeedRecord]) {
    let mut groups: BTreeMap<Vec<&str>, Vec<&SeedRecord>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.error.is_none() && !r.passed) {
        groups.entry(r.failed_keys()).or_default().push(r);
    }
    if groups.is_empty() {
        return;
    }
    line(
        out,
        format_args!("\nfailing seeds, by the verdicts that failed"),
    );
    for (keys, seeds) in &groups {
        line(
            out,
            format_args!("  {} ({} seeds)", keys.join(", "), seeds.len()),
        );
        for r in seeds.iter().take(FAILING_LISTED_MAX) {
            line(out, format_args!("    seed {}: {}", r.seed, r.reproduce));
        }
        if seeds.len() > FAILING_LISTED_MAX {
            line(
                out,
                format_args!(
                    "    ... and {} more (every seed's line is in --out DIR)",
                    seeds.len() - FAILING_LISTED_MAX
                ),
            );
        }
    }
}

/// Seeds whose simulation failed (a harness bug: exit 3).
fn errors(out: &mut String, records: &[SeedRecord]) {
    let failed: Vec<&SeedRecord> = records.iter().filter(|r| r.error.is_some()).collect();
    if failed.is_empty() {
        return;
    }
    line(
        out,
        format_args!("\nseeds whose simulation failed ({})", failed.len()),
    );
    for r in failed.iter().take(FAILING_LISTED_MAX) {
        let error = r.error.as_deref().unwrap_or_default();
        line(
            out,
            format_args!("    seed {}: {error}; reproduce: {}", r.seed, r.reproduce),
        );
    }
}

fn result_line(out: &mut String, records: &[SeedRecord], strict: bool) {
    let failed = records.iter().filter(|r| !r.passed).count();
    let unpassed = records
        .iter()
        .filter(|r| r.passed && r.unpassed().next().is_some())
        .count();
    let word = match exit_code(records, strict) {
        0 => "PASS",
        3 => "ERROR",
        _ => "FAIL",
    };
    part(
        out,
        format_args!(
            "\nresult: {word} ({} of {} seeds passed, {failed} failed",
            records.len() - failed,
            records.len()
        ),
    );
    if unpassed > 0 {
        let strict_note = if strict { ", which --strict fails" } else { "" };
        part(
            out,
            format_args!("; {unpassed} with a check not judged or vacuous{strict_note}"),
        );
    }
    line(out, format_args!(")"));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves nearest-rank percentiles pick the values the report's method would.
    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<u64> = (1..=200).collect();
        assert_eq!(nearest_rank(&values, 50), 100);
        assert_eq!(nearest_rank(&values, 99), 198);
        assert_eq!(nearest_rank(&[7], 99), 7);
    }
}
