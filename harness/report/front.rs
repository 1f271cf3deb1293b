//! The report's summary of the published side: how the balancer carried traffic, what
//! the users' TLS made of the certificate, how the users' browsers connected (kept
//! connections, full and resumed handshakes), whom the nodes took the clients to be, whom
//! the balancer turned away, and how the AD/LDAP connector's websocket fared.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::events::{ConnectionUse, Event, EventKind, Log, RequestOutcome};
use crate::topology::{LbMode, ProxyProtocol, Topology};

/// The published side, summed over the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FrontSummary {
    /// `"https (TLS offloaded at the lb)"`, `"tcp, PROXY v2, TLS at the nodes"`, ...
    pub mode: String,
    /// Requests the nodes served from outside the cluster, by the client address they
    /// took (and where they read it): `(address, via, requests)`.
    pub clients: Vec<(String, String, usize)>,
    /// Connections the allow-list refused, and requests the endpoint filter answered
    /// with 403, by client address and path: `(client, what, count)`.
    pub denied: Vec<(String, String, usize)>,
    /// TCP-mode connections no backend took (closed by the balancer).
    pub unrelayed: usize,
    /// Users' requests whose TLS handshake failed, by reason.
    pub tls_failures: Vec<(String, usize)>,
    /// How the users' requests reached the balancer: on kept or new connections.
    pub connections: UsersConnections,
    /// The AD/LDAP connector, when the scenario ran one (`load.connector`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector: Option<ConnectorSummary>,
}

/// How the users' requests reached the balancer: the connections their browsers opened
/// (and how each one's TLS handshake went) and kept (see `services::browser`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct UsersConnections {
    /// Requests the users sent.
    pub requests: usize,
    /// Requests sent on a connection their browser kept from an earlier request.
    pub reused: usize,
    /// Connections opened with a full TLS handshake (the certificate sent and verified).
    pub full_handshakes: usize,
    /// Connections opened with a resumed TLS handshake (a session ticket; no certificate).
    pub resumed_handshakes: usize,
    /// Connections opened without TLS (the topology has TLS off).
    pub plain: usize,
    /// Requests that never had a connection (failed or timed out before one was open).
    pub without: usize,
}

impl UsersConnections {
    /// Connections opened, one per request that opened one.
    pub fn opened(&self) -> usize {
        self.full_handshakes + self.resumed_handshakes + self.plain
    }

    fn count(&mut self, used: ConnectionUse) {
        self.requests += 1;
        *match used {
            ConnectionUse::None => &mut self.without,
            ConnectionUse::Reused => &mut self.reused,
            ConnectionUse::Plain => &mut self.plain,
            ConnectionUse::Full => &mut self.full_handshakes,
            ConnectionUse::Resumed => &mut self.resumed_handshakes,
        } += 1;
    }
}

/// How the AD/LDAP connector's websocket fared over the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ConnectorSummary {
    /// Websockets that opened and carried a heartbeat.
    pub connections: usize,
    /// Connections after the first: each one follows a break or refusals.
    pub reconnects: usize,
    /// Time the connector was connected (from each first heartbeat to the break, or to
    /// the end of the run), and the run's whole length, in ms.
    pub connected_ms: u64,
    pub total_ms: u64,
    /// The nodes it was connected to, in order, each once.
    pub nodes: Vec<String>,
    /// Open websockets that broke.
    pub breaks: usize,
    /// Attempts that failed before the websocket opened, and the first one's status and
    /// reason (`"426 upgrade required: ..."`).
    pub refusals: usize,
    pub first_refusal: Option<String>,
}

impl ConnectorSummary {
    pub fn new(events: &[Event]) -> Self {
        let end = events.last().map_or(Duration::ZERO, |e| e.at);
        let mut summary = ConnectorSummary {
            connections: 0,
            reconnects: 0,
            connected_ms: 0,
            total_ms: ms(end),
            nodes: Vec::new(),
            breaks: 0,
            refusals: 0,
            first_refusal: None,
        };
        let mut since: Option<Duration> = None;
        for e in events {
            match &e.kind {
                EventKind::ConnectorConnected { node } => {
                    summary.connections += 1;
                    since = Some(e.at);
                    if !summary.nodes.contains(node) {
                        summary.nodes.push(node.clone());
                    }
                }
                EventKind::ConnectorBroken { .. } => {
                    summary.breaks += 1;
                    if let Some(from) = since.take() {
                        summary.connected_ms += ms(e.at.saturating_sub(from));
                    }
                }
                EventKind::ConnectorRefused { status, reason } => {
                    summary.refusals += 1;
                    if summary.first_refusal.is_none() {
                        summary.first_refusal = Some(match status {
                            Some(code) => format!("{code} {reason}"),
                            None => reason.clone(),
                        });
                    }
                }
                _ => {}
            }
        }
        if let Some(from) = since {
            summary.connected_ms += ms(end.saturating_sub(from));
        }
        summary.reconnects = summary.connections.saturating_sub(1);
        summary
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).expect("runs last less than 584 million years")
}

impl FrontSummary {
    /// The summary of `events`; `connector`: the scenario ran the AD/LDAP connector.
    pub fn new(events: &Log, topology: &Topology, connector: bool) -> Self {
        let lb = &topology.lb;
        let tls = if topology.tls.enabled {
            match lb.mode {
                LbMode::Https => "TLS offloaded at the lb",
                LbMode::Tcp => "TLS at the nodes",
            }
        } else {
            "plain HTTP (TLS off)"
        };
        let mode = match (lb.mode, lb.proxy_header()) {
            (LbMode::Https, _) => format!("https, {tls}"),
            (LbMode::Tcp, ProxyProtocol::None) => format!("tcp without PROXY header, {tls}"),
            (LbMode::Tcp, ProxyProtocol::V1) => format!("tcp with PROXY v1, {tls}"),
            (LbMode::Tcp, ProxyProtocol::V2) => format!("tcp with PROXY v2, {tls}"),
        };
        let mut clients: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (client, via, n) in events.clients() {
            *clients
                .entry((client.to_string(), via.to_string()))
                .or_default() += n;
        }
        let mut tls_failures: BTreeMap<String, usize> = BTreeMap::new();
        for outcome in events.request_outcomes() {
            if let RequestOutcome::Tls { reason } = outcome {
                *tls_failures.entry(reason.clone()).or_default() += 1;
            }
        }
        let mut connections = UsersConnections::default();
        for connection in events.request_connections() {
            connections.count(connection);
        }
        let mut denied: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut unrelayed = 0;
        for e in events {
            match &e.kind {
                EventKind::LbDenied { client, path } => {
                    let what = path.as_ref().map_or_else(
                        || "connection (not in lb.allow)".to_string(),
                        |p| format!("{p} (not public: 403)"),
                    );
                    *denied.entry((client.to_string(), what)).or_default() += 1;
                }
                EventKind::Relayed { backend: None, .. } => unrelayed += 1,
                _ => {}
            }
        }
        Self {
            mode,
            clients: clients.into_iter().map(|((a, v), n)| (a, v, n)).collect(),
            denied: denied.into_iter().map(|((a, w), n)| (a, w, n)).collect(),
            unrelayed,
            tls_failures: tls_failures.into_iter().collect(),
            connections,
            connector: connector.then(|| ConnectorSummary::new(events)),
        }
    }
}
