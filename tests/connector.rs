//! The AD/LDAP connector through the load balancer (the network requirements: the balancer must be aware
//! of websockets; "the Auth0 AD/LDAP Connector does not work in HTTPS mode" when it is
//! not): short scenarios with `load.connector = true` and TLS on, read back from the
//! event log and the report.

use std::path::Path;
use std::time::Duration;

use harness::events::{Event, EventKind};
use harness::executor;
use harness::faults::CrashMode;
use harness::report::front::ConnectorSummary;
use harness::report::{Outcome, text};
use harness::scenario;

/// A scenario of `duration` at 10 requests/s with the connector and TLS on; `extra` is
/// more TOML (an `[topology.lb]` table, steps).
fn scenario_text(name: &str, duration: &str, extra: &str) -> String {
    format!(
        r#"format_version = 1
        name = "{name}"
        seed = 3
        duration = "{duration}"
        [load]
        rate_per_s = 10
        connector = true
        [topology.tls]
        enabled = true
        {extra}
        "#
    )
}

struct Ran {
    events: Vec<Event>,
    outcome: Outcome,
    report: String,
}

fn run(name: &str, duration: &str, extra: &str) -> Ran {
    let text = scenario_text(name, duration, extra);
    let scenario = scenario::parse(Path::new(&format!("{name}.toml")), &text)
        .unwrap_or_else(|e| panic!("{e}"));
    let run = executor::run(&scenario, scenario.seed).unwrap_or_else(|e| panic!("{e}"));
    let outcome = Outcome::new(&scenario, scenario.seed, &run.events);
    let report = text::render(&outcome, "(test)");
    Ran {
        events: run.events.into_events(),
        outcome,
        report,
    }
}

fn summary(ran: &Ran) -> &ConnectorSummary {
    ran.outcome
        .front
        .connector
        .as_ref()
        .expect("the scenario runs the connector")
}

/// The connector's own events: (time, node connected to) and (time, node, reason) of
/// each break.
fn connected(events: &[Event]) -> Vec<(Duration, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ConnectorConnected { node } => Some((e.at, node.clone())),
            _ => None,
        })
        .collect()
}

fn broken(events: &[Event]) -> Vec<(Duration, Option<String>, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ConnectorBroken { node, reason } => {
                Some((e.at, node.clone(), reason.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Asserts the connector connected once, early, and stayed connected to the end.
fn connects_and_stays(ran: &Ran) {
    let c = summary(ran);
    let first = connected(&ran.events);
    assert_eq!(first.len(), 1, "one connection:\n{}", ran.report);
    assert!(first[0].0 < Duration::from_secs(1), "{}", ran.report);
    assert_eq!(c.connections, 1);
    assert_eq!(c.reconnects, 0);
    assert_eq!(c.breaks, 0, "{}", ran.report);
    assert_eq!(c.refusals, 0, "{}", ran.report);
    assert!(
        c.connected_ms * 100 >= c.total_ms * 95,
        "connected {} of {} ms",
        c.connected_ms,
        c.total_ms
    );
    // The node kept it open too, and answered heartbeats all along: no close recorded.
    let opened = ran
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ConnectorOpened))
        .count();
    assert_eq!(opened, 1);
    assert!(
        !ran.events
            .iter()
            .any(|e| matches!(e.kind, EventKind::ConnectorClosed { .. })),
        "{}",
        ran.report
    );
    assert!(
        ran.report
            .contains("AD/LDAP connector: 1 connection (0 reconnects)")
    );
    assert!(ran.outcome.passed, "{}", ran.report);
}

/// Proves that in `https` mode with websockets passed (the default), the connector's
/// upgrade goes through the TLS-offloading balancer, the node answers its heartbeats, and
/// the websocket stays open for the whole 30 s run.
#[test]
fn https_with_websockets_connects_and_stays() {
    let ran = run("connector-https", "30s", "");
    connects_and_stays(&ran);
}

/// Proves that in `tcp` mode (PROXY v2, TLS at the nodes) the balancer carries the
/// websocket's bytes as any others: the connector connects and stays.
#[test]
fn tcp_mode_carries_the_websocket() {
    let ran = run("connector-tcp", "30s", "[topology.lb]\nmode = \"tcp\"");
    connects_and_stays(&ran);
}

/// Proves the network requirements' warning: a balancer in `https` mode that strips `Connection:
/// Upgrade` (`websockets = false`) leaves the node a plain GET, which it answers with
/// 426; the connector never connects and keeps trying, once a second.
#[test]
fn https_without_websockets_is_refused_with_426() {
    let ran = run(
        "connector-stripped",
        "15s",
        "[topology.lb]\nwebsockets = false",
    );
    let c = summary(&ran);
    assert_eq!(c.connections, 0, "{}", ran.report);
    assert!(c.nodes.is_empty());
    assert_eq!(c.connected_ms, 0);
    let statuses: Vec<Option<u16>> = ran
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ConnectorRefused { status, .. } => Some(*status),
            _ => None,
        })
        .collect();
    // About one attempt a second (1 s apart, plus the handshake) over the ~26 s run.
    assert!(statuses.len() >= 15, "{} attempts", statuses.len());
    assert!(statuses.iter().all(|s| *s == Some(426)), "{statuses:?}");
    assert_eq!(c.refusals, statuses.len());
    let first = c.first_refusal.as_deref().expect("refusals recorded");
    assert!(first.starts_with("426 upgrade required"), "{first}");
    assert!(
        !ran.events
            .iter()
            .any(|e| matches!(e.kind, EventKind::ConnectorOpened)),
        "no node opened a websocket"
    );
    assert!(ran.report.contains("AD/LDAP connector: 0 connections"));
    assert!(ran.report.contains("the first: 426 upgrade required"));
}

