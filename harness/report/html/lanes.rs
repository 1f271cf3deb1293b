//! Lanes on the shared time axis, as data for the `lanes` template: one row per host
//! (or backend, or member) with shaded intervals and marked instants. Three pictures use
//! them: the fault timeline, the load balancer's rotation and the replica set's roles.
//!
//! No crate draws swim lanes; this computes only where things go, and the template
//! writes the SVG (escaping every text).

use serde::Serialize;

use super::spans::{Faults, MarkKind, RoleSpan};
use super::svg::{Axis, LANE_PX, LEFT_PX, TICKS_PX, Tick, WIDTH_PX, px};
use crate::events::{CheckEffect, EventKind, Log, RsEvent};

/// A picture of lanes, as the template draws it.
#[derive(Debug, Clone, Serialize)]
pub struct Lanes {
    /// The CSS class of the SVG (`fault-lanes`, `lb-lanes`, `rs-lanes`).
    pub class: &'static str,
    pub title: String,
    pub width: u32,
    pub height: u32,
    /// The lanes' bottom (where the ticks go).
    pub bottom: u32,
    pub left: u32,
    pub rows: Vec<Row>,
    pub rects: Vec<Rect>,
    pub pins: Vec<Pin>,
    pub ticks: Vec<Tick>,
}

/// One lane's name and top.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub y: u32,
    pub label: String,
}

/// A shaded interval on a lane.
#[derive(Debug, Clone, Serialize)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub class: String,
    /// The tooltip.
    pub title: String,
    /// Text drawn inside, when it fits.
    pub text: Option<String>,
}

/// A marked instant on a lane.
#[derive(Debug, Clone, Serialize)]
pub struct Pin {
    pub x: f64,
    pub y: u32,
    pub class: &'static str,
    pub short: String,
    pub title: String,
    /// The text's baseline: low on the lane, or high when the pin before it on the lane
    /// is too close for both texts to fit.
    pub text_y: u32,
}

/// Width in px under which an interval carries no text.
const TEXT_MIN_PX: f64 = 60.0;
/// Pins closer than this on one lane, in px, put their texts at two heights.
const PIN_TEXT_PX: f64 = 80.0;

impl Lanes {
    fn new(class: &'static str, title: &str, names: &[String], axis: Axis) -> Self {
        let bottom = u32::try_from(names.len()).expect("a handful of lanes") * LANE_PX;
        Self {
            class,
            title: title.to_string(),
            width: WIDTH_PX,
            height: bottom + TICKS_PX,
            bottom,
            left: LEFT_PX,
            rows: (0u32..)
                .zip(names)
                .map(|(i, n)| Row {
                    y: i * LANE_PX,
                    label: n.clone(),
                })
                .collect(),
            rects: Vec::new(),
            pins: Vec::new(),
            ticks: axis.tick_marks(),
        }
    }

    fn row(&self, name: &str) -> Option<u32> {
        self.rows.iter().find(|r| r.label == name).map(|r| r.y)
    }

    /// Shades `from_ms..to_ms` on lane `name` (a lane it does not have: nothing).
    fn shade(
        &mut self,
        axis: Axis,
        name: &str,
        (from_ms, to_ms): (u64, u64),
        class: String,
        title: String,
        text: Option<String>,
    ) {
        let Some(y) = self.row(name) else { return };
        let x = axis.x(from_ms);
        let w = (axis.x(to_ms) - x).max(1.0);
        let text = text.filter(|_| w >= TEXT_MIN_PX);
        self.rects.push(Rect {
            x: px(x),
            y: f64::from(y + 4),
            w: px(w),
            h: f64::from(LANE_PX - 8),
            class,
            title,
            text,
        });
    }

    fn pin(
        &mut self,
        axis: Axis,
        name: &str,
        at_ms: u64,
        class: &'static str,
        short: String,
        title: String,
    ) {
        let Some(y) = self.row(name) else { return };
        let x = px(axis.x(at_ms));
        let crowded = self
            .pins
            .iter()
            .rev()
            .find(|p| p.y == y)
            .is_some_and(|p| x - p.x < PIN_TEXT_PX && p.text_y == y + 27);
        let text_y = if crowded { y + 14 } else { y + 27 };
        self.pins.push(Pin {
            x,
            y,
            class,
            short,
            title,
            text_y,
        });
    }
}

/// The fault timeline: a lane per host a fault or an instant concerns (the nodes
/// always), in topology order.
pub fn faults(faults: &Faults, hosts: &[String], nodes: &[String], axis: Axis) -> Lanes {
    let concerned = |h: &String| {
        nodes.contains(h)
            || faults.windows.iter().any(|w| w.hosts.contains(h))
            || faults.marks.iter().any(|m| &m.host == h)
    };
    let names: Vec<String> = hosts.iter().filter(|h| concerned(h)).cloned().collect();
    let mut lanes = Lanes::new("fault-lanes", "Faults per host", &names, axis);
    for w in &faults.windows {
        for h in &w.hosts {
            let text = Some(w.short.clone());
            lanes.shade(
                axis,
                h,
                (w.from_ms, w.to_ms),
                format!("shade {}", w.shade.class()),
                w.label.clone(),
                text,
            );
        }
    }
    for m in &faults.marks {
        lanes.pin(
            axis,
            &m.host,
            m.at_ms,
            m.kind.class(),
            m.short.clone(),
            m.text.clone(),
        );
    }
    lanes
}

