//! The outcome as readable text: what `harness run` prints and what the snapshots hold.
//!
//! Laid out to be read top to bottom and diffed in review: a header, the timeline, the
//! per-window table, the verdicts, the result. No column depends on the machine or the
//! wall clock.

use std::fmt::Write as _;
use std::time::Duration;

use super::outcome::{Outcome, Window};
use crate::duration::{clock, clock_short, span};

/// Renders the outcome. `reproduce` is the command that reruns this exact run; it is
/// printed when an expectation fails.
pub fn render(o: &Outcome, reproduce: &str) -> String {
    let mut out = String::new();
    header(&mut out, o);
    timeline(&mut out, o);
    table(&mut out, o);
    members(&mut out, o);
    update(&mut out, o);
    monitoring(&mut out, o);
    front(&mut out, o);
    outside(&mut out, o);
    verdicts(&mut out, o, reproduce);
    out
}

fn push(out: &mut String, line: impl AsRef<str>) {
    out.push_str(line.as_ref().trim_end());
    out.push('\n');
}

fn header(out: &mut String, o: &Outcome) {
    push(out, format!("scenario {}", o.scenario));
    for line in o.description.lines() {
        push(out, format!("  {line}"));
    }
    push(
        out,
        format!(
            "seed {} | {} of load at {}/s | tick {} | topology {}",
            o.seed,
            span(Duration::from_millis(o.duration_ms)),
            o.rate_per_s,
            span_us(o.tick_us),
            o.topology
        ),
    );
    push(out, format!("hosts: {}", o.hosts.join(", ")));
}

fn span_us(us: u64) -> String {
    if us.is_multiple_of(1000) {
        span(Duration::from_micros(us))
    } else {
        format!("{us}us")
    }
}

fn timeline(out: &mut String, o: &Outcome) {
    push(out, "");
    push(out, "timeline");
    let width = o.timeline.iter().map(|l| l.host.len()).max().unwrap_or(0);
    for l in &o.timeline {
        push(
            out,
            format!(
                "  {}  {:<width$}  {}",
                clock(Duration::from_millis(l.at_ms)),
                l.host,
                l.text
            ),
        );
    }
}

/// The per-window request table, with its legend and a total row.
fn table(out: &mut String, o: &Outcome) {
    let classes: Vec<&String> = o.totals.failed.keys().collect();
    let nodes: Vec<&String> = o
        .windows
        .first()
        .map(|w| w.routed_to.keys().collect())
        .unwrap_or_default();
    let retried: usize = o.windows.iter().map(|w| w.retried).sum();
    table_legend(out, retried > 0);
    let mut rows = vec![table_head(&classes, &nodes, retried > 0)];
    for w in &o.windows {
        let mut r = row(w, &classes, &nodes);
        if retried > 0 {
            r.insert(r.len() - nodes.len(), w.retried.to_string());
        }
        rows.push(r);
    }
    rows.push(total_row(o, &classes, &nodes, retried));
    push_columns(out, &rows);
}

/// The table's title and what its columns mean; the `retried` column's only when it is
/// shown.
fn table_legend(out: &mut String, shows_retried: bool) {
    push(out, "");
    push(out, "requests per 10s window, by start time");
    push(
        out,
        "  failures: by HTTP status, or refused, reset, timeout, dns",
    );
    push(
        out,
        "  p50/p99: latency of successful requests; failed p50: median latency of failed ones",
    );
    push(out, "  node-N: requests the lb routed there");
    if shows_retried {
        push(
            out,
            "  retried: requests the lb moved to another node after a refusal",
        );
    }
}

/// The table's header row: failure `classes`, latencies, `retried` if shown, `nodes`.
fn table_head(classes: &[&String], nodes: &[&String], shows_retried: bool) -> Vec<String> {
    let mut head = vec!["window".to_string(), "sent".into(), "ok".into()];
    head.extend(classes.iter().map(|c| (*c).clone()));
    head.extend(["p50".to_string(), "p99".into(), "failed p50".into()]);
    if shows_retried {
        head.push("retried".to_string());
    }
    head.extend(nodes.iter().map(|n| (*n).clone()));
    head
}

