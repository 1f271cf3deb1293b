//! The plots on the shared time axis, drawn by plotters' SVG backend (no system fonts:
//! the crate's `ttf` feature is off, so text is SVG `<text>` the browser sets): the
//! users' request rate ok and failed by kind, their latency p50 and p99, the requests
//! the balancer routed to each node, and each host's clock offset. Every fault window is
//! shaded across every plot.
//!
//! The series are counted from the event log's requests in one-second bins by start
//! time (the text report's table counts the same requests in 10s windows); latency
//! percentiles are nearest ranks of a bin's successful requests.

use std::collections::BTreeMap;
use std::time::Duration;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Serialize;

use super::spans::Window;
use super::svg::{Axis, LEFT_PX, RIGHT_PX, WIDTH_PX};
use crate::events::{ClockCause, EventKind, Log, RequestRecord};

/// A plot's height, in px.
const PLOT_PX: u32 = 220;
/// The plots' bin, in ms.
pub const BIN_MS: u64 = 1_000;
/// Series colours (Okabe-Ito, without the yellow, too faint on white): blue, vermillion,
/// reddish purple, orange, sky blue, black, bluish green.
const SERIES: [(u8, u8, u8); 7] = [
    (0x00, 0x72, 0xB2),
    (0xD5, 0x5E, 0x00),
    (0xCC, 0x79, 0xA7),
    (0xE6, 0x9F, 0x00),
    (0x56, 0xB4, 0xE9),
    (0x00, 0x00, 0x00),
    (0x00, 0x9E, 0x73),
];
/// The colour of successful requests (bluish green).
const OK: (u8, u8, u8) = (0x00, 0x9E, 0x73);

/// One plot: its SVG and its legend.
#[derive(Debug, Clone, Serialize)]
pub struct Plot {
    pub id: &'static str,
    pub title: String,
    pub svg: String,
    pub legend: Vec<Entry>,
    /// Said instead of a plot with nothing to show.
    pub note: Option<String>,
}

/// A legend entry: its colour (`#rrggbb`), words and how the series is drawn.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub colour: String,
    pub label: String,
    pub style: Style,
}

/// How a series is drawn: a thick line, a thin one (told apart without colour), or
/// points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    Line,
    Thin,
    Points,
}

/// One named series of (seconds, value) points, gaps where a bin has no value.
struct Series {
    label: String,
    colour: (u8, u8, u8),
    points: Vec<Option<(f64, f64)>>,
    style: Style,
}

fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn bins(axis: Axis) -> usize {
    usize::try_from(axis.end_ms.div_ceil(BIN_MS)).expect("an hour's bins fit")
}

fn bin(started: Duration) -> usize {
    usize::try_from(started.as_millis() / u128::from(BIN_MS)).expect("an hour's bins fit")
}

fn centre(i: usize) -> f64 {
    (i as f64 + 0.5) * BIN_MS as f64 / 1000.0
}

/// Requests per second, ok and failed by class (the text report's failure columns).
pub fn rate(requests: &[RequestRecord], windows: &[Window], axis: Axis) -> Result<Plot, String> {
    let n = bins(axis);
    let mut counts: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    counts.insert(String::new(), vec![0.0; n]);
    for r in requests {
        let class = r.outcome.failure_class().unwrap_or_default();
        let row = counts.entry(class).or_insert_with(|| vec![0.0; n]);
        if let Some(c) = row.get_mut(bin(r.started)) {
            *c += 1.0;
        }
    }
    let series: Vec<Series> = counts
        .into_iter()
        .zip(std::iter::once(OK).chain(SERIES.into_iter().skip(1).cycle()))
        .map(|((class, row), colour)| Series {
            label: if class.is_empty() {
                "ok".to_string()
            } else {
                format!("failed: {class}")
            },
            colour,
            points: row
                .into_iter()
                .enumerate()
                .map(|(i, v)| Some((centre(i), v)))
                .collect(),
            style: Style::Line,
        })
        .collect();
    draw(
        "rate",
        "Users' requests per second, by outcome (1s bins, by start time)",
        "requests/s",
        &series,
        windows,
        axis,
    )
}

