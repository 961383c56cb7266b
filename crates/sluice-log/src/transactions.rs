//! Transactions as the log sees them: recognising abort markers, the last stable offset, the
//! aborted transactions a read_committed fetch needs (from the `.txnindex` of the segments its
//! range spans, as Kafka's `collectAbortedTransactions`), and rebuilding those indexes for the
//! segments recovery re-scans.
//!
//! Versions before the per-segment indexes kept one `sluice-aborted-txns` file per partition;
//! finding one at open triggers a one-time rebuild of every segment's index, then it goes.

use std::io;

use crate::batch::{BatchHeader, RECORD_BATCH_OVERHEAD};
use crate::log::PartitionLog;
use crate::read::FileSlice;
use crate::txn_index::AbortedTxn;

/// The pre-`.txnindex` per-partition file; only its presence matters now.
pub(crate) const LEGACY_ABORTED_FILE: &str = "sluice-aborted-txns";

/// Control record type: 0 is ABORT, 1 is COMMIT (Kafka's `ControlRecordType`).
const CONTROL_TYPE_ABORT: i16 = 0;

/// Reads a zigzag varint, returning it and the bytes used.
pub(crate) fn varint(buf: &[u8]) -> Option<(i64, usize)> {
    let mut value = 0u64;
    for (i, b) in buf.iter().take(10).enumerate() {
        value |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Some((((value >> 1) as i64) ^ -((value & 1) as i64), i + 1));
        }
    }
    None
}

/// For a whole control batch: `Some(true)` for an abort marker, `Some(false)` for a commit,
/// `None` if its first record's key cannot be read. Control batches are never compressed.
pub fn marker_is_abort(batch: &[u8]) -> Option<bool> {
    let mut pos = RECORD_BATCH_OVERHEAD;
    let (_len, n) = varint(batch.get(pos..)?)?; // record length
    pos += n + 1; // attributes
    let (_, n) = varint(batch.get(pos..)?)?; // timestamp delta
    pos += n;
    let (_, n) = varint(batch.get(pos..)?)?; // offset delta
    pos += n;
    let (key_len, n) = varint(batch.get(pos..)?)?;
    pos += n;
    if key_len < 4 {
        return None;
    }
    let key = batch.get(pos..pos + 4)?;
    let control_type = i16::from_be_bytes([key[2], key[3]]);
    Some(control_type == CONTROL_TYPE_ABORT)
}

/// One producer as DescribeProducers reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerInfo {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub last_sequence: i32,
    pub last_timestamp: i64,
    /// First offset of its open transaction, -1 if none.
    pub txn_start_offset: i64,
}

/// Rebuilds aborted-transaction entries while recovery replays producer state: call
/// [`TxnRebuild::before_replay`] for every replayed batch header before the producer state
/// sees it. Entries are produced for markers at or after `from`.
pub(crate) struct TxnRebuild {
    pub from: i64,
    /// (segment base, entry) in marker order.
    pub entries: Vec<(i64, AbortedTxn)>,
}

impl TxnRebuild {
    /// `first` is the producer's open-transaction start before this batch, `others_lso` the
    /// first unstable offset of every other producer; `read_batch` loads the marker's bytes.
    pub fn on_marker(
        &mut self,
        seg_base: i64,
        h: &BatchHeader,
        first: Option<i64>,
        others_lso: Option<i64>,
        read_batch: impl FnOnce() -> io::Result<Vec<u8>>,
    ) -> io::Result<()> {
        if h.base_offset < self.from || !h.is_control() || !h.has_producer_id() {
            return Ok(());
        }
        let Some(first_offset) = first.filter(|f| *f >= 0) else {
            return Ok(());
        };
        match marker_is_abort(&read_batch()?) {
            Some(true) => self.entries.push((
                seg_base,
                AbortedTxn {
                    producer_id: h.producer_id,
                    first_offset,
                    last_offset: h.base_offset,
                    last_stable_offset: others_lso.unwrap_or(i64::MAX).min(h.base_offset + 1),
                },
            )),
            Some(false) => {}
            None => tracing::warn!(
                "unreadable transaction marker at offset {} (producer {})",
                h.base_offset,
                h.producer_id
            ),
        }
        Ok(())
    }
}

impl PartitionLog {
    /// Every producer the log remembers, by producer id (DescribeProducers).
    pub fn producer_infos(&self) -> Vec<ProducerInfo> {
        let mut v: Vec<_> = self
            .producers
            .producers()
            .map(|(pid, e)| ProducerInfo {
                producer_id: pid,
                producer_epoch: e.epoch,
                last_sequence: e.last_seq(),
                last_timestamp: e.last_timestamp,
                txn_start_offset: e.txn_first_offset,
            })
            .collect();
        v.sort_unstable_by_key(|p| p.producer_id);
        v
    }

    /// Aborted transactions overlapping `[from, upper)` that the log still holds, oldest
    /// first. Reads the indexes of the segment holding `from` and the ones after it, stopping
    /// as soon as an entry shows that nothing later can start below `upper`; pass the end of
    /// the fetched data as `upper` (see [`PartitionLog::slice_end_offset`]) to keep this
    /// proportional to the fetch.
    pub fn aborted_transactions(&self, from: i64, upper: i64) -> Vec<AbortedTxn> {
        let from = from.max(self.log_start_offset);
        let mut out = Vec::new();
        if from >= upper {
            return out;
        }
        let floor = self
            .segments
            .range(..=from)
            .next_back()
            .map_or(i64::MIN, |(b, _)| *b);
        for seg in self.segments.range(floor..).map(|(_, s)| s) {
            if seg.txn_index.collect(from, upper, &mut out) {
                break;
            }
        }
        out
    }

    /// One past the last offset of the data in `slice` (a result of [`PartitionLog::read`]):
    /// the upper bound of the aborted transactions a read_committed fetch of it needs.
    pub fn slice_end_offset(&self, slice: &FileSlice) -> i64 {
        let end = slice.position + slice.len as u64;
        // Newest first: consumers at the tail (the usual case) read the active segment.
        for seg in self.segments.values().rev() {
            if std::sync::Arc::ptr_eq(seg.log_file(), &slice.file) {
                return match seg.read_header_at(end) {
                    Ok(Some(h)) => h.base_offset,
                    _ => seg.next_offset(),
                };
            }
        }
        // The segment was replaced meanwhile (compaction): fall back to the whole log.
        self.log_end_offset()
    }

    /// The last stable offset for a high watermark: nothing at or after the first record of an
    /// open transaction is stable.
    pub fn last_stable_offset(&self, high_watermark: i64) -> i64 {
        match self.first_unstable_offset() {
            Some(first) => first.min(high_watermark),
            None => high_watermark,
        }
    }

    /// Every aborted transaction in the log's indexes, oldest first (tools and tests).
    pub fn all_aborted_transactions(&self) -> Vec<AbortedTxn> {
        self.segments
            .values()
            .flat_map(|s| s.txn_index.entries().iter().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_zigzag() {
        assert_eq!(varint(&[0x00]), Some((0, 1)));
        assert_eq!(varint(&[0x01]), Some((-1, 1)));
        assert_eq!(varint(&[0x02]), Some((1, 1)));
        assert_eq!(varint(&[0x96, 0x01]), Some((75, 2)));
        assert_eq!(varint(&[0x80]), None);
    }
}
