//! Produce path: validate a producer's batches, assign offsets, check idempotent-producer
//! sequences, and write everything with one vectored pwrite.
//!
//! The records are never copied or modified: each batch's 61-byte header is copied into a small
//! array and patched there (base offset, leader epoch, and for LogAppendTime topics attributes,
//! max timestamp and CRC), and the write gathers those headers with the record bytes that follow
//! them in the caller's buffer. A produce request's own buffer can thus go to the page cache as is.

use std::ops::Range;

use crate::batch::{self, BatchHeader, LOG_OVERHEAD, MAGIC_V2, RECORD_BATCH_OVERHEAD};
use crate::log::{AppendError, AppendOptions, AppendOutcome, PartitionLog};
use crate::producer_state::PendingProducers;
use crate::transactions::marker_is_abort;
use crate::txn_index::AbortedTxn;

/// Position of the magic byte in a batch (also in legacy message sets).
const MAGIC_POS: usize = 16;

impl PartitionLog {
    /// Append one or more concatenated v2 batches exactly as a producer sent them.
    /// See LOG_API.md for the full contract; no fsync, never leaves a partial batch.
    /// The bytes are only read (this is [`PartitionLog::append_records`] for callers that own a
    /// mutable buffer).
    pub fn append(
        &mut self,
        records: &mut [u8],
        opts: &AppendOptions,
    ) -> Result<AppendOutcome, AppendError> {
        self.append_records(records, opts)
    }

    /// [`PartitionLog::append`] from a shared buffer, such as a produce request's: the patched
    /// headers are written in place of the original ones, the records as they are.
    pub fn append_records(
        &mut self,
        records: &[u8],
        opts: &AppendOptions,
    ) -> Result<AppendOutcome, AppendError> {
        let mut batches = self.validate_batches(records, opts)?;
        let mut headers: Vec<[u8; RECORD_BATCH_OVERHEAD]> = Vec::with_capacity(batches.len());

        // Producer checks and offset assignment happen together so later batches of the same
        // request see the effects of earlier ones.
        let mut pending = PendingProducers::default();
        let mut next = self.log_end_offset();
        let log_append = self.config.message_timestamp_type_log_append;
        let mut max_timestamp = -1i64;
        let mut aborted = Vec::new();
        for (h, range) in batches.iter_mut() {
            if opts.origin_client && h.has_producer_id() && !h.is_control() {
                if let Some(dup) = self.producers.check_client_batch(&pending, h)? {
                    return Ok(AppendOutcome {
                        base_offset: dup.first_offset,
                        last_offset: dup.last_offset,
                        log_append_time: -1,
                        log_start_offset: self.log_start_offset,
                        duplicate: true,
                    });
                }
            } else if h.has_producer_id() && h.is_control() {
                if let Some(e) = self.producers.get(h.producer_id) {
                    if h.producer_epoch < e.epoch {
                        return Err(AppendError::InvalidProducerEpoch(format!(
                            "marker epoch {} older than producer {} epoch {}",
                            h.producer_epoch, h.producer_id, e.epoch
                        )));
                    }
                }
            }
            let bytes = &records[range.clone()];
            let mut header = [0u8; RECORD_BATCH_OVERHEAD];
            header.copy_from_slice(&bytes[..RECORD_BATCH_OVERHEAD]);
            batch::set_base_offset(&mut header, next);
            batch::set_partition_leader_epoch(&mut header, opts.leader_epoch);
            if log_append {
                let rest = &bytes[RECORD_BATCH_OVERHEAD..];
                batch::set_log_append_time_split(&mut header, rest, opts.now_ms);
            }
            *h = BatchHeader::parse(&header).map_err(|e| AppendError::Corrupt(e.to_string()))?;
            headers.push(header);
            max_timestamp = max_timestamp.max(h.max_timestamp);
            if h.is_control() && h.has_producer_id() {
                // An abort marker closes a transaction that wrote here: index its range.
                let first = self
                    .producers
                    .get(h.producer_id)
                    .map(|e| e.txn_first_offset)
                    .filter(|f| *f >= 0);
                if let (Some(first_offset), Some(true)) = (first, marker_is_abort(bytes)) {
                    let others = self
                        .producers
                        .first_unstable_offset_without(&pending, h.producer_id);
                    aborted.push(AbortedTxn {
                        producer_id: h.producer_id,
                        first_offset,
                        last_offset: h.base_offset,
                        last_stable_offset: others.unwrap_or(i64::MAX).min(h.base_offset + 1),
                    });
                }
            }
            self.producers.stage(&mut pending, h);
            next = h.next_offset();
        }
        let base_offset = batches.first().map(|(h, _)| h.base_offset).unwrap_or(next);
        let last_offset = next - 1;

        self.mark_dirty()?;
        self.maybe_roll(
            records.len() as u64,
            max_timestamp,
            last_offset,
            opts.now_ms,
        )?;
        let interval = self.config.index_interval_bytes;
        self.active_mut()
            .append_patched(records, &headers, &batches, interval)?;

        self.producers.commit(pending);
        for t in aborted {
            // The marker is in the log; a failed index write is repaired by recovery's rescan
            // of this (unflushed) segment.
            self.active_mut().txn_index.append(t)?;
        }
        if self.epochs.assign(opts.leader_epoch, base_offset) {
            // Not fsynced here (the lock is held); close() and recovery make it durable.
            self.epochs.persist(false)?;
        }
        self.unflushed_messages += batches
            .iter()
            .map(|(h, _)| h.records_count as i64)
            .sum::<i64>();
        Ok(AppendOutcome {
            base_offset,
            last_offset,
            log_append_time: if log_append { opts.now_ms } else { -1 },
            log_start_offset: self.log_start_offset,
            duplicate: false,
        })
    }

