//! One partition's log: the public face of the storage engine.
//!
//! A [`PartitionLog`] owns the ordered segments of one partition directory plus the state
//! derived from them (log start offset, recovery point, producer table, leader epochs). It is
//! not synchronised; the broker keeps it behind a mutex, so every method here is cheap unless
//! documented otherwise. Append lives in `append.rs`, reads in `read.rs`, timestamp lookups in
//! `list_offsets.rs`, opening in `recovery.rs`, deletion in `retention.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::checkpoint;
use crate::config::LogConfig;
use crate::flush::FlushTarget;
use crate::leader_epoch::LeaderEpochCache;
use crate::producer_state::{list_snapshots, ProducerStateManager};
use crate::segment::Segment;

/// Per-partition checkpoint holding the recovery point and log start offset.
pub(crate) const OFFSETS_CHECKPOINT: &str = "sluice-offsets-checkpoint";
/// Present only while the log is cleanly closed; its absence at open means "scan for damage".
pub(crate) const CLEAN_SHUTDOWN_MARKER: &str = ".sluice-clean-shutdown";
/// Producer snapshots kept on disk (older ones are deleted at roll).
const SNAPSHOTS_TO_KEEP: usize = 2;

/// How the broker wants a produce appended.
#[derive(Debug, Clone)]
pub struct AppendOptions {
    /// Written into partitionLeaderEpoch of every appended batch.
    pub leader_epoch: i32,
    /// Wall clock for LogAppendTime and timestamp validation.
    pub now_ms: i64,
    /// True for client produce (validate sequence/epoch); false for internal writes.
    pub origin_client: bool,
}

/// Where an append landed.
#[derive(Debug, Clone)]
pub struct AppendOutcome {
    /// Offset assigned to the first record of the first batch.
    pub base_offset: i64,
    pub last_offset: i64,
    /// -1 unless LogAppendTime.
    pub log_append_time: i64,
    pub log_start_offset: i64,
    /// Idempotent retry: nothing appended, offsets are the original ones.
    pub duplicate: bool,
}

/// Why an append was refused; each variant maps to one Kafka error code.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// CORRUPT_MESSAGE (2): bad length/magic/CRC/count.
    #[error("corrupt message: {0}")]
    Corrupt(String),
    /// INVALID_RECORD (87).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// MESSAGE_TOO_LARGE (10): a batch > max.message.bytes.
    #[error("message too large")]
    MessageTooLarge,
    /// INVALID_TIMESTAMP (32).
    #[error("invalid timestamp: {0}")]
    InvalidTimestamp(String),
    /// OUT_OF_ORDER_SEQUENCE_NUMBER (45).
    #[error("out of order sequence: {0}")]
    OutOfOrderSequence(String),
    /// INVALID_PRODUCER_EPOCH (47): epoch older than current.
    #[error("invalid producer epoch: {0}")]
    InvalidProducerEpoch(String),
    /// UNSUPPORTED_FOR_MESSAGE_FORMAT (43): magic != 2.
    #[error("unsupported message format: {0}")]
    UnsupportedForMessageFormat(String),
    /// KAFKA_STORAGE_ERROR (56).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// One partition's log. Not internally synchronised: the broker wraps it in a mutex.
pub struct PartitionLog {
    pub(crate) dir: PathBuf,
    pub(crate) config: LogConfig,
    /// Segments by base offset; never empty, the last one is the active segment.
    pub(crate) segments: BTreeMap<i64, Segment>,
    pub(crate) log_start_offset: i64,
    pub(crate) recovery_point: i64,
    pub(crate) producers: ProducerStateManager,
    pub(crate) epochs: LeaderEpochCache,
    pub(crate) unflushed_messages: i64,
    pub(crate) last_flush_ms: i64,
    /// True between close() and the next mutation (the clean-shutdown marker is on disk).
    pub(crate) clean_marker_on_disk: bool,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl PartitionLog {
    /// Open (creating if needed) the partition directory `dir`, running recovery as needed.
    /// May be slow (I/O); called at startup / topic creation only.
    pub fn open(dir: &Path, config: LogConfig) -> Result<PartitionLog, std::io::Error> {
        crate::recovery::open_log(dir, config)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// Next offset to be assigned.
    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset()
    }

    /// Sum of segment `.log` sizes.
    pub fn size_bytes(&self) -> u64 {
        self.segments.values().map(Segment::size).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Base offsets of all segments, oldest first (diagnostics and tests).
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.keys().copied().collect()
    }

    /// First offset of the oldest open transaction (the last stable offset when Some).
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.producers.first_unstable_offset()
    }

