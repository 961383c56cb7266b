//! Compaction of transactional data: aborted records never survive (nor win a key), markers
//! stay while their transaction has data and go one delete.retention.ms after it is gone, and
//! the cleaned segments keep the `.txnindex` entries of the aborts whose markers they keep.

use super::compaction::{compact, dump};
use super::transactions::{internal, marker};
use super::*;
use crate::cleaner_txn::DELETE_HORIZON_FLAG;

/// A transactional batch of `(key, value)` records from producer `pid`.
fn txn(pid: i64, seq: i32, recs: &[(&str, &str)]) -> Vec<u8> {
    let recs = recs
        .iter()
        .map(|(k, v)| RecSpec::kv(k, v).at(NOW))
        .collect();
    let mut spec = BatchSpec::new(recs).idempotent(pid, 0, seq);
    spec.transactional = true;
    spec.encode(0)
}

fn config() -> LogConfig {
    let mut c = super::compaction::compact_config();
    c.set("min.cleanable.dirty.ratio", "0.01").unwrap();
    c.set("delete.retention.ms", "1000").unwrap();
    c
}

/// Plain writes of other keys until the log has rolled past everything written so far.
fn filler(log: &mut PartitionLog, tag: &str) {
    let target = log.segment_count() + 2;
    let mut i = 0;
    while log.segment_count() < target {
        let mut b =
            BatchSpec::new(vec![RecSpec::kv(&format!("f-{tag}-{i}"), "x").at(NOW)]).encode(0);
        log.append(&mut b, &opts()).unwrap();
        i += 1;
    }
}

fn values_of(log: &PartitionLog, key: &str) -> Vec<Option<String>> {
    dump(log)
        .0
        .into_iter()
        .filter(|(_, k, _)| k == key)
        .map(|(_, _, v)| v)
        .collect()
}

#[test]
fn aborted_values_never_survive_or_win_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), config()).unwrap();
    log.append(&mut txn(1, 0, &[("k", "committed")]), &opts())
        .unwrap();
    log.append(&mut marker(1, true), &internal()).unwrap();
    let first = log
        .append(
            &mut txn(2, 0, &[("k", "aborted"), ("only-aborted", "x")]),
            &opts(),
        )
        .unwrap();
    let abort_at = log
        .append(&mut marker(2, false), &internal())
        .unwrap()
        .base_offset;
    filler(&mut log, "a");
    assert!(compact(&mut log, NOW));
    assert_eq!(values_of(&log, "k"), vec![Some("committed".to_string())]);
    assert!(values_of(&log, "only-aborted").is_empty());
    // Producer 2's emptied batch stays (its last sequence), so its abort marker and index
    // entry stay too: a read_committed consumer still learns the range is aborted.
    let entry = log.all_aborted_transactions();
    assert_eq!(entry.len(), 1);
    assert_eq!(
        (
            entry[0].producer_id,
            entry[0].first_offset,
            entry[0].last_offset
        ),
        (2, first.base_offset, abort_at)
    );
    let (_, headers) = dump(&log);
    assert!(headers
        .iter()
        .any(|h| h.is_control() && h.base_offset == abort_at));
    log.close().unwrap();
    drop(log);
    let log = PartitionLog::open(dir.path(), config()).unwrap();
    assert_eq!(
        log.all_aborted_transactions(),
        entry,
        "the cleaned .txnindex is on disk"
    );
    assert_eq!(values_of(&log, "k"), vec![Some("committed".to_string())]);
}

#[test]
fn markers_go_one_delete_retention_after_their_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), config()).unwrap();
    log.append(&mut txn(1, 0, &[("k", "old")]), &opts())
        .unwrap(); // 0
    let commit_at = log
        .append(&mut marker(1, true), &internal())
        .unwrap()
        .base_offset; // 1
    log.append(&mut txn(1, 1, &[("j", "kept")]), &opts())
        .unwrap(); // 2: pid 1's last batch
    let second_commit = log
        .append(&mut marker(1, true), &internal())
        .unwrap()
        .base_offset;
    let mut b = BatchSpec::new(vec![RecSpec::kv("k", "new").at(NOW)]).encode(0);
    log.append(&mut b, &opts()).unwrap(); // supersedes k=old
    filler(&mut log, "1");
    let marker_at = |log: &PartitionLog| {
        dump(log)
            .1
            .into_iter()
            .find(|h| h.is_control() && h.base_offset == commit_at)
    };
    // Pass 1 still traverses k=old (and removes it): the marker stays as it is.
    assert!(compact(&mut log, NOW));
    assert_eq!(values_of(&log, "k"), vec![Some("new".to_string())]);
    let m = marker_at(&log).expect("kept in the pass that removed its data");
    assert_eq!(m.attributes & DELETE_HORIZON_FLAG, 0);
    // Pass 2 finds no data of it: stamped with now + delete.retention.ms.
    filler(&mut log, "2");
    assert!(compact(&mut log, NOW + 10));
    let m = marker_at(&log).expect("kept until its delete horizon");
    assert_ne!(m.attributes & DELETE_HORIZON_FLAG, 0);
    assert_eq!(m.base_timestamp, NOW + 10 + 1000);
    // Before the horizon it stays; after it, it goes. The other commit (data present) stays.
    filler(&mut log, "3");
    assert!(compact(&mut log, NOW + 500));
    assert!(marker_at(&log).is_some());
    filler(&mut log, "4");
    assert!(compact(&mut log, NOW + 2000));
    assert!(marker_at(&log).is_none(), "removed after the horizon");
    assert!(dump(&log)
        .1
        .iter()
        .any(|h| h.is_control() && h.base_offset == second_commit));
    assert_eq!(values_of(&log, "j"), vec![Some("kept".to_string())]);
}
