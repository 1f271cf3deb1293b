//! Runs a sweep's seeds on worker threads, one independent simulation per seed, and
//! hands back the records in seed order, so that nothing a sweep writes depends on
//! `--jobs` or on which thread finished first.
//!
//! Workers take the next seed from a shared counter (a slow seed does not hold up a
//! fixed share) and send each record to the calling thread, which tells the progress
//! display and keeps it. At most `jobs` simulations run at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use super::one::run_seed;
use super::record::SeedRecord;
use crate::scenario::Scenario;

/// Runs `seeds` of `scenario` on `jobs` threads (at least one), each seed twice when
/// `twice`; calls `done` with each record as it arrives; returns them sorted by seed.
pub fn run_all(
    scenario: &Scenario,
    seeds: &[u64],
    jobs: usize,
    twice: bool,
    done: impl FnMut(&SeedRecord),
) -> Vec<SeedRecord> {
    run_each(seeds, jobs, |seed| run_seed(scenario, seed, twice), done)
        .into_iter()
        .map(|(_, record)| record)
        .collect()
}

/// Runs `work` for each of `seeds` on `jobs` threads (at least one); calls `done` with
/// each result as it arrives; returns them with their seeds, sorted by seed. (A test
/// that must see more of each run than its record passes its own `work`.)
pub fn run_each<T: Send>(
    seeds: &[u64],
    jobs: usize,
    work: impl Fn(u64) -> T + Sync,
    mut done: impl FnMut(&T),
) -> Vec<(u64, T)> {
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::channel::<(u64, T)>();
    let mut results = Vec::with_capacity(seeds.len());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, seeds.len().max(1)) {
            let sender = sender.clone();
            let (next, work) = (&next, &work);
            scope.spawn(move || {
                while let Some(&seed) = seeds.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if sender.send((seed, work(seed))).is_err() {
                        return;
                    }
                }
            });
        }
        // The workers hold the only senders left: the loop ends when the last one does.
        drop(sender);
        for result in receiver {
            done(&result.1);
            results.push(result);
        }
    });
    results.sort_by_key(|(seed, _)| *seed);
    results
}
