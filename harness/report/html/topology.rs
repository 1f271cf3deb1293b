//! The topology as a picture, as data for the `topology` template: the production LAN,
//! the dev/test LAN and the internet as three areas, each host a box with its name,
//! address and role (the load balancer's with its mode), and every link a partition or
//! firewall rule cut during the run as a dashed line with when.
//!
//! No crate lays out a network diagram this small; the layout is a grid per area.

use serde::Serialize;

use super::spans::{Shade, Window};
use super::svg::{WIDTH_PX, mss};
use crate::report::outcome::Host;
use crate::topology::{DEV_LAN, PROD_LAN};

/// A host box's width and the gap between boxes, in px.
const BOX_W_PX: u32 = 160;
const GAP_PX: u32 = 20;
/// A box's name line, each detail line under it, and its bottom margin, in px: a box is
/// as high as the host with the most detail lines needs, every box alike.
const NAME_LINE_PX: u32 = 20;
const DETAIL_LINE_PX: u32 = 15;
const BOX_BOTTOM_PX: u32 = 8;
/// A detail line holds this many characters at most (11px text in a 160px box); longer
/// details (the balancer's mode) are wrapped at their commas.
const DETAIL_CHARS_MAX: usize = 24;
/// An area's title height and inner margin, in px.
const TITLE_PX: u32 = 26;
const PAD_PX: u32 = 14;
/// Boxes per row in the production LAN and on the internet.
const PROD_COLUMNS: u32 = 3;
const NET_COLUMNS: u32 = 2;

/// The picture, as the template draws it.
#[derive(Debug, Clone, Serialize)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub areas: Vec<Area>,
    pub boxes: Vec<HostBox>,
    pub cuts: Vec<CutLine>,
}

/// A network area.
#[derive(Debug, Clone, Serialize)]
pub struct Area {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    pub class: &'static str,
    pub title: String,
}

/// One host.
#[derive(Debug, Clone, Serialize)]
pub struct HostBox {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    pub name: String,
    pub address: String,
    pub role: String,
    /// The lines under the name (the address, the role, the balancer's mode wrapped),
    /// each with its baseline's y.
    pub details: Vec<(u32, String)>,
    pub class: String,
}

/// A link cut during the run.
#[derive(Debug, Clone, Serialize)]
pub struct CutLine {
    pub x1: u32,
    pub y1: u32,
    pub x2: u32,
    pub y2: u32,
    pub class: &'static str,
    pub title: String,
}

/// Where each host goes: its area (0 production, 1 dev/test, 2 internet).
fn area_of(h: &Host) -> usize {
    match h.address {
        std::net::IpAddr::V4(a) if PROD_LAN.contains(&a) => 0,
        std::net::IpAddr::V4(a) if DEV_LAN.contains(&a) => 1,
        _ => 2,
    }
}

