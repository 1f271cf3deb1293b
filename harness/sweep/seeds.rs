//! Which seeds a sweep runs: the range (`--seeds A..B`) and the share of it one shard
//! takes (`--shard K/N`, or `--shards N` with Kubernetes' `JOB_COMPLETION_INDEX`).
//!
//! A range is inclusive at both ends, as people say it: `1..200` is 200 seeds, the
//! first and the last included; `7` alone is the one seed 7. A backwards range (`10..5`)
//! is refused rather than read as empty, and so is one of more than [`SEEDS_MAX`] seeds.
//! Shards count from 1 (`1/4` .. `4/4`, as nextest's and Playwright's partitions do);
//! `JOB_COMPLETION_INDEX`, which Kubernetes counts from 0, is shard index + 1. Shard K of
//! N takes every N-th seed of the range, starting with its K-th: the shards' shares are
//! disjoint, cover the range, and differ in size by at most one seed.

use std::fmt;
use std::str::FromStr;

/// The most seeds one sweep (or one merge) may cover: every seed's record is kept in
/// memory until the summary is written (a few hundred bytes each).
pub const SEEDS_MAX: u64 = 1_000_000;

/// The most shards a sweep may be cut into.
pub const SHARDS_MAX: u64 = 10_000;

/// The environment variable a Kubernetes Indexed Job sets in each pod: its index, from 0.
pub const JOB_INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

/// An inclusive range of seeds, never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedRange {
    pub first: u64,
    pub last: u64,
}

impl SeedRange {
    /// The range `first..last`, checked: not backwards, not longer than [`SEEDS_MAX`].
    pub fn new(first: u64, last: u64) -> Result<Self, String> {
        if last < first {
            return Err(format!(
                "the range {first}..{last} is backwards (empty): seeds run from A up to B, both included"
            ));
        }
        if last - first >= SEEDS_MAX {
            return Err(format!(
                "{first}..{last} is {} seeds; at most {SEEDS_MAX} in one sweep (shard a longer one)",
                u128::from(last - first) + 1
            ));
        }
        Ok(Self { first, last })
    }

    /// How many seeds it holds.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Never true: an empty range is refused when made. (For clippy's `len_without_is_empty`.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Every seed, in order.
    pub fn seeds(&self) -> impl Iterator<Item = u64> {
        self.first..=self.last
    }

    /// The seeds `shard` takes, in order.
    pub fn share(&self, shard: Shard) -> Vec<u64> {
        let skip = usize::try_from(shard.index - 1).expect("a shard index fits in usize");
        let step = usize::try_from(shard.count).expect("a shard count fits in usize");
        self.seeds().skip(skip).step_by(step).collect()
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.first, self.last)
    }
}

impl FromStr for SeedRange {
    type Err = String;

    /// `A..B` (both included) or a single seed `N`.
    fn from_str(text: &str) -> Result<Self, String> {
        let seed = |part: &str| {
            part.trim().parse::<u64>().map_err(|_| {
                format!(
                    "{part:?} is not a seed (a whole number from 0 to {})",
                    u64::MAX
                )
            })
        };
        if text.contains("..=") {
            return Err(format!(
                "{text:?}: write A..B (both ends are included already)"
            ));
        }
        match text.split_once("..") {
            Some((a, b)) => Self::new(seed(a)?, seed(b)?),
            None => {
                let only = seed(text)?;
                Self::new(only, only)
            }
        }
    }
}

/// One share of a sweep: shard `index` (from 1) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole sweep, as one shard.
    pub const WHOLE: Self = Self { index: 1, count: 1 };

    /// Shard `index` of `count`, checked.
    pub fn new(index: u64, count: u64) -> Result<Self, String> {
        if count == 0 || count > SHARDS_MAX {
            return Err(format!("{count} shards: expected 1 to {SHARDS_MAX}"));
        }
        if index == 0 || index > count {
            return Err(format!(
                "shard {index} of {count} does not exist: shards count from 1 to {count}"
            ));
        }
        Ok(Self { index, count })
    }

    /// The shard a Kubernetes Indexed Job's pod is: `job_index` is the value of
    /// [`JOB_INDEX_VAR`] (from 0), `None` when it is not set.
    pub fn from_job_index(job_index: Option<&str>, count: u64) -> Result<Self, String> {
        let Some(text) = job_index else {
            return Err(format!(
                "--shards {count} takes the shard from {JOB_INDEX_VAR}, which is not set (use --shard K/N outside a Kubernetes Indexed Job)"
            ));
        };
        let index: u64 = text.trim().parse().map_err(|_| {
            format!("{JOB_INDEX_VAR}={text:?} is not an index (a whole number from 0)")
        })?;
        if index >= count {
            return Err(format!(
                "{JOB_INDEX_VAR}={index} is out of range for --shards {count}: indexes run from 0 to {}",
                count.saturating_sub(1)
            ));
        }
        Self::new(index + 1, count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N`: shard K (from 1) of N.
    fn from_str(text: &str) -> Result<Self, String> {
        let number = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map_err(|_| format!("{text:?}: expected K/N, shard K (from 1) of N shards"))
        };
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?}: expected K/N, shard K (from 1) of N shards"))?;
        Self::new(number(k)?, number(n)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves ranges include both ends, a single seed is a range of one, and backwards,
    /// oversized and malformed ranges are refused with the reason.
    #[test]
    fn ranges_parse_inclusive_and_refuse_bad_ones() {
        let r: SeedRange = "1..200".parse().expect("a range");
        assert_eq!((r.first, r.last, r.len()), (1, 200, 200));
        assert_eq!("7".parse::<SeedRange>().expect("one seed").len(), 1);
        let backwards = "10..5".parse::<SeedRange>().expect_err("backwards");
        assert!(backwards.contains("backwards"), "{backwards}");
        assert!("1..=5".parse::<SeedRange>().is_err());
        assert!("a..5".parse::<SeedRange>().is_err());
        let huge = format!("0..{SEEDS_MAX}");
        assert!(
            huge.parse::<SeedRange>()
                .expect_err("too long")
                .contains("at most")
        );
    }

    /// Proves the shards' shares are disjoint, cover the range in order, and differ in
    /// size by at most one.
    #[test]
    fn shards_partition_the_range() {
        let range = SeedRange::new(3, 22).expect("a range");
        let shares: Vec<Vec<u64>> = (1..=3)
            .map(|k| range.share(Shard::new(k, 3).expect("a shard")))
            .collect();
        let mut all: Vec<u64> = shares.concat();
        all.sort_unstable();
        assert_eq!(all, range.seeds().collect::<Vec<_>>());
        let sizes: Vec<usize> = shares.iter().map(Vec::len).collect();
        assert_eq!(sizes, [7, 7, 6]);
        assert_eq!(range.share(Shard::WHOLE).len(), 20);
    }

    /// Proves shard indexes count from 1, `JOB_COMPLETION_INDEX` from 0, and out-of-range
    /// or missing ones are refused.
    #[test]
    fn shard_indexes_are_checked() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "x/2", "3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(
            Shard::from_job_index(Some("0"), 4),
            Ok(Shard { index: 1, count: 4 })
        );
        assert!(Shard::from_job_index(Some("4"), 4).is_err());
        assert!(Shard::from_job_index(None, 4).is_err());
        assert!(Shard::from_job_index(Some("-1"), 4).is_err());
    }
}
