//! Opening a partition directory: finish or discard interrupted compaction swaps, load the
//! segments, scan (and truncate) whatever may have been torn by a crash, rebuild indexes that
//! don't match their log, and restore producer state and leader epochs.
//!
//! After a clean close (marker present) segments are opened from their indexes without a scan.
//! Otherwise every segment holding offsets at or after the recovery point is fully validated,
//! as Kafka's LogLoader does; the first invalid byte ends the log. The `.txnindex` of every
//! re-scanned segment is rebuilt while producer state is replayed.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::ops::ControlFlow;
use std::path::Path;

use crate::checkpoint;
use crate::config::LogConfig;
use crate::leader_epoch::LeaderEpochCache;
use crate::log::{
    now_ms, remove_if_exists, PartitionLog, CLEAN_SHUTDOWN_MARKER, OFFSETS_CHECKPOINT,
};
use crate::producer_state::{list_snapshots, ProducerStateManager};
use crate::segment::{segment_path, Segment};
use crate::transactions::TxnRebuild;

pub(crate) fn open_log(dir: &Path, config: LogConfig) -> io::Result<PartitionLog> {
    fs::create_dir_all(dir)?;
    let clean = dir.join(CLEAN_SHUTDOWN_MARKER).exists();
    let mut recovery_point = 0i64;
    let mut log_start_offset = 0i64;
    for (k, v) in checkpoint::read_named_offsets(&dir.join(OFFSETS_CHECKPOINT)).unwrap_or_default()
    {
        match k.as_str() {
            "recovery-point" => recovery_point = v,
            "log-start-offset" => log_start_offset = v,
            _ => {}
        }
    }
    crate::swap::recover_interrupted_swaps(dir)?;
    let bases = segment_bases(dir)?;

    let mut segments: BTreeMap<i64, Segment> = BTreeMap::new();
    let mut truncated_at: Option<i64> = None;
    // First segment whose data was re-scanned: its `.txnindex` and later ones are rebuilt.
    let mut rescanned_from: Option<i64> = None;
    let base_list: Vec<i64> = bases.clone();
    for (i, &base) in base_list.iter().enumerate() {
        if truncated_at.is_some() {
            // Everything after a corrupt point is discarded, as Kafka does.
            delete_segment_files(dir, base)?;
            continue;
        }
        let next_base = base_list.get(i + 1).copied();
        let below_recovery_point = next_base.is_some_and(|n| n <= recovery_point);
        let trusted = clean || below_recovery_point;
        let opened = if trusted {
            match Segment::open(dir, base) {
                Ok(s) => Some(s),
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    tracing::warn!("{}: rebuilding segment {base}: {e}", dir.display());
                    None
                }
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        let seg = match opened {
            Some(s) => s,
            None => {
                let mut s = Segment::open_unchecked(dir, base)?;
                rescanned_from.get_or_insert(base);
                let cut = s.recover(config.index_interval_bytes, |_| {})?;
                if cut > 0 {
                    tracing::warn!(
                        "{}: truncated {cut} invalid bytes at the end of segment {base}",
                        dir.display()
                    );
                    truncated_at = Some(s.next_offset());
                }
                s
            }
        };
        // A segment whose batches don't reach the next base is fine; one that overlaps is not.
        if let Some(n) = next_base {
            if seg.next_offset() > n {
                tracing::warn!("{}: segment {base} overlaps {n}; truncating", dir.display());
                truncated_at = Some(n);
            }
        }
        segments.insert(base, seg);
    }
    if segments.is_empty() {
        let seg = Segment::create(dir, log_start_offset.max(0), now_ms())?;
        segments.insert(seg.base_offset, seg);
    }
    let first_base = *segments.keys().next().expect("non-empty");
    let log_end = segments
        .values()
        .next_back()
        .expect("non-empty")
        .next_offset();
    let log_start_offset = log_start_offset.max(first_base).min(log_end);
    let recovery_point = if clean {
        log_end
    } else {
        recovery_point.min(log_end)
    };

    let mut log = PartitionLog {
        dir: dir.to_path_buf(),
        config,
        segments,
        log_start_offset,
        recovery_point,
        producers: ProducerStateManager::default(),
        epochs: LeaderEpochCache::load(dir),
        unflushed_messages: 0,
        last_flush_ms: now_ms(),
        clean_marker_on_disk: false,
    };
    // Before per-segment indexes one file held them all: rebuild every index once.
    let legacy = dir.join(crate::transactions::LEGACY_ABORTED_FILE);
    if legacy.exists() {
        rescanned_from = Some(first_base);
    }
    if let Some(from) = rescanned_from {
        for seg in log.segments.range_mut(from..).map(|(_, s)| s) {
            seg.txn_index.reset()?;
        }
    }
    restore_producer_state(&mut log, rescanned_from)?;
    remove_if_exists(&legacy)?;
    if log.epochs.truncate_from_end(log_end) | log.epochs.truncate_from_start(log_start_offset) {
        log.epochs.persist(true)?;
    }
    // The marker must be gone (durably) before anything new is appended.
    remove_if_exists(&dir.join(CLEAN_SHUTDOWN_MARKER))?;
    fs::File::open(dir)?.sync_all()?;
    log.write_offsets_checkpoint(true)?;
    Ok(log)
}

/// Base offsets of every `.log` file; deletes leftovers (temp files, orphan indexes).
fn segment_bases(dir: &Path) -> io::Result<Vec<i64>> {
    let mut bases = Vec::new();
    let mut index_files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.ends_with(".deleted") || name.ends_with(".tmp") || name.ends_with(".cleaned") {
            remove_if_exists(&path)?;
            continue;
        }
        let Some((stem, ext)) = name.split_once('.') else {
            continue;
        };
        let Ok(base) = stem.parse::<i64>() else {
            continue;
        };
        if stem.len() != 20 {
            continue;
        }
        match ext {
            "log" => bases.push(base),
            "index" | "timeindex" | "txnindex" => index_files.push((base, path)),
            _ => {}
        }
    }
    bases.sort_unstable();
    for (base, path) in index_files {
        if bases.binary_search(&base).is_err() {
            remove_if_exists(&path)?;
        }
    }
    Ok(bases)
}