/// The picture of `hosts`, `lb_mode` the balancer's, with the links `windows` cut.
pub fn picture(hosts: &[Host], lb_mode: &str, windows: &[Window]) -> Picture {
    let groups: [Vec<&Host>; 3] =
        [0, 1, 2].map(|a| hosts.iter().filter(|h| area_of(h) == a).collect());
    let box_h = box_height(hosts, lb_mode);
    let area_w = |columns: u32| columns * BOX_W_PX + (columns - 1) * GAP_PX + 2 * PAD_PX;
    let area_h = |n: usize, columns: u32| {
        let rows = u32::try_from(n.max(1))
            .expect("a handful of hosts")
            .div_ceil(columns);
        TITLE_PX + PAD_PX + rows * box_h + (rows - 1) * GAP_PX + PAD_PX
    };
    let prod = (
        0,
        0,
        area_w(PROD_COLUMNS),
        area_h(groups[0].len(), PROD_COLUMNS),
    );
    let dev = (
        0,
        prod.3 + GAP_PX,
        area_w(PROD_COLUMNS),
        area_h(groups[1].len(), PROD_COLUMNS),
    );
    let net = (
        WIDTH_PX - area_w(NET_COLUMNS),
        0,
        area_w(NET_COLUMNS),
        area_h(groups[2].len(), NET_COLUMNS),
    );
    let mut pic = Picture {
        width: WIDTH_PX,
        height: 0,
        areas: Vec::new(),
        boxes: Vec::new(),
        cuts: Vec::new(),
    };
    let specs = [
        (
            prod,
            PROD_COLUMNS,
            "prod",
            format!("production LAN {PROD_LAN}"),
        ),
        (dev, PROD_COLUMNS, "dev", format!("dev/test LAN {DEV_LAN}")),
        (net, NET_COLUMNS, "internet", "the internet".to_string()),
    ];
    for ((geometry, columns, class, title), group) in specs.into_iter().zip(&groups) {
        if group.is_empty() {
            continue;
        }
        let (x, y, w, h) = geometry;
        pic.areas.push(Area {
            x,
            y,
            w,
            h,
            class,
            title,
        });
        pic.height = pic.height.max(y + h);
        for (i, host) in (0u32..).zip(group) {
            let bx = x + PAD_PX + (i % columns) * (BOX_W_PX + GAP_PX);
            let by = y + TITLE_PX + PAD_PX + (i / columns) * (box_h + GAP_PX);
            pic.boxes.push(host_box(host, lb_mode, (bx, by, box_h)));
        }
    }
    pic.cuts = cuts(&pic.boxes, windows);
    pic.height += 4;
    pic
}

/// Every box's height: what the host with the most detail lines needs.
fn box_height(hosts: &[Host], lb_mode: &str) -> u32 {
    let lines = hosts
        .iter()
        .map(|h| details(h, lb_mode).len())
        .max()
        .unwrap_or(0);
    NAME_LINE_PX + DETAIL_LINE_PX * u32::try_from(lines).expect("a few lines") + BOX_BOTTOM_PX
}

/// A host's lines under its name: address, role, and for the balancer its mode,
/// word-wrapped into lines of at most [`DETAIL_CHARS_MAX`] characters.
fn details(host: &Host, lb_mode: &str) -> Vec<String> {
    let mut lines = vec![host.address.to_string(), host.role.replace('_', " ")];
    if host.role == "load_balancer" {
        let mut line = String::new();
        for word in format!("mode: {lb_mode}").split(' ') {
            if !line.is_empty() && line.len() + 1 + word.len() > DETAIL_CHARS_MAX {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

fn host_box(host: &Host, lb_mode: &str, (x, y, h): (u32, u32, u32)) -> HostBox {
    let mut role = host.role.replace('_', " ");
    if host.role == "load_balancer" {
        role = format!("{role}, {lb_mode} mode");
    }
    HostBox {
        x,
        y,
        w: BOX_W_PX,
        h,
        name: host.name.clone(),
        address: host.address.to_string(),
        role,
        details: (y + NAME_LINE_PX + DETAIL_LINE_PX..)
            .step_by(DETAIL_LINE_PX as usize)
            .zip(details(host, lb_mode))
            .collect(),
        class: format!("host {}", host.role),
    }
}

/// A dashed line between the centres of each pair of boxes a window cut (each pair
/// once per window).
fn cuts(boxes: &[HostBox], windows: &[Window]) -> Vec<CutLine> {
    let centre = |name: &str| {
        boxes
            .iter()
            .find(|b| b.name == name)
            .map(|b| (b.x + b.w / 2, b.y + b.h / 2))
    };
    let mut out = Vec::new();
    for w in windows.iter().filter(|w| w.shade != Shade::Crash) {
        for (a, b) in &w.cuts {
            let (Some((x1, y1)), Some((x2, y2))) = (centre(a), centre(b)) else {
                continue;
            };
            out.push(CutLine {
                x1,
                y1,
                x2,
                y2,
                class: w.shade.class(),
                title: format!(
                    "{a} – {b} cut {}–{}: {}",
                    mss(w.from_ms),
                    mss(w.to_ms),
                    w.label
                ),
            });
        }
    }
    out
}
