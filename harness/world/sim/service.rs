//! Faults injected into services: the world holds one switch per service fault (the DNS
//! server's [`dns::Answering`], the balancer's [`load_balancer::Operator`]), hands a
//! clone to the service when it starts (and at every restart), and flips it when a step
//! says so. The service reads it at each query or pick; nothing else changes, so the
//! service's own code path is the one judged.

use super::World;
use crate::events::EventKind;
use crate::faults::service::ServiceStep;
use crate::services::{dns, load_balancer};

/// The switches, shared with the services that read them.
#[derive(Debug, Clone, Default)]
pub(super) struct ServiceSwitches {
    pub(super) answering: dns::Answering,
    pub(super) operator: load_balancer::Operator,
}

impl World {
    /// Applies a service step and records it.
    pub fn service_step(&mut self, step: &ServiceStep) {
        match step {
            ServiceStep::Dns(answer) => self.services.answering.set(*answer),
            ServiceStep::Drain { node } => self.services.operator.set(node, true),
            ServiceStep::Ready { node } => self.services.operator.set(node, false),
        }
        self.record(EventKind::Service(step.clone()));
    }
}
