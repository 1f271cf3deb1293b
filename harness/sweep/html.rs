//! A sweep's summary as one self-contained HTML page, for people: `harness sweep ...
//! --html PATH` and `harness merge ... --html PATH`.
//!
//! A rendering of the records, like [`super::summary`] and [`super::junit`], and made of
//! the same aggregates ([`summary::verdict_counts`], [`summary::figure_values`],
//! [`summary::failing_groups`]), so the page and the printed summary cannot disagree. It
//! judges nothing: the statuses are the checkers'. On the page: the header (scenario,
//! seeds, harness, result), every verdict's seeds by status as a bar, one square per
//! seed coloured by how it ended (hover for the seed and what failed), the spread of the
//! four figures as histograms (plotters, SVG, no system fonts), the failing seeds grouped
//! by what failed with the commands that replay them, and the printed summary.
//!
//! Inline SVG and CSS only (the run page's style sheet, [`crate::report::html::STYLE`],
//! plus [`SWEEP_STYLE`]): no script, no fetch, so it opens offline and prints. It is a
//! function of the records in seed order: a merge of shards writes the same bytes as the
//! unsharded sweep.

use minijinja::{AutoEscape, Environment, context};
use plotters::prelude::*;
use serde::Serialize;

use super::record::SeedRecord;
use super::summary::{self, FAILING_LISTED_MAX, FigureValues, Header};
use crate::report::html::STYLE;

/// The page's template.
const PAGE: &str = include_str!("html/page.html");
/// The sweep page's own style, after the run page's.
const SWEEP_STYLE: &str = include_str!("html/sweep.css");
/// The seeds drawn as squares at most; beyond, the page says how many were left out.
pub const SEED_SQUARES_MAX: usize = 10_000;
/// Squares per row of the seed grid (a hundred seeds are two rows).
const SQUARES_PER_ROW: usize = 50;
/// A seed square's side (with its gap), in px.
const SQUARE_PX: usize = 18;
/// A verdict bar's width, in px.
const BAR_PX: f64 = 300.0;
/// A histogram's size, in px.
const HISTOGRAM_PX: (u32, u32) = (460, 200);
/// A histogram's bins at most (fewer when the values span fewer milliseconds).
const HISTOGRAM_BINS_MAX: usize = 30;

/// Why a page could not be made (a bug of the harness, never of the sweep).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("drawing the {0} histogram: {1}")]
    Plot(&'static str, String),
    #[error("filling the page's template: {0}")]
    Template(#[from] minijinja::Error),
}

/// One seed's square.
#[derive(Debug, Serialize)]
struct Square {
    x: usize,
    y: usize,
    /// `pass`, `fail`, `unpassed` (passed, a check not judged or vacuous) or `error`.
    class: &'static str,
    title: String,
}

/// One verdict's row: counts and the bar's segments.
#[derive(Debug, Serialize)]
struct VerdictRow {
    key: String,
    expectation: String,
    counts: [usize; 4],
    /// (class, x, width) of each non-empty segment, in px.
    segments: Vec<(&'static str, f64, f64)>,
}

/// One figure's histogram (or why there is none) and its spread in words.
#[derive(Debug, Serialize)]
struct Histogram {
    name: &'static str,
    seeds: usize,
    spread: Option<[String; 4]>,
    svg: Option<String>,
}

/// The page for a sweep of `header.scenario` whose records (in seed order) are
/// `records`; `strict` as the sweep was run.
pub fn render(header: &Header, records: &[SeedRecord], strict: bool) -> Result<String, Error> {
    let histograms = summary::figure_values(records)
        .iter()
        .map(histogram)
        .collect::<Result<Vec<_>, _>>()?;
    let failing: Vec<_> = summary::failing_groups(records)
        .into_iter()
        .map(|(keys, seeds)| {
            context! {
                keys => keys.join(", "), count => seeds.len(),
                seeds => seeds.iter().take(FAILING_LISTED_MAX)
                    .map(|r| context! { seed => r.seed, reproduce => r.reproduce }).collect::<Vec<_>>(),
                more => seeds.len().saturating_sub(FAILING_LISTED_MAX),
            }
        })
        .collect();
    let errors: Vec<_> = records
        .iter()
        .filter_map(|r| {
            let error = r.error.as_ref()?;
            Some(context! { seed => r.seed, error, reproduce => r.reproduce })
        })
        .collect();
    let (squares, rows) = squares(records);
    let failed = records.iter().filter(|r| !r.passed).count();
    let ctx = context! {
        h => header, style => STYLE, sweep_style => SWEEP_STYLE,
        seeds => records.len(), passed => records.len() - failed, failed,
        unpassed => summary::unpassed_count(records),
        result => summary::result_word(records, strict), strict,
        verdicts => verdict_rows(records),
        squares, per_row => SQUARES_PER_ROW, squares_max => SEED_SQUARES_MAX,
        grid_w => SQUARES_PER_ROW.min(records.len()).max(1) * SQUARE_PX,
        grid_h => rows * SQUARE_PX, square => SQUARE_PX - 3,
        left_out => records.len().saturating_sub(SEED_SQUARES_MAX),
        histograms, failing, errors,
        text => summary::render(header, records, strict),
    };
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.add_template("page.html", PAGE)?;
    Ok(env.get_template("page.html")?.render(ctx)?)
}

/// The verdict rows, in the summary's order.
fn verdict_rows(records: &[SeedRecord]) -> Vec<VerdictRow> {
    summary::verdict_counts(records)
        .into_iter()
        .map(|c| {
            let counts = [c.pass, c.fail, c.not_judged, c.vacuous];
            let total = counts.iter().sum::<usize>().max(1) as f64;
            let mut x = 0.0;
            let mut segments = Vec::new();
            for (class, n) in ["pass", "fail", "not-judged", "vacuous"]
                .into_iter()
                .zip(counts)
            {
                if n > 0 {
                    let w = round_px(BAR_PX * n as f64 / total);
                    segments.push((class, round_px(x), w));
                    x += w;
                }
            }
            VerdictRow {
                key: c.key,
                expectation: c.expectation,
                counts,
                segments,
            }
        })
        .collect()
}

/// The seed squares (at most [`SEED_SQUARES_MAX`]) and how many rows they take.
fn squares(records: &[SeedRecord]) -> (Vec<Square>, usize) {
    let shown = records.len().min(SEED_SQUARES_MAX);
    let squares = records[..shown]
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (class, what) = if let Some(e) = &r.error {
                ("error", format!("the simulation failed: {e}"))
            } else if !r.passed {
                ("fail", format!("FAIL: {}", r.failed_keys().join(", ")))
            } else if r.unpassed().next().is_some() {
                let words: Vec<String> = r
                    .unpassed()
                    .map(|v| format!("{} {}", v.key, v.status.word()))
                    .collect();
                ("unpassed", format!("pass; {}", words.join(", ")))
            } else {
                ("pass", "pass".to_string())
            };
            Square {
                x: (i % SQUARES_PER_ROW) * SQUARE_PX,
                y: (i / SQUARES_PER_ROW) * SQUARE_PX,
                class,
                title: format!("seed {}: {what}", r.seed),
            }
        })
        .collect();
    (squares, shown.div_ceil(SQUARES_PER_ROW))
}

