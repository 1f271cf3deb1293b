//! Checking the `link` step (issue 18 item 3): its hosts known and its groups disjoint,
//! each setting within its bounds (`faults::link`), at least one setting or `clear`,
//! not both. Called from `steps.rs`.

use std::time::Duration;

use super::names::{disjoint, group};
use super::spec::{Action, LinkSpec, StepSpec};
use crate::faults::link::{BANDWIDTH_KB_PER_S_MAX, LINK_DELAY_MAX};
use crate::faults::{LinkFault, LinkImpairment};

/// A key path inside one step, and what is wrong there.
type StepInvalid = (Vec<&'static str>, String);

/// The link change a step names, if it names one: `Ok(None)` when it holds no `link`.
/// `hosts` are the topology's hosts.
pub(super) fn action(step: &StepSpec, hosts: &[String]) -> Result<Option<Action>, StepInvalid> {
    let Some(link) = &step.link else {
        return Ok(None);
    };
    group(&link.between, hosts, &["link", "between"])?;
    if link.and.is_empty() {
        if link.between.len() < 2 {
            let message = "expected at least two hosts, or the other end in `and`";
            return Err((vec!["link", "between"], message.to_string()));
        }
        disjoint(std::slice::from_ref(&link.between), &["link", "between"])?;
    } else {
        group(&link.and, hosts, &["link", "and"])?;
        disjoint(&[link.between.clone(), link.and.clone()], &["link", "and"])?;
    }
    let impairment = impairment(link)?;
    Ok(Some(Action::Link(LinkFault {
        between: link.between.clone(),
        and: link.and.clone(),
        impairment,
    })))
}

/// The step a `for` adds: the same links restored.
pub(super) fn closing(fault: &LinkFault) -> Vec<Action> {
    vec![Action::Link(fault.cleared())]
}

/// What the step sets, or `None` for `clear = true`.
fn impairment(link: &LinkSpec) -> Result<Option<LinkImpairment>, StepInvalid> {
    let set = link.latency.is_some()
        || link.jitter.is_some()
        || link.loss.is_some()
        || link.bandwidth_kb_per_s.is_some();
    if link.clear {
        if set {
            let message = "clear = true restores the links; expected no latency, jitter, loss or bandwidth_kb_per_s beside it";
            return Err((vec!["link", "clear"], message.to_string()));
        }
        return Ok(None);
    }
    if !set {
        let message =
            "expected at least one of latency, jitter, loss, bandwidth_kb_per_s, or clear = true";
        return Err((vec!["link"], message.to_string()));
    }
    let loss = link.loss.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&loss) {
        let message = format!("loss {loss} is out of range; expected a probability from 0 to 1");
        return Err((vec!["link", "loss"], message));
    }
    let bandwidth = link.bandwidth_kb_per_s;
    if bandwidth.is_some_and(|b| !(1..=BANDWIDTH_KB_PER_S_MAX).contains(&b)) {
        let message = format!(
            "bandwidth_kb_per_s {} is out of range; expected 1 to {BANDWIDTH_KB_PER_S_MAX} (kilobytes a second; leave it out for no limit)",
            bandwidth.unwrap_or_default()
        );
        return Err((vec!["link", "bandwidth_kb_per_s"], message));
    }
    Ok(Some(LinkImpairment {
        latency_ms: delay_ms(link.latency, "latency")?,
        jitter_ms: delay_ms(link.jitter, "jitter")?,
        loss,
        bandwidth_kb_per_s: bandwidth,
    }))
}

/// A latency or jitter in whole milliseconds (the simulation's resolution), at most
/// [`LINK_DELAY_MAX`].
fn delay_ms(value: Option<Duration>, key: &'static str) -> Result<u64, StepInvalid> {
    let value = value.unwrap_or_default();
    if value > LINK_DELAY_MAX || !value.subsec_nanos().is_multiple_of(1_000_000) {
        let message = format!(
            "{value:?} is out of range; expected whole milliseconds from 0ms to {LINK_DELAY_MAX:?}"
        );
        return Err((vec!["link", key], message));
    }
    Ok(value.as_millis() as u64)
}
