//! One log segment: `{base_offset:020}.log` plus its `.index`, `.timeindex` and, once it holds
//! an abort marker, `.txnindex`.
//!
//! The `.log` file is record batches back to back, byte-for-byte as Kafka stores them. Writes
//! use pwrite at the tracked end so concurrent preads by fetches (through a cloned `Arc<File>`)
//! never see a moving file cursor.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice};
use std::ops::{ControlFlow, Range};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::{BatchHeader, LOG_OVERHEAD, RECORD_BATCH_OVERHEAD};
use crate::offset_index::OffsetIndex;
use crate::time_index::TimeIndex;
use crate::txn_index::TxnIndex;
use crate::vectored::write_all_vectored_at;

/// Bytes of disk the file occupies (st_blocks is in 512-byte units whatever the block size).
fn allocated_bytes(meta: &fs::Metadata) -> u64 {
    meta.blocks() * 512
}

/// Path of a segment file with the given suffix (`log`, `index`, `timeindex`, ...).
pub(crate) fn segment_path(dir: &Path, base_offset: i64, suffix: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{suffix}"))
}

/// Largest batch recovery will read into memory; bigger lengths are treated as corruption.
const MAX_RECOVERY_BATCH: usize = i32::MAX as usize;

/// Why a scan stopped before the end of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Corruption {
    pub position: u64,
    pub reason: String,
}

/// An open segment with its indexes and in-memory summary.
#[derive(Debug)]
pub(crate) struct Segment {
    pub base_offset: i64,
    log_path: PathBuf,
    log: Arc<File>,
    size: u64,
    pub index: OffsetIndex,
    pub time_index: TimeIndex,
    pub txn_index: TxnIndex,
    bytes_since_last_index: u64,
    /// Largest batch max timestamp in the segment (-1 if none) and the last offset of that batch.
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    next_offset: i64,
    /// Max timestamp of the first batch: segment.ms counts from it, as in Kafka.
    first_batch_timestamp: Option<i64>,
    created_ms: i64,
    /// Sealed by a roll and not yet synced whole: while it is the active segment only its `.log`
    /// is synced (recovery rebuilds the active segment's indexes), so its indexes must reach the
    /// disk once before recovery may trust them.
    pub(crate) needs_full_sync: bool,
    /// Created since the partition directory was last synced: its name is not durable yet.
    pub(crate) name_unsynced: bool,
    /// End of the blocks reserved ahead of the data (see [`Segment::reserve_ahead`]); beyond
    /// `size` while the segment is active, trimmed back to `size` when it is sealed or closed.
    reserved_to: u64,
    /// A reservation for this segment failed once (no space, or no `fallocate`): stop asking.
    reserve_unsupported: bool,
    /// The headers of the last batches this process appended, oldest first, with their file
    /// positions (see [`RECENT_BATCHES`]).
    recent: VecDeque<(u64, BatchHeader)>,
    /// Where the bytes not yet handed to writeback begin (see [`Segment::take_writeback`]).
    writeback_from: u64,
}

/// How many of the newest batch headers a segment keeps in memory. A consumer at the tail fetches
/// from the last few batches on every request, and finding its batch and the end of its slice
/// otherwise reads each header back with a `pread`: several per fetch, at thousands of fetches a
/// second (about 5 % of the broker's samples in a 62k msgs/s end-to-end run). 64 headers are
/// about 5 KiB per active segment.
const RECENT_BATCHES: usize = 64;

/// The least and the most [`Segment::reserve_ahead`] reserves past the data: it reserves as much
/// as the segment already holds, so a quiet partition holds at most half a MiB of unused blocks
/// while a busy one asks the filesystem once per 8 MiB.
const RESERVE_MIN: u64 = 256 << 10;
const RESERVE_MAX: u64 = 8 << 20;
/// Allocated blocks beyond this much past the end of an opened segment's data are the leftover
/// reservation of a process that died, and are trimmed.
const RESERVE_LEFTOVER_SLACK: u64 = 64 << 10;

