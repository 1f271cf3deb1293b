//! How the report tells consent for calls out, where the topology declares it: the
//! consent verdict's words, and the egress's decisions accounted against consent, by
//! purpose (let through with consent, refused, let through without), from the event log
//! and the topology alone.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::checkers::consent::{self, Against, Books};
use crate::duration::clock;
use crate::events::{Event, EventKind};
use crate::topology::{Purpose, Topology};

/// The words of the consent expectation.
pub fn expectation(purposes: &[Purpose]) -> String {
    let list = if purposes.is_empty() {
        "none".to_string()
    } else {
        words(purposes)
    };
    format!("calls out only with consent ({list})")
}

/// What the consent check measured, in words.
pub fn observed(b: &Books) -> String {
    let refused = match b.refused {
        0 => String::new(),
        n => format!("; {n} refused by the egress"),
    };
    match &b.unconsented {
        None => format!(
            "{} calls let through, all for consented purposes{refused}",
            b.consented
        ),
        Some(o) => {
            let first = &o.first;
            let purpose = first.purpose.map_or("no known purpose", Purpose::word);
            format!(
                "{} of {} calls let through without consent, the first {} to {} ({purpose}) at {}{refused}",
                o.count,
                o.count + b.consented,
                first.client,
                first.target,
                clock(first.at)
            )
        }
    }
}

/// `social-login, cdn`.
fn words(purposes: &[Purpose]) -> String {
    purposes
        .iter()
        .map(|p| p.word())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The egress's decisions for one purpose, against consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PurposeTally {
    /// The purpose (`social-login`), or `unknown` for an address no site has.
    pub purpose: String,
    pub consented: bool,
    /// Calls let through: with consent when `consented`, without it otherwise.
    pub let_through: usize,
    /// Calls the egress refused.
    pub refused: usize,
}

/// The consent declared and the egress's decisions against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ConsentSummary {
    /// The consented purposes, as the scenario lists them.
    pub purposes: Vec<Purpose>,
    /// Every purpose the egress decided on, and every consented one, in
    /// declaration order (`unknown` last).
    pub tallies: Vec<PurposeTally>,
}

impl ConsentSummary {
    /// `None` without a declaration.
    pub fn new(events: &[Event], topology: &Topology) -> Option<Self> {
        let consented = topology.consented()?;
        let mut tallies: BTreeMap<Option<Purpose>, PurposeTally> = consented
            .iter()
            .map(|p| (Some(*p), tally(Some(*p), consented)))
            .collect();
        for e in events {
            let EventKind::Egress(r) = &e.kind else {
                continue;
            };
            let purpose = topology.purpose_of(r.destination.ip());
            let Some(against) = consent::against(r, purpose, consented) else {
                continue;
            };
            let t = tallies
                .entry(purpose)
                .or_insert_with(|| tally(purpose, consented));
            match against {
                Against::Refused => t.refused += 1,
                Against::Consented | Against::Unconsented => t.let_through += 1,
            }
        }
        // `None` sorts first in a map; the unknown purpose reads best last.
        let mut tallies: Vec<PurposeTally> = tallies.into_values().collect();
        tallies.sort_by_key(|t| t.purpose == UNKNOWN);
        Some(Self {
            purposes: consented.to_vec(),
            tallies,
        })
    }

    /// The lines of the report's "outside the cluster" section.
    pub fn lines(&self) -> Vec<String> {
        let not: Vec<Purpose> = Purpose::ALL
            .into_iter()
            .filter(|p| !self.purposes.contains(p))
            .collect();
        let not = if not.is_empty() {
            String::new()
        } else {
            format!("; not consented: {}", words(&not))
        };
        let list = if self.purposes.is_empty() {
            "none".to_string()
        } else {
            words(&self.purposes)
        };
        let mut out = vec![format!("  consent for calls out: {list}{not}")];
        out.extend(self.tallies.iter().map(|t| {
            let through = if t.consented {
                "let through with consent"
            } else {
                "let through WITHOUT consent"
            };
            format!(
                "    {}: {} {through}, {} refused by the egress",
                t.purpose, t.let_through, t.refused
            )
        }));
        out
    }
}

/// How the summary names calls to an address with no known purpose.
const UNKNOWN: &str = "unknown";

fn tally(purpose: Option<Purpose>, consented: &[Purpose]) -> PurposeTally {
    PurposeTally {
        purpose: purpose.map_or(UNKNOWN, Purpose::word).to_string(),
        consented: purpose.is_some_and(|p| consented.contains(&p)),
        let_through: 0,
        refused: 0,
    }
}
