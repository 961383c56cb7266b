//! Flushing without holding the partition lock: [`FlushTarget`] captures the files with
//! unflushed data, the broker syncs them unlocked, then records the new recovery point.
//!
//! A round syncs as little as durability needs: the `.log` of the active segment (its indexes
//! are rebuilt by recovery, which never trusts the active segment after a crash), every file of
//! a segment sealed since its last full sync (recovery trusts sealed segments below the
//! recovery point, indexes included), and the directory only when a segment file was created
//! since the directory was last synced. Between syncs, [`start_writeback`] gets the disk going
//! on each durable append early.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

/// Files to fdatasync and the offset they cover once synced.
#[derive(Debug, Clone, Default)]
pub struct FlushTarget {
    pub(crate) files: Vec<Arc<File>>,
    pub(crate) up_to_offset: i64,
    pub(crate) messages: i64,
    /// Synced when a segment file was created since the last directory sync.
    pub(crate) dir: Option<PathBuf>,
    /// Sealed segments (by base offset) whose every file is in `files`.
    pub(crate) sealed: Vec<i64>,
    /// Segments whose names the directory sync makes durable.
    pub(crate) named: Vec<i64>,
    /// Sealed segments' `.log` files to cut at their length, freeing the blocks reserved past
    /// the data while they were active.
    ///
    /// Why here and not at the roll: freeing blocks can wait on the disk (on a filesystem mounted
    /// with `discard` each freed extent is a synchronous discard queued behind the writeback of
    /// everything just written; measured up to 1.2 s here), and the roll runs inside an append,
    /// under the partition lock. A sealed segment's length never changes again, so cutting it at
    /// that length later, unlocked, touches no data.
    pub(crate) trims: Vec<(Arc<File>, u64)>,
}

impl FlushTarget {
    /// Release sealed segments' reserved blocks, fdatasync every captured file, then the
    /// directory if a segment was created.
    pub fn sync(&self) -> std::io::Result<()> {
        for (f, len) in &self.trims {
            // Only spare blocks are at stake, never data: a failure costs disk space until the
            // segment is deleted, so it must not fail the sync (and a durable produce with it).
            if let Err(e) = f.set_len(*len) {
                tracing::warn!("freeing a sealed segment's reserved blocks: {e}");
            }
        }
        for f in &self.files {
            f.sync_data()?;
        }
        if let Some(dir) = &self.dir {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Every offset below this is durable once `sync` returned Ok.
    pub fn up_to_offset(&self) -> i64 {
        self.up_to_offset
    }

    /// True when there is nothing to sync.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.dir.is_none()
    }

    /// Number of fsync-family calls `sync` makes (diagnostics and tests).
    pub fn sync_calls(&self) -> usize {
        self.files.len() + usize::from(self.dir.is_some())
    }
}

/// The least a durable partition hands to [`start_writeback`] at once: appends are coalesced
/// until this much is waiting.
///
/// Why: each call becomes at least one disk request, and a request has a fixed cost besides its
/// bytes. On the virtio disk here, 2 GiB written with `O_DIRECT` took 0.87–1.12 s of kernel time
/// in 64 KiB requests and 0.27–0.32 s in 1 MiB ones (two runs each). A producer with a short
/// linger.ms sends appends of a few KiB thousands of times a second; started one by one they cost
/// a request each, while the group commit's fdatasync writes whatever is left in one go anyway.
/// Appends of at least this size (a full-speed producer's batches) still start at once.
pub const WRITEBACK_MIN: u64 = 256 << 10;

/// Ask the kernel to start writing `len` bytes at `offset` of `file` to disk now, without waiting.
///
/// Why: in durable mode every acknowledged byte waits for an fdatasync, and an fdatasync that
/// finds its data already under writeback only waits for the rest and the journal commit. Started
/// as each append lands, the disk works while the previous sync is still running instead of
/// idling until the next one begins.
pub fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: sync_file_range on a descriptor we hold open; no memory is passed. Errors are
    // ignored: the fdatasync that follows reports any real failure.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}
