//! The cluster ports carry the modelled exchanges (`services::cluster_ports`): short
//! scenarios with `[topology.cluster_ports] exchange = true`, read back from the event
//! log. Blocking a port loses the peer on that port only, with that port's consequence;
//! without the exchange the same block changes nothing.

use std::path::Path;
use std::time::Duration;

use harness::events::cluster::ClusterPortEvent;
use harness::events::{Event, EventKind};
use harness::executor;
use harness::scenario;

/// A 1m30s scenario at 5 requests/s, TLS off; `extra` is more TOML (tables, steps).
fn run(name: &str, extra: &str) -> Vec<Event> {
    let text = format!(
        r#"format_version = 1
        name = "{name}"
        seed = 2
        duration = "1m30s"
        [load]
        rate_per_s = 5
        [topology.tls]
        enabled = false
        {extra}
        "#
    );
    let scenario = scenario::parse(Path::new(&format!("{name}.toml")), &text)
        .unwrap_or_else(|e| panic!("{e}"));
    let run = executor::run(&scenario, scenario.seed).unwrap_or_else(|e| panic!("{e}"));
    run.events.into_events()
}

const EXCHANGE: &str = "[topology.cluster_ports]\nexchange = true\n";

/// (noticed by, service, peer, lost) of every cluster-port event, in log order.
fn changes(events: &[Event]) -> Vec<(String, String, String, bool)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ClusterPort(ClusterPortEvent::Lost { service, peer, .. }) => {
                Some((e.host.clone(), service.clone(), peer.clone(), true))
            }
            EventKind::ClusterPort(ClusterPortEvent::Regained { service, peer, .. }) => {
                Some((e.host.clone(), service.clone(), peer.clone(), false))
            }
            _ => None,
        })
        .collect()
}

fn change(host: &str, service: &str, peer: &str, lost: bool) -> (String, String, String, bool) {
    (host.into(), service.into(), peer.into(), lost)
}

/// Proves 8721 blocked one way (node-1 to node-2) for 40 s backs node-1's webtask logs
/// up for node-2, ships the whole backlog when the port opens, and touches no other
/// port, peer or direction; `/testall` never fails for it.
#[test]
fn blocked_webtask_logs_back_up_and_ship_when_the_port_opens() {
    let steps = r#"
        [[steps]]
        at = "20s"
        block = { id = "logs", from = ["node-1"], to = ["node-2"], ports = [8721], both_ways = false, action = "reject" }
        [[steps]]
        at = "1m"
        unblock = { id = "logs" }
    "#;
    let events = run("webtask-logs-blocked", &format!("{EXCHANGE}{steps}"));
    assert_eq!(
        changes(&events),
        vec![
            change("node-1", "webtask-logs", "node-2", true),
            change("node-1", "webtask-logs", "node-2", false),
        ]
    );
    let (waiting, shipped) = events.iter().fold((0, 0), |(w, s), e| match &e.kind {
        EventKind::ClusterPort(ClusterPortEvent::Lost { backlog, why, .. }) => {
            assert_eq!(why, "connection refused");
            (*backlog, s)
        }
        EventKind::ClusterPort(ClusterPortEvent::Regained {
            shipped, dropped, ..
        }) => {
            assert_eq!(*dropped, 0);
            (w, *shipped)
        }
        _ => (w, s),
    });
    assert!(
        waiting >= 3,
        "15s of failed 5s exchanges leave batches waiting: {waiting}"
    );
    assert!(
        shipped > waiting,
        "the backlog grew until it shipped: {shipped} > {waiting}"
    );
    assert!(!events.iter().any(|e| matches!(
        &e.kind,
        EventKind::Check { detail, .. } if detail.contains("cluster-control")
    )));
}

/// Proves a crashed peer is lost on every port by both other nodes, each loss after
/// more than `contact_max` (15 s) of silence (so between 10 s and 22 s after the crash),
/// and regained on every port after its restart.
#[test]
fn a_crashed_peer_is_lost_on_every_port_and_regained() {
    let steps = r#"
        [[steps]]
        at = "20s"
        crash = { node = "node-3" }
        [[steps]]
        at = "1m"
        restart = { node = "node-3" }
    "#;
    let events = run("cluster-peer-crashed", &format!("{EXCHANGE}{steps}"));
    let seen = changes(&events);
    for node in ["node-1", "node-2"] {
        for service in ["cluster-control", "webtask-logs", "webtask-control"] {
            for lost in [true, false] {
                assert!(
                    seen.contains(&change(node, service, "node-3", lost)),
                    "{node} {service} lost={lost}: {seen:?}"
                );
            }
        }
    }
    assert_eq!(seen.len(), 12, "nothing else changed: {seen:?}");
    for e in &events {
        if let EventKind::ClusterPort(ClusterPortEvent::Lost { silent_ms, .. }) = &e.kind {
            assert!(*silent_ms > 15_000, "{silent_ms}");
            // The last exchange before the crash was at most one interval (5 s) before
            // it; failures then take their 1 s connect timeout before the next.
            let at = e.at;
            assert!(
                at > Duration::from_secs(30) && at < Duration::from_secs(42),
                "{at:?}"
            );
        }
    }
}

/// Proves the exchange is what gives a block on 7777 its consequence: the same block
/// without `exchange` records nothing, with it both ends lose each other.
#[test]
fn without_the_exchange_a_block_on_7777_changes_nothing() {
    let steps = r#"
        [[steps]]
        at = "20s"
        block = { id = "control", from = ["node-1"], to = ["node-2"], ports = [7777], action = "drop" }
    "#;
    let quiet = run("control-blocked-no-exchange", steps);
    assert_eq!(changes(&quiet), vec![]);
    let told = run("control-blocked", &format!("{EXCHANGE}{steps}"));
    let mut seen = changes(&told);
    seen.sort();
    assert_eq!(
        seen,
        vec![
            change("node-1", "cluster-control", "node-2", true),
            change("node-2", "cluster-control", "node-1", true),
        ]
    );
}