fn delete_segment_files(dir: &Path, base: i64) -> io::Result<()> {
    for suffix in ["log", "index", "timeindex", "txnindex"] {
        remove_if_exists(&segment_path(dir, base, suffix))?;
    }
    Ok(())
}

/// Load the newest usable producer snapshot and replay batch headers after it. With
/// `rebuild_txn_from`, the snapshot must be at or before that offset, and every abort marker
/// from there on gets its `.txnindex` entry back (the indexes there were reset).
fn restore_producer_state(log: &mut PartitionLog, rebuild_txn_from: Option<i64>) -> io::Result<()> {
    let log_end = log.log_end_offset();
    let first_base = *log.segments.keys().next().expect("non-empty");
    // Without a snapshot, replay from the first segment so a transaction that began below the
    // log start offset still has its first offset when its marker is replayed.
    let mut from = first_base;
    let snapshot_limit = rebuild_txn_from.map_or(log_end, |r| r.min(log_end));
    let mut state = ProducerStateManager::default();
    let snaps = list_snapshots(&log.dir)?;
    for (offset, path) in snaps.iter().rev() {
        if *offset > log_end {
            // Describes data that did not survive the crash.
            remove_if_exists(path)?;
            continue;
        }
        if *offset > snapshot_limit {
            continue;
        }
        match ProducerStateManager::read_snapshot(path) {
            Ok(s) => {
                state = s;
                from = (*offset).max(first_base);
                break;
            }
            Err(e) => {
                tracing::warn!("ignoring producer snapshot {}: {e}", path.display());
                remove_if_exists(path)?;
            }
        }
    }
    let mut rebuild = rebuild_txn_from.map(|from| TxnRebuild {
        from,
        entries: Vec::new(),
    });
    let mut failure: Option<io::Error> = None;
    for seg in log.segments.values() {
        if seg.next_offset() <= from {
            continue;
        }
        let start = if seg.base_offset >= from {
            0
        } else {
            match seg.find_batch(from)? {
                Some((pos, _)) => pos,
                None => continue,
            }
        };
        seg.scan_headers(start, |pos, h| {
            if h.base_offset < from {
                return ControlFlow::Continue(());
            }
            let rebuilding = rebuild.as_ref().is_some_and(|r| h.base_offset >= r.from);
            let marker = h.is_control() && h.has_producer_id() && rebuilding;
            let first = marker
                .then(|| state.get(h.producer_id).map(|e| e.txn_first_offset))
                .flatten();
            state.replay(h);
            if let (true, Some(r)) = (marker, rebuild.as_mut()) {
                let others = state.first_unstable_offset();
                let read = || seg.read_bytes(pos, h.total_size());
                if let Err(e) = r.on_marker(seg.base_offset, h, first, others, read) {
                    failure = Some(e);
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        })
        .map_err(|c| io::Error::new(io::ErrorKind::InvalidData, c.reason))?;
        if let Some(e) = failure.take() {
            return Err(e);
        }
    }
    state.truncate_head(log.log_start_offset);
    log.producers = state;
    if let Some(r) = rebuild {
        for (base, entry) in r.entries {
            if let Some(seg) = log.segments.get_mut(&base) {
                seg.txn_index.append(entry)?;
            }
        }
    }
    Ok(())
}
