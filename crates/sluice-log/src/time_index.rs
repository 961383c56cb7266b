//! The `.timeindex` file: sparse map from timestamp to offset, in Kafka's exact format.
//!
//! Each entry is 12 bytes: timestamp (i64 BE) and relative offset (u32 BE). As in Kafka, an entry
//! is only written when the segment's max timestamp so far grows, so timestamps are strictly
//! increasing; the offset is the last offset of the batch holding that max timestamp.
//!
//! Like the offset index, new entries reach the file in blocks and when the segment is sealed
//! (see `offset_index` for why that is safe).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::offset_index::{read_whole, PENDING_WRITE_BYTES};

/// Size of one time index entry.
pub const TIME_INDEX_ENTRY: usize = 12;

/// An open `.timeindex` file and its entries.
#[derive(Debug)]
pub(crate) struct TimeIndex {
    path: PathBuf,
    file: Arc<File>,
    base_offset: i64,
    entries: Vec<(i64, u32)>,
    /// How many of `entries` are in the file; the rest are pending.
    on_file: usize,
}

impl TimeIndex {
    /// Open (creating if missing) and load; trailing partial or preallocated zero entries dropped.
    pub fn open(path: &Path, base_offset: i64) -> io::Result<TimeIndex> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let data = read_whole(&file)?;
        let mut entries = Vec::with_capacity(data.len() / TIME_INDEX_ENTRY);
        for (i, e) in data.chunks_exact(TIME_INDEX_ENTRY).enumerate() {
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&e[..8]);
            let ts = i64::from_be_bytes(ts);
            let rel = u32::from_be_bytes([e[8], e[9], e[10], e[11]]);
            if i > 0 && ts == 0 && rel == 0 {
                break;
            }
            entries.push((ts, rel));
        }
        let idx = TimeIndex {
            path: path.to_path_buf(),
            file: Arc::new(file),
            base_offset,
            on_file: entries.len(),
            entries,
        };
        let want = (idx.entries.len() * TIME_INDEX_ENTRY) as u64;
        if want != data.len() as u64 {
            idx.file.set_len(want)?;
        }
        Ok(idx)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self) -> &Arc<File> {
        &self.file
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entries as (timestamp, absolute offset).
    pub fn entries(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.entries
            .iter()
            .map(|&(t, r)| (t, self.base_offset + r as i64))
    }

    pub fn last(&self) -> Option<(i64, i64)> {
        self.entries
            .last()
            .map(|&(t, r)| (t, self.base_offset + r as i64))
    }

    /// Timestamps strictly increasing, offsets non-decreasing and below `next_offset`.
    pub fn is_consistent(&self, next_offset: i64) -> bool {
        let mut prev: Option<(i64, u32)> = None;
        for &(t, r) in &self.entries {
            if self.base_offset + r as i64 >= next_offset {
                return false;
            }
            if let Some((pt, pr)) = prev {
                if t <= pt || r < pr {
                    return false;
                }
            }
            prev = Some((t, r));
        }
        true
    }

    /// Append (timestamp, offset) if the timestamp is larger than the last entry's.
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64) -> io::Result<()> {
        let rel = offset - self.base_offset;
        if !(0..=u32::MAX as i64).contains(&rel) {
            return Ok(());
        }
        let rel = rel as u32;
        if let Some(&(lt, lr)) = self.entries.last() {
            if timestamp <= lt || rel < lr {
                return Ok(());
            }
        }
        self.entries.push((timestamp, rel));
        if (self.entries.len() - self.on_file) * TIME_INDEX_ENTRY >= PENDING_WRITE_BYTES {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Writes the entries the file does not have yet, in one `pwrite`.
    pub fn write_pending(&mut self) -> io::Result<()> {
        if self.on_file == self.entries.len() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity((self.entries.len() - self.on_file) * TIME_INDEX_ENTRY);
        for &(ts, rel) in &self.entries[self.on_file..] {
            buf.extend_from_slice(&ts.to_be_bytes());
            buf.extend_from_slice(&rel.to_be_bytes());
        }
        let at = (self.on_file * TIME_INDEX_ENTRY) as u64;
        self.file.write_all_at(&buf, at)?;
        self.on_file = self.entries.len();
        Ok(())
    }

    /// The last entry whose timestamp is strictly below `ts`: every record at or before its
    /// offset has a timestamp < `ts`, so a search for `ts` may start after it.
    pub fn last_below(&self, ts: i64) -> Option<(i64, i64)> {
        let n = self.entries.partition_point(|&(t, _)| t < ts);
        if n == 0 {
            None
        } else {
            let (t, r) = self.entries[n - 1];
            Some((t, self.base_offset + r as i64))
        }
    }

    pub fn reset(&mut self) -> io::Result<()> {
        self.entries.clear();
        self.on_file = 0;
        self.file.set_len(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_append_and_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("00000000000000000010.timeindex");
        let mut idx = TimeIndex::open(&p, 10).unwrap();
        idx.maybe_append(1000, 12).unwrap();
        idx.maybe_append(900, 15).unwrap(); // not larger: skipped
        idx.maybe_append(2000, 20).unwrap();
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.last_below(1000), None);
        assert_eq!(idx.last_below(1001), Some((1000, 12)));
        assert_eq!(idx.last_below(5000), Some((2000, 20)));
        assert_eq!(
            std::fs::metadata(&p).unwrap().len(),
            0,
            "entries wait in memory"
        );
        idx.write_pending().unwrap();
        let raw = std::fs::read(&p).unwrap();
        assert_eq!(raw.len(), 24);
        assert_eq!(&raw[8..12], &[0, 0, 0, 2]);
        drop(idx);
        let idx = TimeIndex::open(&p, 10).unwrap();
        assert!(idx.is_consistent(21));
        assert!(!idx.is_consistent(20));
        assert_eq!(idx.last(), Some((2000, 20)));
    }
}
