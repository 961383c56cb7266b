//! Swapping cleaned segments into the log crash-safely, and finishing (or rolling back) a swap
//! a crash interrupted, following Kafka's `replaceSegments` / `LogLoader` scheme.
//!
//! A cleaned group replaces the consecutive segments `base..end` with one segment named
//! `base`. On disk, for every group of a pass:
//! 1. `.cleaner-tmp/<base>.{index,timeindex,txnindex}` -> `<base>.{...}.swap`, then
//!    `<base>.swap-end` (holds `end`), then `.cleaner-tmp/<base>.log` -> `<base>.log.swap`:
//!    the group's commit point. Then one directory fsync for the whole pass.
//! 2. Every replaced segment's files -> `.deleted`.
//! 3. `<base>.{index,timeindex,txnindex}.swap` -> final name, then `<base>.log.swap` -> `<base>.log`,
//!    then `<base>.swap-end` goes; a directory fsync; the `.deleted` files are unlinked.
//!
//! At open, a `<base>.log.swap` means the group committed: every remaining segment file with a
//! base in `base..end` is old and is deleted, and the swap files take their final names. Index
//! swaps without a log swap mean it did not commit: they are deleted and the old segments stay.
//! `end` comes from `<base>.swap-end`; without it (a Kafka-made swap) it is the swap segment's
//! own next offset, as Kafka's LogLoader assumes. Fetches holding `Arc<File>`s of replaced
//! segments keep reading them: unlinking a file does not close its open handles.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::batch::{BatchHeader, RECORD_BATCH_OVERHEAD};
use crate::checkpoint;
use crate::cleaner::{CleanDone, CleanedGroup, CLEANER_CHECKPOINT, CLEANER_TMP};
use crate::log::{remove_if_exists, PartitionLog};
use crate::segment::{segment_path, Segment};

/// The files that make up one segment. A cleaned segment always has a `.txnindex` (maybe
/// empty), so a committed swap always carries one and replaces the old segment's.
const SEGMENT_SUFFIXES: [&str; 4] = ["log", "index", "timeindex", "txnindex"];
/// Renamed to their final names in this order, the `.log` (the segment itself) last.
const SWAP_ORDER: [&str; 4] = ["index", "timeindex", "txnindex", "log"];
/// Suffix of the file recording the end of the offset range a swap replaces.
const SWAP_END: &str = "swap-end";

fn swap_path(dir: &Path, base: i64, suffix: &str) -> PathBuf {
    dir.join(format!("{base:020}.{suffix}.swap"))
}

fn deleted_path(dir: &Path, base: i64, suffix: &str) -> PathBuf {
    dir.join(format!("{base:020}.{suffix}.deleted"))
}

/// Record (durably) in the cleaner's work dir that group `base` replaces `base..end`.
pub(crate) fn write_group_end(tmp: &Path, base: i64, end: i64) -> io::Result<()> {
    let path = segment_path(tmp, base, SWAP_END);
    fs::write(&path, format!("{end}\n"))?;
    File::open(&path)?.sync_all()
}

/// Counts the file operations of a swap so tests can stop it after any one of them, leaving
/// the directory exactly as a crash at that point would.
struct Steps(Option<usize>);