/// The table's last row: the whole run's counts; `retried` (the run's retries) is shown
/// when not zero.
fn total_row(o: &Outcome, classes: &[&String], nodes: &[&String], retried: usize) -> Vec<String> {
    let mut total = vec![
        "total".to_string(),
        o.totals.sent.to_string(),
        o.totals.ok.to_string(),
    ];
    total.extend(classes.iter().map(|c| o.totals.failed[*c].to_string()));
    total.extend([
        ms(o.totals.p50_ms),
        ms(o.totals.p99_ms),
        ms(o.totals.failed_p50_ms),
    ]);
    if retried > 0 {
        total.push(retried.to_string());
    }
    total.extend(nodes.iter().map(|n| {
        o.windows
            .iter()
            .map(|w| w.routed_to[*n])
            .sum::<usize>()
            .to_string()
    }));
    total
}

/// Prints `rows` as columns: the first left-aligned, the others right-aligned, each as
/// wide as its widest cell.
fn push_columns(out: &mut String, rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let mut line = String::from(" ");
        for (c, cell) in r.iter().enumerate() {
            if c == 0 {
                write!(line, " {:<w$}", cell, w = widths[c])
                    .expect("writing to a String cannot fail");
            } else {
                write!(line, "  {:>w$}", cell, w = widths[c])
                    .expect("writing to a String cannot fail");
            }
        }
        push(out, line);
    }
}

fn row(w: &Window, classes: &[&String], nodes: &[&String]) -> Vec<String> {
    let start = Duration::from_millis(w.start_ms);
    let mut r = vec![
        format!(
            "{}-{}",
            clock_short(start),
            clock_short(start + super::outcome::WINDOW)
        ),
        w.sent.to_string(),
        w.ok.to_string(),
    ];
    r.extend(
        classes
            .iter()
            .map(|c| w.failed.get(*c).copied().unwrap_or(0).to_string()),
    );
    r.extend([ms(w.p50_ms), ms(w.p99_ms), ms(w.failed_p50_ms)]);
    r.extend(nodes.iter().map(|n| w.routed_to[*n].to_string()));
    r
}

fn members(out: &mut String, o: &Outcome) {
    if o.members.is_empty() {
        return;
    }
    push(out, "");
    push(out, "replica set at the end");
    for m in &o.members {
        let state = if m.up {
            m.role.clone()
        } else {
            format!("down (was {})", m.role)
        };
        push(
            out,
            format!(
                "  {}  {state}, term {}, log to index {}",
                m.node, m.term, m.last_index
            ),
        );
    }
    push(
        out,
        format!("  entries rolled back over the run: {}", o.rolled_back),
    );
    let wait = span(Duration::from_millis(o.mail_longest_wait_ms));
    push(
        out,
        format!(
            "  verification mail: {} delivered, {} failed attempts retried, longest wait {wait}, {} delivered twice",
            o.mail_sent, o.mail_failed_attempts, o.mail_duplicates
        ),
    );
}

fn update(out: &mut String, o: &Outcome) {
    let Some(u) = &o.update else {
        return;
    };
    push(out, "");
    for line in u.lines() {
        push(out, line);
    }
}

fn monitoring(out: &mut String, o: &Outcome) {
    let Some(m) = &o.monitoring else {
        return;
    };
    push(out, "");
    for line in m.lines() {
        push(out, line);
    }
}

fn front(out: &mut String, o: &Outcome) {
    let f = &o.front;
    push(out, "");
    push(out, format!("published side: lb in {}", f.mode));
    let clients: Vec<String> = f
        .clients
        .iter()
        .map(|(address, via, n)| format!("{address} via {via} ({n})"))
        .collect();
    let clients = if clients.is_empty() {
        "none".to_string()
    } else {
        clients.join(", ")
    };
    push(out, format!("  clients as the nodes saw them: {clients}"));
    for (client, what, n) in &f.denied {
        push(out, format!("  denied by the lb: {client} {what} x{n}"));
    }
    if f.unrelayed > 0 {
        push(
            out,
            format!("  connections no backend took (closed): {}", f.unrelayed),
        );
    }
    if f.connections.requests > 0 {
        push(out, connections_line(&f.connections, &f.mode));
    }
    for (reason, n) in &f.tls_failures {
        push(out, format!("  TLS handshakes failed: {n} ({reason})"));
    }
    if let Some(c) = &f.connector {
        push(out, connector_line(c));
    }
}

