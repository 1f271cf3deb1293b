//! The report's summary of what lies outside the replica set: clocks, NTP, tokens, the
//! egress and the nodes' calls out; and, when it is deployed, the dev/test instance and
//! its boundary.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::clock::ClockSetting;
use crate::events::{BoundaryVerdict, EgressVerdict, EventKind, Log};
use crate::topology::{DevNetwork, Role, Topology};

/// One host's clock at the end of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ClockEnd {
    pub host: String,
    pub offset_ns: i64,
    pub drift_ppb: i64,
    /// NTP polls answered and unanswered over the run.
    pub ntp_answered: usize,
    pub ntp_failed: usize,
}

/// The egress's decisions for one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, schemars::JsonSchema)]
pub struct EgressTally {
    pub target: String,
    pub delivered: usize,
    pub upstream_failed: usize,
    pub denied: usize,
}

/// Everything outside the replica set, summed over the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct OutsideSummary {
    /// Every node, and any other host whose clock a step moved.
    pub clocks: Vec<ClockEnd>,
    pub tokens_issued: usize,
    pub tokens_checked: usize,
    pub tokens_rejected: usize,
    pub egress: Vec<EgressTally>,
    /// The nodes' periodic calls out: (purpose, succeeded, failed).
    pub outbound: Vec<(String, usize, usize)>,
}

impl OutsideSummary {
    pub fn new(events: &Log, nodes: &[String], end: Duration) -> Self {
        let mut settings: BTreeMap<String, ClockSetting> = nodes
            .iter()
            .map(|n| (n.clone(), ClockSetting::default()))
            .collect();
        let mut ntp: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut egress: BTreeMap<String, EgressTally> = BTreeMap::new();
        let mut outbound: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let (mut issued, mut checked, mut rejected) = (0, 0, 0);
        for e in events.all() {
            match &e.kind {
                EventKind::ClockChanged { node, setting, .. } => {
                    settings.insert(node.clone(), *setting);
                }
                EventKind::NtpSynced { .. } => ntp.entry(e.host.clone()).or_default().0 += 1,
                EventKind::NtpFailed { .. } => ntp.entry(e.host.clone()).or_default().1 += 1,
                EventKind::TokenIssued { .. } => issued += 1,
                EventKind::TokenChecked { rejected: r, .. } => {
                    checked += 1;
                    rejected += usize::from(r.is_some());
                }
                EventKind::TokenRefused { .. } => {
                    checked += 1;
                    rejected += 1;
                }
                EventKind::Egress(r) => {
                    let tally = egress.entry(r.target.clone()).or_default();
                    tally.target.clone_from(&r.target);
                    match r.verdict {
                        EgressVerdict::Delivered { .. } => tally.delivered += 1,
                        EgressVerdict::UpstreamFailed { .. } => tally.upstream_failed += 1,
                        EgressVerdict::Denied { .. } => tally.denied += 1,
                        // Counted by the outcome that follows it.
                        EgressVerdict::Forwarding => {}
                    }
                }
                EventKind::Outbound { purpose, result } => {
                    let counts = outbound.entry(purpose.clone()).or_default();
                    if result.is_ok() {
                        counts.0 += 1;
                    } else {
                        counts.1 += 1;
                    }
                }
                _ => {}
            }
        }
        let clocks = settings
            .into_iter()
            .map(|(host, s)| {
                let (ntp_answered, ntp_failed) = ntp.get(&host).copied().unwrap_or_default();
                ClockEnd {
                    offset_ns: s.offset_at(end),
                    drift_ppb: s.drift_ppb,
                    host,
                    ntp_answered,
                    ntp_failed,
                }
            })
            .collect();
        Self {
            clocks,
            tokens_issued: issued,
            tokens_checked: checked,
            tokens_rejected: rejected,
            egress: egress.into_values().collect(),
            outbound: outbound
                .into_iter()
                .map(|(p, (ok, failed))| (p, ok, failed))
                .collect(),
        }
    }
}

/// Attempts across the dev/test boundary from one host to one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct BoundaryTally {
    /// The sender's name.
    pub from: String,
    pub to: std::net::SocketAddr,
    pub protocol: &'static str,
    pub crossed: usize,
    pub no_route: usize,
    pub firewall: usize,
}

/// The dev/test instance and its boundary, summed over the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DevSummary {
    /// `"isolated"` or `"routed"`.
    pub network: &'static str,
    /// The relay `dev-1` is configured with.
    pub relay: Option<std::net::Ipv4Addr>,
    /// Attempts across the boundary, by sender and destination, in that order.
    pub boundary: Vec<BoundaryTally>,
    /// `dev-1`'s signups and verification mail at the end (from its final data), and its
    /// delivery attempts over the run.
    pub signups: usize,
    pub mail_queued: usize,
    pub mail_sent: usize,
    pub mail_failed_attempts: usize,
}

impl DevSummary {
    /// `None` without a dev/test instance.
    pub fn new(events: &Log, topology: &Topology) -> Option<Self> {
        let dev: Vec<&str> = topology
            .with_role(Role::DevNode)
            .map(|h| h.name.as_str())
            .collect();
        if dev.is_empty() {
            return None;
        }
        let mut tallies: BTreeMap<(String, std::net::SocketAddr, &'static str), BoundaryTally> =
            BTreeMap::new();
        let mut summary = Self {
            network: match topology.dev.network {
                DevNetwork::Isolated => "isolated",
                DevNetwork::Routed => "routed",
            },
            relay: topology.dev.smtp_relay,
            boundary: Vec::new(),
            signups: 0,
            mail_queued: 0,
            mail_sent: 0,
            mail_failed_attempts: 0,
        };
        for e in events.all() {
            let on_dev = dev.contains(&e.host.as_str());
            match &e.kind {
                EventKind::Boundary(r) => {
                    let key = (e.host.clone(), r.to, r.protocol);
                    let tally = tallies.entry(key).or_insert_with(|| BoundaryTally {
                        from: e.host.clone(),
                        to: r.to,
                        protocol: r.protocol,
                        crossed: 0,
                        no_route: 0,
                        firewall: 0,
                    });
                    match r.verdict {
                        BoundaryVerdict::Crossed => tally.crossed += 1,
                        BoundaryVerdict::NoRoute => tally.no_route += 1,
                        BoundaryVerdict::Firewall => tally.firewall += 1,
                    }
                }
                EventKind::DevFinal {
                    signups,
                    mail_queued,
                } => {
                    summary.signups += signups;
                    summary.mail_queued += mail_queued;
                }
                EventKind::MailSent { .. } if on_dev => summary.mail_sent += 1,
                EventKind::MailFailed { .. } if on_dev => summary.mail_failed_attempts += 1,
                _ => {}
            }
        }
        summary.boundary = tallies.into_values().collect();
        Some(summary)
    }
}