/// The balancer's rotation: a lane per backend, in rotation or out, from its health
/// checks' DOWN and UP.
pub fn rotation(log: &Log, nodes: &[String], axis: Axis) -> Lanes {
    let mut lanes = Lanes::new("lb-lanes", "Load balancer rotation per node", nodes, axis);
    for node in nodes {
        let mut since = 0;
        let mut inside = true;
        for e in log {
            let EventKind::Check {
                backend,
                effect,
                detail,
            } = &e.kind
            else {
                continue;
            };
            let went = match effect {
                CheckEffect::WentDown { .. } => false,
                CheckEffect::WentUp { .. } => true,
                _ => continue,
            };
            if backend != node || went == inside {
                continue;
            }
            let at = u64::try_from(e.at.as_millis()).expect("runs are at most an hour");
            rotation_span(&mut lanes, axis, node, (since, at), inside, detail);
            (since, inside) = (at, went);
        }
        rotation_span(&mut lanes, axis, node, (since, axis.end_ms), inside, "");
    }
    lanes
}

fn rotation_span(
    lanes: &mut Lanes,
    axis: Axis,
    node: &str,
    span: (u64, u64),
    inside: bool,
    why: &str,
) {
    let (class, text) = if inside {
        ("rotation in", "in rotation")
    } else {
        ("rotation out", "out of rotation")
    };
    let title = if inside || why.is_empty() {
        format!("{node} {text}")
    } else {
        format!("{node} {text}: {why}")
    };
    lanes.shade(
        axis,
        node,
        span,
        class.to_string(),
        title,
        Some(text.to_string()),
    );
}

/// The replica set: a lane per member with its role and term over time, its lag above
/// the threshold, and its elections, step-downs and rollbacks.
pub fn replica(
    roles: &[RoleSpan],
    faults: &Faults,
    log: &Log,
    members: &[String],
    axis: Axis,
) -> Lanes {
    let mut lanes = Lanes::new(
        "rs-lanes",
        "Replica set roles and terms per member",
        members,
        axis,
    );
    for r in roles {
        let term = r.term.map(|t| format!(" t{t}")).unwrap_or_default();
        let title = format!(
            "{} {}{}",
            r.member,
            r.role,
            r.term.map(|t| format!(", term {t}")).unwrap_or_default()
        );
        lanes.shade(
            axis,
            &r.member,
            (r.from_ms, r.to_ms),
            format!("role {}", r.role),
            title,
            Some(format!("{}{term}", r.role)),
        );
    }
    for (member, from, to, lag_ms) in lag_spans(log, axis.end_ms) {
        let Some(y) = lanes.row(&member) else {
            continue;
        };
        let x = axis.x(from);
        let w = (axis.x(to) - x).max(1.0);
        lanes.rects.push(Rect {
            x: px(x),
            y: f64::from(y + LANE_PX - 6),
            w: px(w),
            h: 4.0,
            class: "lag".to_string(),
            title: format!("{member} lagging (by {lag_ms}ms when noticed)"),
            text: None,
        });
    }
    for m in faults.marks.iter().filter(|m| {
        matches!(
            m.kind,
            MarkKind::Elected
                | MarkKind::SteppedDown
                | MarkKind::RolledBack
                | MarkKind::PrimaryLost
        )
    }) {
        lanes.pin(
            axis,
            &m.host,
            m.at_ms,
            m.kind.class(),
            m.short.clone(),
            m.text.clone(),
        );
    }
    lanes
}

/// Each stretch a member lagged (a `Lag` up to its `Lag` down), with the lag it was
/// noticed at.
fn lag_spans(log: &Log, end_ms: u64) -> Vec<(String, u64, u64, u64)> {
    let mut open: Vec<(String, u64, u64)> = Vec::new();
    let mut out = Vec::new();
    for e in log {
        let EventKind::ReplicaSet(RsEvent::Lag {
            member,
            lagging,
            lag_ms,
        }) = &e.kind
        else {
            continue;
        };
        let at = u64::try_from(e.at.as_millis()).expect("runs are at most an hour");
        if *lagging {
            if !open.iter().any(|(m, ..)| m == member) {
                open.push((member.clone(), at, *lag_ms));
            }
        } else if let Some(i) = open.iter().position(|(m, ..)| m == member) {
            let (m, from, lag) = open.remove(i);
            out.push((m, from, at, lag));
        }
    }
    out.extend(
        open.into_iter()
            .map(|(m, from, lag)| (m, from, end_ms, lag)),
    );
    out
}
