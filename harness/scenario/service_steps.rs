//! Checking the steps that act on a service: `dns = { answer = ... }`, `smtp = { answer =
//! ... }` and `lb = { drain = ... }` / `lb = { ready = ... }`. Each names real hosts and makes sense after the steps
//! before it (no node drained twice, none put back that was not drained, no DNS fault
//! undone that was not in force).

use std::collections::BTreeSet;

use super::spec::{Action, StepSpec};
use crate::faults::service::{
    CheckChange, DnsAnswer, DnsAnswerKind, EgressChange, ServiceStep, SmtpAnswer, SmtpAnswerKind,
};
use crate::topology::Topology;

/// A key path inside one step, and what is wrong there.
type StepInvalid = (Vec<&'static str>, String);

/// The service action of `step`, if it has one (the caller has checked it has exactly
/// one action).
pub(super) fn action(step: &StepSpec, topology: &Topology) -> Option<Result<Action, StepInvalid>> {
    if let Some(d) = &step.dns {
        return Some(dns(d).map(|a| Action::Service(ServiceStep::Dns(a))));
    }
    if let Some(m) = &step.smtp {
        return Some(smtp(m).map(|a| Action::Service(ServiceStep::Smtp(a))));
    }
    if let Some(e) = &step.egress {
        return Some(egress(e, topology).map(Action::Service));
    }
    let lb = step.lb.as_ref()?;
    let checks = lb.interval.is_some() || lb.rise.is_some() || lb.fall.is_some();
    if checks && (lb.drain.is_some() || lb.ready.is_some()) {
        let message = "expected a drain, a ready, or a change of interval, rise and fall, each in its own step";
        return Some(Err((vec!["lb"], message.to_string())));
    }
    if checks {
        return Some(checks_change(lb, topology).map(Action::Service));
    }
    Some(drain(lb, &topology.node_names()).map(Action::Service))
}

/// `egress = { allow, exception }`: at least one, on a proxy-mode egress (a NAT relays
/// bytes and decides nothing).
fn egress(e: &super::spec::EgressSpec, topology: &Topology) -> Result<ServiceStep, StepInvalid> {
    if e.allow.is_none() && e.exception.is_none() {
        let message = "expected allow, exception or both";
        return Err((vec!["egress"], message.to_string()));
    }
    if topology.egress.mode != crate::topology::EgressMode::Proxy {
        let message = "expected topology.egress.mode = \"proxy\": a NAT egress has no allow-list or exception to change";
        return Err((vec!["egress"], message.to_string()));
    }
    let bad = e
        .allow
        .iter()
        .flatten()
        .find(|d| d.is_empty() || d.contains(char::is_whitespace));
    if let Some(domain) = bad {
        let message = format!("expected domain names such as \"cdn.auth0.com\", found {domain:?}");
        return Err((vec!["egress", "allow"], message));
    }
    Ok(ServiceStep::Egress(EgressChange {
        allow: e.allow.clone(),
        exception: e.exception,
    }))
}

/// The most checks `rise` or `fall` may count: past it, a backend would take minutes to
/// change state, which is a typo rather than a setting.
pub const CHECKS_MAX: u32 = 100;

/// `lb = { interval, rise, fall }`: each given one in its range.
fn checks_change(
    lb: &super::spec::LbSpec,
    topology: &Topology,
) -> Result<ServiceStep, StepInvalid> {
    let settings = &topology.lb;
    let shortest = settings.connect_timeout + settings.timeout;
    if let Some(interval) = lb.interval
        && (interval < shortest || interval > SMTP_DELAY_MAX)
    {
        let message = format!(
            "expected an interval from {} (lb.connect_timeout + lb.timeout, so one check ends before the next is due) to 1h",
            crate::duration::span(shortest)
        );
        return Err((vec!["lb", "interval"], message));
    }
    for (key, value) in [("rise", lb.rise), ("fall", lb.fall)] {
        if value.is_some_and(|n| n == 0 || n > CHECKS_MAX) {
            return Err((
                vec!["lb", key],
                format!("expected 1 to {CHECKS_MAX} checks"),
            ));
        }
    }
    Ok(ServiceStep::Checks(CheckChange {
        interval_ms: lb
            .interval
            .map(|i| u64::try_from(i.as_millis()).expect("at most an hour")),
        rise: lb.rise,
        fall: lb.fall,
    }))
}

fn dns(d: &super::spec::DnsSpec) -> Result<DnsAnswer, StepInvalid> {
    let answer = match (d.answer, d.address) {
        (DnsAnswerKind::WrongAddress, Some(address)) => DnsAnswer::WrongAddress { address },
        (DnsAnswerKind::WrongAddress, None) => {
            let message =
                "expected an address with \"wrong-address\", such as address = \"10.0.1.99\"";
            return Err((vec!["dns", "address"], message.to_string()));
        }
        (_, Some(_)) => {
            let message = "address goes with \"wrong-address\" only; expected it only there";
            return Err((vec!["dns", "address"], message.to_string()));
        }
        (DnsAnswerKind::Normal, None) => DnsAnswer::Normal,
        (DnsAnswerKind::Servfail, None) => DnsAnswer::Servfail,
        (DnsAnswerKind::Nxdomain, None) => DnsAnswer::Nxdomain,
        (DnsAnswerKind::Silence, None) => DnsAnswer::Silence,
    };
    Ok(answer)
}

/// The longest `delay` a slow relay may be given, and the longest check interval: past
/// it, no client waits anyway.
pub const SMTP_DELAY_MAX: std::time::Duration = std::time::Duration::from_secs(3600);

fn smtp(m: &super::spec::SmtpSpec) -> Result<SmtpAnswer, StepInvalid> {
    let answer = match (m.answer, m.delay) {
        (SmtpAnswerKind::Slow, Some(delay)) if !delay.is_zero() && delay <= SMTP_DELAY_MAX => {
            SmtpAnswer::Slow {
                delay_ms: u64::try_from(delay.as_millis()).expect("at most an hour"),
            }
        }
        (SmtpAnswerKind::Slow, _) => {
            let message =
                "expected a delay above 0s and at most 1h with \"slow\", such as delay = \"2s\"";
            return Err((vec!["smtp", "delay"], message.to_string()));
        }
        (_, Some(_)) => {
            let message = "delay goes with \"slow\" only; expected it only there";
            return Err((vec!["smtp", "delay"], message.to_string()));
        }
        (SmtpAnswerKind::Normal, None) => SmtpAnswer::Normal,
        (SmtpAnswerKind::AuthRejected, None) => SmtpAnswer::AuthRejected,
        (SmtpAnswerKind::Temporary, None) => SmtpAnswer::Temporary,
    };
    Ok(answer)
}

fn drain(lb: &super::spec::LbSpec, nodes: &[String]) -> Result<ServiceStep, StepInvalid> {
    let (node, key, step): (&String, _, fn(String) -> ServiceStep) = match (&lb.drain, &lb.ready) {
        (Some(n), None) => (n, "drain", |node| ServiceStep::Drain { node }),
        (None, Some(n)) => (n, "ready", |node| ServiceStep::Ready { node }),
        _ => {
            let message = "expected exactly one of drain and ready (or interval, rise, fall)";
            return Err((vec!["lb"], message.to_string()));
        }
    };
    if !nodes.contains(node) {
        let message = format!(
            "unknown node {node:?}; expected one of {}",
            nodes.join(", ")
        );
        return Err((vec!["lb", key], message));
    }
    Ok(step(node.clone()))
}

/// Whether a `for` may go with this step: a fault a later step can undo.
pub(super) fn undoable(step: &StepSpec) -> bool {
    let dns = step
        .dns
        .as_ref()
        .is_some_and(|d| d.answer != DnsAnswerKind::Normal);
    let smtp = step
        .smtp
        .as_ref()
        .is_some_and(|m| m.answer != SmtpAnswerKind::Normal);
    dns || smtp || step.lb.as_ref().is_some_and(|lb| lb.drain.is_some())
}

/// The service faults in force as the steps run in order.
#[derive(Default)]
pub(super) struct InForce {
    faults: BTreeSet<String>,
}

impl InForce {
    /// Applies `s`; the step key and what is wrong when it makes no sense now.
    pub(super) fn next(&mut self, s: &ServiceStep) -> Option<(&'static str, String)> {
        let key = match s {
            ServiceStep::Dns(_) => "dns",
            ServiceStep::Smtp(_) => "smtp",
            ServiceStep::Egress(_) => "egress",
            ServiceStep::Drain { .. } | ServiceStep::Ready { .. } | ServiceStep::Checks(_) => "lb",
        };
        if let Some(f) = s.opens() {
            // A DNS or SMTP fault may replace another; a drained node cannot be drained
            // again.
            if !self.faults.insert(f.clone()) && key == "lb" {
                return Some((
                    key,
                    format!("{f} is already in force at that time; expected a ready first"),
                ));
            }
        }
        if let Some(f) = s.undoes()
            && !self.faults.remove(&f)
        {
            let what = s.name();
            return Some((
                key,
                format!(
                    "{what} at a time when no {f} is in force; expected an earlier fault to undo"
                ),
            ));
        }
        None
    }
}
