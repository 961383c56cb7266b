//! Transactions in the log: the last stable offset stops at an open transaction, abort markers
//! land in the aborted-transaction index, and reopening the log rebuilds that index.

use bytes::Bytes;

use super::*;
use crate::test_util::batch_bytes;
use crate::tests::small_segments;
use crate::AbortedTxn;

fn txn_batch(pid: i64, seq: i32, n: usize) -> Vec<u8> {
    let recs = (0..n)
        .map(|i| RecSpec::kv(&format!("k{i}"), "v").at(NOW))
        .collect();
    let mut spec = BatchSpec::new(recs).idempotent(pid, 0, seq);
    spec.transactional = true;
    spec.encode(0)
}

/// A control batch as the transaction coordinator writes it: key (version 0, type), value
/// (version 0, coordinator epoch 0).
pub(super) fn marker(pid: i64, commit: bool) -> Vec<u8> {
    let key = [0u8, 0, 0, commit as u8];
    let value = [0u8, 0, 0, 0, 0, 0];
    let mut spec = BatchSpec::new(vec![RecSpec {
        key: Some(Bytes::copy_from_slice(&key)),
        value: Some(Bytes::copy_from_slice(&value)),
        timestamp: NOW,
    }])
    .idempotent(pid, 0, -1);
    spec.transactional = true;
    spec.control = true;
    spec.encode(0)
}

pub(super) fn internal() -> AppendOptions {
    let mut o = opts();
    o.origin_client = false;
    o
}

#[test]
fn markers_are_recognised() {
    assert_eq!(crate::marker_is_abort(&marker(1, false)), Some(true));
    assert_eq!(crate::marker_is_abort(&marker(1, true)), Some(false));
    assert_eq!(crate::marker_is_abort(&[0u8; 10]), None);
}

fn abort(pid: i64, first_offset: i64, last_offset: i64, lso: i64) -> AbortedTxn {
    AbortedTxn {
        producer_id: pid,
        first_offset,
        last_offset,
        last_stable_offset: lso,
    }
}

#[test]
fn lso_and_aborted_index_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    log.append(&mut txn_batch(7, 0, 2), &opts()).unwrap(); // 0..1 pid 7
    log.append(&mut txn_batch(8, 0, 1), &opts()).unwrap(); // 2 pid 8
    assert_eq!(log.last_stable_offset(3), 0);
    let open: Vec<(i64, i64)> = log
        .producer_infos()
        .iter()
        .map(|p| (p.producer_id, p.txn_start_offset))
        .collect();
    assert_eq!(open, vec![(7, 0), (8, 2)]);
    log.append(&mut marker(7, false), &internal()).unwrap(); // 3: abort pid 7
    assert_eq!(log.last_stable_offset(4), 2, "pid 8 is still open");
    log.append(&mut marker(8, true), &internal()).unwrap(); // 4: commit pid 8
    assert_eq!(log.last_stable_offset(5), 5);
    log.append(&mut txn_batch(7, 2, 1), &opts()).unwrap(); // 5
    log.append(&mut marker(7, false), &internal()).unwrap(); // 6
                                                             // The first abort left pid 8 open at 2: that is its entry's last stable offset.
    let want = vec![abort(7, 0, 3, 2), abort(7, 5, 6, 7)];
    assert_eq!(log.aborted_transactions(0, 7), want);
    assert_eq!(log.aborted_transactions(4, 7), want[1..].to_vec());
    assert_eq!(log.aborted_transactions(0, 1), want[..1].to_vec());
    let txnindex = dir.path().join("00000000000000000000.txnindex");
    assert_eq!(std::fs::metadata(&txnindex).unwrap().len(), 2 * 34);
    log.close().unwrap();
    drop(log);
    let log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(log.aborted_transactions(0, 7), want);
    assert_eq!(log.last_stable_offset(7), 7);
    drop(log); // no close: the next open is a recovery, which rebuilds the index
    std::fs::write(&txnindex, b"garbage").unwrap();
    let log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(log.aborted_transactions(0, 7), want, "rebuilt from the log");
    assert_eq!(std::fs::metadata(&txnindex).unwrap().len(), 2 * 34);
}

