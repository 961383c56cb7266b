//! Zero-copy-ish fetch support: a [`FileSlice`] names a byte range of a segment file that the
//! broker reads with pread after releasing the partition lock.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// A contiguous byte range of one segment's `.log` file.
#[derive(Debug, Clone)]
pub struct FileSlice {
    pub file: Arc<File>,
    pub position: u64,
    pub len: usize,
}

impl FileSlice {
    /// Read the bytes with pread; needs no lock because segment files are append-only and a
    /// deleted/replaced segment stays readable through this open handle.
    pub fn read_bytes(&self) -> std::io::Result<bytes::Bytes> {
        let mut buf = vec![0u8; self.len];
        self.file.read_exact_at(&mut buf, self.position)?;
        Ok(bytes::Bytes::from(buf))
    }
}

/// Why a read could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Maps to OFFSET_OUT_OF_RANGE (1).
    #[error("offset out of range: log start {log_start}, log end {log_end}")]
    OffsetOutOfRange { log_start: i64, log_end: i64 },
    /// Maps to KAFKA_STORAGE_ERROR (56).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