impl Segment {
    /// Create a new empty segment (replacing stale files of the same name).
    pub fn create(dir: &Path, base_offset: i64, now_ms: i64) -> io::Result<Segment> {
        let log_path = segment_path(dir, base_offset, "log");
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&log_path)?;
        for suffix in ["index", "timeindex", "txnindex"] {
            let p = segment_path(dir, base_offset, suffix);
            if p.exists() {
                fs::remove_file(&p)?;
            }
        }
        let index = OffsetIndex::open(&segment_path(dir, base_offset, "index"), base_offset)?;
        let time_index =
            TimeIndex::open(&segment_path(dir, base_offset, "timeindex"), base_offset)?;
        Ok(Segment {
            base_offset,
            log_path,
            log: Arc::new(log),
            size: 0,
            index,
            time_index,
            txn_index: TxnIndex::none(&segment_path(dir, base_offset, "txnindex")),
            bytes_since_last_index: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            next_offset: base_offset,
            first_batch_timestamp: None,
            created_ms: now_ms,
            needs_full_sync: false,
            name_unsynced: true,
            reserved_to: 0,
            reserve_unsupported: false,
            recent: VecDeque::new(),
            writeback_from: 0,
        })
    }

    /// Open an existing segment, trusting its indexes (clean shutdown path). Reads the tail after
    /// the last index entry to learn the next offset; fails with InvalidData if that tail or the
    /// indexes look wrong, in which case the caller runs [`Segment::recover`].
    pub fn open(dir: &Path, base_offset: i64) -> io::Result<Segment> {
        let mut seg = Segment::open_unchecked(dir, base_offset)?;
        seg.load_summary()?;
        Ok(seg)
    }

    /// Open the files without reading anything from the log (recovery rebuilds the rest).
    pub fn open_unchecked(dir: &Path, base_offset: i64) -> io::Result<Segment> {
        let log_path = segment_path(dir, base_offset, "log");
        let log = OpenOptions::new().read(true).write(true).open(&log_path)?;
        let meta = log.metadata()?;
        if allocated_bytes(&meta) > meta.len().next_multiple_of(4096) + RESERVE_LEFTOVER_SLACK {
            // Cutting the file at its own length frees the blocks reserved past it.
            log.set_len(meta.len())?;
        }
        let created_ms = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let index = OffsetIndex::open(&segment_path(dir, base_offset, "index"), base_offset)?;
        let time_index =
            TimeIndex::open(&segment_path(dir, base_offset, "timeindex"), base_offset)?;
        Ok(Segment {
            base_offset,
            log_path,
            log: Arc::new(log),
            size: meta.len(),
            index,
            time_index,
            txn_index: TxnIndex::open(&segment_path(dir, base_offset, "txnindex"))?,
            bytes_since_last_index: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            next_offset: base_offset,
            first_batch_timestamp: None,
            created_ms,
            needs_full_sync: false,
            name_unsynced: false,
            reserved_to: meta.len(),
            reserve_unsupported: false,
            recent: VecDeque::new(),
            writeback_from: meta.len(),
        })
    }

    fn load_summary(&mut self) -> io::Result<()> {
        let bad = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
        if !self.index.is_consistent(self.size) {
            return Err(bad(format!(
                "{}: offset index inconsistent",
                self.log_path.display()
            )));
        }
        let (_, start) = self.index.lookup(i64::MAX);
        let mut last: Option<(u64, BatchHeader)> = None;
        let mut error = None;
        self.scan_headers(start, |pos, h| {
            if let Some((_, p)) = last {
                if h.base_offset <= p.last_offset() {
                    error = Some(format!("offsets not increasing at {pos}"));
                    return ControlFlow::Break(());
                }
            }
            last = Some((pos, *h));
            ControlFlow::Continue(())
        })
        .map_err(|c| {
            bad(format!(
                "{}: {} at {}",
                self.log_path.display(),
                c.reason,
                c.position
            ))
        })?;
        if let Some(e) = error {
            return Err(bad(e));
        }
        if let Some((pos, h)) = last {
            if h.base_offset < self.base_offset {
                return Err(bad("batch below segment base offset".into()));
            }
            self.next_offset = h.next_offset();
            self.bytes_since_last_index = self.size - pos;
            if h.max_timestamp > self.max_timestamp {
                self.max_timestamp = h.max_timestamp;
                self.offset_of_max_timestamp = h.last_offset();
            }
        }
        if let Some((t, o)) = self.time_index.last() {
            if t >= self.max_timestamp {
                self.max_timestamp = t;
                self.offset_of_max_timestamp = o;
            }
        }
        if !self
            .time_index
            .is_consistent(self.next_offset.max(self.base_offset + 1))
        {
            return Err(bad(format!(
                "{}: time index inconsistent",
                self.log_path.display()
            )));
        }
        if self.size > 0 {
            self.first_batch_timestamp = self.read_header_at(0)?.map(|h| h.max_timestamp);
        }
        Ok(())
    }

    /// Full scan: validate every batch (length, magic, CRC, offsets), rebuild both indexes,
    /// and truncate the file at the first invalid byte. `on_batch` sees each valid batch.
    /// Returns the number of bytes truncated.
    pub fn recover(
        &mut self,
        index_interval: u64,
        mut on_batch: impl FnMut(&BatchHeader),
    ) -> io::Result<u64> {
        self.index.reset()?;
        self.time_index.reset()?;
        self.recent.clear();
        self.bytes_since_last_index = 0;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = -1;
        self.next_offset = self.base_offset;
        self.first_batch_timestamp = None;
        let file_len = self.log.metadata()?.len();
        let mut pos = 0u64;
        let mut buf = Vec::new();
        let mut header = [0u8; RECORD_BATCH_OVERHEAD];
        while pos < file_len {
            let remaining = file_len - pos;
            if remaining < RECORD_BATCH_OVERHEAD as u64 {
                break;
            }
            self.log.read_exact_at(&mut header, pos)?;
            let h = match BatchHeader::parse(&header) {
                Ok(h) => h,
                Err(_) => break,
            };
            let size = h.total_size();
            if size as u64 > remaining || size > MAX_RECOVERY_BATCH {
                break;
            }
            buf.resize(size, 0);
            self.log.read_exact_at(&mut buf, pos)?;
            if h.verify_crc(&buf).is_err()
                || h.records_count < 0
                || h.last_offset_delta < 0
                || h.base_offset < self.next_offset
                || h.last_offset() - self.base_offset > i32::MAX as i64
            {
                break;
            }
            self.index_batch(&h, pos, index_interval)?;
            on_batch(&h);
            pos += size as u64;
        }
        // A rebuilt segment that is not the active one is never sealed again.
        self.write_pending_index_entries()?;
        let truncated = file_len - pos;
        if truncated > 0 {
            self.log.set_len(pos)?;
        }
        self.size = pos;
        self.reserved_to = self.reserved_to.min(pos);
        self.writeback_from = self.writeback_from.min(pos);
        Ok(truncated)
    }

    /// Index bookkeeping for one batch at `position`, exactly as Kafka's LogSegment.append.
    fn index_batch(
        &mut self,
        h: &BatchHeader,
        position: u64,
        index_interval: u64,
    ) -> io::Result<()> {
        if self.first_batch_timestamp.is_none() {
            self.first_batch_timestamp = Some(h.max_timestamp);
        }
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = h.last_offset();
        }
        if self.bytes_since_last_index > index_interval {
            self.index.append(h.last_offset(), position)?;
            self.time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp)?;
            self.bytes_since_last_index = 0;
        }
        self.bytes_since_last_index += h.total_size() as u64;
        self.next_offset = h.next_offset();
        Ok(())
    }

    /// Append already-validated batches (`data` is their concatenation, `batches` their headers
    /// as parsed from it) with one pwrite. On a failed write the file is cut back so no partial
    /// batch remains.
    pub fn append(
        &mut self,
        data: &[u8],
        batches: &[(BatchHeader, Range<usize>)],
        index_interval: u64,
    ) -> io::Result<()> {
        let start = self.size;
        self.reserve_ahead(start + data.len() as u64);
        if let Err(e) = self.log.write_all_at(data, start) {
            let _ = self.log.set_len(start);
            self.reserved_to = start;
            return Err(e);
        }
        self.size += data.len() as u64;
        for (h, r) in batches {
            self.index_batch(h, start + r.start as u64, index_interval)?;
            self.remember(start + r.start as u64, h);
        }
        Ok(())
    }

    /// Append validated batches from `data` with their headers replaced by `headers` (one per
    /// batch, in order): a single gathered pwrite of header, rest of batch, header, ... so the
    /// records are written from the caller's buffer without a copy. `batches` hold the headers
    /// as parsed from `headers`, the bytes that reach the disk. On a failed write the file is cut
    /// back so no partial batch remains.
    pub fn append_patched(
        &mut self,
        data: &[u8],
        headers: &[[u8; RECORD_BATCH_OVERHEAD]],
        batches: &[(BatchHeader, Range<usize>)],
        index_interval: u64,
    ) -> io::Result<()> {
        let start = self.size;
        let mut slices = Vec::with_capacity(batches.len() * 2);
        for (header, (_, range)) in headers.iter().zip(batches) {
            slices.push(IoSlice::new(header));
            slices.push(IoSlice::new(
                &data[range.start + RECORD_BATCH_OVERHEAD..range.end],
            ));
        }
        let len: usize = slices.iter().map(|s| s.len()).sum();
        self.reserve_ahead(start + len as u64);
        if let Err(e) = write_all_vectored_at(&self.log, &mut slices, start) {
            let _ = self.log.set_len(start);
            self.reserved_to = start;
            return Err(e);
        }
        self.size += len as u64;
        for (h, r) in batches {
            self.index_batch(h, start + r.start as u64, index_interval)?;
            self.remember(start + r.start as u64, h);
        }
        Ok(())
    }

    /// Keep the header of a batch just written at `position`. Both append paths hand in headers
    /// parsed from the bytes as written (patched ones for `append_patched`), so readers get
    /// exactly what a `pread` would return.
    fn remember(&mut self, position: u64, h: &BatchHeader) {
        if self.recent.len() == RECENT_BATCHES {
            self.recent.pop_front();
        }
        self.recent.push_back((position, *h));
    }

    /// Drop the kept headers: the segment was sealed, and its tail is no longer where consumers
    /// wait (each sealed segment would otherwise hold its 64 for the life of the process).
    pub fn forget_recent(&mut self) {
        self.recent = VecDeque::new();
    }

    /// The header of the batch at `position`, if it is one of the newest kept in memory.
    fn recent_header(&self, position: u64) -> Option<BatchHeader> {
        let i = self
            .recent
            .binary_search_by_key(&position, |(p, _)| *p)
            .ok()?;
        Some(self.recent[i].1)
    }

    /// Make sure the blocks up to `end` are allocated before writing there, reserving more ahead.
    ///
    /// Why: appending to a file on ext4 otherwise pays for delayed allocation page by page on the
    /// write path (a reservation, an extent-status lookup and insert per page), which measured as
    /// over a quarter of the system time of a buffered append here. One `fallocate` with KEEP_SIZE per
    /// reservation does that work once, leaves the file's length alone (so recovery, size
    /// accounting and readers see only the data) and is undone by [`Segment::release_reserve`].
    /// A segment whose reservation fails is not asked again; its writes go on as before.
    fn reserve_ahead(&mut self, end: u64) {
        if end <= self.reserved_to || self.reserve_unsupported {
            return;
        }
        let from = self.reserved_to.max(self.size);
        let to = (end + end.clamp(RESERVE_MIN, RESERVE_MAX)).next_multiple_of(RESERVE_MIN);
        // SAFETY: fallocate on an open descriptor we own; no memory is passed.
        let rc = unsafe {
            libc::fallocate(
                self.log.as_raw_fd(),
                libc::FALLOC_FL_KEEP_SIZE,
                from as libc::off_t,
                (to - from) as libc::off_t,
            )
        };
        if rc == 0 {
            self.reserved_to = to;
        } else {
            // Out of space or not supported: the write itself reports a real shortage.
            self.reserve_unsupported = true;
        }
    }

    /// Free the blocks reserved past the data (the segment is sealed or closed).
    pub fn release_reserve(&mut self) -> io::Result<()> {
        if self.reserved_to > self.size {
            self.log.set_len(self.size)?;
            self.reserved_to = self.size;
        }
        Ok(())
    }

    /// The length to cut the `.log` at to free its reserved blocks, if it holds any: for a
    /// sealed segment whose release a flush does off the append path.
    pub(crate) fn reserve_to_release(&self) -> Option<u64> {
        (self.reserved_to > self.size).then_some(self.size)
    }

    /// A flush cut the file at [`Segment::reserve_to_release`]'s length.
    pub(crate) fn reserve_released(&mut self) {
        self.reserved_to = self.reserved_to.min(self.size);
    }

    /// Read the header of the batch at `pos`; None at (or past) the end of the data.
    pub fn read_header_at(&self, pos: u64) -> io::Result<Option<BatchHeader>> {
        if pos + LOG_OVERHEAD as u64 > self.size {
            return Ok(None);
        }
        if let Some(h) = self.recent_header(pos) {
            return Ok(Some(h));
        }
        let mut header = [0u8; RECORD_BATCH_OVERHEAD];
        let n = (self.size - pos).min(RECORD_BATCH_OVERHEAD as u64) as usize;
        self.log.read_exact_at(&mut header[..n], pos)?;
        BatchHeader::parse(&header[..n])
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
    }

    /// Visit batch headers from `start` to the end of the segment.
    pub fn scan_headers(
        &self,
        start: u64,
        mut f: impl FnMut(u64, &BatchHeader) -> ControlFlow<()>,
    ) -> Result<(), Corruption> {
        let mut pos = start;
        while pos < self.size {
            let h = match self.read_header_at(pos) {
                Ok(Some(h)) => h,
                Ok(None) => break,
                Err(e) => {
                    return Err(Corruption {
                        position: pos,
                        reason: e.to_string(),
                    })
                }
            };
            if pos + h.total_size() as u64 > self.size {
                return Err(Corruption {
                    position: pos,
                    reason: "batch extends past end of segment".into(),
                });
            }
            if f(pos, &h).is_break() {
                break;
            }
            pos += h.total_size() as u64;
        }
        Ok(())
    }

    /// Position and header of the first batch whose last offset is >= `offset`.
    pub fn find_batch(&self, offset: i64) -> io::Result<Option<(u64, BatchHeader)>> {
        if self
            .recent
            .front()
            .is_some_and(|(_, oldest)| oldest.base_offset <= offset)
        {
            // A tail read: the batch is one of the newest, or past the end.
            let i = self
                .recent
                .partition_point(|(_, h)| h.last_offset() < offset);
            return Ok(self.recent.get(i).copied());
        }
        let (_, start) = self.index.lookup(offset);
        let mut found = None;
        self.scan_headers(start, |pos, h| {
            if h.last_offset() >= offset {
                found = Some((pos, *h));
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .map_err(|c| io::Error::new(io::ErrorKind::InvalidData, c.reason))?;
        Ok(found)
    }

    /// Read `len` bytes at `pos` (bounded by the segment size).
    pub fn read_bytes(&self, pos: u64, len: usize) -> io::Result<Vec<u8>> {
        let len = len.min(self.size.saturating_sub(pos) as usize);
        let mut buf = vec![0u8; len];
        self.log.read_exact_at(&mut buf, pos)?;
        Ok(buf)
    }

    /// The segment is becoming inactive (roll, close, a cleaned segment done): record its max
    /// timestamp in the time index even if no index interval elapsed, as Kafka's
    /// onBecomeInactiveSegment does, and write out the index entries still held in memory, before
    /// anything syncs the index files.
    pub fn seal_indexes(&mut self) -> io::Result<()> {
        if self.max_timestamp >= 0 {
            self.time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp)?;
        }
        self.write_pending_index_entries()
    }

    fn write_pending_index_entries(&mut self) -> io::Result<()> {
        self.index.write_pending()?;
        self.time_index.write_pending()
    }

    pub fn delete_files(&self) -> io::Result<()> {
        for p in [
            &self.log_path,
            &self.index.path().to_path_buf(),
            &self.time_index.path().to_path_buf(),
            &self.txn_index.path().to_path_buf(),
        ] {
            match fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }
    /// The range of the file appended since writeback was last started, as `(offset, len)`,
    /// once it holds at least `min` bytes; it then counts as started.
    pub fn take_writeback(&mut self, min: u64) -> Option<(u64, u64)> {
        let len = self.size.checked_sub(self.writeback_from)?;
        if len == 0 || len < min {
            return None;
        }
        let from = std::mem::replace(&mut self.writeback_from, self.size);
        Some((from, len))
    }

    pub fn log_file(&self) -> &Arc<File> {
        &self.log
    }
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }
    /// Timestamp retention compares against: the max record timestamp, or the file's mtime
    /// when no batch carries a timestamp (Kafka's fallback).
    pub fn largest_timestamp(&self) -> i64 {
        if self.max_timestamp >= 0 {
            return self.max_timestamp;
        }
        self.log
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    /// Time segment.ms measures: since the first batch's timestamp, else since creation.
    pub fn time_waited_for_roll(&self, now_ms: i64, incoming_max_timestamp: i64) -> i64 {
        match self.first_batch_timestamp {
            Some(t) if t >= 0 => incoming_max_timestamp.saturating_sub(t),
            _ => now_ms.saturating_sub(self.created_ms),
        }
    }

    /// Every file of the segment: what a sealed segment's flush and a clean close sync.
    pub fn files(&self) -> Vec<Arc<File>> {
        let mut files = vec![
            self.log.clone(),
            self.index.file().clone(),
            self.time_index.file().clone(),
        ];
        files.extend(self.txn_index.file().cloned());
        files
    }
}
