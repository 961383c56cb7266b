//! Log compaction (cleanup.policy=compact): keep the latest record per key at its original
//! offset, drop tombstones older than delete.retention.ms, and swap cleaned segments in
//! crash-safely.
//!
//! Three phases so produce/fetch never wait on the cleaner:
//! 1. [`crate::PartitionLog::compaction_plan`] (under the lock, cheap): dirty ratio and lag
//!    checks, then a snapshot of the immutable segments to rewrite.
//! 2. [`CleanPlan::execute`] (no lock, slow): build the key -> latest offset map from the dirty
//!    segments, then rewrite every planned segment into `.cleaner-tmp/`. Batches that lose no
//!    record are copied verbatim; partially kept batches are re-encoded with their original
//!    codec keeping baseOffset, lastOffsetDelta and baseSequence (as Kafka's cleaner does);
//!    emptied batches that hold a producer's latest sequence survive as empty headers.
//! 3. [`crate::PartitionLog::finish_compaction`] (under the lock, cheap): per segment rename
//!    `.index.swap`, `.timeindex.swap`, then `.log.swap` (the commit point), then all to their
//!    final names. Recovery completes a swap whose `.log.swap` exists and discards the rest.
//!
//! One cleaned segment replaces one original segment (no grouping), so every swap is a rename
//! over a file with the same base offset and nothing else needs deleting.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::{self, BatchHeader, RECORD_BATCH_OVERHEAD};
use crate::checkpoint;
use crate::log::{remove_if_exists, PartitionLog};
use crate::records::{compress, decompressed_records, iter_records};
use crate::segment::{segment_path, Segment};

/// Directory (inside the partition dir) where cleaned segments are built.
const CLEANER_TMP: &str = ".cleaner-tmp";
#[cfg(test)]
pub(crate) const CLEANER_TMP_FOR_TESTS: &str = CLEANER_TMP;
/// Per-partition checkpoint of the offset up to which the log has been cleaned.
pub(crate) const CLEANER_CHECKPOINT: &str = "cleaner-offset-checkpoint";

/// One immutable segment the cleaner will rewrite.
#[derive(Debug)]
struct PlannedSegment {
    base_offset: i64,
    file: Arc<File>,
    size: u64,
    dirty: bool,
}

/// A snapshot of what to clean, produced by [`PartitionLog::compaction_plan`].
#[derive(Debug)]
pub struct CleanPlan {
    dir: PathBuf,
    segments: Vec<PlannedSegment>,
    /// Everything below this offset is cleaned once the plan is finished.
    clean_end: i64,
    now_ms: i64,
    delete_retention_ms: i64,
    index_interval: u64,
    /// Last offset of each producer's latest batch (kept, emptied if need be).
    producer_batches: HashSet<i64>,
}

/// Cleaned segment files ready to be swapped in by [`PartitionLog::finish_compaction`].
#[derive(Debug)]
pub struct CleanDone {
    dir: PathBuf,
    /// (base offset, original size) of each rewritten segment.
    pub(crate) segments: Vec<(i64, u64)>,
    clean_end: i64,
    /// Bytes before and after, for logs and tests.
    pub bytes_before: u64,
    pub bytes_after: u64,
}

