//! Log compaction (cleanup.policy=compact): keep the latest record per key at its original
//! offset, drop tombstones older than delete.retention.ms, and merge the cleaned segments into
//! as few files as segment.bytes allows.
//!
//! Three phases so produce/fetch never wait on the cleaner:
//! 1. [`crate::PartitionLog::compaction_plan`] (under the lock, cheap): dirty ratio and lag
//!    checks, then a snapshot of the immutable segments to rewrite.
//! 2. [`CleanPlan::execute`] (no lock, slow): build the key -> latest offset map from the dirty
//!    segments, filter every planned segment into a spool file, then group consecutive cleaned
//!    segments (as Kafka's `groupSegmentsBySize`, but on cleaned sizes: a group's bytes fit in
//!    segment.bytes, its index entries in segment.index.bytes, its offsets within i32::MAX of
//!    its base) and write one segment per group into `.cleaner-tmp/`, named by the group's
//!    first base offset. Batches that lose no record are copied verbatim; partially kept
//!    batches are re-encoded with their original codec keeping baseOffset, lastOffsetDelta and
//!    baseSequence (as Kafka's cleaner does); emptied batches that hold a producer's latest
//!    sequence survive as empty headers.
//!    Transactions follow Kafka's rules (see `cleaner_txn.rs`): aborted records go, markers
//!    stay until their transaction's data is gone plus delete.retention.ms, and every cleaned
//!    segment gets a `.txnindex` with the aborted transactions whose markers it keeps.
//! 3. [`crate::PartitionLog::finish_compaction`] (under the lock, cheap): swaps each group in
//!    crash-safely; see `swap.rs`.
//!
//! Without grouping every pass would leave one (mostly tiny or empty) file per original
//! segment forever, and file handles would grow without bound on long-lived compacted topics.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::batch::{self, iter_batches, BatchHeader, RECORD_BATCH_OVERHEAD};
use crate::checkpoint;
use crate::cleaner_txn::{delete_horizon, with_delete_horizon, MarkerFate, TxnTracker};
use crate::log::PartitionLog;
use crate::records::{compress, decompressed_records, iter_records};
use crate::segment::Segment;
use crate::txn_index::AbortedTxn;

/// Directory (inside the partition dir) where cleaned segments are built: Kafka's `.cleaned`
/// stage. Recovery deletes it wholesale.
pub(crate) const CLEANER_TMP: &str = ".cleaner-tmp";
/// Per-partition checkpoint of the offset up to which the log has been cleaned.
pub(crate) const CLEANER_CHECKPOINT: &str = "cleaner-offset-checkpoint";
/// The filtered batches of every planned segment, back to back, before grouping.
const SPOOL: &str = "cleaned.spool";
/// Write and copy granularity for the spool (bigger batches go one at a time).
const CHUNK: usize = 1 << 20;

/// One immutable segment the cleaner will rewrite.
#[derive(Debug)]
struct PlannedSegment {
    base_offset: i64,
    /// Base offset of the segment after it: the end of the offset range it covers.
    next_base: i64,
    /// One past its last offset before cleaning.
    next_offset: i64,
    file: Arc<File>,
    size: u64,
    dirty: bool,
}

/// Limits a group of cleaned segments must respect to be one segment (Kafka's roll limits).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GroupLimits {
    /// segment.bytes
    pub max_bytes: u64,
    /// Entries the smaller of the two indexes may hold (segment.index.bytes).
    pub max_index_entries: u64,
    /// index.interval.bytes, to bound how many index entries a group's bytes produce.
    pub index_interval: u64,
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
    limits: GroupLimits,
    /// Last offset of each producer's latest batch (kept, emptied if need be).
    producer_batches: HashSet<i64>,
    /// The aborted transactions of the `.txnindex` of every segment from the first planned one.
    aborted: Vec<AbortedTxn>,
}

/// One cleaned segment replacing the consecutive original segments `members`.
#[derive(Debug, Clone)]
pub(crate) struct CleanedGroup {
    /// Base offset of the first member, which names the cleaned segment.
    pub base: i64,
    /// Base offset of the segment after the last member: the group covers `base..end`.
    pub end: i64,
    /// (base offset, size at plan time) of every replaced segment.
    pub members: Vec<(i64, u64)>,
}

/// Cleaned segment files ready to be swapped in by [`PartitionLog::finish_compaction`].
#[derive(Debug)]
pub struct CleanDone {
    pub(crate) dir: PathBuf,
    pub(crate) groups: Vec<CleanedGroup>,
    pub(crate) clean_end: i64,
    /// Bytes before and after, for logs and tests.
    pub bytes_before: u64,
    pub bytes_after: u64,
}

