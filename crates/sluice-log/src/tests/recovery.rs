//! Crash recovery: torn or corrupt tails are truncated to the last valid batch, indexes rebuilt.

use super::*;
use proptest::prelude::*;

#[test]
fn clean_restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        append_n(&mut log, 25, 3);
        log.close().unwrap();
        assert!(dir.path().join(crate::log::CLEAN_SHUTDOWN_MARKER).exists());
    }
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert!(!dir.path().join(crate::log::CLEAN_SHUTDOWN_MARKER).exists());
    assert_eq!(log.log_end_offset(), 75);
    assert!(log.verify().unwrap().errors.is_empty());
    append_n(&mut log, 1, 1);
    assert_eq!(log.log_end_offset(), 76);
}

#[test]
fn rebuilds_deleted_or_garbage_indexes() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        append_n(&mut log, 25, 3);
        log.close().unwrap();
    }
    let first_index = dir.path().join("00000000000000000000.index");
    let good = std::fs::read(&first_index).unwrap();
    assert!(!good.is_empty());
    std::fs::write(&first_index, [0xffu8; 16]).unwrap();
    std::fs::remove_file(dir.path().join("00000000000000000000.timeindex")).unwrap();
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert!(log.verify().unwrap().errors.is_empty());
    assert_eq!(std::fs::read(&first_index).unwrap(), good);
    assert_eq!(log.offset_for_timestamp(NOW).unwrap(), Some((0, NOW)));
}

/// Write batches, damage the segment at `frac` of its length (truncate, or flip a byte
/// covered by the CRC), reopen. Returns (expected log end, actual log end, verify errors).
fn damage_and_reopen(batches: usize, frac: f64, flip: bool) -> (i64, i64, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut ends = vec![0i64];
    let mut positions = vec![0u64];
    {
        let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
        for i in 0..batches {
            let mut b = batch(1 + i % 3, NOW);
            log.append(&mut b, &opts()).unwrap();
            ends.push(log.log_end_offset());
            positions.push(log.size_bytes());
        }
    }
    let path = log_files(dir.path()).pop().unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    let mut at = ((len as f64) * frac) as u64;
    let survivors;
    if flip {
        // baseOffset (0..8) and partitionLeaderEpoch (12..16) are outside the CRC by design.
        let i = positions.iter().rposition(|&p| p <= at).unwrap();
        let within = at - positions[i];
        if within < 8 || (12..16).contains(&within) {
            at = positions[i] + 16;
        }
        let mut data = std::fs::read(&path).unwrap();
        data[at as usize] ^= 0x5a;
        std::fs::write(&path, data).unwrap();
        survivors = i;
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(at)
            .unwrap();
        survivors = positions.iter().rposition(|&p| p <= at).unwrap();
    }
    let log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    let errs = log.verify().unwrap().errors;
    (ends[survivors], log.log_end_offset(), errs)
}

#[test]
fn torn_tail_is_truncated() {
    let (exp, end, errs) = damage_and_reopen(10, 0.73, false);
    assert_eq!(exp, end);
    assert!(end > 0 && end < 20);
    assert!(errs.is_empty(), "{errs:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn recovery_keeps_exactly_the_valid_prefix(batches in 1usize..15, frac in 0.0f64..1.0, flip in any::<bool>()) {
        let (exp, end, errs) = damage_and_reopen(batches, frac, flip);
        prop_assert!(errs.is_empty(), "{:?}", errs);
        prop_assert_eq!(exp, end);
    }
}