/// Each abort lands in the `.txnindex` of the segment holding its marker; a fetch looks only
/// at the segments from the one holding its start offset.
#[test]
fn aborts_are_indexed_beside_their_markers_and_go_with_their_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    let mut seq = 0;
    let mut want = Vec::new();
    while log.segment_count() < 5 {
        let first = log.log_end_offset();
        log.append(&mut txn_batch(5, seq, 4), &opts()).unwrap();
        seq += 4;
        let at = log.log_end_offset();
        log.append(&mut marker(5, false), &internal()).unwrap();
        want.push(abort(5, first, at, at + 1));
    }
    let bases = log.segment_base_offsets();
    let mut from_files = Vec::new();
    for base in &bases {
        let path = dir.path().join(format!("{base:020}.txnindex"));
        let idx = crate::txn_index::TxnIndex::open(&path).unwrap();
        for t in idx.entries() {
            assert!(t.last_offset >= *base, "entry {t:?} in segment {base}");
        }
        from_files.extend_from_slice(idx.entries());
    }
    assert_eq!(from_files, want);
    assert_eq!(log.all_aborted_transactions(), want);
    // A fetch bounded by one segment's data gets only the aborts it overlaps.
    let end = log.log_end_offset();
    let slice = log.read(bases[2], 1, end).unwrap().unwrap();
    let upper = log.slice_end_offset(&slice);
    let got = log.aborted_transactions(bases[2], upper);
    assert!(!got.is_empty());
    assert!(got
        .iter()
        .all(|t| t.last_offset >= bases[2] && t.first_offset < upper));
    // Retention / DeleteRecords deleting segments deletes their indexes.
    log.delete_records_before(bases[2]).unwrap();
    for base in &bases[..2] {
        assert!(!dir.path().join(format!("{base:020}.txnindex")).exists());
    }
    assert!(log
        .all_aborted_transactions()
        .iter()
        .all(|t| t.last_offset >= bases[2]));
}

/// After a crash only the re-scanned tail's indexes are rebuilt; the flushed segments' index
/// files are trusted (a planted entry in one shows it was read, not rebuilt).
#[test]
fn crash_recovery_rebuilds_only_the_rescanned_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    let mut seq = 0;
    while log.segment_count() < 4 {
        log.append(&mut txn_batch(5, seq, 4), &opts()).unwrap();
        seq += 4;
        log.append(&mut marker(5, false), &internal()).unwrap();
    }
    let target = log.flush_target();
    target.sync().unwrap();
    log.mark_flushed(&target);
    // An unflushed abort in the active segment, then a crash (no close).
    log.append(&mut txn_batch(5, seq, 4), &opts()).unwrap();
    log.append(&mut marker(5, false), &internal()).unwrap();
    let before = log.all_aborted_transactions();
    let bases = log.segment_base_offsets();
    drop(log);
    let first = dir.path().join(format!("{:020}.txnindex", bases[0]));
    let mut bytes = std::fs::read(&first).unwrap();
    let planted = abort(99, 0, 0, 0);
    let mut e = Vec::new();
    e.extend_from_slice(&0i16.to_be_bytes());
    for v in [99i64, 0, 0, 0] {
        e.extend_from_slice(&v.to_be_bytes());
    }
    bytes.splice(0..0, e);
    std::fs::write(&first, bytes).unwrap();
    let active = dir
        .path()
        .join(format!("{:020}.txnindex", bases[bases.len() - 1]));
    std::fs::remove_file(&active).unwrap();
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    let after = log.all_aborted_transactions();
    assert_eq!(after[0], planted, "the flushed segment's index was trusted");
    assert_eq!(
        &after[1..],
        &before[..],
        "the active segment's index was rebuilt"
    );
}

/// A log written before per-segment indexes (a `sluice-aborted-txns` file) gets every
/// segment's index rebuilt once at open, and the old file goes.
#[test]
fn legacy_aborted_file_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    let mut seq = 0;
    while log.segment_count() < 3 {
        log.append(&mut txn_batch(5, seq, 4), &opts()).unwrap();
        seq += 4;
        log.append(&mut marker(5, false), &internal()).unwrap();
    }
    let want = log.all_aborted_transactions();
    log.close().unwrap();
    drop(log);
    std::fs::remove_file(dir.path().join("00000000000000000000.txnindex")).unwrap();
    let legacy = dir.path().join("sluice-aborted-txns");
    std::fs::write(&legacy, "0\n1\nend 0\n").unwrap();
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.all_aborted_transactions(), want);
    assert!(!legacy.exists());
}

#[test]
fn open_transaction_survives_crash_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    log.append(&mut batch_bytes(&[RecSpec::kv("a", "b")], 0), &opts())
        .unwrap();
    log.append(&mut txn_batch(3, 0, 1), &opts()).unwrap(); // 1
    drop(log); // no close: recovery scans
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(log.last_stable_offset(2), 1);
    log.append(&mut marker(3, false), &internal()).unwrap();
    assert_eq!(log.last_stable_offset(3), 3);
    assert_eq!(log.aborted_transactions(0, 3).len(), 1);
}