    /// Structural validation of every batch: Kafka's LogValidator checks that need no
    /// decompression. Returns the parsed headers and their byte ranges.
    fn validate_batches(
        &self,
        records: &[u8],
        opts: &AppendOptions,
    ) -> Result<Vec<(BatchHeader, Range<usize>)>, AppendError> {
        if records.is_empty() {
            return Err(AppendError::Corrupt("no record batches".into()));
        }
        let mut out = Vec::new();
        let mut pos = 0usize;
        while pos < records.len() {
            let rest = &records[pos..];
            if rest.len() > MAGIC_POS && rest[MAGIC_POS] as i8 != MAGIC_V2 {
                return Err(AppendError::UnsupportedForMessageFormat(format!(
                    "record batch magic {} (only v2 is supported)",
                    rest[MAGIC_POS] as i8
                )));
            }
            if rest.len() < RECORD_BATCH_OVERHEAD {
                return Err(AppendError::Corrupt(format!(
                    "{} trailing bytes are not a record batch",
                    rest.len()
                )));
            }
            let h = BatchHeader::parse(rest).map_err(|e| AppendError::Corrupt(e.to_string()))?;
            let size = h.total_size();
            if size > rest.len() {
                return Err(AppendError::Corrupt(format!(
                    "batch length {} exceeds the {} bytes sent",
                    h.batch_length,
                    rest.len() - LOG_OVERHEAD.min(rest.len())
                )));
            }
            if size > self.config.max_message_bytes.max(0) as usize {
                return Err(AppendError::MessageTooLarge);
            }
            // A negative count is a corrupt header; a count that disagrees with lastOffsetDelta
            // is a batch lying about its records, which Kafka answers with INVALID_RECORD.
            h.validate_counts().map_err(|e| match e {
                batch::BatchError::InvalidCount(_) if h.records_count >= 0 => {
                    AppendError::InvalidRecord(e.to_string())
                }
                _ => AppendError::Corrupt(e.to_string()),
            })?;
            let batch = &rest[..size];
            // CreateTime: every record's timestamp must lie within the configured window (the
            // header check covers only the first and the largest).
            let window =
                (!self.config.message_timestamp_type_log_append).then_some(TimestampWindow {
                    now_ms: opts.now_ms,
                    before_max_ms: self.config.message_timestamp_before_max_ms,
                    after_max_ms: self.config.message_timestamp_after_max_ms,
                });
            let checks = || RecordChecks::new(&h, self.config.cleanup_policy_compact, window);
            // Uncompressed records are walked in the same pass as the CRC; the outcome of the
            // walk is reported only after the CRC and the header checks, as for compressed
            // batches, which are decompressed only once those have passed.
            let (computed, walked) = if !h.is_control() && h.compression() == 0 {
                let (crc, walked) = crc_and_walk(batch, checks());
                (crc, Some(walked))
            } else {
                (batch::crc_of(batch), None)
            };
            h.check_crc(computed)
                .map_err(|e| AppendError::Corrupt(e.to_string()))?;
            self.validate_semantics(&h, opts)?;
            match walked {
                Some(walked) => walked?,
                None if !h.is_control() => validate_compressed_records(&h, batch, checks())?,
                None => {}
            }
            out.push((h, pos..pos + size));
            pos += size;
        }
        Ok(out)
    }

