//! Leader epoch cache: the start offset of every leader epoch, persisted in Kafka's
//! `leader-epoch-checkpoint` format. Serves OffsetForLeaderEpoch and the latest epoch.

use std::io;
use std::path::{Path, PathBuf};

use crate::checkpoint;

/// File name Kafka uses inside a partition directory.
pub const LEADER_EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";

/// Sorted (epoch, start offset) entries with strictly increasing epochs and offsets.
#[derive(Debug)]
pub(crate) struct LeaderEpochCache {
    path: PathBuf,
    entries: Vec<(i32, i64)>,
}

impl LeaderEpochCache {
    /// Load the checkpoint; a malformed file is treated as empty (it only serves lookups, and
    /// the next epoch assignment rewrites it).
    pub fn load(dir: &Path) -> LeaderEpochCache {
        let path = dir.join(LEADER_EPOCH_CHECKPOINT);
        let mut entries: Vec<(i32, i64)> = match checkpoint::read(&path, 0) {
            Ok(Some(rows)) => rows
                .iter()
                .filter_map(|r| match r.as_slice() {
                    [e, o] => Some((e.parse().ok()?, o.parse().ok()?)),
                    _ => None,
                })
                .collect(),
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::warn!("ignoring {}: {e}", path.display());
                Vec::new()
            }
        };
        entries.sort();
        entries.dedup_by_key(|e| e.0);
        LeaderEpochCache { path, entries }
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.0)
    }

    pub fn entries(&self) -> &[(i32, i64)] {
        &self.entries
    }

    /// Record that `epoch` starts at `offset` (no-op for an epoch that is not newer).
    /// Returns true when the cache changed and needs to be persisted.
    pub fn assign(&mut self, epoch: i32, offset: i64) -> bool {
        if epoch < 0 {
            return false;
        }
        if let Some(&(le, lo)) = self.entries.last() {
            if epoch <= le {
                return false;
            }
            if offset < lo {
                // An older epoch claiming later offsets would break the ordering; drop them.
                self.entries.retain(|&(_, o)| o < offset);
            }
        }
        self.entries.push((epoch, offset));
        true
    }

    /// OffsetForLeaderEpoch as Kafka answers it (LeaderEpochFileCache.endOffsetFor).
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        if requested < 0 || self.entries.is_empty() {
            return (-1, -1);
        }
        if Some(requested) == self.latest_epoch() {
            return (requested, log_end_offset);
        }
        let higher = self.entries.iter().find(|&&(e, _)| e > requested);
        let floor = self.entries.iter().rev().find(|&&(e, _)| e <= requested);
        match (higher, floor) {
            (None, _) => (-1, -1),
            (Some(&(_, ho)), None) => (requested, ho),
            (Some(&(_, ho)), Some(&(fe, _))) => (fe, ho),
        }
    }

    /// The log was truncated to `end_offset`: forget epochs starting at or after it.
    pub fn truncate_from_end(&mut self, end_offset: i64) -> bool {
        let before = self.entries.len();
        self.entries.retain(|&(_, o)| o < end_offset);
        before != self.entries.len()
    }

    /// The log start moved to `start_offset`: drop epochs wholly before it and clamp the first.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> bool {
        let keep_from = self
            .entries
            .iter()
            .rposition(|&(_, o)| o <= start_offset)
            .unwrap_or(0);
        let mut changed = keep_from > 0;
        self.entries.drain(..keep_from);
        if let Some(first) = self.entries.first_mut() {
            if first.1 < start_offset {
                first.1 = start_offset;
                changed = true;
            }
        }
        changed
    }

    pub fn persist(&self, durable: bool) -> io::Result<()> {
        let lines: Vec<String> = self
            .entries
            .iter()
            .map(|(e, o)| format!("{e} {o}"))
            .collect();
        checkpoint::write(&self.path, 0, &lines, durable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_offsets_like_kafka() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = LeaderEpochCache::load(dir.path());
        assert_eq!(c.end_offset_for(0, 10), (-1, -1));
        assert!(c.assign(1, 0));
        assert!(c.assign(3, 50));
        assert!(!c.assign(2, 60));
        assert_eq!(c.end_offset_for(3, 80), (3, 80));
        assert_eq!(c.end_offset_for(1, 80), (1, 50));
        assert_eq!(c.end_offset_for(2, 80), (1, 50));
        assert_eq!(c.end_offset_for(0, 80), (0, 0));
        assert_eq!(c.end_offset_for(4, 80), (-1, -1));
        c.persist(true).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(LEADER_EPOCH_CHECKPOINT)).unwrap(),
            "0\n2\n1 0\n3 50\n"
        );
        let mut c = LeaderEpochCache::load(dir.path());
        assert_eq!(c.latest_epoch(), Some(3));
        c.truncate_from_start(60);
        assert_eq!(c.entries(), &[(3, 60)]);
        c.truncate_from_end(60);
        assert!(c.entries().is_empty());
    }
}