impl PartitionLog {
    /// Decide if the log is cleanable now (policy, dirty ratio, compaction lags) and snapshot
    /// the segments to clean. Cheap (reads one small checkpoint); call under the lock.
    pub fn compaction_plan(&self, now_ms: i64) -> Option<CleanPlan> {
        let c = &self.config;
        if !c.cleanup_policy_compact {
            return None;
        }
        let first_dirty = self.cleaner_offset().max(self.log_start_offset);
        // Never clean the active segment, an open transaction, or records younger than the lag.
        let mut first_uncleanable = self.active().base_offset;
        if let Some(lso) = self.first_unstable_offset() {
            first_uncleanable = first_uncleanable.min(lso);
        }
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let mut planned = Vec::new();
        let (mut clean_bytes, mut dirty_bytes) = (0u64, 0u64);
        let mut max_lag_exceeded = false;
        let mut clean_end = first_dirty;
        for (i, seg) in self.segments.values().enumerate() {
            let Some(&next_base) = bases.get(i + 1) else {
                break;
            };
            if next_base > first_uncleanable {
                break;
            }
            if c.min_compaction_lag_ms > 0
                && now_ms.saturating_sub(seg.largest_timestamp()) < c.min_compaction_lag_ms
            {
                break;
            }
            let dirty = next_base > first_dirty;
            if dirty {
                dirty_bytes += seg.size();
                if now_ms.saturating_sub(seg.largest_timestamp()) > c.max_compaction_lag_ms {
                    max_lag_exceeded = true;
                }
                clean_end = next_base;
            } else {
                clean_bytes += seg.size();
            }
            planned.push(PlannedSegment {
                base_offset: seg.base_offset,
                file: seg.log_file().clone(),
                size: seg.size(),
                dirty,
            });
        }
        if dirty_bytes == 0 {
            return None;
        }
        let ratio = dirty_bytes as f64 / (clean_bytes + dirty_bytes) as f64;
        if ratio < c.min_cleanable_dirty_ratio && !max_lag_exceeded {
            return None;
        }
        // Only the batch holding a producer's last sequence matters after a rescan (Kafka's
        // `isBatchLastRecordOfProducer`); older emptied batches can go.
        let producer_batches = self
            .producers
            .producers()
            .filter_map(|(_, e)| e.batches.back().map(|b| b.last_offset))
            .collect();
        Some(CleanPlan {
            dir: self.dir.clone(),
            segments: planned,
            clean_end,
            now_ms,
            delete_retention_ms: c.delete_retention_ms,
            index_interval: c.index_interval_bytes,
            producer_batches,
        })
    }

    /// Swap the cleaned segments in (cheap: renames + one directory fsync). Segments that
    /// changed since the plan (deleted by retention) are skipped.
    pub fn finish_compaction(&mut self, done: CleanDone) -> io::Result<()> {
        let tmp = done.dir.join(CLEANER_TMP);
        if done.dir != self.dir {
            return Err(io::Error::other("clean result belongs to another log"));
        }
        self.mark_dirty()?;
        for &(base, size) in &done.segments {
            let still_there = self
                .segments
                .get(&base)
                .is_some_and(|s| s.size() == size && s.base_offset != self.active().base_offset);
            if !still_there {
                continue;
            }
            for suffix in ["index", "timeindex", "log"] {
                fs::rename(
                    tmp_path(&tmp, base, suffix),
                    swap_path(&self.dir, base, suffix),
                )?;
            }
            for suffix in ["index", "timeindex", "log"] {
                fs::rename(
                    swap_path(&self.dir, base, suffix),
                    segment_path(&self.dir, base, suffix),
                )?;
            }
            let seg = Segment::open(&self.dir, base)?;
            self.segments.insert(base, seg);
        }
        File::open(&self.dir)?.sync_all()?;
        let _ = fs::remove_dir_all(&tmp);
        checkpoint::write(
            &self.dir.join(CLEANER_CHECKPOINT),
            0,
            &[format!("cleaner-offset {}", done.clean_end)],
            false,
        )
    }

    /// Offset below which the log was already cleaned (0 if never).
    pub fn cleaner_offset(&self) -> i64 {
        checkpoint::read_named_offsets(&self.dir.join(CLEANER_CHECKPOINT))
            .ok()
            .and_then(|v| {
                v.into_iter()
                    .find(|(k, _)| k == "cleaner-offset")
                    .map(|(_, o)| o)
            })
            .unwrap_or(0)
    }
}

fn tmp_path(tmp: &Path, base: i64, suffix: &str) -> PathBuf {
    segment_path(tmp, base, suffix)
}

fn swap_path(dir: &Path, base: i64, suffix: &str) -> PathBuf {
    dir.join(format!("{base:020}.{suffix}.swap"))
}

/// Read every batch of a planned segment, calling `f(header, bytes)`.
fn for_each_batch(
    seg: &PlannedSegment,
    mut f: impl FnMut(&BatchHeader, &[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut pos = 0u64;
    let mut header = [0u8; RECORD_BATCH_OVERHEAD];
    let mut buf = Vec::new();
    while pos + RECORD_BATCH_OVERHEAD as u64 <= seg.size {
        seg.file.read_exact_at(&mut header, pos)?;
        let h = BatchHeader::parse(&header)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let size = h.total_size() as u64;
        if pos + size > seg.size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "batch past end of segment",
            ));
        }
        buf.resize(size as usize, 0);
        seg.file.read_exact_at(&mut buf, pos)?;
        f(&h, &buf)?;
        pos += size;
    }
    Ok(())
}

