//! Idempotent producer rules through the log, including across restarts.

use super::*;
use crate::log::AppendError;

fn pbatch(pid: i64, epoch: i16, seq: i32, n: usize) -> Vec<u8> {
    let recs = (0..n)
        .map(|i| RecSpec::kv(&format!("k{i}"), "v").at(NOW))
        .collect();
    BatchSpec::new(recs).idempotent(pid, epoch, seq).encode(0)
}

#[test]
fn duplicates_return_original_offsets_and_gaps_fail() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    let first = log.append(&mut pbatch(9, 0, 0, 3), &opts()).unwrap();
    log.append(&mut pbatch(9, 0, 3, 2), &opts()).unwrap();
    let dup = log.append(&mut pbatch(9, 0, 0, 3), &opts()).unwrap();
    assert!(dup.duplicate);
    assert_eq!(
        (dup.base_offset, dup.last_offset),
        (first.base_offset, first.last_offset)
    );
    assert_eq!(log.log_end_offset(), 5);
    assert!(matches!(
        log.append(&mut pbatch(9, 0, 7, 1), &opts()),
        Err(AppendError::OutOfOrderSequence(_))
    ));
    log.append(&mut pbatch(9, 1, 0, 1), &opts()).unwrap();
    assert!(matches!(
        log.append(&mut pbatch(9, 0, 5, 1), &opts()),
        Err(AppendError::InvalidProducerEpoch(_))
    ));
    assert_eq!(log.producer_ids(), vec![(9, 1, 0)]);
    // Internal (non-client) writes skip the sequence checks.
    let mut o = opts();
    o.origin_client = false;
    log.append(&mut pbatch(9, 1, 40, 1), &o).unwrap();
}

#[test]
fn producer_state_survives_clean_and_unclean_restart() {
    for clean in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
            for i in 0..20 {
                log.append(&mut pbatch(4, 2, i * 2, 2), &opts()).unwrap();
            }
            if clean {
                log.close().unwrap();
            }
        }
        let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        assert_eq!(log.producer_ids(), vec![(4, 2, 39)], "clean={clean}");
        // One of the last five batches is still recognised as a duplicate.
        let dup = log.append(&mut pbatch(4, 2, 34, 2), &opts()).unwrap();
        assert!(dup.duplicate && dup.base_offset == 34, "clean={clean}");
        assert!(log.append(&mut pbatch(4, 2, 41, 1), &opts()).is_err());
        let ok = log.append(&mut pbatch(4, 2, 40, 1), &opts()).unwrap();
        assert_eq!(ok.base_offset, 40);
    }
}

#[test]
fn retention_forgets_producers_whose_data_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    log.append(&mut pbatch(1, 0, 0, 1), &opts()).unwrap();
    append_n(&mut log, 30, 3);
    let end = log.log_end_offset();
    log.delete_records_before(end).unwrap();
    assert!(log.producer_ids().is_empty());
    // Unknown producer again: any sequence is accepted (Kafka's behaviour after retention).
    log.append(&mut pbatch(1, 0, 17, 1), &opts()).unwrap();
}

/// A roll's snapshot is not fsynced, so a crash can leave it empty or torn: recovery skips it
/// and rebuilds producer state by replaying the log.
#[test]
fn producer_state_survives_a_crash_that_tore_the_roll_snapshots() {
    for damage in ["empty", "torn"] {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
            for i in 0..60 {
                log.append(&mut pbatch(4, 2, i * 2, 2), &opts()).unwrap();
            }
            assert!(log.segment_count() > 2);
            // Dropped without close: what a killed process leaves.
        }
        let snaps = crate::producer_state::list_snapshots(dir.path()).unwrap();
        assert!(!snaps.is_empty());
        for (_, path) in &snaps {
            let len = std::fs::metadata(path).unwrap().len();
            let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            f.set_len(if damage == "empty" { 0 } else { len - 3 })
                .unwrap();
        }
        let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        assert_eq!(log.producer_ids(), vec![(4, 2, 119)], "{damage}");
        let dup = log.append(&mut pbatch(4, 2, 118, 2), &opts()).unwrap();
        assert!(dup.duplicate && dup.base_offset == 118, "{damage}");
        assert!(log.append(&mut pbatch(4, 2, 121, 1), &opts()).is_err());
        log.append(&mut pbatch(4, 2, 120, 1), &opts()).unwrap();
    }
}