fn round_px(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A figure's histogram over the seeds that measured it.
fn histogram(figure: &FigureValues) -> Result<Histogram, Error> {
    let spread = figure.spread().map(|s| s.map(|v| figure.show(v)));
    let svg = match figure.values.as_slice() {
        [] => None,
        values => {
            let mut svg = String::new();
            draw_histogram(&mut svg, figure, values)
                .map_err(|e| Error::Plot(figure.name, e.to_string()))?;
            Some(svg)
        }
    };
    Ok(Histogram {
        name: figure.name,
        seeds: figure.values.len(),
        spread,
        svg,
    })
}

/// Bins of equal width from the smallest value to the largest: (lower edge, count).
/// Milliseconds get whole-millisecond widths; one value (or all equal) is one bin.
fn bins(values: &[f64], percent: bool) -> (f64, Vec<(f64, usize)>) {
    let (lo, hi) = (values[0], values[values.len() - 1]);
    let span = hi - lo;
    let mut width = (span / HISTOGRAM_BINS_MAX as f64).max(if percent { 0.01 } else { 1.0 });
    if !percent {
        width = width.ceil();
    }
    let n = ((span / width).floor() as usize + 1).min(HISTOGRAM_BINS_MAX + 1);
    let mut counts = vec![0usize; n];
    for v in values {
        let k = (((v - lo) / width).floor() as usize).min(n - 1);
        counts[k] += 1;
    }
    let bins = counts
        .into_iter()
        .enumerate()
        .map(|(k, c)| (lo + k as f64 * width, c))
        .collect();
    (width, bins)
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw_histogram(svg: &mut String, figure: &FigureValues, values: &[f64]) -> DrawResult {
    let (width, bins) = bins(values, figure.percent);
    let x0 = bins[0].0;
    let x1 = bins[bins.len() - 1].0 + width;
    let top = bins.iter().map(|b| b.1).max().unwrap_or(1) as f64 * 1.1;
    let root = SVGBackend::with_string(svg, HISTOGRAM_PX).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(x0..x1, 0f64..top)?;
    let show = |v: &f64| figure.show(*v);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(5)
        .x_label_formatter(&show)
        .y_desc("seeds")
        .y_label_formatter(&|v: &f64| format!("{v:.0}"))
        .label_style(("sans-serif", 12))
        .draw()?;
    let blue = RGBColor(0x00, 0x72, 0xB2);
    chart.draw_series(bins.iter().filter(|b| b.1 > 0).map(|(edge, count)| {
        Rectangle::new([(*edge, 0.0), (edge + width, *count as f64)], blue.filled())
    }))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves the bins hold every value once, whole milliseconds wide, the largest value
    /// in the last bin, and equal values in one bin.
    #[test]
    fn bins_hold_every_value() {
        let values: Vec<f64> = (0..200).map(|k| f64::from(k * 7 + 3000)).collect();
        let (width, made) = bins(&values, false);
        assert_eq!(width, 47.0);
        assert_eq!(made.iter().map(|b| b.1).sum::<usize>(), 200);
        assert!(made.len() <= HISTOGRAM_BINS_MAX + 1);
        assert!(made.last().is_some_and(|b| b.1 > 0));
        assert_eq!(bins(&[5.0, 5.0], false).1, vec![(5.0, 2)]);
        let (w, pct) = bins(&[99.5, 100.0], true);
        assert!((w - 0.0166).abs() < 0.001, "{w}");
        assert_eq!(pct.iter().map(|b| b.1).sum::<usize>(), 2);
    }
}
