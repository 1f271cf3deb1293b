//! Faults injected into a service rather than the network: the DNS server's answers, the
//! SMTP relay's answers and the load balancer's operator actions. Plain data, like the rest of [`super`]: the
//! loader builds a [`ServiceStep`], the world hands it to the service's switch, the event
//! log records it (`EventKind::Service`), and the report phrases it.
//!
//! Each fault has the step that undoes it (`dns = { answer = "normal" }`, `lb = { ready =
//! "node-2" }`), so a `for` can close it and the checkers can tell when it was in force.

use std::net::Ipv4Addr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the DNS server answers queries for the appliance's own names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "answer", rename_all = "kebab-case")]
pub enum DnsAnswer {
    /// As configured: the zone's A records (the fault undone).
    Normal,
    /// SERVFAIL (RCODE 2) to every query: the server is up but cannot answer (a broken
    /// backend, an expired zone).
    Servfail,
    /// NXDOMAIN to the appliance's names: the records were deleted.
    Nxdomain,
    /// No answer at all: queries vanish, clients wait out their timeout.
    Silence,
    /// The appliance's names point at `address` instead of the load balancer (a stale or
    /// mistyped record).
    WrongAddress { address: Ipv4Addr },
}

impl DnsAnswer {
    /// The answer as a scenario names it: `servfail`, `wrong-address`.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Servfail => "servfail",
            Self::Nxdomain => "nxdomain",
            Self::Silence => "silence",
            Self::WrongAddress { .. } => "wrong-address",
        }
    }
}

/// The kinds of [`DnsAnswer`] as a scenario names them (`answer = "servfail"`), in
/// declaration order: the loader's error lists them so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DnsAnswerKind {
    Normal,
    Servfail,
    Nxdomain,
    Silence,
    WrongAddress,
}

/// How the SMTP relay answers the nodes' mail queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "answer", rename_all = "kebab-case")]
pub enum SmtpAnswer {
    /// As configured (the fault undone).
    Normal,
    /// `535 5.7.8` to every `AUTH`: the relay no longer takes the nodes' credentials (a
    /// rotated password, a locked service account).
    AuthRejected,
    /// `451 4.3.0` to every `MAIL FROM`: a temporary failure (a full spool, a greylist);
    /// the client is to try again later.
    Temporary,
    /// Every reply, the greeting included, comes `delay_ms` milliseconds late (an
    /// overloaded relay).
    Slow { delay_ms: u64 },
}

impl SmtpAnswer {
    /// The answer as a scenario names it: `auth-rejected`, `slow`.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::AuthRejected => "auth-rejected",
            Self::Temporary => "temporary",
            Self::Slow { .. } => "slow",
        }
    }

    /// How late each reply comes.
    pub fn delay(&self) -> Duration {
        match self {
            Self::Slow { delay_ms } => Duration::from_millis(*delay_ms),
            _ => Duration::ZERO,
        }
    }
}

/// The kinds of [`SmtpAnswer`] as a scenario names them (`answer = "auth-rejected"`), in
/// declaration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmtpAnswerKind {
    Normal,
    AuthRejected,
    Temporary,
    Slow,
}

/// An operator's change of the balancer's health-check settings during a run (a reload
/// with HAProxy's `server-state-file`: each backend keeps its state and its counts, the
/// new values apply from its next check). Each field left `None` keeps its value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct CheckChange {
    /// The new `inter`, in milliseconds (also `fastinter` and `downinter` where the
    /// topology left them unset).
    pub interval_ms: Option<u64>,
    /// The new `rise`.
    pub rise: Option<u32>,
    /// The new `fall`.
    pub fall: Option<u32>,
}

impl CheckChange {
    /// `change` laid over this one: its given fields win.
    pub fn then(self, change: Self) -> Self {
        Self {
            interval_ms: change.interval_ms.or(self.interval_ms),
            rise: change.rise.or(self.rise),
            fall: change.fall.or(self.fall),
        }
    }

