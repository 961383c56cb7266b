//! Transactions in the log: the last stable offset stops at an open transaction, abort markers
//! land in the aborted-transaction index, and reopening the log rebuilds that index.

use bytes::Bytes;

use super::*;
use crate::test_util::batch_bytes;
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
fn marker(pid: i64, commit: bool) -> Vec<u8> {
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

fn internal() -> AppendOptions {
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
    let want = vec![
        AbortedTxn {
            producer_id: 7,
            first_offset: 0,
            last_offset: 3,
        },
        AbortedTxn {
            producer_id: 7,
            first_offset: 5,
            last_offset: 6,
        },
    ];
    assert_eq!(log.aborted_transactions(0, 7), want);
    assert_eq!(log.aborted_transactions(4, 7), want[1..].to_vec());
    assert_eq!(log.aborted_transactions(0, 1), want[..1].to_vec());
    log.close().unwrap();
    drop(log);
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(log.aborted_transactions(0, 7), want);
    assert_eq!(log.last_stable_offset(7), 7);

    // A clean close saves the index and the next open trusts it (a planted entry shows it
    // was read, not rebuilt); without the clean-shutdown marker it is rebuilt.
    log.close().unwrap();
    drop(log);
    let saved = dir.path().join(crate::txn_index::CHECKPOINT);
    let text = std::fs::read_to_string(&saved).unwrap();
    assert_eq!(text, "0\n3\nend 7\n7 0 3\n7 5 6\n");
    std::fs::write(&saved, "0\n4\nend 7\n7 0 3\n7 5 6\n99 6 6\n").unwrap();
    let log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(
        log.aborted_transactions(0, 7).len(),
        3,
        "the saved index is used"
    );
    drop(log); // no close: the next open is a recovery
    let log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(log.aborted_transactions(0, 7), want, "rebuilt from the log");
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