/// `  users' browsers: 603 connections for 6045 requests (10.0 each, 5442 on a kept
/// connection); TLS: 290 full handshakes, 313 resumed; in tcp mode, `; each connection
/// stays on the node it was passed to` follows.
fn connections_line(c: &super::front::UsersConnections, mode: &str) -> String {
    let opened = c.opened();
    if opened == 0 {
        return format!(
            "  users' browsers: no connection opened for {} requests",
            c.requests
        );
    }
    let carried = c.requests - c.without;
    // Tenths, rounded half up, in integers.
    let tenths = (carried * 10 * 2 + opened) / (opened * 2);
    let tls = if c.plain == opened {
        "no TLS".to_string()
    } else {
        format!(
            "TLS: {} full handshakes, {} resumed",
            c.full_handshakes, c.resumed_handshakes
        )
    };
    let pinned = if mode.starts_with("tcp") {
        "; each connection stays on the node it was passed to"
    } else {
        ""
    };
    format!(
        "  users' browsers: {opened} connections for {} requests ({}.{} each, {} on a kept connection); {tls}{pinned}",
        c.requests,
        tenths / 10,
        tenths % 10,
        c.reused
    )
}

/// `  AD/LDAP connector: 2 connections (1 reconnect), connected 52.3s of 61s (85.7%), on
/// node-1, node-3; 0 attempts refused`.
fn connector_line(c: &super::front::ConnectorSummary) -> String {
    use std::time::Duration;
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let share = if c.total_ms == 0 {
        0.0
    } else {
        c.connected_ms as f64 * 100.0 / c.total_ms as f64
    };
    let nodes = if c.nodes.is_empty() {
        String::new()
    } else {
        format!(", on {}", c.nodes.join(", "))
    };
    let refused = match &c.first_refusal {
        None => "no attempt refused".to_string(),
        Some(first) => format!(
            "{} refused, the first: {first}",
            plural(c.refusals, "attempt", "attempts")
        ),
    };
    format!(
        "  AD/LDAP connector: {} ({}), connected {} of {} ({share:.1}%){nodes}; {refused}",
        plural(c.connections, "connection", "connections"),
        plural(c.reconnects, "reconnect", "reconnects"),
        crate::duration::span(Duration::from_millis(c.connected_ms)),
        crate::duration::span(Duration::from_millis(c.total_ms)),
    )
}

fn outside(out: &mut String, o: &Outcome) {
    let x = &o.outside;
    push(out, "");
    push(out, "outside the cluster");
    let clocks: Vec<String> = x
        .clocks
        .iter()
        .map(|c| {
            let drift = match c.drift_ppb {
                0 => String::new(),
                ppb => format!(" (drift {}ppm)", ppb as f64 / 1000.0),
            };
            format!("{} {}{drift}", c.host, crate::duration::offset(c.offset_ns))
        })
        .collect();
    push(out, format!("  clocks at the end: {}", clocks.join(", ")));
    let ntp: Vec<String> = x
        .clocks
        .iter()
        .filter(|c| c.ntp_answered + c.ntp_failed > 0)
        .map(|c| {
            format!(
                "{} {}/{}",
                c.host,
                c.ntp_answered,
                c.ntp_answered + c.ntp_failed
            )
        })
        .collect();
    if !ntp.is_empty() {
        push(out, format!("  NTP polls answered: {}", ntp.join(", ")));
    }
    push(
        out,
        format!(
            "  tokens: {} issued, {} checked, {} rejected",
            x.tokens_issued, x.tokens_checked, x.tokens_rejected
        ),
    );
    for t in &x.egress {
        push(
            out,
            format!(
                "  egress to {}: {} delivered, {} upstream failed, {} denied",
                t.target, t.delivered, t.upstream_failed, t.denied
            ),
        );
    }
    for (purpose, ok, failed) in &x.outbound {
        push(out, format!("  {purpose}: {ok} ok, {failed} failed"));
    }
    for line in o.consent.iter().flat_map(|c| c.lines()) {
        push(out, line);
    }
    if let Some(dev) = &o.dev {
        dev_lines(out, dev);
    }
}

