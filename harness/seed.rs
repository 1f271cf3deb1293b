//! The run's random streams: one seed per run, one derived seed per component.
//!
//! A run has one seed (the scenario's `seed`, or `--seed`). Every component that draws
//! random numbers seeds its own generator from [`stream`] of that seed and its
//! [`Component`], so each stream is fixed by the run's seed alone and drawing more from
//! one stream never moves another (changing the users' request mix does not move their
//! arrival times, a node's DNS query ids do not move an election timeout).
//!
//! The derivations are the rules the components used before they shared this function,
//! kept value for value so every report stays byte-identical: a few streams are the run's
//! seed itself, the others the seed XORed with a constant of their own (a member's with
//! its index added, a host's with its IPv4 address in the upper half).

use std::net::Ipv4Addr;

/// Mixed into the run's seed for the users' choices (which request, which account).
const USER_CHOICES: u64 = 0x5EED_C401_CE00_0001;

/// Mixed into the run's seed for which browser each user request belongs to.
const USER_BROWSERS: u64 = 0xB40E_5E25_0000_0001;

/// Mixed into the run's seed for the AD/LDAP connector's DNS query ids.
const CONNECTOR_IDS: u64 = 0xC044_EC70_0000_0001;

/// Mixed into the run's seed for the dev/test tester's signup arrivals.
const TESTER_ARRIVALS: u64 = 0x0DE7_7E57_0000_0001;

/// Mixed into the run's seed for the scenario's variation: step times drawn from ranges
/// and nodes named by role (`scenario::draw`).
const VARIATION: u64 = 0x7A41_A710_0000_0001;

/// Mixed into the run's seed for the `[nemesis]` fault schedule (`scenario::nemesis`).
const NEMESIS: u64 = 0x4E3E_5155_0000_0001;

/// Mixed into the run's seed for the simulation's TLS randomness (`tls::seeded`).
const TLS: u64 = 0x7150_5EED_0000_0001;

/// Mixed, plus the member's index, into the seed of a replica-set member.
const MEMBER: u64 = 0x5EED_0000;

/// Bits a host's IPv4 address is rotated by before it is mixed in (into the upper half,
/// away from the low bits the other constants use).
const HOST_ROTATE_BITS: u32 = 32;

/// A random stream of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// turmoil's own randomness (`Builder::rng_seed`): the run's seed itself.
    Turmoil,
    /// The users' arrival times ([`crate::services::arrivals`]): the run's seed itself.
    UserArrivals,
    /// The users' choices: which request each arrival sends, as which account.
    UserChoices,
    /// Which browser each user request belongs to ([`crate::services::users`]); a stream
    /// of its own, so the arrivals and the request mix stay as they were before browsers.
    UserBrowsers,
    /// The AD/LDAP connector's DNS query ids.
    ConnectorIds,
    /// The dev/test tester's signup arrival times.
    TesterArrivals,
    /// The scenario's variation: each step time given as a range, then each node named by
    /// role (`"a-secondary"`, `"any"`) when its step runs. A stream of its own, so a
    /// scenario without variation draws nothing and every other stream stays as it was.
    Variation,
    /// The `[nemesis]` fault schedule, drawn before the run.
    Nemesis,
    /// The simulation's TLS randomness: certificate keys, handshake randoms, key
    /// exchange ([`crate::tls::seeded`]). A stream of its own, so it moves no other.
    Tls,
    /// Replica-set member number `0..` of its set (its election timeouts). Derived from
    /// the seed of the set: the run's seed for production's set, `dev-1`'s
    /// [`Component::Host`] stream for the dev/test instance's set of one.
    Member(usize),
    /// A host's own stream, from its IPv4 address: a node's own randomness (its DNS query
    /// ids), and the seed of `dev-1`'s set of one.
    Host(Ipv4Addr),
}

