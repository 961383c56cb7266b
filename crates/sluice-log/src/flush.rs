//! Flushing without holding the partition lock: [`FlushTarget`] captures the files with
//! unflushed data, the broker syncs them unlocked, then records the new recovery point.
//!
//! A round syncs as little as durability needs: the `.log` of the active segment (its indexes
//! are rebuilt by recovery, which never trusts the active segment after a crash), every file of
//! a segment sealed since its last full sync (recovery trusts sealed segments below the
//! recovery point, indexes included), and the directory only when a segment file was created
//! since the directory was last synced. Between syncs, [`start_writeback`] gets the disk going
//! on each durable append early; [`start_writeback_in_background`] does the same for appends
//! nobody waits on, from a thread of its own.

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

/// Writeback requests the background thread may have queued; more are dropped (see
/// [`start_writeback_in_background`]).
const BACKGROUND_QUEUE: usize = 1024;

/// The background writeback thread's nice value: below the broker's own threads, so that a
/// request that wakes it is not preempted by it.
const BACKGROUND_NICE: libc::c_int = 10;

/// Like [`start_writeback`], but from a background thread, so the caller does not wait for it.
///
/// Why: `sync_file_range` does the file system's part of writeback in the calling thread: block
/// allocation, building the requests, queueing them on the disk. A non-durable append's
/// acknowledgement waits for none of that, yet called inline it sat in every large produce
/// request's path: 9.4 % of the broker's CPU in the headline profile of run s16 (2026-11-27),
/// between the append and its acknowledgement. A producer holds only so much unacknowledged data,
/// so time between a request's arrival and its answer is throughput lost. Headline A/B (6 rounds,
/// one sitting, release builds, 1 KiB messages, 6 partitions, acks=1): median 938 MB/s inline,
/// 1064 from a background thread, against the null broker's 1222.
///
/// One thread serves the whole process, started on first use; it runs at a lower priority than
/// the broker's workers ([`BACKGROUND_NICE`]). The call never blocks: when the thread cannot be
/// started the writeback starts inline, and when [`BACKGROUND_QUEUE`] requests are already
/// waiting the range is left to the kernel's own writeback (it is a hint, and the kernel writes
/// dirty pages back on its own).
pub fn start_writeback_in_background(file: Arc<File>, offset: u64, len: u64) {
    use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
    use std::sync::OnceLock;

    type Request = (Arc<File>, u64, u64);
    static QUEUE: OnceLock<Option<SyncSender<Request>>> = OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = sync_channel::<Request>(BACKGROUND_QUEUE);
        let spawned = std::thread::Builder::new()
            .name("log-writeback".into())
            .spawn(move || {
                // SAFETY: setpriority on this thread's own id; no memory is passed. A failure
                // only leaves the thread at the default priority.
                unsafe {
                    let tid = libc::gettid() as libc::id_t;
                    libc::setpriority(libc::PRIO_PROCESS, tid, BACKGROUND_NICE);
                }
                while let Ok((file, offset, len)) = rx.recv() {
                    start_writeback(&file, offset, len);
                }
            });
        match spawned {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::warn!("no background writeback thread ({e}): starting writeback inline");
                None
            }
        }
    });
    match queue {
        Some(tx) => match tx.try_send((file, offset, len)) {
            Ok(()) | Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected((file, offset, len))) => {
                start_writeback(&file, offset, len)
            }
        },
        None => start_writeback(&file, offset, len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// The background thread's (name, nice) once it shows up in /proc, waiting for it to start.
    fn writeback_thread() -> Option<(String, i64)> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
                let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
                if comm.trim() != "log-writeback" {
                    continue;
                }
                // Field 19 of stat is the nice value; the name (field 2) has no spaces here.
                let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
                let nice = stat.split_whitespace().nth(18)?.parse().ok()?;
                if nice == i64::from(BACKGROUND_NICE) || std::time::Instant::now() > deadline {
                    return Some((comm.trim().to_string(), nice));
                }
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::yield_now();
        }
    }

    #[test]
    fn background_writeback_runs_on_a_low_priority_thread_and_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.log");
        let mut file = File::options()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(&[7u8; 64 << 10]).unwrap();
        let file = Arc::new(file);
        // Far more requests than the queue holds: the surplus is dropped, none waits.
        for _ in 0..(4 * BACKGROUND_QUEUE) {
            start_writeback_in_background(file.clone(), 0, 64 << 10);
        }
        let (name, nice) = writeback_thread().expect("a log-writeback thread");
        assert_eq!(name, "log-writeback");
        assert_eq!(nice, i64::from(BACKGROUND_NICE));
        // The hint changes nothing that can be read back.
        assert_eq!(std::fs::read(&path).unwrap(), vec![7u8; 64 << 10]);
    }
}
