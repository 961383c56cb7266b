//! The aborted-transaction index: for every aborted transaction, its producer and the offsets
//! from its first record to its abort marker. A read_committed fetch returns the entries that
//! overlap the fetched range so the consumer can drop the aborted batches (what Kafka keeps in
//! `.txnindex` files).
//!
//! Sluice keeps the index in memory: appends of abort markers add to it. A clean close saves it
//! (`sluice-aborted-txns`, in the text checkpoint format, valid only for the log end it names);
//! any other open rebuilds it with one header scan of every segment plus a read of each
//! marker's control record.

use std::collections::HashMap;
use std::io;
use std::ops::ControlFlow;

use crate::batch::RECORD_BATCH_OVERHEAD;
use crate::checkpoint;
use crate::log::PartitionLog;

pub(crate) const CHECKPOINT: &str = "sluice-aborted-txns";
const CHECKPOINT_VERSION: i32 = 0;

/// One aborted transaction of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    /// Offset of the transaction's first record in this partition.
    pub first_offset: i64,
    /// Offset of the abort marker.
    pub last_offset: i64,
}

/// Control record type: 0 is ABORT, 1 is COMMIT (Kafka's `ControlRecordType`).
const CONTROL_TYPE_ABORT: i16 = 0;

/// Reads a zigzag varint, returning it and the bytes used.
fn varint(buf: &[u8]) -> Option<(i64, usize)> {
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

/// Saves the index at a clean close: an `end <log end offset>` entry, then one
/// `<producer id> <first offset> <last offset>` entry per aborted transaction.
pub(crate) fn write_checkpoint(log: &PartitionLog) -> io::Result<()> {
    let mut entries = vec![format!("end {}", log.log_end_offset())];
    entries.extend(
        log.aborted
            .iter()
            .filter(|t| t.last_offset >= log.log_start_offset)
            .map(|t| format!("{} {} {}", t.producer_id, t.first_offset, t.last_offset)),
    );
    checkpoint::write(
        &log.dir.join(CHECKPOINT),
        CHECKPOINT_VERSION,
        &entries,
        true,
    )
}

/// The index a clean close saved, if it describes exactly this log.
fn read_checkpoint(log: &PartitionLog) -> Option<Vec<AbortedTxn>> {
    let entries = checkpoint::read(&log.dir.join(CHECKPOINT), CHECKPOINT_VERSION).ok()??;
    let (end, rest) = entries.split_first()?;
    match end.as_slice() {
        [tag, offset] if tag == "end" && offset.parse::<i64>().ok()? == log.log_end_offset() => {}
        _ => return None,
    }
    rest.iter()
        .map(|e| match e.as_slice() {
            [pid, first, last] => Some(AbortedTxn {
                producer_id: pid.parse().ok()?,
                first_offset: first.parse().ok()?,
                last_offset: last.parse().ok()?,
            }),
            _ => None,
        })
        .collect()
}

/// The index at open: the saved one after a clean close, else rebuilt from the log.
pub(crate) fn load(log: &PartitionLog, clean: bool) -> io::Result<Vec<AbortedTxn>> {
    if clean {
        if let Some(saved) = read_checkpoint(log) {
            return Ok(saved);
        }
    }
    rebuild(log)
}

/// Scans every segment for abort markers; each open transaction's first offset comes from the
/// first transactional batch of its producer after the previous marker.
pub(crate) fn rebuild(log: &PartitionLog) -> io::Result<Vec<AbortedTxn>> {
    let mut open: HashMap<i64, i64> = HashMap::new();
    let mut out = Vec::new();
    let mut failure: Option<io::Error> = None;
    for seg in log.segments.values() {
        let scanned = seg.scan_headers(0, |pos, h| {
            if !h.is_transactional() || !h.has_producer_id() {
                return ControlFlow::Continue(());
            }
            if !h.is_control() {
                open.entry(h.producer_id).or_insert(h.base_offset);
                return ControlFlow::Continue(());
            }
            let first = open.remove(&h.producer_id);
            let abort = match seg.read_bytes(pos, h.total_size()) {
                Ok(bytes) => marker_is_abort(&bytes),
                Err(e) => {
                    failure = Some(e);
                    return ControlFlow::Break(());
                }
            };
            match (abort, first) {
                (Some(true), Some(first_offset)) => out.push(AbortedTxn {
                    producer_id: h.producer_id,
                    first_offset,
                    last_offset: h.base_offset,
                }),
                (None, _) => tracing::warn!(
                    "{}: unreadable transaction marker at offset {}",
                    log.dir.display(),
                    h.base_offset
                ),
                _ => {}
            }
            ControlFlow::Continue(())
        });
        if let Some(e) = failure.take() {
            return Err(e);
        }
        if let Err(c) = scanned {
            // Recovery already truncated torn tails; a failure here is an I/O problem.
            return Err(io::Error::other(c.reason));
        }
    }
    Ok(out)
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

    /// Aborted transactions overlapping `[from, upper)` that the log still holds, oldest first.
    pub fn aborted_transactions(&self, from: i64, upper: i64) -> Vec<AbortedTxn> {
        let from = from.max(self.log_start_offset);
        self.aborted
            .iter()
            .filter(|t| t.last_offset >= from && t.first_offset < upper)
            .copied()
            .collect()
    }

    /// The last stable offset for a high watermark: nothing at or after the first record of an
    /// open transaction is stable.
    pub fn last_stable_offset(&self, high_watermark: i64) -> i64 {
        match self.first_unstable_offset() {
            Some(first) => first.min(high_watermark),
            None => high_watermark,
        }
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