/// The seed of `component`'s stream in a run (or set, for [`Component::Member`]) seeded
/// with `run_seed`.
pub fn stream(run_seed: u64, component: Component) -> u64 {
    match component {
        Component::Turmoil | Component::UserArrivals => run_seed,
        Component::UserChoices => run_seed ^ USER_CHOICES,
        Component::UserBrowsers => run_seed ^ USER_BROWSERS,
        Component::ConnectorIds => run_seed ^ CONNECTOR_IDS,
        Component::TesterArrivals => run_seed ^ TESTER_ARRIVALS,
        Component::Variation => run_seed ^ VARIATION,
        Component::Nemesis => run_seed ^ NEMESIS,
        Component::Tls => run_seed ^ TLS,
        Component::Member(me) => {
            let me = u64::try_from(me).expect("a replica set has far fewer than 2^64 members");
            run_seed ^ (MEMBER + me)
        }
        Component::Host(v4) => run_seed ^ u64::from(u32::from(v4)).rotate_left(HOST_ROTATE_BITS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves every stream is the value the components' own rules gave before this
    /// function (computed with those formulas: `seed ^ 0x5EED_C401_CE00_0001` for the
    /// choices, `seed ^ 0xC044_EC70_0000_0001` for the connector, `seed ^
    /// 0xDE7_7E57_0000_0001` for the tester, `seed ^ (0x5EED_0000 + me)` for a member,
    /// `seed ^ u64::from(u32::from(v4)).rotate_left(32)` for a host), for two run seeds,
    /// so every report of every seed stays byte-identical.
    #[test]
    fn pinned() {
        let host = Ipv4Addr::new(10, 0, 1, 11);
        let cases = [
            (
                1,
                [
                    (Component::Turmoil, 1),
                    (Component::UserArrivals, 1),
                    (Component::UserChoices, 0x5EED_C401_CE00_0000),
                    (Component::ConnectorIds, 0xC044_EC70_0000_0000),
                    (Component::TesterArrivals, 0x0DE7_7E57_0000_0000),
                    (Component::Tls, 0x7150_5EED_0000_0000),
                    (Component::Member(0), 0x5EED_0001),
                    (Component::Member(2), 0x5EED_0003),
                    (Component::Host(host), 0x0A00_010B_0000_0001),
                ],
            ),
            (
                0xDEAD_BEEF_0123_4567,
                [
                    (Component::Turmoil, 0xDEAD_BEEF_0123_4567),
                    (Component::UserArrivals, 0xDEAD_BEEF_0123_4567),
                    (Component::UserChoices, 0x8040_7AEE_CF23_4566),
                    (Component::ConnectorIds, 0x1EE9_529F_0123_4566),
                    (Component::TesterArrivals, 0xD34A_C0B8_0123_4566),
                    (Component::Tls, 0xAFFD_E002_0123_4566),
                    (Component::Member(0), 0xDEAD_BEEF_5FCE_4567),
                    (Component::Member(2), 0xDEAD_BEEF_5FCE_4565),
                    (Component::Host(host), 0xD4AD_BFE4_0123_4567),
                ],
            ),
        ];
        for (run_seed, streams) in cases {
            for (component, want) in streams {
                assert_eq!(
                    stream(run_seed, component),
                    want,
                    "{component:?} of seed {run_seed:#x}"
                );
            }
        }
    }

    /// Proves the streams that are not the run's seed itself differ from each other and
    /// from it, so no two components draw the same numbers.
    #[test]
    fn distinct() {
        let run_seed = 7;
        let streams = [
            Component::UserArrivals,
            Component::UserChoices,
            Component::UserBrowsers,
            Component::ConnectorIds,
            Component::TesterArrivals,
            Component::Variation,
            Component::Nemesis,
            Component::Tls,
            Component::Member(0),
            Component::Member(1),
            Component::Host(Ipv4Addr::new(10, 0, 1, 11)),
        ]
        .map(|c| stream(run_seed, c));
        let unique: std::collections::BTreeSet<_> = streams.iter().collect();
        assert_eq!(unique.len(), streams.len());
    }
}