    fn validate_semantics(&self, h: &BatchHeader, opts: &AppendOptions) -> Result<(), AppendError> {
        if opts.origin_client && h.is_control() {
            return Err(AppendError::InvalidRecord(
                "clients may not send control batches".into(),
            ));
        }
        if h.is_transactional() && !h.has_producer_id() {
            return Err(AppendError::InvalidRecord(
                "transactional batch without a producer id".into(),
            ));
        }
        if opts.origin_client && h.has_producer_id() && h.base_sequence < 0 {
            return Err(AppendError::InvalidRecord(format!(
                "invalid sequence number {} for producer {}",
                h.base_sequence, h.producer_id
            )));
        }
        if !self.config.message_timestamp_type_log_append && !h.is_control() {
            // Header-level check of the first and the largest record timestamp.
            for ts in [h.base_timestamp, h.max_timestamp] {
                if ts == -1 {
                    continue;
                }
                let before = opts.now_ms.saturating_sub(ts);
                let after = ts.saturating_sub(opts.now_ms);
                if before > self.config.message_timestamp_before_max_ms
                    || after > self.config.message_timestamp_after_max_ms
                {
                    return Err(AppendError::InvalidTimestamp(format!(
                        "timestamp {ts} is out of range of now {}",
                        opts.now_ms
                    )));
                }
            }
        }
        Ok(())
    }

    /// Roll before appending `incoming` bytes if the active segment is full by size, age,
    /// index capacity or relative-offset range (Kafka's shouldRoll).
    fn maybe_roll(
        &mut self,
        incoming: u64,
        max_timestamp: i64,
        last_offset: i64,
        now_ms: i64,
    ) -> std::io::Result<()> {
        let c = &self.config;
        let seg = self.active();
        if seg.is_empty() {
            return Ok(());
        }
        let full = seg.size() + incoming > c.segment_bytes
            || seg.time_waited_for_roll(now_ms, max_timestamp) > c.segment_ms
            || seg.index.len() >= c.max_offset_index_entries()
            || seg.time_index.len() >= c.max_time_index_entries()
            || last_offset - seg.base_offset > i32::MAX as i64;
        if full {
            self.roll(now_ms)?;
        }
        Ok(())
    }
}

/// The CreateTime bounds of `message.timestamp.before.max.ms` / `after.max.ms`.
#[derive(Clone, Copy)]
struct TimestampWindow {
    now_ms: i64,
    before_max_ms: i64,
    after_max_ms: i64,
}

