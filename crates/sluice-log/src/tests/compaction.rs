//! Compaction: latest value per key at its original offset, tombstone expiry, codec-preserving
//! re-encoding, producer headers kept. Grouping and the swap are in `compaction_swap.rs`.

use super::*;
use crate::batch::{iter_batches, BatchHeader};
use kafka_protocol::records::{Compression, RecordBatchDecoder};
use std::collections::HashMap;

pub(super) fn compact_config() -> LogConfig {
    let mut c = small_segments();
    c.set("cleanup.policy", "compact").unwrap();
    c
}

/// (offset, key, value) of one record.
pub(super) type Row = (i64, String, Option<String>);

/// Every record from the log start, plus each batch header.
pub(super) fn dump(log: &PartitionLog) -> (Vec<Row>, Vec<BatchHeader>) {
    let mut out = Vec::new();
    let mut headers = Vec::new();
    let mut off = log.log_start_offset();
    let end = log.log_end_offset();
    while off < end {
        let Some(slice) = log.read(off, 1 << 20, end).unwrap() else {
            break;
        };
        let bytes = slice.read_bytes().unwrap();
        let mut last = off;
        for item in iter_batches(&bytes) {
            let (h, r) = item.unwrap();
            h.verify_crc(&bytes[r.clone()]).unwrap();
            headers.push(h);
            last = h.next_offset();
            if h.records_count == 0 {
                continue;
            }
            let mut buf = bytes.slice(r);
            let set = RecordBatchDecoder::decode(&mut buf).unwrap();
            for rec in set.records {
                if rec.offset < off {
                    continue;
                }
                out.push((
                    rec.offset,
                    String::from_utf8(rec.key.unwrap().to_vec()).unwrap(),
                    rec.value.map(|v| String::from_utf8(v.to_vec()).unwrap()),
                ));
            }
        }
        off = last;
    }
    (out, headers)
}

pub(super) fn put(log: &mut PartitionLog, recs: Vec<RecSpec>, c: Compression) -> i64 {
    let mut b = BatchSpec::new(recs).compressed(c).encode(0);
    log.append(&mut b, &opts()).unwrap().base_offset
}

pub(super) fn compact(log: &mut PartitionLog, now: i64) -> bool {
    match log.compaction_plan(now) {
        Some(plan) => {
            let done = plan.execute().unwrap();
            log.finish_compaction(done).unwrap();
            true
        }
        None => false,
    }
}

#[test]
fn keeps_latest_value_per_key_at_original_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), compact_config()).unwrap();
    let mut expected: HashMap<String, (i64, String)> = HashMap::new();
    for round in 0..30 {
        let codec = [Compression::None, Compression::Gzip, Compression::Lz4][round % 3];
        let recs: Vec<RecSpec> = (0..3)
            .map(|i| {
                let k = format!("key{}", (round * 3 + i) % 7);
                RecSpec::kv(&k, &format!("v{round}-{i}")).at(NOW)
            })
            .collect();
        let base = put(&mut log, recs.clone(), codec);
        for (i, r) in recs.iter().enumerate() {
            let k = String::from_utf8(r.key.clone().unwrap().to_vec()).unwrap();
            let v = String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap();
            expected.insert(k, (base + i as i64, v));
        }
    }
    let end = log.log_end_offset();
    let active_base = *log.segment_base_offsets().last().unwrap();
    let before = log.size_bytes();
    assert!(compact(&mut log, NOW));
    assert!(
        log.size_bytes() < before,
        "{} !< {before}",
        log.size_bytes()
    );
    assert_eq!(log.log_end_offset(), end);
    assert!(log.verify().unwrap().errors.is_empty());
    let (records, headers) = dump(&log);
    // Cleaned part: each key at most once; every key's latest value present at its offset.
    let mut seen: HashMap<String, Vec<i64>> = HashMap::new();
    for (o, k, _) in &records {
        seen.entry(k.clone()).or_default().push(*o);
    }
    for (k, (off, v)) in &expected {
        assert!(
            records.contains(&(*off, k.clone(), Some(v.clone()))),
            "latest {k}={v} at {off}"
        );
        let cleaned: Vec<_> = seen[k].iter().filter(|&&o| o < active_base).collect();
        assert!(
            cleaned.len() <= 1,
            "{k} kept twice in cleaned segments: {cleaned:?}"
        );
    }
    // Offsets strictly increase and compressed batches kept their codec.
    assert!(records.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(headers.iter().any(|h| h.compression() == 1));
    assert!(headers.iter().any(|h| h.compression() == 3));
    // Nothing new to clean right away.
    assert!(log.compaction_plan(NOW).is_none());
    // Survives a restart.
    drop(log);
    let log = PartitionLog::open(dir.path(), compact_config()).unwrap();
    assert_eq!(dump(&log).0, records);
}