impl CleanPlan {
    /// Build the key map and write the cleaned segments (slow; call without the partition lock).
    pub fn execute(self) -> io::Result<CleanDone> {
        // Latest offset per key over the dirty section.
        let mut latest: HashMap<Vec<u8>, i64> = HashMap::new();
        for seg in self.segments.iter().filter(|s| s.dirty) {
            for_each_batch(seg, |h, bytes| {
                if h.is_control() {
                    return Ok(());
                }
                let data = decompressed_records(h, bytes)?;
                for r in iter_records(&data) {
                    let r = r?;
                    if let Some(k) = r.key {
                        latest.insert(k.to_vec(), h.base_offset + r.offset_delta as i64);
                    }
                }
                Ok(())
            })?;
        }
        let tmp = self.dir.join(CLEANER_TMP);
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp)?;
        let tombstone_horizon = self.now_ms.saturating_sub(self.delete_retention_ms);
        let mut done = CleanDone {
            dir: self.dir.clone(),
            segments: Vec::new(),
            clean_end: self.clean_end,
            bytes_before: 0,
            bytes_after: 0,
        };
        for seg in &self.segments {
            let mut out = Segment::create(&tmp, seg.base_offset, self.now_ms)?;
            for_each_batch(seg, |h, bytes| {
                let Some(kept) = self.filter_batch(h, bytes, &latest, tombstone_horizon)? else {
                    return Ok(());
                };
                let kh = BatchHeader::parse(&kept)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                out.append(&kept, &[(kh, 0..kept.len())], self.index_interval)
            })?;
            out.seal_time_index()?;
            for f in out.files() {
                f.sync_all()?;
            }
            done.bytes_before += seg.size;
            done.bytes_after += out.size();
            done.segments.push((seg.base_offset, seg.size));
        }
        File::open(&tmp)?.sync_all()?;
        Ok(done)
    }

    /// The bytes to keep for one batch (verbatim, re-encoded, or an empty header), or None.
    fn filter_batch(
        &self,
        h: &BatchHeader,
        bytes: &[u8],
        latest: &HashMap<Vec<u8>, i64>,
        tombstone_horizon: i64,
    ) -> io::Result<Option<Vec<u8>>> {
        if h.is_control() {
            return Ok(Some(bytes.to_vec()));
        }
        let data = decompressed_records(h, bytes)?;
        let mut kept: Vec<u8> = Vec::with_capacity(data.len());
        let (mut total, mut count) = (0i32, 0i32);
        let mut max_ts = -1i64;
        for r in iter_records(&data) {
            let r = r?;
            total += 1;
            let offset = h.base_offset + r.offset_delta as i64;
            let ts = if h.is_log_append_time() {
                h.max_timestamp
            } else {
                h.base_timestamp.wrapping_add(r.timestamp_delta)
            };
            let keep = match r.key {
                None => true,
                Some(k) => {
                    let newest = latest.get(k).is_none_or(|&m| offset >= m);
                    newest && !(r.is_tombstone && ts < tombstone_horizon)
                }
            };
            if keep {
                kept.extend_from_slice(r.bytes);
                count += 1;
                max_ts = max_ts.max(ts);
            }
        }
        // Checked before the verbatim copy below: a batch emptied by an earlier pass has
        // count == total == 0 and must go once it no longer holds its producer's last sequence.
        if count == 0 {
            // Producer state must still see this batch's sequence numbers after a rescan.
            if h.has_producer_id() && self.producer_batches.contains(&h.last_offset()) {
                if total == 0 {
                    return Ok(Some(bytes.to_vec()));
                }
                let mut empty = bytes[..RECORD_BATCH_OVERHEAD].to_vec();
                write_header_fields(&mut empty, h.attributes & !0x07, 0, h.max_timestamp);
                return Ok(Some(empty));
            }
            return Ok(None);
        }
        if count == total {
            return Ok(Some(bytes.to_vec()));
        }
        let payload = compress(h.compression(), &kept)?;
        let mut out = Vec::with_capacity(RECORD_BATCH_OVERHEAD + payload.len());
        out.extend_from_slice(&bytes[..RECORD_BATCH_OVERHEAD]);
        out.extend_from_slice(&payload);
        let max_ts = if h.is_log_append_time() {
            h.max_timestamp
        } else {
            max_ts
        };
        write_header_fields(&mut out, h.attributes, count, max_ts);
        Ok(Some(out))
    }
}

