//! One partition as the broker sees it: its log behind a short-held lock, and the offsets that
//! fetchers wait on.
//!
//! The lock guards only in-memory bookkeeping and page-cache writes; fsync and the reads that serve
//! fetches happen outside it (see [`crate::flusher`] and [`sluice_log::FileSlice`]).

use std::sync::Arc;

use parking_lot::Mutex;
use sluice_log::{AppendError, AppendOptions, AppendOutcome, PartitionLog};
use tokio::sync::watch;
use uuid::Uuid;

/// Leader epoch of every partition on a single node; replication will move it.
pub const LEADER_EPOCH: i32 = 0;

pub struct Partition {
    pub topic: Arc<str>,
    pub topic_id: Uuid,
    pub index: i32,
    log: Mutex<PartitionLog>,
    /// The high watermark: the offset below which records are visible to consumers. Non-durable
    /// mode moves it at append; durable mode moves it once the records are fsynced.
    high_watermark: watch::Sender<i64>,
    /// Traffic counters for the metrics endpoint (see [`crate::metrics`]).
    pub stats: crate::metrics::PartitionStats,
}

impl Partition {
    pub fn new(topic: Arc<str>, topic_id: Uuid, index: i32, log: PartitionLog) -> Partition {
        let hw = log.log_end_offset();
        Partition {
            topic,
            topic_id,
            index,
            log: Mutex::new(log),
            high_watermark: watch::Sender::new(hw),
            stats: Default::default(),
        }
    }

    /// Runs `f` with the log locked. Keep `f` short: produce and fetch on this partition wait.
    /// Calls `f` with every batch from the log start to the log end, in order: its header and
    /// the bytes of the whole batch. The internal stores (offsets, transactions, schemas)
    /// replay their topics with it at start-up; reads go 1 MiB at a time.
    pub fn for_each_batch(
        &self,
        mut f: impl FnMut(&sluice_log::BatchHeader, bytes::Bytes),
    ) -> std::io::Result<()> {
        let (mut offset, end) = self.with_log(|l| (l.log_start_offset(), l.log_end_offset()));
        while offset < end {
            let slice = match self.with_log(|l| l.read(offset, 1 << 20, end)) {
                Ok(Some(s)) => s,
                Ok(None) => break,
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            };
            let bytes = slice.read_bytes()?;
            let mut next = offset;
            for batch in sluice_log::iter_batches(&bytes) {
                let (header, range) = batch.map_err(|e| std::io::Error::other(e.to_string()))?;
                next = next.max(header.last_offset() + 1);
                f(&header, bytes.slice(range));
            }
            if next <= offset {
                break; // no whole batch in the slice: never loop forever
            }
            offset = next;
        }
        Ok(())
    }

    pub fn with_log<R>(&self, f: impl FnOnce(&mut PartitionLog) -> R) -> R {
        f(&mut self.log.lock())
    }

    pub fn high_watermark(&self) -> i64 {
        *self.high_watermark.borrow()
    }

    /// The last stable offset: the high watermark, held back to the first record of the oldest
    /// open transaction. read_committed consumers read only below it.
    pub fn last_stable_offset(&self) -> i64 {
        let hw = self.high_watermark();
        self.log.lock().last_stable_offset(hw)
    }

    /// Moves the high watermark forward (never back) and wakes waiting fetches.
    pub fn advance_high_watermark(&self, offset: i64) {
        self.high_watermark.send_if_modified(|hw| {
            if offset > *hw {
                *hw = offset;
                true
            } else {
                false
            }
        });
    }

    /// Resets the high watermark after the log moved backwards or was rebuilt.
    pub fn set_high_watermark(&self, offset: i64) {
        self.high_watermark.send_replace(offset);
    }

    /// A receiver that changes whenever the high watermark moves.
    pub fn watch_high_watermark(&self) -> watch::Receiver<i64> {
        self.high_watermark.subscribe()
    }

