//! Deleting old data: DeleteRecords (moving the log start offset) and retention by
//! retention.ms / retention.bytes, always whole segments from the oldest, as Kafka does.

use std::io;

use crate::log::{now_ms, PartitionLog};

impl PartitionLog {
    /// DeleteRecords: move the log start offset forward (never past the log end) and delete
    /// segments wholly below it. Returns the new log start offset.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, io::Error> {
        let new_start = offset.min(self.log_end_offset());
        if new_start <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        self.mark_dirty()?;
        self.log_start_offset = new_start;
        let mut doomed = 0;
        for (next_base, _) in self.segments.iter().skip(1) {
            if *next_base <= new_start {
                doomed += 1;
            } else {
                break;
            }
        }
        self.delete_oldest(doomed)?;
        self.after_log_start_moved()?;
        Ok(self.log_start_offset)
    }

    /// Retention by retention.ms / retention.bytes when cleanup.policy contains delete.
    /// Returns the number of segments deleted.
    pub fn apply_retention(&mut self, now_ms: i64) -> Result<usize, io::Error> {
        if !self.config.cleanup_policy_delete {
            return Ok(0);
        }
        let mut doomed = 0usize;
        if self.config.retention_ms >= 0 {
            for seg in self.segments.values() {
                if seg.is_empty()
                    || now_ms.saturating_sub(seg.largest_timestamp()) <= self.config.retention_ms
                {
                    break;
                }
                doomed += 1;
            }
        }
        if self.config.retention_bytes >= 0 {
            let mut excess = self.size_bytes() as i64 - self.config.retention_bytes;
            let mut by_size = 0usize;
            for seg in self.segments.values() {
                if seg.is_empty() || excess - (seg.size() as i64) < 0 {
                    break;
                }
                excess -= seg.size() as i64;
                by_size += 1;
            }
            doomed = doomed.max(by_size);
        }
        if doomed == 0 {
            return Ok(0);
        }
        self.mark_dirty()?;
        let deleted = self.delete_oldest(doomed)?;
        self.after_log_start_moved()?;
        Ok(deleted)
    }

    /// Delete the `n` oldest segments. If that includes the active segment, roll first so the
    /// log keeps an (empty) active segment at its end offset.
    pub(crate) fn delete_oldest(&mut self, n: usize) -> io::Result<usize> {
        if n == 0 {
            return Ok(0);
        }
        if n >= self.segments.len() {
            self.roll(now_ms())?;
        }
        let n = n.min(self.segments.len() - 1);
        let bases: Vec<i64> = self.segments.keys().take(n).copied().collect();
        for base in &bases {
            if let Some(seg) = self.segments.remove(base) {
                // Open FileSlices keep their own handle, so unlinking now is safe for readers.
                seg.delete_files()?;
            }
        }
        let first = *self.segments.keys().next().expect("active segment remains");
        self.log_start_offset = self.log_start_offset.max(first);
        Ok(bases.len())
    }

    fn after_log_start_moved(&mut self) -> io::Result<()> {
        self.producers.truncate_head(self.log_start_offset);
        if self.epochs.truncate_from_start(self.log_start_offset) {
            self.epochs.persist(false)?;
        }
        self.recovery_point = self.recovery_point.max(self.log_start_offset);
        self.write_offsets_checkpoint(false)
    }
}