    /// The active segment's bytes appended since writeback was last started, as the file and
    /// `(offset, len)`, once there are at least `min` of them: what a caller hands to
    /// [`crate::flush::start_writeback`]. They then count as started. Bytes of a segment sealed
    /// before they reached `min` are left to the fdatasync that follows.
    pub fn take_writeback(
        &mut self,
        min: u64,
    ) -> Option<(std::sync::Arc<std::fs::File>, u64, u64)> {
        let a = self.active_mut();
        let (offset, len) = a.take_writeback(min)?;
        Some((a.log_file().clone(), offset, len))
    }

    pub(crate) fn active(&self) -> &Segment {
        // Invariant: `segments` is never empty (open creates one, deletion keeps the active one).
        self.segments
            .values()
            .next_back()
            .expect("partition log always has an active segment")
    }

    pub(crate) fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .values_mut()
            .next_back()
            .expect("partition log always has an active segment")
    }

    /// Start a new active segment at the log end offset.
    pub(crate) fn roll(&mut self, now_ms: i64) -> std::io::Result<()> {
        let next = self.log_end_offset();
        if self.active().is_empty() && self.active().base_offset == next {
            return Ok(());
        }
        self.active_mut().seal_indexes()?;
        self.active_mut().forget_recent();
        // Only its `.log` was synced while active; the next flush syncs the rest, and gives back
        // the blocks reserved past its data there, off the append path (see `FlushTarget::trims`).
        self.active_mut().needs_full_sync = true;
        let seg = Segment::create(&self.dir, next, now_ms)?;
        self.segments.insert(next, seg);
        // Kafka snapshots producer state at every roll so recovery only rescans one segment.
        self.producers.write_snapshot(&self.dir, next, false)?;
        let snaps = list_snapshots(&self.dir)?;
        for (_, path) in snaps.iter().rev().skip(SNAPSHOTS_TO_KEEP) {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }

    /// The clean-shutdown marker must go before the first mutation after a close.
    pub(crate) fn mark_dirty(&mut self) -> std::io::Result<()> {
        if self.clean_marker_on_disk {
            remove_if_exists(&self.dir.join(CLEAN_SHUTDOWN_MARKER))?;
            std::fs::File::open(&self.dir)?.sync_all()?;
            self.clean_marker_on_disk = false;
        }
        Ok(())
    }

    /// The recovery point as it may be written down. Recovery trusts (opens without a scan)
    /// every segment that ends at or below it, so it stops at the first segment not synced
    /// whole: the active one (only its `.log` is synced) or one sealed since its last full sync.
    pub(crate) fn persistable_recovery_point(&self) -> i64 {
        let boundary = self
            .segments
            .values()
            .find(|s| s.needs_full_sync)
            .map_or(self.active().base_offset, |s| s.base_offset);
        self.recovery_point.min(boundary)
    }

    /// Base of the segment holding `offset`: recovery only asks which segments lie wholly below
    /// the recovery point, and that changes exactly when this does.
    fn segment_holding(&self, offset: i64) -> Option<i64> {
        self.segments.range(..=offset).next_back().map(|(b, _)| *b)
    }

    pub(crate) fn write_offsets_checkpoint(&self, durable: bool) -> std::io::Result<()> {
        checkpoint::write(
            &self.dir.join(OFFSETS_CHECKPOINT),
            0,
            &[
                format!("recovery-point {}", self.persistable_recovery_point()),
                format!("log-start-offset {}", self.log_start_offset),
            ],
            durable,
        )
    }

    /// Leader epoch cache (leader-epoch-checkpoint file, Kafka format).
    pub fn latest_epoch(&self) -> Option<i32> {
        self.epochs.latest_epoch()
    }

    /// OffsetForLeaderEpoch: (epoch, end offset) as Kafka answers it; (-1,-1) if unknown.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.epochs.end_offset_for(epoch, self.log_end_offset())
    }

    /// Every (epoch, start offset) in the leader epoch cache.
    pub fn leader_epochs(&self) -> Vec<(i32, i64)> {
        self.epochs.entries().to_vec()
    }

    /// Cheap: the files that hold unflushed data. `sync()` it without the lock held.
    ///
    /// The active segment contributes its `.log` only; a segment sealed since its last full
    /// sync (or not yet flushed) contributes every file; the directory is synced only when a
    /// segment file was created since it was last synced. See [`crate::flush`].
    pub fn flush_target(&self) -> FlushTarget {
        let end = self.log_end_offset();
        let pending = || {
            self.segments
                .values()
                .any(|s| s.needs_full_sync || s.name_unsynced)
        };
        if end <= self.recovery_point && self.unflushed_messages == 0 && !pending() {
            return FlushTarget {
                up_to_offset: end,
                ..FlushTarget::default()
            };
        }
        let active_base = self.active().base_offset;
        let mut target = FlushTarget {
            up_to_offset: end,
            messages: self.unflushed_messages,
            ..FlushTarget::default()
        };
        for seg in self.segments.values() {
            let unflushed =
                seg.next_offset() > self.recovery_point || seg.base_offset >= self.recovery_point;
            if seg.base_offset != active_base && (unflushed || seg.needs_full_sync) {
                target.files.extend(seg.files());
                target.sealed.push(seg.base_offset);
                if let Some(len) = seg.reserve_to_release() {
                    target.trims.push((seg.log_file().clone(), len));
                }
            } else if unflushed {
                target.files.push(seg.log_file().clone());
            }
            if seg.name_unsynced {
                target.named.push(seg.base_offset);
            }
        }
        if !target.named.is_empty() {
            target.dir = Some(self.dir.clone());
        }
        target
    }

    /// Record that `target` was synced: its offsets are now below the recovery point.
    pub fn mark_flushed(&mut self, target: &FlushTarget) {
        self.last_flush_ms = now_ms();
        if target.is_empty() {
            return;
        }
        let persisted_before = self.segment_holding(self.persistable_recovery_point());
        for base in &target.sealed {
            if let Some(seg) = self.segments.get_mut(base) {
                seg.needs_full_sync = false;
                seg.reserve_released();
            }
        }
        for base in &target.named {
            if let Some(seg) = self.segments.get_mut(base) {
                seg.name_unsynced = false;
            }
        }
        self.unflushed_messages = (self.unflushed_messages - target.messages).max(0);
        if target.up_to_offset > self.recovery_point {
            self.recovery_point = target.up_to_offset.min(self.log_end_offset());
        }
        // Rewritten only when the segments recovery may trust change (a roll's worth of data),
        // not every round. Not fsynced: a stale checkpoint only means more recovery work.
        if self.segment_holding(self.persistable_recovery_point()) != persisted_before {
            if let Err(e) = self.write_offsets_checkpoint(false) {
                tracing::warn!("writing {}: {e}", self.dir.display());
            }
        }
    }

    /// Records appended since the last mark_flushed.
    pub fn unflushed_messages(&self) -> i64 {
        self.unflushed_messages
    }

    pub fn last_flush_ms(&self) -> i64 {
        self.last_flush_ms
    }

    /// Clean shutdown: flush everything, write checkpoints + producer snapshot + the
    /// clean-shutdown marker (so the next open skips scanning).
    pub fn close(&mut self) -> std::io::Result<()> {
        if self.clean_marker_on_disk {
            return Ok(());
        }
        self.active_mut().seal_indexes()?;
        for seg in self.segments.values_mut() {
            seg.release_reserve()?;
            for f in seg.files() {
                f.sync_all()?;
            }
            seg.needs_full_sync = false;
        }
        let end = self.log_end_offset();
        self.producers.write_snapshot(&self.dir, end, true)?;
        self.epochs.persist(true)?;
        self.recovery_point = end;
        self.write_offsets_checkpoint(true)?;
        std::fs::File::create(self.dir.join(CLEAN_SHUTDOWN_MARKER))?.sync_all()?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        for seg in self.segments.values_mut() {
            seg.name_unsynced = false;
        }
        self.unflushed_messages = 0;
        self.clean_marker_on_disk = true;
        Ok(())
    }

    /// Delete the whole partition directory (topic deletion).
    pub fn delete(self) -> std::io::Result<()> {
        let dir = self.dir.clone();
        drop(self);
        std::fs::remove_dir_all(dir)
    }

    /// (producer id, epoch, last sequence) of every known producer.
    pub fn producer_ids(&self) -> Vec<(i64, i16, i32)> {
        let mut v: Vec<_> = self
            .producers
            .producers()
            .map(|(pid, e)| (pid, e.epoch, e.last_seq()))
            .collect();
        v.sort_unstable();
        v
    }
}

pub(crate) fn remove_if_exists(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
