//! The `.txnindex` file: the aborted transactions whose abort marker lies in one segment, in
//! Kafka's exact format, so a read_committed fetch only looks at the segments its range spans
//! and Kafka's `kafka-dump-log` reads the files.
//!
//! Each entry is 34 bytes, big-endian: version (i16, 0), producer id (i64), first offset (i64,
//! the transaction's first record in this partition), last offset (i64, the abort marker) and
//! last stable offset (i64, the partition's LSO right after the marker). Entries are appended
//! in marker order. The file is created at the first abort; a segment without aborts has none.
//! The entries are kept in memory too, so fetches never read the file.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Size of one entry.
pub const TXN_INDEX_ENTRY: usize = 34;
/// The only entry version Kafka writes (AbortedTxn.CURRENT_VERSION).
const ENTRY_VERSION: i16 = 0;

/// One aborted transaction of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    /// Offset of the transaction's first record in this partition.
    pub first_offset: i64,
    /// Offset of the abort marker.
    pub last_offset: i64,
    /// The partition's last stable offset once the marker was written: no transaction still
    /// open then started below it, which lets a search stop early.
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    fn encode(&self) -> [u8; TXN_INDEX_ENTRY] {
        let mut e = [0u8; TXN_INDEX_ENTRY];
        e[0..2].copy_from_slice(&ENTRY_VERSION.to_be_bytes());
        e[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        e[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        e[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        e[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        e
    }

    fn decode(e: &[u8]) -> Option<AbortedTxn> {
        let i64_at = |at: usize| -> Option<i64> {
            Some(i64::from_be_bytes(e.get(at..at + 8)?.try_into().ok()?))
        };
        if i16::from_be_bytes([*e.first()?, *e.get(1)?]) != ENTRY_VERSION {
            return None;
        }
        Some(AbortedTxn {
            producer_id: i64_at(2)?,
            first_offset: i64_at(10)?,
            last_offset: i64_at(18)?,
            last_stable_offset: i64_at(26)?,
        })
    }
}

/// One segment's `.txnindex`: the entries in memory and the file, once it exists.
#[derive(Debug)]
pub(crate) struct TxnIndex {
    path: PathBuf,
    file: Option<Arc<File>>,
    entries: Vec<AbortedTxn>,
}

impl TxnIndex {
    /// Load the file at `path` if there is one. A partial trailing entry (a write torn by a
    /// crash) and anything after an unreadable entry or an entry out of order are cut off.
    pub fn open(path: &Path) -> io::Result<TxnIndex> {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(TxnIndex::none(path)),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len() as usize;
        let mut data = vec![0u8; len];
        file.read_exact_at(&mut data, 0)?;
        let mut entries: Vec<AbortedTxn> = Vec::with_capacity(len / TXN_INDEX_ENTRY);
        for chunk in data.chunks_exact(TXN_INDEX_ENTRY) {
            match AbortedTxn::decode(chunk) {
                Some(t) if entries.last().is_none_or(|p| p.last_offset < t.last_offset) => {
                    entries.push(t)
                }
                _ => {
                    tracing::warn!("{}: ignoring entries from a bad one on", path.display());
                    break;
                }
            }
        }
        let want = (entries.len() * TXN_INDEX_ENTRY) as u64;
        if want != len as u64 {
            file.set_len(want)?;
        }
        Ok(TxnIndex {
            path: path.to_path_buf(),
            file: Some(Arc::new(file)),
            entries,
        })
    }

    /// An index with no entries and no file (yet).
    pub fn none(path: &Path) -> TxnIndex {
        TxnIndex {
            path: path.to_path_buf(),
            file: None,
            entries: Vec::new(),
        }
    }

    /// Append an entry; markers come in offset order, so anything else is a bug upstream.
    pub fn append(&mut self, t: AbortedTxn) -> io::Result<()> {
        if let Some(last) = self.entries.last() {
            if t.last_offset <= last.last_offset {
                return Err(io::Error::other(format!(
                    "{}: aborted transaction at {} is not after {}",
                    self.path.display(),
                    t.last_offset,
                    last.last_offset
                )));
            }
        }
        let file = self.ensure_file()?;
        let at = (self.entries.len() * TXN_INDEX_ENTRY) as u64;
        if let Err(e) = file.write_all_at(&t.encode(), at) {
            let _ = file.set_len(at);
            return Err(e);
        }
        self.entries.push(t);
        Ok(())
    }

    /// Create the (empty) file if it does not exist yet.
    pub fn ensure_file(&mut self) -> io::Result<Arc<File>> {
        if let Some(f) = &self.file {
            return Ok(f.clone());
        }
        let f = Arc::new(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&self.path)?,
        );
        self.file = Some(f.clone());
        Ok(f)
    }

    /// Forget every entry and delete the file (recovery rebuilds it).
    pub fn reset(&mut self) -> io::Result<()> {
        self.entries.clear();
        self.file = None;
        crate::log::remove_if_exists(&self.path)
    }

    pub fn entries(&self) -> &[AbortedTxn] {
        &self.entries
    }

    pub fn file(&self) -> Option<&Arc<File>> {
        self.file.as_ref()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Kafka's `collectAbortedTxns`: add the entries overlapping `[from, upper)` to `out`.
    /// Returns true when the search is complete: an entry's last stable offset reached `upper`,
    /// so no later segment can hold a transaction that started below it.
    pub fn collect(&self, from: i64, upper: i64, out: &mut Vec<AbortedTxn>) -> bool {
        for t in &self.entries {
            if t.last_offset >= from && t.first_offset < upper {
                out.push(*t);
            }
            if t.last_stable_offset >= upper {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: lso,
        }
    }

    #[test]
    fn entries_are_kafkas_34_bytes_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.txnindex");
        let mut idx = TxnIndex::open(&path).unwrap();
        assert!(idx.file().is_none() && !path.exists(), "created lazily");
        idx.append(entry(7, 0, 3, 4)).unwrap();
        idx.append(entry(8, 2, 6, 7)).unwrap();
        assert!(idx.append(entry(9, 1, 5, 7)).is_err(), "out of order");
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 2 * TXN_INDEX_ENTRY);
        assert_eq!(&bytes[..10], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 7]);
        assert_eq!(&bytes[26..34], &4i64.to_be_bytes());
        // A torn third entry is cut off at open.
        std::fs::write(&path, [&bytes[..], &bytes[..20]].concat()).unwrap();
        let idx = TxnIndex::open(&path).unwrap();
        assert_eq!(idx.entries(), &[entry(7, 0, 3, 4), entry(8, 2, 6, 7)]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 68);
    }

    #[test]
    fn collect_stops_at_an_entry_whose_lso_reaches_the_bound() {
        let mut idx = TxnIndex::none(Path::new("/nonexistent"));
        idx.entries = vec![entry(1, 0, 2, 3), entry(2, 5, 8, 9), entry(3, 10, 12, 13)];
        let mut out = Vec::new();
        assert!(idx.collect(0, 6, &mut out));
        assert_eq!(out, vec![entry(1, 0, 2, 3), entry(2, 5, 8, 9)]);
        out.clear();
        assert!(!idx.collect(9, 100, &mut out), "no entry reached 100");
        assert_eq!(out, vec![entry(3, 10, 12, 13)]);
    }
}
