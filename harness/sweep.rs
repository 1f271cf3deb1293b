//! Sweeps: one scenario over many seeds, for people and for CI (`harness sweep`,
//! `harness merge`, and `--junit` on `run`).
//!
//! A sweep runs each seed exactly as `harness run FILE --seed N` does ([`one`]): the file
//! carries all the variation, so every failing seed's printed command replays it byte
//! for byte. Seeds run on worker threads ([`pool`]) and come back in seed order, so
//! nothing written depends on `--jobs`. Each seed becomes a [`record`] (verdict
//! statuses, four figures, the reproduce command, a digest of the event log); the
//! [`summary`] and the [`junit`] report are functions of the records alone. A sweep can be
//! cut into shards ([`seeds`]: `--shard K/N`, or `--shards N` in a Kubernetes Indexed
//! Job), each writing its records to a directory ([`out`]); [`merge`] puts the
//! directories back together into the summary and JUnit of the whole. [`progress`]
//! shows the run on stderr; [`drive`] ties the commands together.
//!
//! Data flows one way: scenario -> executor -> outcome -> record -> summary / JUnit /
//! lines. This room judges nothing itself: the statuses are the checkers', and
//! `--check-determinism` only compares two digests.

pub mod drive;
pub mod html;
pub mod junit;
pub mod merge;
pub mod one;
pub mod out;
pub mod pool;
pub mod progress;
pub mod record;
pub mod seeds;
pub mod summary;
