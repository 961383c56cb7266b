//! Reads never answer with only empty batches (headers compaction keeps for producer state)
//! while records follow below the upper bound: such an answer holds nothing a consumer can
//! use and librdkafka reacts by growing its fetch size until it fails.

use super::*;
use crate::batch::{iter_batches, rewrite_crc, LOG_OVERHEAD, RECORD_BATCH_OVERHEAD};
use crate::log::CLEAN_SHUTDOWN_MARKER;
use crate::segment::segment_path;

/// The batch as the cleaner leaves it once all its records are gone: the header alone.
fn emptied(batch: &[u8]) -> Vec<u8> {
    let mut b = batch[..RECORD_BATCH_OVERHEAD].to_vec();
    let len = (RECORD_BATCH_OVERHEAD - LOG_OVERHEAD) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b[57..61].copy_from_slice(&0i32.to_be_bytes());
    rewrite_crc(&mut b);
    b
}

fn idempotent_put(log: &mut PartitionLog, seq: i32) {
    let mut b = BatchSpec::new(vec![RecSpec::kv("k", "v").at(NOW)])
        .idempotent(77, 0, seq)
        .encode(0);
    log.append(&mut b, &opts()).unwrap();
}

/// Replace the batches of segment `base` whose index is in `empty` by their bare headers, then
/// reopen the log as after a crash (indexes rebuilt by recovery).
fn empty_batches_of(dir: &std::path::Path, base: i64, empty: &[usize]) -> PartitionLog {
    let path = segment_path(dir, base, "log");
    let bytes = std::fs::read(&path).unwrap();
    let mut out = Vec::new();
    for (i, item) in iter_batches(&bytes).enumerate() {
        let (_, r) = item.unwrap();
        if empty.contains(&i) {
            out.extend_from_slice(&emptied(&bytes[r]));
        } else {
            out.extend_from_slice(&bytes[r]);
        }
    }
    std::fs::write(&path, out).unwrap();
    for suffix in ["index", "timeindex"] {
        std::fs::remove_file(segment_path(dir, base, suffix)).unwrap();
    }
    std::fs::remove_file(dir.join(CLEAN_SHUTDOWN_MARKER)).unwrap();
    PartitionLog::open(dir, small_segments()).unwrap()
}

fn batches_in(log: &PartitionLog, offset: i64, max_bytes: usize, upper: i64) -> Vec<(i64, i32)> {
    let slice = log.read(offset, max_bytes, upper).unwrap().expect("data");
    let bytes = slice.read_bytes().unwrap();
    iter_batches(&bytes)
        .map(|b| {
            let (h, _) = b.unwrap();
            (h.base_offset, h.records_count)
        })
        .collect()
}

#[test]
fn read_moves_past_a_segment_holding_only_empty_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    idempotent_put(&mut log, 0);
    log.roll(NOW).unwrap();
    append_n(&mut log, 1, 3); // offsets 1..=3 in segment 1
    log.close().unwrap();
    drop(log);
    let log = empty_batches_of(dir.path(), 0, &[0]);
    assert_eq!(log.segment_base_offsets(), vec![0, 1]);
    let end = log.log_end_offset();
    assert_eq!(end, 4);

    // Records follow below the bound: the answer is the next segment's batch.
    assert_eq!(batches_in(&log, 0, 1 << 20, end), vec![(1, 3)]);
    assert_eq!(
        batches_in(&log, 0, 1, end),
        vec![(1, 3)],
        "at least one batch"
    );
    // Nothing with records below the bound: the empty header is all there is to serve.
    assert_eq!(batches_in(&log, 0, 1 << 20, 1), vec![(0, 0)]);
    assert!(log.read(end, 1 << 20, end).unwrap().is_none());
}

#[test]
fn empty_batches_do_not_count_as_the_one_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    idempotent_put(&mut log, 0);
    idempotent_put(&mut log, 1);
    append_n(&mut log, 2, 3); // offsets 2..=4 and 5..=7
    log.close().unwrap();
    drop(log);
    let log = empty_batches_of(dir.path(), 0, &[0, 1]);
    let end = log.log_end_offset();
    assert_eq!(end, 8);
    // max_bytes smaller than any batch: the empty headers plus the first batch with records.
    assert_eq!(batches_in(&log, 0, 1, end), vec![(0, 0), (1, 0), (2, 3)]);
    // A bound inside the record batch keeps it out: only the headers remain below it.
    assert_eq!(batches_in(&log, 0, 1 << 20, 2), vec![(0, 0), (1, 0)]);
    // Enough room: everything below the bound, as before.
    assert_eq!(
        batches_in(&log, 1, 1 << 20, end),
        vec![(1, 0), (2, 3), (5, 3)]
    );
}

#[test]
fn read_skips_many_empty_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    for seq in 0..5 {
        idempotent_put(&mut log, seq);
        log.roll(NOW).unwrap();
    }
    append_n(&mut log, 1, 2); // offsets 5..=6
    log.close().unwrap();
    drop(log);
    for base in 0..4 {
        let mut log = empty_batches_of(dir.path(), base, &[0]);
        log.close().unwrap();
    }
    let log = empty_batches_of(dir.path(), 4, &[0]);
    assert_eq!(log.segment_count(), 6);
    let end = log.log_end_offset();
    for offset in 0..5 {
        assert_eq!(batches_in(&log, offset, 1 << 20, end), vec![(5, 2)]);
    }
}
