//! One partition's log: the public face of the storage engine.

use std::path::{Path, PathBuf};

use crate::cleaner::{CleanDone, CleanPlan};
use crate::config::LogConfig;
use crate::flush::FlushTarget;
use crate::read::{FileSlice, ReadError};
use crate::verify::VerifyReport;

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
    pub base_offset: i64,
    pub last_offset: i64,
    pub log_append_time: i64,
    pub log_start_offset: i64,
    pub duplicate: bool,
}

/// Why an append was refused; each variant maps to one Kafka error code.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("corrupt message: {0}")]
    Corrupt(String),
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    #[error("message too large")]
    MessageTooLarge,
    #[error("invalid timestamp: {0}")]
    InvalidTimestamp(String),
    #[error("out of order sequence: {0}")]
    OutOfOrderSequence(String),
    #[error("invalid producer epoch: {0}")]
    InvalidProducerEpoch(String),
    #[error("unsupported message format: {0}")]
    UnsupportedForMessageFormat(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

fn not_yet() -> std::io::Error {
    std::io::Error::other("sluice-log: not implemented yet")
}

/// One partition's log. Not internally synchronised.
pub struct PartitionLog {
    dir: PathBuf,
    config: LogConfig,
}

impl PartitionLog {
    pub fn open(dir: &Path, config: LogConfig) -> Result<PartitionLog, std::io::Error> {
        std::fs::create_dir_all(dir)?;
        Ok(PartitionLog {
            dir: dir.to_path_buf(),
            config,
        })
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
    pub fn append(
        &mut self,
        _records: &mut [u8],
        _opts: &AppendOptions,
    ) -> Result<AppendOutcome, AppendError> {
        Err(AppendError::Io(not_yet()))
    }
    pub fn log_start_offset(&self) -> i64 {
        0
    }
    pub fn log_end_offset(&self) -> i64 {
        0
    }
    pub fn size_bytes(&self) -> u64 {
        0
    }
    pub fn segment_count(&self) -> usize {
        0
    }
    pub fn read(
        &self,
        offset: i64,
        _max_bytes: usize,
        _upper_bound: i64,
    ) -> Result<Option<FileSlice>, ReadError> {
        if offset == 0 {
            return Ok(None);
        }
        Err(ReadError::OffsetOutOfRange {
            log_start: 0,
            log_end: 0,
        })
    }
    pub fn offset_for_timestamp(&self, _ts: i64) -> std::io::Result<Option<(i64, i64)>> {
        Ok(None)
    }
    pub fn max_timestamp_offset(&self) -> std::io::Result<Option<(i64, i64)>> {
        Ok(None)
    }
    pub fn delete_records_before(&mut self, _offset: i64) -> Result<i64, std::io::Error> {
        Err(not_yet())
    }
    pub fn apply_retention(&mut self, _now_ms: i64) -> Result<usize, std::io::Error> {
        Ok(0)
    }
    pub fn latest_epoch(&self) -> Option<i32> {
        None
    }
    pub fn end_offset_for_epoch(&self, _epoch: i32) -> (i32, i64) {
        (-1, -1)
    }
    pub fn flush_target(&self) -> FlushTarget {
        FlushTarget::default()
    }
    pub fn mark_flushed(&mut self, _target: &FlushTarget) {}
    pub fn unflushed_messages(&self) -> i64 {
        0
    }
    pub fn last_flush_ms(&self) -> i64 {
        0
    }
    pub fn close(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    pub fn delete(self) -> std::io::Result<()> {
        std::fs::remove_dir_all(&self.dir)
    }
    pub fn producer_ids(&self) -> Vec<(i64, i16, i32)> {
        Vec::new()
    }
    pub fn compaction_plan(&self, _now_ms: i64) -> Option<CleanPlan> {
        None
    }
    pub fn finish_compaction(&mut self, _done: CleanDone) -> std::io::Result<()> {
        Ok(())
    }
    pub fn verify(&self) -> Result<VerifyReport, std::io::Error> {
        Ok(VerifyReport::default())
    }
}
