//! The outcome as one self-contained HTML page, for people: `harness run FILE --html
//! PATH`.
//!
//! A rendering, like [`super::text`]: it reads the [`Outcome`] and the event log and
//! judges nothing anew (the verdicts are the outcome's). The page has inline SVG and CSS
//! only — no script, no fetch, no font to load — so it opens offline in any browser and
//! prints legibly. It is deterministic: the same run gives the same bytes.
//!
//! On one shared time axis ([`svg::Axis`]): the fault lanes ([`lanes`], from [`spans`]),
//! the users' request rate and latency, the load balancer's rotation and the requests
//! per node, the replica set's roles, and the clocks ([`plots`], drawn by plotters).
//! Besides: the header with every verdict and the reproduce command, the topology
//! ([`topology`]), "what happened and why" ([`story`]) and the text report's tables.
//! The page's layout is a minijinja template (`html/page.html`, with `html/style.css`);
//! colours are Okabe-Ito's, which colour-blind readers tell apart.

pub mod lanes;
pub mod plots;
pub mod spans;
pub mod story;
pub mod svg;
pub mod topology;

use minijinja::{AutoEscape, Environment, context};

use super::outcome::Outcome;
use super::text;
use crate::events::Log;

/// The page's template.
const PAGE: &str = include_str!("html/page.html");
/// The lanes' SVG template.
const LANES: &str = include_str!("html/lanes.svg");
/// The topology's SVG template.
const TOPOLOGY: &str = include_str!("html/topology.svg");
/// The page's style sheet.
pub const STYLE: &str = include_str!("html/style.css");
/// The colours of issue 18's fault windows and setting marks, added to a page's style
/// only when it shows one, so that pages without them keep their bytes.
pub const STEP_STYLE: &str = include_str!("html/steps.css");
/// The axis ends on a multiple of this, in ms.
const AXIS_ROUND_MS: u64 = 10_000;

/// Why a page could not be made (a bug of the harness, never of the scenario).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("drawing a plot: {0}")]
    Plot(String),
    #[error("filling the page's template: {0}")]
    Template(#[from] minijinja::Error),
}

/// The page for `o`, the outcome of the run whose event log is `log`; `reproduce` is the
/// command that reruns it.
pub fn render(o: &Outcome, log: &Log, reproduce: &str) -> Result<String, Error> {
    let end_ms = o
        .duration_ms
        .max(u64::try_from(log.end().as_millis()).unwrap_or(u64::MAX));
    let axis = svg::Axis {
        end_ms: end_ms.div_ceil(AXIS_ROUND_MS) * AXIS_ROUND_MS,
    };
    let names: Vec<String> = o.host_details.iter().map(|h| h.name.clone()).collect();
    let nodes: Vec<String> = o
        .host_details
        .iter()
        .filter(|h| h.role == "node")
        .map(|h| h.name.clone())
        .collect();
    let faults = spans::faults(log, &o.host_details, axis.end_ms);
    let requests = log.requests();
    let roles = spans::roles(log, &nodes, axis.end_ms);
    let plots = [
        plots::rate(&requests, &faults.windows, axis),
        plots::latency(&requests, &faults.windows, axis),
        plots::per_node(log, &requests, &nodes, &faults.windows, axis),
        plots::clocks(log, &faults.windows, axis),
    ]
    .into_iter()
    .collect::<Result<Vec<_>, _>>()
    .map_err(Error::Plot)?;
    let mut shades: Vec<spans::Shade> = faults.windows.iter().map(|w| w.shade).collect();
    shades.sort();
    shades.dedup();
    let legend: Vec<_> = shades
        .iter()
        .map(|s| context! { class => s.class(), label => s.legend() })
        .collect();
    let env = environment()?;
    let ctx = context! {
        o => context! {
            scenario => o.scenario, description => o.description, seed => o.seed,
            topology => o.topology, rate_per_s => o.rate_per_s, passed => o.passed,
            duration => svg::mss(o.duration_ms), totals => o.totals,
        },
        reproduce,
        style => style(&faults),
        settings => faults.marks.iter().any(|m| m.kind == spans::MarkKind::Setting),
        verdicts => o.verdicts,
        topology => topology::picture(&o.host_details, &o.front.mode, &faults.windows),
        fault_lanes => lanes::faults(&faults, &names, &nodes, axis),
        rotation => lanes::rotation(log, &nodes, axis),
        replica => lanes::replica(&roles, &faults, log, &nodes, axis),
        windows => faults.windows.iter().map(|w| context! {
            class => w.shade.class(), label => w.label, from => svg::mss(w.from_ms), to => svg::mss(w.to_ms),
        }).collect::<Vec<_>>(),
        legend,
        plots,
        story => story::story(o),
        tables => tables(o),
        text => text::render(o, reproduce),
    };
    Ok(env.get_template("page.html")?.render(ctx)?)
}

/// The page's style sheet: [`STYLE`], and [`STEP_STYLE`] when a window or mark of
/// issue 18's faults is drawn.
fn style(faults: &spans::Faults) -> String {
    let steps = faults.windows.iter().any(|w| w.shade.from_steps())
        || faults
            .marks
            .iter()
            .any(|m| m.kind == spans::MarkKind::Setting);
    if steps {
        format!("{STYLE}{STEP_STYLE}")
    } else {
        STYLE.to_string()
    }
}

/// The templates, escaping every value as HTML (SVG included).
fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.add_template("page.html", PAGE)?;
    env.add_template("lanes.svg", LANES)?;
    env.add_template("topology.svg", TOPOLOGY)?;
    Ok(env)
}

/// The text report's per-window table, as rows of cells (the head first).
fn tables(o: &Outcome) -> minijinja::Value {
    let classes: Vec<&String> = o.totals.failed.keys().collect();
    let nodes: Vec<&String> = o
        .windows
        .first()
        .map(|w| w.routed_to.keys().collect())
        .unwrap_or_default();
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |ms| format!("{ms}ms"));
    let mut head = vec!["window".to_string(), "sent".to_string(), "ok".to_string()];
    head.extend(classes.iter().map(|c| c.to_string()));
    head.extend(["p50", "p99", "failed p50", "retried"].map(String::from));
    head.extend(nodes.iter().map(|n| n.to_string()));
    let rows: Vec<Vec<String>> = o
        .windows
        .iter()
        .map(|w| {
            let mut r = vec![
                format!(
                    "{}–{}",
                    svg::mss(w.start_ms),
                    svg::mss(w.start_ms + super::outcome::WINDOW.as_millis() as u64)
                ),
                w.sent.to_string(),
                w.ok.to_string(),
            ];
            r.extend(
                classes
                    .iter()
                    .map(|c| w.failed.get(*c).copied().unwrap_or(0).to_string()),
            );
            r.extend([
                opt(w.p50_ms),
                opt(w.p99_ms),
                opt(w.failed_p50_ms),
                w.retried.to_string(),
            ]);
            r.extend(
                nodes
                    .iter()
                    .map(|n| w.routed_to.get(*n).copied().unwrap_or(0).to_string()),
            );
            r
        })
        .collect();
    context! { head, rows }
}
