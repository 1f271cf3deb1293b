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

/// One verdict key over the sweep: how many seeds it passed, failed, could not judge or
/// found vacuous (a seed counts once per key: its worst verdict of that key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictCount {
    pub key: String,
    /// The expectation in words, as the first seed with this key says it.
    pub expectation: String,
    pub pass: usize,
    pub fail: usize,
    pub not_judged: usize,
    pub vacuous: usize,
}

/// Per verdict key, seeds by status, in report order (by where the key first appears in
/// a seed's verdicts).
pub fn verdict_counts(records: &[SeedRecord]) -> Vec<VerdictCount> {
    let mut worst: BTreeMap<&str, (usize, &str, BTreeMap<u64, Status>)> = BTreeMap::new();
    for r in records {
        for (i, v) in r.verdicts.iter().enumerate() {
            let entry = worst
                .entry(&v.key)
                .or_insert((i, &v.expectation, BTreeMap::new()));
            entry.0 = entry.0.min(i);
            let status = entry.2.entry(r.seed).or_insert(v.status);
            *status = (*status).max(v.status);
        }
    }
    let mut keys: Vec<(&str, usize, &str, &BTreeMap<u64, Status>)> =
        worst.iter().map(|(k, (i, e, s))| (*k, *i, *e, s)).collect();
    keys.sort_by_key(|(k, i, _, _)| (*i, *k));
    keys.into_iter()
        .map(|(key, _, expectation, seeds)| {
            let count = |s: Status| seeds.values().filter(|v| **v == s).count();
            VerdictCount {
                key: key.to_string(),
                expectation: expectation.to_string(),
                pass: count(Status::Pass),
                fail: count(Status::Fail),
                not_judged: count(Status::NotJudged),
                vacuous: count(Status::Vacuous),
            }
        })
        .collect()
}

fn verdict_table(out: &mut String, records: &[SeedRecord]) {
    line(out, format_args!("\nverdicts, seeds by status"));
    line(
        out,
        format_args!(
            "  {:<24} {:>6} {:>6} {:>11} {:>8}",
            "verdict", "pass", "FAIL", "not judged", "vacuous"
        ),
    );
    for c in verdict_counts(records) {
        line(
            out,
            format_args!(
                "  {:<24} {:>6} {:>6} {:>11} {:>8}",
                c.key, c.pass, c.fail, c.not_judged, c.vacuous
            ),
        );
    }
}

/// The value at nearest rank `pct` of sorted `values` (not empty).
fn nearest_rank<T: Copy>(sorted: &[T], pct: usize) -> T {
    let rank = (sorted.len() * pct).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// One figure over the seeds that measured it, sorted: milliseconds, or for
/// availability, percent.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureValues {
    pub name: &'static str,
    /// Sorted ascending.
    pub values: Vec<f64>,
    /// The values are percentages (availability), not milliseconds.
    pub percent: bool,
}

/// The four figures, in the summary's order.
pub fn figure_values(records: &[SeedRecord]) -> [FigureValues; 4] {
    let sorted = |name, percent, f: fn(&SeedRecord) -> Option<f64>| {
        let mut values: Vec<f64> = records.iter().filter_map(f).collect();
        values.sort_by(f64::total_cmp);
        FigureValues {
            name,
            values,
            percent,
        }
    };
    fn ms(v: Option<u64>) -> Option<f64> {
        v.map(|v| v as f64)
    }
    [
        sorted("failover", false, |r| ms(r.figures.failover_ms)),
        sorted("detection", false, |r| ms(r.figures.detection_ms)),
        sorted("longest failure window", false, |r| {
            ms(r.figures.longest_failure_window_ms)
        }),
        sorted("availability", true, |r| r.figures.availability_pct),
    ]
}

impl FigureValues {
    /// A value in the summary's words: `10.6s` or `99.50%`.
    pub fn show(&self, v: f64) -> String {
        if self.percent {
            format!("{v:.2}%")
        } else {
            span(Duration::from_millis(v as u64))
        }
    }

    /// min, p50, p99 and max (nearest rank), or `None` when no seed measured it.
    pub fn spread(&self) -> Option<[f64; 4]> {
        let v = &self.values;
        (!v.is_empty()).then(|| {
            [
                v[0],
                nearest_rank(v, 50),
                nearest_rank(v, 99),
                v[v.len() - 1],
            ]
        })
    }
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
    for figure in figure_values(records) {
        row(out, &figure);
    }
}

fn row(out: &mut String, figure: &FigureValues) {
    let name = figure.name;
    let Some(spread) = figure.spread() else {
        line(out, format_args!("  {name:<24} {:>6}  not measured", 0));
        return;
    };
    let [min, p50, p99, max] = spread.map(|v| figure.show(v));
    line(
        out,
        format_args!(
            "  {name:<24} {:>6} {min:>9} {p50:>9} {p99:>9} {max:>9}",
            figure.values.len()
        ),
    );
}

/// The failing seeds (whose simulation ran), grouped by the set of verdicts that failed,
/// in seed order within a group.
pub fn failing_groups(records: &[SeedRecord]) -> BTreeMap<Vec<&str>, Vec<&SeedRecord>> {
    let mut groups: BTreeMap<Vec<&str>, Vec<&SeedRecord>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.error.is_none() && !r.passed) {
        groups.entry(r.failed_keys()).or_default().push(r);
    }
    groups
}

/// Failing seeds, grouped by the set of verdicts that failed, each with its command.
fn failing(out: &mut String, records: &[SeedRecord]) {
    let groups = failing_groups(records);
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

/// The sweep's result in one word, as its exit code says it: `PASS`, `FAIL` or `ERROR`.
pub fn result_word(records: &[SeedRecord], strict: bool) -> &'static str {
    match exit_code(records, strict) {
        0 => "PASS",
        3 => "ERROR",
        _ => "FAIL",
    }
}

/// Seeds that passed but with a check not judged or vacuous (what `--strict` fails).
pub fn unpassed_count(records: &[SeedRecord]) -> usize {
    records
        .iter()
        .filter(|r| r.passed && r.unpassed().next().is_some())
        .count()
}

fn result_line(out: &mut String, records: &[SeedRecord], strict: bool) {
    let failed = records.iter().filter(|r| !r.passed).count();
    let unpassed = unpassed_count(records);
    let word = result_word(records, strict);
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
