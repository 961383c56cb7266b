//! The `.index` file: sparse map from offset to file position, in Kafka's exact format.
//!
//! Each entry is 8 bytes: relative offset (u32 BE, offset - segment base) and position (u32 BE)
//! of a batch start in the `.log` file. Kafka writes one entry per index.interval.bytes of log
//! data, keyed by the *last* offset of the batch that starts at that position. The entries are
//! kept in memory too, so lookups never touch the disk.
//!
//! New entries reach the file in blocks (see [`PENDING_WRITE_BYTES`]) and whenever the segment
//! stops being active, not one `pwrite` per append: at a few thousand small produce requests a
//! second, two 8- and 12-byte writes per append (each extending the file, so an inode update)
//! cost as much broker time as the record data's own write. Nothing depends on an active
//! segment's index file being current: after a crash the active segment is always re-scanned and
//! its indexes rebuilt, and a sealed segment's indexes are written out before it is synced.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Size of one offset index entry.
pub const OFFSET_INDEX_ENTRY: usize = 8;

/// Entries not yet in the file are written once they add up to this many bytes.
pub(crate) const PENDING_WRITE_BYTES: usize = 4096;

/// An open `.index` file and its entries.
#[derive(Debug)]
pub(crate) struct OffsetIndex {
    path: PathBuf,
    file: Arc<File>,
    base_offset: i64,
    entries: Vec<(u32, u32)>,
    /// How many of `entries` are in the file; the rest are pending.
    on_file: usize,
}

impl OffsetIndex {
    /// Open (creating if missing) and load the entries. A trailing partial entry and, as in a
    /// preallocated Kafka index, trailing all-zero entries after the first are ignored.
    pub fn open(path: &Path, base_offset: i64) -> io::Result<OffsetIndex> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let data = read_whole(&file)?;
        let mut entries = Vec::with_capacity(data.len() / OFFSET_INDEX_ENTRY);
        for (i, e) in data.chunks_exact(OFFSET_INDEX_ENTRY).enumerate() {
            let rel = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            let pos = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
            if i > 0 && rel == 0 && pos == 0 {
                break;
            }
            entries.push((rel, pos));
        }
        let idx = OffsetIndex {
            path: path.to_path_buf(),
            file: Arc::new(file),
            base_offset,
            on_file: entries.len(),
            entries,
        };
        // Drop a partial entry or preallocated zeros so appends continue at the right place.
        let want = (idx.entries.len() * OFFSET_INDEX_ENTRY) as u64;
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

    /// Entries as absolute (offset, position).
    pub fn entries(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        self.entries
            .iter()
            .map(|&(r, p)| (self.base_offset + r as i64, p as u64))
    }

    /// True when the entries are strictly increasing in offset and position and every position
    /// lies inside a log of `log_size` bytes (Kafka's sanity check, slightly stricter).
    pub fn is_consistent(&self, log_size: u64) -> bool {
        let mut prev: Option<(u32, u32)> = None;
        for &(r, p) in &self.entries {
            if p as u64 >= log_size {
                return false;
            }
            if let Some((pr, pp)) = prev {
                if r <= pr || p <= pp {
                    return false;
                }
            }
            prev = Some((r, p));
        }
        true
    }

