//! How the report tells a planned rolling update: its phases in the timeline, and a
//! section of its own (each node's downtime, the versions the cluster ran, what the
//! users saw while it went on), from the operator's events alone.

use crate::duration::span;
use crate::events::update::UpdatePhase;

/// The timeline's words for one phase.
pub fn timeline_line(phase: &UpdatePhase) -> String {
    match phase {
        UpdatePhase::Began {
            order,
            from,
            version,
            drain,
        } => {
            let running: Vec<String> = from.iter().map(|(n, v)| format!("{n} {v}")).collect();
            let drain = if *drain {
                "each node drained first"
            } else {
                "no draining"
            };
            format!(
                "rolling update to {version} begins: {}; {drain}; running {}",
                order.join(", then "),
                running.join(", ")
            )
        }
        UpdatePhase::Drained { node } => {
            format!("{node} drained: out of the balancer's rotation, its checks go on")
        }
        UpdatePhase::Idle { node, in_flight: 0 } => {
            format!("{node} has no request in flight")
        }
        UpdatePhase::Idle { node, in_flight } => format!(
            "{node} still has {in_flight} requests in flight after the wait; stopping it all the same"
        ),
        UpdatePhase::StepDownAsked { node } => {
            format!("{node}, the primary, asked to step down and hand over")
        }
        UpdatePhase::Stopped { node } => format!("{node} stopped for its install"),
        UpdatePhase::Started { node, version } => format!("{node} started with {version}"),
        UpdatePhase::CaughtUp { node } => {
            format!("{node} holds everything the primary has committed")
        }
        UpdatePhase::Passing { node } => {
            format!("{node} passes /testall again (the balancer's checks)")
        }
        UpdatePhase::Returned { node } => format!("{node} back in the balancer's rotation"),
        UpdatePhase::Halted { node, why } => {
            format!("rolling update stopped at {node}: {why}")
        }
        UpdatePhase::Finished => "rolling update finished: every node in its order updated".into(),
    }
}

/// A span for the report's update lines.
pub fn took(d: std::time::Duration) -> String {
    span(d)
}
