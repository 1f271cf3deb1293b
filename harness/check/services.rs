//! The services the seeds require around the nodes: the balancer's health check, the
//! four DNS records, an authenticating SMTP relay, NTP.

use super::Finding;
use crate::services::dns;
use crate::topology::{Role, Topology};

const TESTALL: &str =
    "network requirements: the testall endpoint is used for monitoring by load balancers";
const DNS_RECORDS: &str = "network requirements: four DNS records (Management Dashboard, Root Tenant Authority, webtask, App Tenant) for the load-balanced deployment";
const SMTP_AUTH: &str = "security and access requirements: the appliance requires an SMTP server configured with SMTP PLAIN authentication";
const NTP: &str = "deployment guide: you supply the required dependencies (SMTP, NTP)";

/// The health-check path, the zone, SMTP and NTP.
pub fn check(topology: &Topology, checked: &mut Vec<String>) -> Vec<Finding> {
    let mut findings = Vec::new();
    if topology.lb.check_path != "/testall" {
        findings.push(Finding::new(
            "topology.lb.check_path",
            format!(
                "the balancer checks {:?}, not \"/testall\"",
                topology.lb.check_path
            ),
            TESTALL,
        ));
    }
    checked.push("lb checks /testall".to_string());
    findings.extend(zone(topology));
    checked.push("4 DNS records at lb".to_string());
    let smtp = &topology.smtp;
    for (key, value) in [("username", &smtp.username), ("password", &smtp.password)] {
        if value.is_empty() {
            findings.push(Finding::new(
                format!("topology.smtp.{key}"),
                format!("the relay's {key} is empty: it accepts mail without authentication"),
                SMTP_AUTH,
            ));
        }
    }
    if smtp
        .node_password
        .as_ref()
        .is_some_and(|p| p != &smtp.password)
    {
        findings.push(Finding::new(
            "topology.smtp.node_password",
            "the nodes' SMTP password is not the relay's: every delivery fails authentication",
            SMTP_AUTH,
        ));
    }
    checked.push("SMTP AUTH".to_string());
    if !topology.ntp.enabled {
        findings.push(Finding::new(
            "topology.ntp.enabled",
            "the nodes do not use NTP: their clocks drift apart and tokens fail",
            NTP,
        ));
    }
    checked.push("NTP".to_string());
    findings
}

/// Asks the zone the DNS host serves (the simulation's own [`crate::wiring::zone`]) for
/// each published name, as a client would, and expects the balancer's address.
fn zone(topology: &Topology) -> Vec<Finding> {
    let zone = crate::wiring::zone(topology);
    let lb = topology.the(Role::LoadBalancer).address;
    let mut findings = Vec::new();
    for (id, name) in (1u16..).zip(topology.zone_names()) {
        let answer = dns::query(id, &name)
            .ok()
            .and_then(|q| zone.answer(&q, dns::Transport::Udp))
            .ok_or_else(|| "no answer".to_string())
            .and_then(|a| dns::parse_answer(id, &a));
        let wrong = match answer {
            Ok(a) if a.address == lb => continue,
            Ok(a) => format!("{name} points at {}, not the balancer {lb}", a.address),
            Err(e) => format!("{name} has no record ({e})"),
        };
        findings.push(Finding::new("topology.domain", wrong, DNS_RECORDS));
    }
    findings
}
