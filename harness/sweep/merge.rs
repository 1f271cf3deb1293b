//! `harness merge DIR...`: shards' output directories put back together into the records
//! of the whole sweep, from which the summary and JUnit are made exactly as one machine
//! would have made them.
//!
//! Refused, each with a message naming the directories: shards of different sweeps
//! (another scenario, range, harness version or determinism setting), a shard index
//! given twice or missing, a seed recorded twice, a seed of the range recorded nowhere,
//! a seed outside the range.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::out::{self, Shard};
use super::record::SeedRecord;
use super::seeds::SeedRange;
use super::summary::Header;

/// Seeds named in a "missing" or "twice" error before the rest are counted.
const SEEDS_NAMED_MAX: usize = 10;

/// The merged sweep: its header and every seed's record, in seed order.
#[derive(Debug)]
pub struct Merged {
    pub header: Header,
    pub records: Vec<SeedRecord>,
}

/// Reads and merges `dirs`; `Err` is bad input (exit 2).
pub fn merge(dirs: &[PathBuf]) -> Result<Merged, String> {
    let shards = dirs
        .iter()
        .map(|d| out::read(d))
        .collect::<Result<Vec<Shard>, String>>()?;
    let first = shards.first().ok_or("merge: name at least one directory")?;
    let header = first.manifest.header.clone();
    let count = first.manifest.shard_count;
    let mut by_index: BTreeMap<u64, &Path> = BTreeMap::new();
    for shard in &shards {
        same_sweep(first, shard)?;
        if let Some(other) = by_index.insert(shard.manifest.shard_index, &shard.dir) {
            return Err(format!(
                "{} and {} both hold shard {}/{count}",
                other.display(),
                shard.dir.display(),
                shard.manifest.shard_index
            ));
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|k| !by_index.contains_key(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "shard(s) {} missing from the merge",
            missing.join(", ")
        ));
    }
    let range = SeedRange::new(header.first, header.last)?;
    let records = seeds(&shards, range)?;
    Ok(Merged { header, records })
}

/// `Err` unless `shard` is a share of the same sweep as `first`.
fn same_sweep(first: &Shard, shard: &Shard) -> Result<(), String> {
    let (a, b) = (&first.manifest, &shard.manifest);
    let differs = if a.header.scenario != b.header.scenario {
        Some(format!(
            "scenario {} against {}",
            a.header.scenario, b.header.scenario
        ))
    } else if (a.header.first, a.header.last) != (b.header.first, b.header.last) {
        Some(format!(
            "seeds {}..{} against {}..{}",
            a.header.first, a.header.last, b.header.first, b.header.last
        ))
    } else if a.shard_count != b.shard_count {
        Some(format!(
            "{} shards against {}",
            a.shard_count, b.shard_count
        ))
    } else if a.header.harness != b.header.harness {
        Some(format!(
            "harness {} against {}",
            a.header.harness, b.header.harness
        ))
    } else if a.header.check_determinism != b.header.check_determinism {
        Some("one ran each seed twice, the other once".to_string())
    } else {
        None
    };
    match differs {
        Some(what) => Err(format!(
            "{} and {} are not shards of one sweep: {what}",
            first.dir.display(),
            shard.dir.display()
        )),
        None => Ok(()),
    }
}

/// Every seed of `range` exactly once across `shards`, in seed order.
fn seeds(shards: &[Shard], range: SeedRange) -> Result<Vec<SeedRecord>, String> {
    let mut by_seed: BTreeMap<u64, (&Path, &SeedRecord)> = BTreeMap::new();
    let mut twice: Vec<String> = Vec::new();
    for shard in shards {
        for r in &shard.records {
            if r.seed < range.first || r.seed > range.last {
                return Err(format!(
                    "{}: seed {} is outside the sweep's range {range}",
                    shard.dir.display(),
                    r.seed
                ));
            }
            if let Some((other, _)) = by_seed.insert(r.seed, (&shard.dir, r)) {
                twice.push(format!(
                    "seed {} ({} and {})",
                    r.seed,
                    other.display(),
                    shard.dir.display()
                ));
            }
        }
    }
    if !twice.is_empty() {
        return Err(format!(
            "{} seed(s) recorded twice: {}",
            twice.len(),
            named(&twice)
        ));
    }
    let missing: Vec<String> = range
        .seeds()
        .filter(|s| !by_seed.contains_key(s))
        .map(|s| s.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} seed(s) of {range} recorded nowhere: {}",
            missing.len(),
            named(&missing)
        ));
    }
    Ok(by_seed.into_values().map(|(_, r)| r.clone()).collect())
}

/// The first [`SEEDS_NAMED_MAX`] of `items`, and how many more.
fn named(items: &[String]) -> String {
    let mut text = items
        .iter()
        .take(SEEDS_NAMED_MAX)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SEEDS_NAMED_MAX {
        text.push_str(&format!(" and {} more", items.len() - SEEDS_NAMED_MAX));
    }
    text
}
