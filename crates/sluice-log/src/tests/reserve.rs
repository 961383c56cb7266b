//! Blocks reserved ahead of the active segment's data: they never show in the file's length, and
//! no flushed sealed, closed or crash-recovered segment keeps them.

use super::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// (length, bytes of disk allocated) of a file.
fn len_and_allocated(path: &Path) -> (u64, u64) {
    let m = std::fs::metadata(path).unwrap();
    (m.len(), m.blocks() * 512)
}

fn holds_no_reserve(path: &Path) -> bool {
    let (len, allocated) = len_and_allocated(path);
    allocated <= len.next_multiple_of(4096)
}

#[test]
fn active_segment_reserves_ahead_and_the_flush_after_a_roll_gives_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    append_n(&mut log, 1, 2);
    let active = log_files(dir.path()).pop().unwrap();
    let (len, allocated) = len_and_allocated(&active);
    assert!(len > 0 && len < 4096, "{len}");
    assert!(allocated >= 256 << 10, "no reservation: {allocated} bytes");
    append_until_segments(&mut log, 3);
    let files = log_files(dir.path());
    let sealed = &files[..files.len() - 1];
    let lengths: Vec<u64> = sealed.iter().map(|f| len_and_allocated(f).0).collect();
    // The roll leaves the release to the next flush, off the append path.
    assert!(sealed.iter().all(|f| !holds_no_reserve(f)));
    let target = log.flush_target();
    assert_eq!(target.trims.len(), sealed.len());
    target.sync().unwrap();
    log.mark_flushed(&target);
    for (f, len) in sealed.iter().zip(&lengths) {
        assert!(holds_no_reserve(f), "{}", f.display());
        assert_eq!(len_and_allocated(f).0, *len, "{}", f.display());
    }
    assert!(log.flush_target().trims.is_empty());
    assert!(log.verify().unwrap().errors.is_empty());
}

#[test]
fn clean_close_gives_back_what_sealed_segments_still_reserve() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    append_until_segments(&mut log, 3);
    log.close().unwrap();
    for f in log_files(dir.path()) {
        assert!(holds_no_reserve(&f), "{}", f.display());
    }
}

#[test]
fn clean_close_gives_the_reserve_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    append_n(&mut log, 10, 3);
    log.close().unwrap();
    let active = log_files(dir.path()).pop().unwrap();
    assert!(holds_no_reserve(&active));
}

#[test]
fn reopening_after_a_crash_trims_the_leftover_reserve_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
        append_n(&mut log, 10, 3);
        // Dropped without close: what a killed process leaves.
    }
    let active = log_files(dir.path()).pop().unwrap();
    assert!(
        !holds_no_reserve(&active),
        "the crash left no reserve to trim"
    );
    let (len_before, _) = len_and_allocated(&active);
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(log.log_end_offset(), 30);
    let (len_after, _) = len_and_allocated(&active);
    assert_eq!(len_after, len_before);
    assert!(holds_no_reserve(&active));
    assert!(log.verify().unwrap().errors.is_empty());
    append_n(&mut log, 1, 1);
    assert_eq!(log.log_end_offset(), 31);
}