impl Steps {
    fn next(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Some(0) => Err(io::Error::other("simulated crash")),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl PartitionLog {
    /// Swap the cleaned segments in (cheap: renames + two directory fsyncs). A group whose
    /// segments changed since the plan (deleted by retention) is skipped.
    pub fn finish_compaction(&mut self, done: CleanDone) -> io::Result<()> {
        self.swap_in(done, Steps(None))
    }

    /// Run the swap but "crash" (return an error, leaving every file as it is) before its
    /// `ops`-th file operation. Test support for recovery.
    #[cfg(test)]
    pub(crate) fn finish_compaction_crashing_after(
        &mut self,
        done: CleanDone,
        ops: usize,
    ) -> io::Result<()> {
        self.swap_in(done, Steps(Some(ops)))
    }

    fn swap_in(&mut self, done: CleanDone, mut step: Steps) -> io::Result<()> {
        let tmp = done.dir.join(CLEANER_TMP);
        if done.dir != self.dir {
            return Err(io::Error::other("clean result belongs to another log"));
        }
        self.mark_dirty()?;
        let groups: Vec<&CleanedGroup> = done
            .groups
            .iter()
            .filter(|g| self.group_still_valid(g))
            .collect();
        for g in &groups {
            for (from, to) in [
                (
                    segment_path(&tmp, g.base, "index"),
                    swap_path(&self.dir, g.base, "index"),
                ),
                (
                    segment_path(&tmp, g.base, "timeindex"),
                    swap_path(&self.dir, g.base, "timeindex"),
                ),
                (
                    segment_path(&tmp, g.base, "txnindex"),
                    swap_path(&self.dir, g.base, "txnindex"),
                ),
                (
                    segment_path(&tmp, g.base, SWAP_END),
                    segment_path(&self.dir, g.base, SWAP_END),
                ),
                (
                    segment_path(&tmp, g.base, "log"),
                    swap_path(&self.dir, g.base, "log"),
                ),
            ] {
                step.next()?;
                fs::rename(from, to)?;
            }
        }
        // The commit point: from here on recovery completes these swaps.
        step.next()?;
        File::open(&self.dir)?.sync_all()?;
        let mut doomed = Vec::new();
        for g in &groups {
            for &(base, _) in &g.members {
                for suffix in SEGMENT_SUFFIXES {
                    let to = deleted_path(&self.dir, base, suffix);
                    step.next()?;
                    match fs::rename(segment_path(&self.dir, base, suffix), &to) {
                        Ok(()) => doomed.push(to),
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        for g in &groups {
            for suffix in SWAP_ORDER {
                step.next()?;
                fs::rename(
                    swap_path(&self.dir, g.base, suffix),
                    segment_path(&self.dir, g.base, suffix),
                )?;
            }
            step.next()?;
            remove_if_exists(&segment_path(&self.dir, g.base, SWAP_END))?;
            // Open the new segment before dropping the old ones, so an error leaves the
            // in-memory log serving the old (still readable) files.
            let seg = Segment::open(&self.dir, g.base)?;
            for &(base, _) in &g.members {
                self.segments.remove(&base);
            }
            self.segments.insert(g.base, seg);
        }
        step.next()?;
        File::open(&self.dir)?.sync_all()?;
        for path in doomed {
            step.next()?;
            remove_if_exists(&path)?;
        }
        let _ = fs::remove_dir_all(&tmp);
        checkpoint::write(
            &self.dir.join(CLEANER_CHECKPOINT),
            0,
            &[format!("cleaner-offset {}", done.clean_end)],
            false,
        )
    }

    /// True while exactly the planned segments, unchanged and inactive, still cover the group.
    fn group_still_valid(&self, g: &CleanedGroup) -> bool {
        let active = self.active().base_offset;
        let now: Vec<(i64, u64)> = self
            .segments
            .range(g.base..g.end)
            .map(|(b, s)| (*b, s.size()))
            .collect();
        now == g.members && g.end <= active
    }
}

/// Finish or roll back compaction swaps interrupted by a crash (called at open, before the
/// segments are listed).
pub(crate) fn recover_interrupted_swaps(dir: &Path) -> io::Result<()> {
    let tmp = dir.join(CLEANER_TMP);
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    let mut log_swaps = BTreeSet::new();
    let mut index_swaps = Vec::new();
    let mut ends: BTreeMap<i64, PathBuf> = BTreeMap::new();
    let mut segment_files: Vec<(i64, PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some((stem, ext)) = name.split_once('.') else {
            continue;
        };
        let Ok(base) = stem.parse::<i64>() else {
            continue;
        };
        if stem.len() != 20 {
            continue;
        }
        match ext {
            "log.swap" => {
                log_swaps.insert(base);
            }
            "index.swap" | "timeindex.swap" | "txnindex.swap" => index_swaps.push((base, path)),
            SWAP_END => {
                ends.insert(base, path);
            }
            "log" | "index" | "timeindex" | "txnindex" => segment_files.push((base, path)),
            _ => {}
        }
    }
    if log_swaps.is_empty() && index_swaps.is_empty() && ends.is_empty() {
        return Ok(());
    }
    for &base in &log_swaps {
        let end = match ends.get(&base).map(|p| read_group_end(p)) {
            Some(Ok(end)) => end,
            _ => swap_next_offset(&swap_path(dir, base, "log"))?,
        };
        tracing::warn!(
            "{}: completing an interrupted compaction swap of offsets {base}..{end}",
            dir.display()
        );
        // Old segments the group replaced (the group's own base is renamed over below).
        for (b, path) in &segment_files {
            if *b > base && *b < end {
                remove_if_exists(path)?;
            }
        }
        for suffix in SWAP_ORDER {
            let swap = swap_path(dir, base, suffix);
            if swap.exists() {
                fs::rename(&swap, segment_path(dir, base, suffix))?;
            }
            // A missing index swap was already renamed: step 2 removed the old index first.
        }
    }
    // Index swaps of groups that never committed: the old segments are still whole.
    for (base, path) in index_swaps {
        if !log_swaps.contains(&base) {
            remove_if_exists(&path)?;
        }
    }
    for path in ends.values() {
        remove_if_exists(path)?;
    }
    File::open(dir)?.sync_all()
}

fn read_group_end(path: &Path) -> io::Result<i64> {
    fs::read_to_string(path)?
        .trim()
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{e}")))
}

/// One past the last offset of the valid batches of a swap log (Kafka's readNextOffset).
fn swap_next_offset(path: &Path) -> io::Result<i64> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let base: i64 = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split('.').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut next = base;
    let mut pos = 0u64;
    let mut header = [0u8; RECORD_BATCH_OVERHEAD];
    while pos + RECORD_BATCH_OVERHEAD as u64 <= len {
        file.read_exact_at(&mut header, pos)?;
        let Ok(h) = BatchHeader::parse(&header) else {
            break;
        };
        if pos + h.total_size() as u64 > len {
            break;
        }
        next = h.next_offset();
        pos += h.total_size() as u64;
    }
    Ok(next)
}