    /// The change in a few words: `interval 1s, fall 2`.
    pub fn words(&self) -> String {
        let interval = self.interval_ms.map(|ms| {
            format!(
                "interval {}",
                crate::duration::span(Duration::from_millis(ms))
            )
        });
        let rise = self.rise.map(|r| format!("rise {r}"));
        let fall = self.fall.map(|f| format!("fall {f}"));
        [interval, rise, fall]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// An administrator's change of the egress proxy's rules during a run. Each field left
/// `None` keeps its value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct EgressChange {
    /// The new allow-list (domains; a name under one is allowed too).
    pub allow: Option<Vec<String>>,
    /// The nodes' exception granted (`true`) or withdrawn (`false`).
    pub exception: Option<bool>,
}

impl EgressChange {
    /// `change` laid over this one: its given fields win.
    pub fn then(self, change: Self) -> Self {
        Self {
            allow: change.allow.or(self.allow),
            exception: change.exception.or(self.exception),
        }
    }
}

/// One step on a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "service", rename_all = "snake_case")]
pub enum ServiceStep {
    /// The DNS server answers so from now on.
    Dns(DnsAnswer),
    /// The SMTP relay answers so from now on.
    Smtp(SmtpAnswer),
    /// The load balancer's operator drains `node`: no new requests or connections go to
    /// it; those in flight finish (HAProxy's `set server ... state drain`, then `maint`
    /// once empty is the operator's business). Its health checks go on.
    Drain { node: String },
    /// The operator puts a drained `node` back in rotation (`state ready`).
    Ready { node: String },
    /// The operator changes the health checks' interval, rise or fall.
    Checks(CheckChange),
    /// An administrator changes the egress proxy's allow-list or the nodes' exception.
    Egress(EgressChange),
}

impl ServiceStep {
    /// The key of the fault this step puts in force (`dns`, `drain node-2`); `None` for a
    /// step that undoes one.
    pub fn opens(&self) -> Option<String> {
        match self {
            Self::Dns(DnsAnswer::Normal)
            | Self::Smtp(SmtpAnswer::Normal)
            | Self::Ready { .. }
            | Self::Checks(_)
            | Self::Egress(_) => None,
            Self::Dns(_) => Some("dns".to_string()),
            Self::Smtp(_) => Some("smtp".to_string()),
            Self::Drain { node } => Some(format!("drain {node}")),
        }
    }

    /// The key of the fault this step undoes; `None` for a step that injects one.
    pub fn undoes(&self) -> Option<String> {
        match self {
            Self::Dns(DnsAnswer::Normal) => Some("dns".to_string()),
            Self::Smtp(SmtpAnswer::Normal) => Some("smtp".to_string()),
            Self::Ready { node } => Some(format!("drain {node}")),
            Self::Dns(_)
            | Self::Smtp(_)
            | Self::Drain { .. }
            | Self::Checks(_)
            | Self::Egress(_) => None,
        }
    }

    /// The step in a few words: `dns servfail`, `drain node-2`.
    pub fn name(&self) -> String {
        match self {
            Self::Dns(answer) => format!("dns {}", answer.word()),
            Self::Smtp(answer) => format!("smtp {}", answer.word()),
            Self::Drain { node } => format!("drain {node}"),
            Self::Ready { node } => format!("ready {node}"),
            Self::Checks(change) => format!("lb checks {}", change.words()),
            Self::Egress(change) => {
                let allow = change
                    .allow
                    .as_ref()
                    .map(|a| format!("allow [{}]", a.join(", ")));
                let exception = change.exception.map(|e| {
                    if e {
                        "exception granted"
                    } else {
                        "exception withdrawn"
                    }
                    .to_string()
                });
                let words: Vec<String> = [allow, exception].into_iter().flatten().collect();
                format!("egress {}", words.join(", "))
            }
        }
    }

    /// The step that undoes this one, for a `for`.
    pub fn closing(&self) -> Option<Self> {
        match self {
            Self::Dns(DnsAnswer::Normal)
            | Self::Smtp(SmtpAnswer::Normal)
            | Self::Ready { .. }
            | Self::Checks(_)
            | Self::Egress(_) => None,
            Self::Dns(_) => Some(Self::Dns(DnsAnswer::Normal)),
            Self::Smtp(_) => Some(Self::Smtp(SmtpAnswer::Normal)),
            Self::Drain { node } => Some(Self::Ready { node: node.clone() }),
        }
    }
}