#[test]
fn tombstones_dropped_only_after_delete_retention() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = compact_config();
    cfg.delete_retention_ms = 10_000;
    cfg.min_cleanable_dirty_ratio = 0.01;
    let mut log = PartitionLog::open(dir.path(), cfg).unwrap();
    put(
        &mut log,
        vec![RecSpec::kv("gone", "x").at(NOW)],
        Compression::None,
    );
    put(
        &mut log,
        vec![RecSpec::tombstone("gone").at(NOW)],
        Compression::None,
    );
    for i in 0..30 {
        put(
            &mut log,
            vec![RecSpec::kv(&format!("other{i}"), "y").at(NOW)],
            Compression::None,
        );
    }
    assert!(compact(&mut log, NOW + 5_000));
    let (recs, _) = dump(&log);
    assert!(
        recs.contains(&(1, "gone".into(), None)),
        "tombstone kept within delete.retention.ms"
    );
    assert!(!recs.iter().any(|r| r.0 == 0));
    for i in 0..30 {
        put(
            &mut log,
            vec![RecSpec::kv(&format!("other{i}"), "z").at(NOW)],
            Compression::None,
        );
    }
    assert!(compact(&mut log, NOW + 20_000));
    let (recs, _) = dump(&log);
    assert!(
        !recs.iter().any(|r| r.1 == "gone"),
        "tombstone removed after delete.retention.ms"
    );
}

#[test]
fn honours_dirty_ratio_and_min_lag() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = compact_config();
    cfg.min_compaction_lag_ms = 60_000;
    let mut log = PartitionLog::open(dir.path(), cfg.clone()).unwrap();
    for i in 0..40 {
        put(
            &mut log,
            vec![RecSpec::kv("same", &format!("{i}")).at(NOW)],
            Compression::None,
        );
    }
    assert!(
        log.compaction_plan(NOW + 1_000).is_none(),
        "younger than min.compaction.lag.ms"
    );
    assert!(log.compaction_plan(NOW + 120_000).is_some());
    cfg.min_compaction_lag_ms = 0;
    cfg.min_cleanable_dirty_ratio = 1.0;
    log.set_config(cfg.clone());
    // Nothing cleaned yet: dirty ratio is exactly 1.0.
    assert!(compact(&mut log, NOW));
    for i in 0..40 {
        put(
            &mut log,
            vec![RecSpec::kv("same", &format!("{i}")).at(NOW)],
            Compression::None,
        );
    }
    assert!(
        log.compaction_plan(NOW).is_none(),
        "ratio < 1.0 once part of the log is clean"
    );
    cfg.min_cleanable_dirty_ratio = 0.5;
    log.set_config(cfg.clone());
    assert!(log.compaction_plan(NOW).is_some());
    cfg.cleanup_policy_compact = false;
    log.set_config(cfg);
    assert!(log.compaction_plan(NOW).is_none());
}

#[test]
fn keeps_empty_header_for_producer_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), compact_config()).unwrap();
    let mut b = BatchSpec::new(vec![RecSpec::kv("k", "old").at(NOW)])
        .idempotent(77, 3, 0)
        .encode(0);
    log.append(&mut b, &opts()).unwrap();
    for i in 0..40 {
        put(
            &mut log,
            vec![RecSpec::kv("k", &format!("new{i}")).at(NOW)],
            Compression::None,
        );
    }
    assert!(compact(&mut log, NOW));
    let (_, headers) = dump(&log);
    let h = headers
        .iter()
        .find(|h| h.producer_id == 77)
        .expect("producer batch header kept");
    assert_eq!(
        (h.records_count, h.base_offset, h.last_sequence()),
        (0, 0, 0)
    );
    // Even without snapshots, producer state is rebuilt from the kept header.
    log.close().unwrap();
    drop(log);
    for (_, p) in crate::producer_state::list_snapshots(dir.path()).unwrap() {
        std::fs::remove_file(p).unwrap();
    }
    std::fs::remove_file(dir.path().join(crate::log::CLEAN_SHUTDOWN_MARKER)).unwrap();
    let log = PartitionLog::open(dir.path(), compact_config()).unwrap();
    assert_eq!(log.producer_ids(), vec![(77, 3, 0)]);
}

#[test]
fn compacted_topic_rejects_keyless_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), compact_config()).unwrap();
    let keyless = RecSpec {
        key: None,
        value: Some(bytes::Bytes::from_static(b"v")),
        timestamp: NOW,
    };
    let mut b = BatchSpec::new(vec![RecSpec::kv("k", "v").at(NOW), keyless])
        .compressed(Compression::Snappy)
        .encode(0);
    assert!(matches!(
        log.append(&mut b, &opts()),
        Err(crate::log::AppendError::InvalidRecord(_))
    ));
    assert_eq!(log.log_end_offset(), 0);
    put(
        &mut log,
        vec![RecSpec::kv("k", "v").at(NOW)],
        Compression::Snappy,
    );
    assert_eq!(log.log_end_offset(), 1);
}