/// Latency of successful requests per second: p50 and p99 (nearest rank).
pub fn latency(requests: &[RequestRecord], windows: &[Window], axis: Axis) -> Result<Plot, String> {
    let mut per_bin: Vec<Vec<u64>> = vec![Vec::new(); bins(axis)];
    for r in requests.iter().filter(|r| r.outcome.is_ok()) {
        if let Some(b) = per_bin.get_mut(bin(r.started)) {
            b.push(u64::try_from(r.latency.as_millis()).expect("latencies are short"));
        }
    }
    for b in &mut per_bin {
        b.sort_unstable();
    }
    let pct = |p: usize| -> Vec<Option<(f64, f64)>> {
        per_bin
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let rank = (b.len() * p).div_ceil(100).max(1);
                b.get(rank - 1).map(|v| (centre(i), *v as f64))
            })
            .collect()
    };
    let series = vec![
        Series {
            label: "p50".to_string(),
            colour: SERIES[0],
            points: pct(50),
            style: Style::Line,
        },
        Series {
            label: "p99".to_string(),
            colour: SERIES[1],
            points: pct(99),
            style: Style::Thin,
        },
    ];
    draw(
        "latency",
        "Latency of successful requests (1s bins, by start time)",
        "ms",
        &series,
        windows,
        axis,
    )
}

/// Requests the balancer routed to each node per second, whatever their outcome.
pub fn per_node(
    log: &Log,
    requests: &[RequestRecord],
    nodes: &[String],
    windows: &[Window],
    axis: Axis,
) -> Result<Plot, String> {
    let n = bins(axis);
    let mut counts: Vec<Vec<f64>> = vec![vec![0.0; n]; nodes.len()];
    for r in requests {
        let Some(backend) = log.route(r.id).and_then(|route| route.backend) else {
            continue;
        };
        let Some(k) = nodes.iter().position(|node| node == backend) else {
            continue;
        };
        if let Some(c) = counts[k].get_mut(bin(r.started)) {
            *c += 1.0;
        }
    }
    let series: Vec<Series> = nodes
        .iter()
        .zip(counts)
        .zip(SERIES.into_iter().cycle())
        .map(|((node, row), colour)| Series {
            label: node.clone(),
            colour,
            points: row
                .into_iter()
                .enumerate()
                .map(|(i, v)| Some((centre(i), v)))
                .collect(),
            style: Style::Line,
        })
        .collect();
    draw(
        "per-node",
        "Requests the load balancer routed to each node per second",
        "requests/s",
        &series,
        windows,
        axis,
    )
}

/// Each host's clock offset over time (hosts whose clock never changed are at 0 and
/// not drawn), NTP steps as their own series of points.
pub fn clocks(log: &Log, windows: &[Window], axis: Axis) -> Result<Plot, String> {
    let mut settings: BTreeMap<&str, Vec<(u64, &crate::clock::ClockSetting)>> = BTreeMap::new();
    let mut steps = Vec::new();
    for e in log {
        if let EventKind::ClockChanged {
            node,
            setting,
            cause,
        } = &e.kind
        {
            let at = u64::try_from(e.at.as_millis()).expect("runs are at most an hour");
            settings.entry(node).or_default().push((at, setting));
            if let ClockCause::NtpStep { .. } = cause {
                steps.push(Some((at as f64 / 1000.0, setting.offset_ns as f64 / 1e6)));
            }
        }
    }
    if settings.is_empty() {
        return Ok(empty(
            "clocks",
            "Clock offsets",
            "No host's clock changed: every clock kept true time.",
        ));
    }
    let mut series: Vec<Series> = settings
        .into_iter()
        .zip(SERIES.into_iter().cycle())
        .map(|((node, changes), colour)| Series {
            label: format!("{node} offset"),
            colour,
            points: offsets(&changes, axis),
            style: Style::Line,
        })
        .collect();
    if !steps.is_empty() {
        series.push(Series {
            label: "NTP step".to_string(),
            colour: (0, 0, 0),
            points: steps,
            style: Style::Points,
        });
    }
    draw(
        "clocks",
        "Clock offsets from true time (ms; positive: ahead)",
        "offset ms",
        &series,
        windows,
        axis,
    )
}

/// The offset every bin, from the setting in force then (0 before the first).
fn offsets(changes: &[(u64, &crate::clock::ClockSetting)], axis: Axis) -> Vec<Option<(f64, f64)>> {
    (0..=bins(axis))
        .map(|i| {
            let t_ms = i as u64 * BIN_MS;
            let setting = changes.iter().rev().find(|(at, _)| *at <= t_ms);
            let ns = setting.map_or(0, |(_, s)| s.offset_at(Duration::from_millis(t_ms)));
            Some((t_ms as f64 / 1000.0, ns as f64 / 1e6))
        })
        .collect()
}

