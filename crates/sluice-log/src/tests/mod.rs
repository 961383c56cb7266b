//! Behaviour tests of [`crate::PartitionLog`] against real files in temp directories.

mod append_read;
mod compaction;
mod compaction_swap;
mod compaction_txn;
mod flush;
mod idempotence;
mod read_empty;
mod recovery;
mod reserve;
mod retention;

mod timestamps;
mod transactions;

use crate::test_util::{BatchSpec, RecSpec};
use crate::{AppendOptions, LogConfig, PartitionLog};

pub(crate) const NOW: i64 = 1_700_000_000_000;

pub(crate) fn opts() -> AppendOptions {
    AppendOptions {
        leader_epoch: 0,
        now_ms: NOW,
        origin_client: true,
    }
}

/// A batch of `n` records keyed k{i} with timestamps `ts`.
pub(crate) fn batch(n: usize, ts: i64) -> Vec<u8> {
    let recs = (0..n)
        .map(|i| RecSpec::kv(&format!("k{i}"), &format!("value-{i}")).at(ts))
        .collect();
    BatchSpec::new(recs).encode(0)
}

pub(crate) fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 100,
        ..LogConfig::default()
    }
}

pub(crate) fn append_n(log: &mut PartitionLog, batches: usize, per_batch: usize) {
    for _ in 0..batches {
        let mut b = batch(per_batch, NOW);
        log.append(&mut b, &opts()).unwrap();
    }
}

/// Append 5-record batches until the log has `segments` segments (small_segments() rolls often).
pub(crate) fn append_until_segments(log: &mut PartitionLog, segments: usize) {
    while log.segment_count() < segments {
        append_n(log, 1, 5);
    }
}

/// The partition directory's `.log` files, oldest segment first.
pub(crate) fn log_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs
}