    /// Append an entry for a batch whose last offset is `offset` starting at `position`.
    /// Ignored if it would not increase the offset (keeps the file well-formed).
    pub fn append(&mut self, offset: i64, position: u64) -> io::Result<()> {
        let rel = offset - self.base_offset;
        if !(0..=u32::MAX as i64).contains(&rel) || position > u32::MAX as u64 {
            return Ok(());
        }
        let rel = rel as u32;
        if let Some(&(lr, lp)) = self.entries.last() {
            if rel <= lr || position as u32 <= lp {
                return Ok(());
            }
        }
        self.entries.push((rel, position as u32));
        if (self.entries.len() - self.on_file) * OFFSET_INDEX_ENTRY >= PENDING_WRITE_BYTES {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Writes the entries the file does not have yet, in one `pwrite`.
    pub fn write_pending(&mut self) -> io::Result<()> {
        if self.on_file == self.entries.len() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity((self.entries.len() - self.on_file) * OFFSET_INDEX_ENTRY);
        for &(rel, pos) in &self.entries[self.on_file..] {
            buf.extend_from_slice(&rel.to_be_bytes());
            buf.extend_from_slice(&pos.to_be_bytes());
        }
        let at = (self.on_file * OFFSET_INDEX_ENTRY) as u64;
        self.file.write_all_at(&buf, at)?;
        self.on_file = self.entries.len();
        Ok(())
    }

    /// Largest entry with offset <= `target`, else the segment start (base offset, position 0).
    pub fn lookup(&self, target: i64) -> (i64, u64) {
        let n = self
            .entries
            .partition_point(|&(r, _)| self.base_offset + (r as i64) <= target);
        if n == 0 {
            (self.base_offset, 0)
        } else {
            let (r, p) = self.entries[n - 1];
            (self.base_offset + r as i64, p as u64)
        }
    }

    /// Forget every entry (before a rebuild).
    pub fn reset(&mut self) -> io::Result<()> {
        self.entries.clear();
        self.on_file = 0;
        self.file.set_len(0)
    }
}

/// Read a whole (index-sized) file; index files are bounded by segment.index.bytes.
pub(crate) fn read_whole(file: &File) -> io::Result<Vec<u8>> {
    let len = file.metadata()?.len();
    let len = usize::try_from(len).map_err(|_| io::Error::other("index file too large"))?;
    let mut data = vec![0u8; len];
    file.read_exact_at(&mut data, 0)?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_lookup_reload() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("00000000000000000100.index");
        let mut idx = OffsetIndex::open(&p, 100).unwrap();
        idx.append(110, 4096).unwrap();
        idx.append(120, 8192).unwrap();
        idx.append(115, 9000).unwrap(); // not increasing: ignored
        assert_eq!(
            std::fs::metadata(&p).unwrap().len(),
            0,
            "entries wait in memory"
        );
        idx.write_pending().unwrap();
        assert_eq!(idx.lookup(99), (100, 0));
        assert_eq!(idx.lookup(110), (110, 4096));
        assert_eq!(idx.lookup(119), (110, 4096));
        assert_eq!(idx.lookup(500), (120, 8192));
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 16);
        let raw = std::fs::read(&p).unwrap();
        assert_eq!(&raw[..8], &[0, 0, 0, 10, 0, 0, 0x10, 0]);
        drop(idx);
        let idx = OffsetIndex::open(&p, 100).unwrap();
        assert_eq!(idx.len(), 2);
        assert!(idx.is_consistent(10_000));
        assert!(!idx.is_consistent(8192));
    }

    #[test]
    fn pending_entries_reach_the_file_in_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("00000000000000000000.index");
        let mut idx = OffsetIndex::open(&p, 0).unwrap();
        let per_block = (PENDING_WRITE_BYTES / OFFSET_INDEX_ENTRY) as i64;
        for i in 1..per_block {
            idx.append(i, i as u64 * 100).unwrap();
        }
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 0);
        idx.append(per_block, per_block as u64 * 100).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().len(),
            PENDING_WRITE_BYTES as u64
        );
        idx.append(per_block + 1, (per_block as u64 + 1) * 100)
            .unwrap();
        idx.write_pending().unwrap();
        drop(idx);
        let idx = OffsetIndex::open(&p, 0).unwrap();
        assert_eq!(idx.len() as i64, per_block + 1);
        assert_eq!(
            idx.lookup(i64::MAX),
            (per_block + 1, (per_block as u64 + 1) * 100)
        );
    }

    #[test]
    fn preallocated_zeros_are_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("00000000000000000000.index");
        let mut raw = vec![0u8; 80];
        raw[..8].copy_from_slice(&[0, 0, 0, 5, 0, 0, 1, 0]);
        raw.push(7); // partial entry
        std::fs::write(&p, &raw).unwrap();
        let idx = OffsetIndex::open(&p, 0).unwrap();
        assert_eq!(idx.len(), 1);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 8);
    }
}