fn empty(id: &'static str, title: &str, note: &str) -> Plot {
    Plot {
        id,
        title: title.to_string(),
        svg: String::new(),
        legend: Vec::new(),
        note: Some(note.to_string()),
    }
}

/// The value range of `series`, padded, never empty.
fn y_range(series: &[Series]) -> (f64, f64) {
    let values = series
        .iter()
        .flat_map(|s| s.points.iter().flatten().map(|p| p.1));
    let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = ((hi - lo) * 0.08).max(1.0);
    (if lo < 0.0 { lo - pad } else { 0.0 }, hi + pad)
}

/// Draws `series` over the shaded fault `windows`, as SVG.
fn draw(
    id: &'static str,
    title: &str,
    y_desc: &str,
    series: &[Series],
    windows: &[Window],
    axis: Axis,
) -> Result<Plot, String> {
    let mut svg = String::new();
    draw_into(&mut svg, y_desc, series, windows, axis)
        .map_err(|e| format!("the {id} plot: {e}"))?;
    let legend = series
        .iter()
        .map(|s| Entry {
            colour: hex(s.colour),
            label: s.label.clone(),
            style: s.style,
        })
        .collect();
    Ok(Plot {
        id,
        title: title.to_string(),
        svg,
        legend,
        note: None,
    })
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw_into(
    svg: &mut String,
    y_desc: &str,
    series: &[Series],
    windows: &[Window],
    axis: Axis,
) -> DrawResult {
    let end_s = axis.end_ms as f64 / 1000.0;
    let (lo, hi) = y_range(series);

    let root = SVGBackend::with_string(svg, (WIDTH_PX, PLOT_PX)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .margin_top(8)
        .margin_right(RIGHT_PX)
        .x_label_area_size(28)
        .y_label_area_size(LEFT_PX)
        .build_cartesian_2d(0f64..end_s, lo..hi)?;
    chart
        .configure_mesh()
        .x_labels(0)
        .disable_x_mesh()
        .y_label_formatter(&tick_label)
        .y_desc(y_desc)
        .light_line_style(WHITE)
        .label_style(("sans-serif", 12))
        .draw()?;
    // The lanes' ticks, so that a moment is at the same tick everywhere on the page.
    let grey = RGBColor(0xbb, 0xbb, 0xbb);
    for t in axis.ticks() {
        let x = t as f64 / 1000.0;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, lo), (x, hi)],
            grey,
        )))?;
        let (px, py) = chart.backend_coord(&(x, lo));
        let style = TextStyle::from(("sans-serif", 11)).pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(super::svg::mss(t), (px, py + 6), style))?;
    }
    chart.draw_series(windows.iter().map(|w| {
        let (r, g, b) = w.shade.colour();
        let (x0, x1) = (w.from_ms as f64 / 1000.0, w.to_ms as f64 / 1000.0);
        Rectangle::new(
            [(x0, lo), (x1.max(x0 + 0.2), hi)],
            RGBColor(r, g, b).mix(0.22).filled(),
        )
    }))?;
    for s in series {
        let (r, g, b) = s.colour;
        let colour = RGBColor(r, g, b);
        if s.style == Style::Points {
            chart.draw_series(
                s.points
                    .iter()
                    .flatten()
                    .map(|p| Circle::new(*p, 4, colour.filled())),
            )?;
            continue;
        }
        let style =
            ShapeStyle::from(colour).stroke_width(if s.style == Style::Thin { 1 } else { 2 });
        for run in runs(&s.points) {
            chart.draw_series(LineSeries::new(run, style))?;
        }
    }
    root.present()?;
    Ok(())
}

/// A y tick's label: as few decimals as it needs (`20`, `0.25`).
fn tick_label(v: &f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The points in contiguous runs (a gap ends a run).
fn runs(points: &[Option<(f64, f64)>]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for p in points {
        match p {
            Some(p) => out.last_mut().expect("never empty").push(*p),
            None => out.push(Vec::new()),
        }
    }
    out.retain(|r| !r.is_empty());
    out
}