impl TimestampWindow {
    fn check(&self, ts: i64) -> Result<(), AppendError> {
        let before = self.now_ms.saturating_sub(ts);
        let after = ts.saturating_sub(self.now_ms);
        if ts != -1 && (before > self.before_max_ms || after > self.after_max_ms) {
            return Err(AppendError::InvalidTimestamp(format!(
                "timestamp {ts} is out of range of now {}",
                self.now_ms
            )));
        }
        Ok(())
    }
}

/// Kafka's LogValidator walks every record of every batch: a batch whose CRC is right can still
/// lie about its contents (a record length past the end, a count that does not match), and such a
/// batch must never reach the log, where it would stall every consumer of the partition.
struct RecordChecks {
    base_timestamp: i64,
    records_count: i32,
    require_keys: bool,
    window: Option<TimestampWindow>,
    seen: i64,
}

impl RecordChecks {
    fn new(h: &BatchHeader, require_keys: bool, window: Option<TimestampWindow>) -> Self {
        RecordChecks {
            base_timestamp: h.base_timestamp,
            records_count: h.records_count,
            require_keys,
            window,
            seen: 0,
        }
    }

    fn check(&mut self, r: &crate::records::RawRecord<'_>) -> Result<(), AppendError> {
        if r.offset_delta as i64 != self.seen {
            return Err(AppendError::InvalidRecord(format!(
                "record offset delta {} where {} was expected",
                r.offset_delta, self.seen
            )));
        }
        if let Some(w) = self.window {
            w.check(self.base_timestamp.saturating_add(r.timestamp_delta))?;
        }
        if self.require_keys && r.key.is_none() {
            return Err(AppendError::InvalidRecord(
                "Compacted topic cannot accept message without key.".into(),
            ));
        }
        self.seen += 1;
        Ok(())
    }

    fn finish(&self) -> Result<(), AppendError> {
        if self.seen != self.records_count as i64 {
            return Err(AppendError::InvalidRecord(format!(
                "batch claims {} records but holds {}",
                self.records_count, self.seen
            )));
        }
        Ok(())
    }
}

/// How much of an uncompressed batch the CRC covers before the record walk catches up: small
/// enough that the walk finds those bytes still in the CPU cache, where a separate pass over a
/// 1 MB batch would miss it once per record.
const CRC_WALK_CHUNK: usize = 32 * 1024;

/// The CRC of an uncompressed batch (bytes 21.. as `crc_of`) and the outcome of checking its
/// records, in one pass over the bytes.
fn crc_and_walk(batch: &[u8], mut checks: RecordChecks) -> (u32, Result<(), AppendError>) {
    let data = batch.get(RECORD_BATCH_OVERHEAD..).unwrap_or_default();
    let header = batch.get(batch::ATTRIBUTES_POS..RECORD_BATCH_OVERHEAD);
    let mut crc = header.map(crc32c::crc32c).unwrap_or(0);
    let mut walked: Result<(), AppendError> = Ok(());
    let mut pos = 0usize;
    let mut covered = 0usize;
    while covered < data.len() {
        let end = (covered + CRC_WALK_CHUNK).min(data.len());
        crc = crc32c::crc32c_append(crc, &data[covered..end]);
        covered = end;
        while walked.is_ok() && pos < covered {
            walked = crate::records::parse_record(data, &mut pos)
                .map_err(|e| AppendError::InvalidRecord(e.to_string()))
                .and_then(|r| checks.check(&r));
        }
    }
    (crc, walked.and_then(|()| checks.finish()))
}

/// The record checks of a compressed batch, over its decompressed records.
fn validate_compressed_records(
    h: &BatchHeader,
    batch: &[u8],
    mut checks: RecordChecks,
) -> Result<(), AppendError> {
    let data = crate::records::decompressed_records(h, batch).map_err(|e| {
        AppendError::InvalidRecord(format!("cannot read the records of the batch: {e}"))
    })?;
    for r in crate::records::iter_records(&data) {
        checks.check(&r.map_err(|e| AppendError::InvalidRecord(e.to_string()))?)?;
    }
    checks.finish()
}