/// Fix up a rebuilt batch: length, attributes, record count, max timestamp, CRC.
fn write_header_fields(batch: &mut [u8], attributes: i16, count: i32, max_ts: i64) {
    let len = (batch.len() - crate::batch::LOG_OVERHEAD) as i32;
    batch[8..12].copy_from_slice(&len.to_be_bytes());
    batch[21..23].copy_from_slice(&attributes.to_be_bytes());
    batch[35..43].copy_from_slice(&max_ts.to_be_bytes());
    batch[57..61].copy_from_slice(&count.to_be_bytes());
    batch::rewrite_crc(batch);
}

/// Finish or roll back compaction swaps interrupted by a crash (called at open).
pub(crate) fn recover_interrupted_swaps(dir: &Path) -> io::Result<()> {
    let tmp = dir.join(CLEANER_TMP);
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    let mut committed = Vec::new();
    let mut stray = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(stem) = name.strip_suffix(".log.swap") {
            if let Ok(base) = stem.parse::<i64>() {
                committed.push(base);
            }
        } else if name.ends_with(".index.swap") || name.ends_with(".timeindex.swap") {
            stray.push(path);
        }
    }
    if committed.is_empty() && stray.is_empty() {
        return Ok(());
    }
    for base in &committed {
        for suffix in ["index", "timeindex", "log"] {
            let swap = swap_path(dir, *base, suffix);
            if swap.exists() {
                fs::rename(&swap, segment_path(dir, *base, suffix))?;
            } else if suffix != "log" {
                // Index already renamed, or lost: the loader validates and rebuilds it.
            }
        }
    }
    for p in stray {
        if p.exists() {
            remove_if_exists(&p)?;
        }
    }
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    //! Emptied producer batches across passes: only each producer's latest one survives.

    use crate::batch::{iter_batches, BatchHeader};
    use crate::test_util::{BatchSpec, RecSpec};
    use crate::tests::{opts, small_segments, NOW};
    use crate::PartitionLog;

    fn put(log: &mut PartitionLog, batch: BatchSpec) {
        log.append(&mut batch.encode(0), &opts()).unwrap();
    }

    /// Superseding writes from a producer without an id, enough to roll several segments.
    fn overwrite(log: &mut PartitionLog, times: usize) {
        for i in 0..times {
            put(
                log,
                BatchSpec::new(vec![RecSpec::kv("k", &format!("v{i}")).at(NOW)]),
            );
        }
    }

    fn compact(log: &mut PartitionLog) {
        let plan = log.compaction_plan(NOW).expect("log is cleanable");
        log.finish_compaction(plan.execute().unwrap()).unwrap();
    }

    /// Headers of every batch of producer `pid`, from the log start.
    fn headers_of(log: &PartitionLog, pid: i64) -> Vec<BatchHeader> {
        let (mut off, end) = (log.log_start_offset(), log.log_end_offset());
        let mut out = Vec::new();
        while let Some(slice) = log.read(off, 1 << 20, end).unwrap() {
            let bytes = slice.read_bytes().unwrap();
            for item in iter_batches(&bytes) {
                let (h, _) = item.unwrap();
                off = h.next_offset();
                if h.producer_id == pid {
                    out.push(h);
                }
            }
        }
        out
    }

    #[test]
    fn only_the_batch_with_a_producers_last_sequence_stays_as_an_empty_header() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = small_segments();
        cfg.set("cleanup.policy", "compact").unwrap();
        let mut log = PartitionLog::open(dir.path(), cfg).unwrap();
        for seq in 0..3 {
            put(
                &mut log,
                BatchSpec::new(vec![RecSpec::kv("k", "idem").at(NOW)]).idempotent(77, 0, seq),
            );
        }
        overwrite(&mut log, 40);
        compact(&mut log);
        let kept: Vec<_> = headers_of(&log, 77)
            .iter()
            .map(|h| (h.base_sequence, h.records_count))
            .collect();
        assert_eq!(
            kept,
            vec![(2, 0)],
            "only the batch holding sequence 2 is kept, emptied"
        );

        // A later batch of the same producer makes the kept empty header obsolete.
        put(
            &mut log,
            BatchSpec::new(vec![RecSpec::kv("k", "idem").at(NOW)]).idempotent(77, 0, 3),
        );
        overwrite(&mut log, 40);
        compact(&mut log);
        let kept: Vec<_> = headers_of(&log, 77)
            .iter()
            .map(|h| (h.base_sequence, h.records_count))
            .collect();
        assert_eq!(
            kept,
            vec![(3, 0)],
            "the old empty header goes, the new last batch stays"
        );
    }
}