/// Proves the connector survives the loss of its node: crashed (powered off, or its
/// processes killed), the node stops answering or resets the tunnel, the connector
/// notices (a missed heartbeat bound of 6 s, or at once), and 1 s later reconnects
/// through the balancer to another node, where it stays to the end.
#[test]
fn crash_of_its_node_moves_it_to_another() {
    // Where the connector lands with this seed, from a run without the crash (the crash
    // changes nothing before it happens).
    let calm = run("connector-calm", "10s", "");
    let home = connected(&calm.events)[0].1.clone();
    for mode in [CrashMode::PowerOff, CrashMode::Process] {
        let mode_name = match mode {
            CrashMode::PowerOff => "power-off",
            CrashMode::Process => "process",
        };
        let steps = format!(
            "[[steps]]\nat = \"10s\"\ncrash = {{ node = \"{home}\", mode = \"{mode_name}\" }}"
        );
        let ran = run("connector-crash", "40s", &steps);
        let conns = connected(&ran.events);
        let breaks = broken(&ran.events);
        assert_eq!(conns[0].1, home, "same landing as the calm run");
        assert_eq!(
            conns.len(),
            2,
            "{mode_name}: one reconnect:\n{}",
            ran.report
        );
        assert_eq!(breaks.len(), 1, "{mode_name}:\n{}", ran.report);
        let (broke_at, on, why) = &breaks[0];
        assert_eq!(on.as_deref(), Some(home.as_str()));
        let crash = Duration::from_secs(10);
        let noticed = broke_at.saturating_sub(crash);
        match mode {
            // Silence: the connector gives up after 6 s without a heartbeat.
            CrashMode::PowerOff => {
                assert!(why.starts_with("no heartbeat for 6s"), "{why}");
                assert!(noticed <= Duration::from_secs(6), "{noticed:?}");
            }
            // The dying node's kernel resets the connection: noticed within a round trip.
            CrashMode::Process => assert!(noticed < Duration::from_millis(100), "{why}"),
        }
        let (back_at, moved_to) = &conns[1];
        assert_ne!(moved_to, &home, "{mode_name}: reconnected to another node");
        // Until the balancer takes a silent node out (HAProxy's schedule: each failed
        // check waits out the 1 s connect timeout, then a 2 s interval: about 7.7 s after
        // the crash), a reconnect may land on it and wait out the connect timeout.
        assert!(
            back_at.saturating_sub(*broke_at) < Duration::from_secs(4),
            "{mode_name}: reconnected {back_at:?} after breaking at {broke_at:?}"
        );
        let c = summary(&ran);
        assert_eq!((c.connections, c.reconnects, c.breaks), (2, 1, 1));
        assert_eq!(c.nodes, [home.clone(), moved_to.clone()]);
        assert!(
            ran.report.contains("2 connections (1 reconnect)"),
            "{}",
            ran.report
        );
        assert!(
            ran.report
                .contains(&format!("AD/LDAP connector lost {home}"))
        );
    }
}

/// Proves a scenario without the connector reports no connector line (so existing reports
/// are unchanged) and records no connector event.
#[test]
fn no_connector_no_line() {
    let text = r#"format_version = 1
        name = "no-connector"
        seed = 3
        duration = "5s"
        load = { rate_per_s = 10 }
    "#;
    let scenario = scenario::parse(Path::new("no-connector.toml"), text).unwrap();
    let run = executor::run(&scenario, scenario.seed).unwrap();
    let outcome = Outcome::new(&scenario, scenario.seed, &run.events);
    assert!(outcome.front.connector.is_none());
    assert!(!text::render(&outcome, "(test)").contains("AD/LDAP"));
    assert!(!run.events.iter().any(|e| matches!(
        e.kind,
        EventKind::ConnectorConnected { .. }
            | EventKind::ConnectorRefused { .. }
            | EventKind::ConnectorOpened
    )));
}
