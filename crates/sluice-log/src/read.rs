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

impl crate::log::PartitionLog {
    /// Locate bytes to serve a fetch at `offset`: whole batches of one segment starting at the
    /// batch containing `offset`, at most `max_bytes` but at least one batch, none whose base
    /// offset is >= `upper_bound`. Ok(None) when there is nothing to read yet.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        upper_bound: i64,
    ) -> Result<Option<FileSlice>, ReadError> {
        let (start, end) = (self.log_start_offset, self.log_end_offset());
        if offset < start || offset > end {
            return Err(ReadError::OffsetOutOfRange {
                log_start: start,
                log_end: end,
            });
        }
        let upper = upper_bound.min(end);
        if offset >= upper {
            return Ok(None);
        }
        let floor = self
            .segments
            .range(..=offset)
            .next_back()
            .map(|(b, _)| *b)
            .unwrap_or(i64::MIN);
        for seg in self.segments.range(floor..).map(|(_, s)| s) {
            let Some((pos, first)) = seg.find_batch(offset)? else {
                continue; // compaction may have emptied the rest of this segment
            };
            if first.base_offset >= upper {
                return Ok(None);
            }
            let mut len = first.total_size() as u64;
            let rest = seg.size() - pos;
            if upper >= seg.next_offset() && rest <= max_bytes as u64 {
                len = rest;
            } else {
                let mut p = pos + len;
                while let Some(h) = seg.read_header_at(p)? {
                    let size = h.total_size() as u64;
                    if h.base_offset >= upper
                        || len + size > max_bytes as u64
                        || p + size > seg.size()
                    {
                        break;
                    }
                    len += size;
                    p += size;
                }
            }
            return Ok(Some(FileSlice {
                file: seg.log_file().clone(),
                position: pos,
                len: len as usize,
            }));
        }
        Ok(None)
    }
}
