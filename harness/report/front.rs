//! The report's summary of the published side: how the balancer carried traffic, what
//! the users' TLS made of the certificate, whom the nodes took the clients to be, and
//! whom the balancer turned away.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::events::{Event, EventKind, RequestOutcome};
use crate::topology::{LbMode, ProxyProtocol, Topology};

/// The published side, summed over the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}

impl FrontSummary {
    pub fn new(events: &[Event], topology: &Topology) -> Self {
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
        let mut denied: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut tls_failures: BTreeMap<String, usize> = BTreeMap::new();
        let mut unrelayed = 0;
        for e in events {
            match &e.kind {
                EventKind::ClientSeen { client, via, .. } => {
                    *clients
                        .entry((client.to_string(), (*via).to_string()))
                        .or_default() += 1;
                }
                EventKind::LbDenied { client, path } => {
                    let what = path.as_ref().map_or_else(
                        || "connection (not in lb.allow)".to_string(),
                        |p| format!("{p} (not public: 403)"),
                    );
                    *denied.entry((client.to_string(), what)).or_default() += 1;
                }
                EventKind::Relayed { backend: None, .. } => unrelayed += 1,
                EventKind::Request(r) => {
                    if let RequestOutcome::Tls { reason } = &r.outcome {
                        *tls_failures.entry(reason.clone()).or_default() += 1;
                    }
                }
                _ => {}
            }
        }
        Self {
            mode,
            clients: clients.into_iter().map(|((a, v), n)| (a, v, n)).collect(),
            denied: denied.into_iter().map(|((a, w), n)| (a, w, n)).collect(),
            unrelayed,
            tls_failures: tls_failures.into_iter().collect(),
        }
    }
}
