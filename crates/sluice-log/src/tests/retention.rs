//! DeleteRecords and retention by time and size.

use super::*;
use crate::ReadError;

#[test]
fn delete_records_moves_start_and_drops_whole_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    append_n(&mut log, 40, 3);
    let segs = log.segment_count();
    let start = log.delete_records_before(50).unwrap();
    assert_eq!(start, 50);
    assert!(log.segment_count() < segs);
    assert!(log.segment_base_offsets()[0] <= 50);
    assert!(matches!(
        log.read(49, 100, 120),
        Err(ReadError::OffsetOutOfRange { .. })
    ));
    assert!(log.read(50, 100, 120).unwrap().is_some());
    assert_eq!(log.delete_records_before(10).unwrap(), 50);
    assert_eq!(log.delete_records_before(1000).unwrap(), 120);
    drop(log);
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.log_start_offset(), 120);
    assert_eq!(log.log_end_offset(), 120);
}

#[test]
fn retention_by_size_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_segments();
    cfg.retention_bytes = 3000;
    let mut log = PartitionLog::open(dir.path(), cfg.clone()).unwrap();
    append_n(&mut log, 60, 3);
    let before = log.size_bytes();
    let deleted = log.apply_retention(NOW).unwrap();
    assert!(deleted > 0);
    assert!(log.size_bytes() < before);
    // Like Kafka: whole segments only, so at most one segment's worth above the limit.
    assert!(log.size_bytes() < 3000 + 1024, "{}", log.size_bytes());
    assert!(log.size_bytes() >= 3000 - 1024);
    assert_eq!(log.log_start_offset(), log.segment_base_offsets()[0]);

    cfg.retention_bytes = -1;
    cfg.retention_ms = 1000;
    log.set_config(cfg.clone());
    assert_eq!(log.apply_retention(NOW + 500).unwrap(), 0);
    let end = log.log_end_offset();
    let n = log.segment_count();
    assert_eq!(log.apply_retention(NOW + 5000).unwrap(), n);
    assert_eq!(log.segment_count(), 1);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (end, end));
    assert_eq!(log.size_bytes(), 0);
    // Appends continue after everything was deleted.
    append_n(&mut log, 1, 1);
    assert_eq!(log.log_end_offset(), end + 1);

    cfg.cleanup_policy_delete = false;
    cfg.cleanup_policy_compact = true;
    log.set_config(cfg);
    assert_eq!(log.apply_retention(NOW + 100_000).unwrap(), 0);
}