    /// Appends batches from a buffer the caller owns (the coordinators' internal writes); the
    /// bytes are only read, as by [`Partition::append_records`].
    pub fn append(
        &self,
        records: &mut [u8],
        opts: &AppendOptions,
        durable: bool,
    ) -> Result<AppendOutcome, AppendError> {
        self.append_records(records, opts, durable)
    }

    /// Appends a producer's batches. In non-durable mode the records become visible at once.
    /// The buffer is only read (see [`PartitionLog::append_records`]), so a produce request's
    /// records go to the log from the request's own buffer.
    pub fn append_records(
        &self,
        records: &[u8],
        opts: &AppendOptions,
        durable: bool,
    ) -> Result<AppendOutcome, AppendError> {
        let (outcome, written) = {
            let mut log = self.log.lock();
            let outcome = log.append_records(records, opts)?;
            let writeback_min = if durable {
                sluice_log::flush::WRITEBACK_MIN
            } else {
                log.config().writeback_bytes
            };
            let written = if writeback_min > 0 && !outcome.duplicate {
                log.take_writeback(writeback_min)
            } else {
                None
            };
            (outcome, written)
        };
        // Durable mode: the group commit's fdatasync will wait for these bytes; starting their
        // writeback now lets the disk work while the partition's current sync still runs.
        // Otherwise: writeback as a steady trickle instead of the kernel's bursts (see
        // `LogConfig::writeback_bytes`), started off the request's path, since its answer does
        // not wait for the disk.
        if let Some((file, offset, len)) = written {
            if durable {
                sluice_log::flush::start_writeback(&file, offset, len);
            } else {
                sluice_log::flush::start_writeback_in_background(file, offset, len);
            }
        }
        if opts.origin_client && !outcome.duplicate {
            self.stats
                .appended(records.len(), outcome.base_offset, outcome.last_offset);
        }
        if !durable && !outcome.duplicate {
            self.advance_high_watermark(outcome.last_offset + 1);
        }
        Ok(outcome)
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log.lock().log_start_offset()
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log.lock().log_end_offset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::indexmap::IndexMap;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    /// One batch of one record with a value of `len` bytes.
    fn batch(len: usize) -> bytes::BytesMut {
        let record = Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: 0,
            sequence: -1,
            timestamp: crate::background::now_ms(),
            key: None,
            value: Some(bytes::Bytes::from(vec![7u8; len])),
            headers: IndexMap::new(),
        };
        let mut buf = bytes::BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        };
        RecordBatchEncoder::encode(&mut buf, [&record], &options).expect("encode");
        buf
    }

    /// Appends 200 KiB in 10 KiB batches to a fresh partition whose `writeback_bytes` is given,
    /// then returns what is still waiting for writeback as `(offset, len)`, and the log's size.
    fn left_for_writeback(writeback_bytes: u64) -> ((u64, u64), u64) {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = sluice_log::LogConfig {
            writeback_bytes,
            ..Default::default()
        };
        let log = PartitionLog::open(dir.path(), config).expect("open");
        let p = Partition::new(Arc::from("t"), Uuid::nil(), 0, log);
        let opts = AppendOptions {
            leader_epoch: 0,
            now_ms: crate::background::now_ms(),
            origin_client: true,
        };
        for _ in 0..20 {
            p.append(&mut batch(10 << 10), &opts, false)
                .expect("append");
        }
        p.with_log(|log| {
            let (_, offset, len) = log.take_writeback(1).expect("something appended");
            ((offset, len), log.size_bytes())
        })
    }

    #[test]
    fn non_durable_appends_start_writeback_every_writeback_bytes() {
        let ((offset, len), size) = left_for_writeback(64 << 10);
        assert!(offset >= 2 * (64 << 10), "started up to {offset} of {size}");
        assert!(len < 64 << 10, "{len} bytes left waiting");
        assert_eq!(offset + len, size, "every byte handed over once");
    }

    #[test]
    fn zero_writeback_bytes_leaves_writeback_to_the_os() {
        let ((offset, len), size) = left_for_writeback(0);
        assert_eq!((offset, len), (0, size));
    }
}