impl CleanDone {
    /// How many segments the plan rewrote and how many cleaned segments replace them.
    pub fn segments_replaced(&self) -> (usize, usize) {
        let before = self.groups.iter().map(|g| g.members.len()).sum();
        (before, self.groups.len())
    }
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
                next_base,
                next_offset: seg.next_offset(),
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
        let aborted = self
            .segments
            .range(planned.first().map_or(i64::MAX, |p| p.base_offset)..)
            .flat_map(|(_, s)| s.txn_index.entries().iter().copied())
            .collect();
        Some(CleanPlan {
            dir: self.dir.clone(),
            segments: planned,
            clean_end,
            now_ms,
            delete_retention_ms: c.delete_retention_ms,
            limits: GroupLimits {
                max_bytes: c.segment_bytes,
                max_index_entries: c.max_offset_index_entries().min(c.max_time_index_entries())
                    as u64,
                index_interval: c.index_interval_bytes,
            },
            producer_batches,
            aborted,
        })
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

/// What filtering one planned segment left in the spool.
#[derive(Debug, Clone)]
pub(crate) struct CleanedPart {
    pub base: i64,
    pub next_base: i64,
    /// Last offset the original segment held (bounds the group's relative offsets).
    pub last_offset: i64,
    pub original_size: u64,
    pub spool: Range<u64>,
    pub batches: u64,
}

/// Most index entries `bytes` of `batches` batches can produce: an entry needs more than
/// index.interval.bytes of log since the previous one (Kafka's LogSegment.append rule).
fn index_entries_bound(bytes: u64, batches: u64, index_interval: u64) -> u64 {
    batches.min(bytes / index_interval.saturating_add(1) + 1)
}

/// Split consecutive cleaned parts into groups that each fit in one segment. A part that fits
/// nowhere else still forms a group of its own.
pub(crate) fn group_parts(parts: &[CleanedPart], limits: GroupLimits) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let mut start = 0;
    while start < parts.len() {
        let (mut bytes, mut batches) = (0u64, 0u64);
        let mut end = start;
        while end < parts.len() {
            let p = &parts[end];
            let (b, n) = (bytes + (p.spool.end - p.spool.start), batches + p.batches);
            // Strictly less: sealing the segment may add one more time index entry.
            let fits = b <= limits.max_bytes
                && index_entries_bound(b, n, limits.index_interval) < limits.max_index_entries
                && p.last_offset - parts[start].base <= i32::MAX as i64;
            if end > start && !fits {
                break;
            }
            (bytes, batches) = (b, n);
            end += 1;
        }
        groups.push(start..end);
        start = end;
    }
    groups
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
        // Records of aborted transactions never enter it (Kafka's buildOffsetMap).
        let mut latest: HashMap<Vec<u8>, i64> = HashMap::new();
        let first_dirty = self
            .segments
            .iter()
            .find(|s| s.dirty)
            .map(|s| s.base_offset);
        let mut txns = TxnTracker::new(self.aborted_from(first_dirty.unwrap_or(i64::MAX)));
        for seg in self.segments.iter().filter(|s| s.dirty) {
            for_each_batch(seg, |h, bytes| {
                if h.is_control() {
                    txns.on_control(h, bytes);
                    return Ok(());
                }
                if txns.on_batch(h) {
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
        let spool_path = tmp.join(SPOOL);
        let spool = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&spool_path)?;
        let (parts, kept_aborts) = self.filter_into(&spool, &latest)?;

        let mut done = CleanDone {
            dir: self.dir.clone(),
            groups: Vec::new(),
            clean_end: self.clean_end,
            bytes_before: parts.iter().map(|p| p.original_size).sum(),
            bytes_after: 0,
        };
        for range in group_parts(&parts, self.limits) {
            let aborts: Vec<AbortedTxn> = kept_aborts[range.clone()].concat();
            let members = &parts[range];
            let (first, last) = (&members[0], &members[members.len() - 1]);
            let mut out = Segment::create(&tmp, first.base, self.now_ms)?;
            copy_batches(
                &spool,
                first.spool.start..last.spool.end,
                &mut out,
                self.limits.index_interval,
            )?;
            out.seal_indexes()?;
            out.release_reserve()?;
            out.forget_recent();
            out.txn_index.ensure_file()?;
            for t in aborts {
                out.txn_index.append(t)?;
            }
            for f in out.files() {
                f.sync_all()?;
            }
            crate::swap::write_group_end(&tmp, first.base, last.next_base)?;
            done.bytes_after += out.size();
            done.groups.push(CleanedGroup {
                base: first.base,
                end: last.next_base,
                members: members.iter().map(|p| (p.base, p.original_size)).collect(),
            });
        }
        drop(spool);
        fs::remove_file(&spool_path)?;
        File::open(&tmp)?.sync_all()?;
        Ok(done)
    }

    /// Aborted transactions whose markers are at or after `offset`.
    fn aborted_from(&self, offset: i64) -> Vec<AbortedTxn> {
        self.aborted
            .iter()
            .filter(|t| t.last_offset >= offset)
            .copied()
            .collect()
    }

    /// Filter every planned segment into `spool`, back to back; returns where each one went
    /// and, per segment, the aborted transactions whose markers it keeps.
    fn filter_into(
        &self,
        spool: &File,
        latest: &HashMap<Vec<u8>, i64>,
    ) -> io::Result<(Vec<CleanedPart>, Vec<Vec<AbortedTxn>>)> {
        let tombstone_horizon = self.now_ms.saturating_sub(self.delete_retention_ms);
        let first = self.segments.first().map_or(i64::MAX, |s| s.base_offset);
        let mut txns = TxnTracker::new(self.aborted_from(first));
        let mut kept_aborts = Vec::with_capacity(self.segments.len());
        let mut parts = Vec::with_capacity(self.segments.len());
        let mut pos = 0u64;
        let mut buf: Vec<u8> = Vec::new();
        for seg in &self.segments {
            let start = pos + buf.len() as u64;
            let mut batches = 0u64;
            let mut aborts = Vec::new();
            for_each_batch(seg, |h, bytes| {
                let kept = if h.is_control() {
                    let (fate, abort) = txns.on_control(h, bytes);
                    aborts.extend(abort);
                    self.filter_marker(h, bytes, fate)?
                } else {
                    let aborted = txns.on_batch(h);
                    self.filter_batch(h, bytes, latest, tombstone_horizon, aborted)?
                };
                let Some(kept) = kept else {
                    return Ok(());
                };
                buf.extend_from_slice(&kept);
                batches += 1;
                if buf.len() >= CHUNK {
                    spool.write_all_at(&buf, pos)?;
                    pos += buf.len() as u64;
                    buf.clear();
                }
                Ok(())
            })?;
            parts.push(CleanedPart {
                base: seg.base_offset,
                next_base: seg.next_base,
                last_offset: seg.next_offset - 1,
                original_size: seg.size,
                spool: start..pos + buf.len() as u64,
                batches,
            });
            kept_aborts.push(aborts);
        }
        spool.write_all_at(&buf, pos)?;
        Ok((parts, kept_aborts))
    }

    /// A transaction marker: kept while its transaction has data; once it has none, stamped
    /// with a delete horizon, and dropped in the first pass after that horizon.
    fn filter_marker(
        &self,
        h: &BatchHeader,
        bytes: &[u8],
        fate: MarkerFate,
    ) -> io::Result<Option<Vec<u8>>> {
        if h.records_count == 0 {
            return Ok(None);
        }
        if fate == MarkerFate::Keep {
            return Ok(Some(bytes.to_vec()));
        }
        match delete_horizon(h) {
            Some(horizon) if horizon <= self.now_ms => Ok(None),
            Some(_) => Ok(Some(bytes.to_vec())),
            None => {
                let horizon = self.now_ms.saturating_add(self.delete_retention_ms.max(0));
                with_delete_horizon(h, bytes, horizon).map(Some)
            }
        }
    }

    /// The bytes to keep for one data batch (verbatim, re-encoded, or an empty header), or
    /// None. Nothing of a batch of an aborted transaction is kept.
    fn filter_batch(
        &self,
        h: &BatchHeader,
        bytes: &[u8],
        latest: &HashMap<Vec<u8>, i64>,
        tombstone_horizon: i64,
        aborted: bool,
    ) -> io::Result<Option<Vec<u8>>> {
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
                _ if aborted => false,
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

/// Append the whole batches in `range` of the spool to `out`, a chunk per write.
fn copy_batches(
    spool: &File,
    range: Range<u64>,
    out: &mut Segment,
    interval: u64,
) -> io::Result<()> {
    let invalid = |e: batch::BatchError| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    let mut pos = range.start;
    let mut buf = Vec::new();
    while pos < range.end {
        let want = ((range.end - pos) as usize).min(CHUNK);
        buf.resize(want, 0);
        spool.read_exact_at(&mut buf, pos)?;
        let mut batches: Vec<(BatchHeader, Range<usize>)> = iter_batches(&buf)
            .collect::<Result<_, _>>()
            .map_err(invalid)?;
        if batches.is_empty() {
            // One batch bigger than a chunk: read it whole.
            let h = BatchHeader::parse(&buf).map_err(invalid)?;
            buf.resize(h.total_size(), 0);
            spool.read_exact_at(&mut buf, pos)?;
            batches.push((h, 0..buf.len()));
        }
        let used = batches.last().map_or(0, |(_, r)| r.end);
        out.append(&buf[..used], &batches, interval)?;
        pos += used as u64;
    }
    Ok(())
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
