//! Zero-copy-ish fetch support: a [`FileSlice`] names a byte range of a segment file that the
//! broker reads with pread after releasing the partition lock.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crate::batch::BatchHeader;
use crate::segment::Segment;

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
    /// batch containing `offset`, at most `max_bytes` but at least one batch that holds records
    /// (with any empty batches before it), none whose base offset is >= `upper_bound`.
    /// Ok(None) when there is nothing to read yet.
    ///
    /// Compaction can leave a segment's tail holding only empty batches (kept for producer
    /// state). Answering with just those would give the client a fetch without records, and
    /// librdkafka answers that by growing its fetch size until it gives up, so such a stretch is
    /// skipped in favour of the next segment's data when there is any below `upper_bound`.
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
        // The first slice found that holds only empty batches, served if nothing follows.
        let mut recordless: Option<FileSlice> = None;
        for seg in self.segments.range(floor..).map(|(_, s)| s) {
            let Some((pos, first)) = seg.find_batch(offset)? else {
                continue; // compaction may have emptied the rest of this segment
            };
            if first.base_offset >= upper {
                break;
            }
            let (len, has_records) = slice_len(seg, pos, first, max_bytes as u64, upper)?;
            let slice = FileSlice {
                file: seg.log_file().clone(),
                position: pos,
                len: len as usize,
            };
            if has_records {
                return Ok(Some(slice));
            }
            if slice.len > 0 {
                recordless.get_or_insert(slice);
            }
        }
        Ok(recordless)
    }
}

/// Bytes to serve from `seg` starting with batch `first` at `pos`, and whether they hold a
/// record. Leading empty batches do not count towards the "at least one batch" minimum.
fn slice_len(
    seg: &Segment,
    pos: u64,
    first: BatchHeader,
    max_bytes: u64,
    upper: i64,
) -> std::io::Result<(u64, bool)> {
    let whole_rest = upper >= seg.next_offset() && seg.size() - pos <= max_bytes;
    let (mut len, mut has_records) = (0u64, false);
    let mut next = Some(first);
    while let Some(h) = next {
        let size = h.total_size() as u64;
        if h.base_offset >= upper
            || pos + len + size > seg.size()
            || (has_records && len + size > max_bytes)
        {
            break;
        }
        len += size;
        has_records |= h.records_count > 0;
        if has_records && whole_rest {
            // Everything left fits and is below the bound: no need to walk the headers.
            return Ok((seg.size() - pos, true));
        }
        next = seg.read_header_at(pos + len)?;
    }
    Ok((len, has_records))
}