/// The dev/test instance and its boundary (only when it is deployed).
fn dev_lines(out: &mut String, d: &super::outside::DevSummary) {
    let relay = d
        .relay
        .map_or("no relay".to_string(), |ip| format!("relay {ip}"));
    push(
        out,
        format!(
            "  dev-1 ({relay}): {} signups by its tester, {} verification mails delivered, {} failed attempts, {} still queued at the end",
            d.signups, d.mail_sent, d.mail_failed_attempts, d.mail_queued
        ),
    );
    let total =
        |f: fn(&super::outside::BoundaryTally) -> usize| d.boundary.iter().map(f).sum::<usize>();
    let (crossed, no_route, firewall) = (
        total(|t| t.crossed),
        total(|t| t.no_route),
        total(|t| t.firewall),
    );
    push(
        out,
        format!(
            "  dev/test boundary ({}): {} attempts, {crossed} crossed, {} stopped ({no_route} no route, {firewall} by the firewall)",
            d.network,
            crossed + no_route + firewall,
            no_route + firewall
        ),
    );
    for t in &d.boundary {
        push(
            out,
            format!(
                "    {} -> {} {}: {} crossed, {} no route, {} by the firewall",
                t.from, t.to, t.protocol, t.crossed, t.no_route, t.firewall
            ),
        );
    }
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v}ms"))
}

/// The expectations, one a line with its mark (`pass`, `FAIL`, `not judged`, `vacuous`)
/// in a column of its own, then the result: PASS or FAIL with how many of each status
/// (only `pass` counts as passing), a plain line naming what could not be judged, and the
/// command that reproduces a failed run.
fn verdicts(out: &mut String, o: &Outcome, reproduce: &str) {
    use super::verdicts::Mark;
    push(out, "");
    push(out, "expectations");
    if o.verdicts.is_empty() {
        push(out, "  (none stated)");
    }
    let width = o
        .verdicts
        .iter()
        .map(|v| v.expectation.len())
        .max()
        .unwrap_or(0);
    let mark_width = o
        .verdicts
        .iter()
        .map(|v| v.status.word().len())
        .max()
        .unwrap_or(0);
    for v in &o.verdicts {
        push(
            out,
            format!(
                "  {:<mark_width$}  {:<width$}  observed: {}",
                v.status.word(),
                v.expectation,
                v.observed
            ),
        );
    }
    push(out, "");
    let counted = |mark: Mark| o.verdicts.iter().filter(|v| v.status == mark).count();
    let counts: Vec<String> = [Mark::Fail, Mark::Pass, Mark::Vacuous, Mark::NotJudged]
        .into_iter()
        .map(|m| (counted(m), m.word()))
        .filter(|(n, m)| *n > 0 || *m == "pass")
        .map(|(n, m)| format!("{n} {m}"))
        .collect();
    let counts = format!("{} of {}", counts.join(", "), o.verdicts.len());
    let not_judged: Vec<&str> = o
        .verdicts
        .iter()
        .filter(|v| v.status == Mark::NotJudged)
        .map(|v| v.expectation.as_str())
        .collect();
    if counted(Mark::Fail) == 0 {
        push(out, format!("result: PASS ({counts})"));
    } else {
        push(out, format!("result: FAIL ({counts}) with seed {}", o.seed));
    }
    if !not_judged.is_empty() {
        push(
            out,
            format!(
                "could not be judged ({} of {}): {}",
                not_judged.len(),
                o.verdicts.len(),
                not_judged.join("; ")
            ),
        );
    }
    if counted(Mark::Fail) > 0 {
        push(out, format!("reproduce: {reproduce}"));
    }
}
