//! What a durable flush syncs: the active segment's `.log` only, a segment sealed by a roll
//! whole (once), the directory only after a segment file was created; and the recovery point
//! written down never lets recovery trust a segment whose indexes were not synced.

use super::{append_n, append_until_segments, small_segments};
use crate::checkpoint;
use crate::log::OFFSETS_CHECKPOINT;
use crate::PartitionLog;

fn persisted_recovery_point(log: &PartitionLog) -> i64 {
    checkpoint::read_named_offsets(&log.dir().join(OFFSETS_CHECKPOINT))
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == "recovery-point")
        .map(|(_, v)| v)
        .unwrap()
}

fn flush(log: &mut PartitionLog) -> crate::FlushTarget {
    let t = log.flush_target();
    t.sync().unwrap();
    log.mark_flushed(&t);
    t
}

#[test]
fn active_segment_syncs_only_its_log_and_no_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    flush(&mut log); // the new segment's name
    append_n(&mut log, 1, 2);
    let t = flush(&mut log);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(t.sync_calls(), 1, "{t:?}");
    assert!(t.dir.is_none() && t.sealed.is_empty());
    assert!(log.flush_target().is_empty());
}

#[test]
fn rolled_segment_is_synced_whole_and_its_name_made_durable() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    flush(&mut log);
    append_until_segments(&mut log, 2);
    let t = flush(&mut log);
    assert_eq!(t.sealed, vec![0]);
    let active = *log.segment_base_offsets().last().unwrap();
    assert_eq!(t.named, vec![active]);
    // .log + .index + .timeindex of the sealed segment, the active .log, then the directory.
    assert_eq!(t.sync_calls(), 5, "{t:?}");
    append_n(&mut log, 1, 1);
    let t = flush(&mut log);
    assert_eq!(t.sync_calls(), 1, "sealed segments are synced once: {t:?}");
}

#[test]
fn recovery_point_on_disk_stops_before_a_segment_sealed_after_the_sync_began() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    flush(&mut log);
    append_until_segments(&mut log, 2);
    flush(&mut log);
    let sealing = *log.segment_base_offsets().last().unwrap();
    // A sync captured while `sealing` is active covers only its .log; the very next append
    // rolls, so the sync's end offset is exactly the new segment's base ...
    let before_roll = loop {
        let t = log.flush_target();
        append_n(&mut log, 1, 5);
        if log.segment_count() == 3 {
            break t;
        }
        t.sync().unwrap();
        log.mark_flushed(&t);
    };
    before_roll.sync().unwrap();
    log.mark_flushed(&before_roll);
    // ... so recovery must still scan `sealing` (it is trusted only when the next base is at or
    // below the recovery point), however far the in-memory recovery point moved.
    let next_base = *log.segment_base_offsets().last().unwrap();
    assert_eq!(before_roll.up_to_offset(), next_base);
    log.write_offsets_checkpoint(false).unwrap();
    assert!(persisted_recovery_point(&log) < next_base);
    // The next sync covers its indexes; now it may be trusted.
    let t = flush(&mut log);
    assert_eq!(t.sealed, vec![sealing]);
    log.write_offsets_checkpoint(false).unwrap();
    assert_eq!(persisted_recovery_point(&log), next_base);
}

#[test]
fn checkpoint_is_rewritten_only_when_a_segment_boundary_is_crossed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    let path = log.dir().join(OFFSETS_CHECKPOINT);
    flush(&mut log);
    std::fs::remove_file(&path).unwrap();
    append_n(&mut log, 1, 1);
    flush(&mut log);
    assert!(
        !path.exists(),
        "no rewrite while the recovery point stays in the active segment"
    );
    append_until_segments(&mut log, 2);
    flush(&mut log);
    assert!(
        path.exists(),
        "rewritten once the sealed segment may be trusted"
    );
}

#[test]
fn writeback_ranges_coalesce_appends_and_cover_every_byte_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), crate::LogConfig::default()).unwrap();
    let mut ranges = Vec::new();
    let mut appended = 0;
    while appended < 600 << 10 {
        let before = log.active().size();
        append_n(&mut log, 1, 20);
        appended = log.active().size();
        match log.take_writeback(64 << 10) {
            Some((_, offset, len)) => {
                assert!(len >= 64 << 10, "started before the minimum: {len}");
                ranges.push((offset, len));
            }
            None => assert!(appended - ranges.last().map_or(0, |(o, l)| o + l) < 64 << 10),
        }
        assert!(log.active().size() > before);
    }
    // Contiguous from the start of the segment: nothing skipped, nothing started twice.
    let mut next = 0;
    for (offset, len) in &ranges {
        assert_eq!(*offset, next, "{ranges:?}");
        next += len;
    }
    assert!(ranges.len() > 1 && next <= appended, "{ranges:?}");
    assert!(log.take_writeback(appended - next + 1).is_none());
    assert_eq!(
        log.take_writeback(1).map(|(_, o, l)| (o, l)),
        (next < appended).then_some((next, appended - next))
    );
    // A reopened log counts from its end.
    drop(log);
    let mut log = PartitionLog::open(dir.path(), crate::LogConfig::default()).unwrap();
    assert!(log.take_writeback(1).is_none());
    append_n(&mut log, 1, 1);
    let (_, offset, _) = log.take_writeback(1).unwrap();
    assert_eq!(offset, appended);
}
