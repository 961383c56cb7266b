//! Append assigns offsets and patches headers; read returns whole batches via the indexes.

use super::*;
use crate::batch::{iter_batches, BatchHeader};
use crate::log::AppendError;
use crate::ReadError;

#[test]
fn append_assigns_offsets_and_patches_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    let mut o = opts();
    o.leader_epoch = 5;
    let mut b = batch(3, NOW);
    let out = log.append(&mut b, &o).unwrap();
    assert_eq!(
        (out.base_offset, out.last_offset, out.duplicate),
        (0, 2, false)
    );
    let mut two = batch(2, NOW);
    two.extend_from_slice(&batch(4, NOW));
    let out = log.append(&mut two, &o).unwrap();
    assert_eq!((out.base_offset, out.last_offset), (3, 8));
    assert_eq!(log.log_end_offset(), 9);
    let slice = log.read(0, 1 << 20, 9).unwrap().unwrap();
    let bytes = slice.read_bytes().unwrap();
    let hs: Vec<BatchHeader> = iter_batches(&bytes).map(|r| r.unwrap().0).collect();
    assert_eq!(
        hs.iter().map(|h| h.base_offset).collect::<Vec<_>>(),
        vec![0, 3, 5]
    );
    assert!(hs.iter().all(|h| h.partition_leader_epoch == 5));
    for item in iter_batches(&bytes) {
        let (h, r) = item.unwrap();
        h.verify_crc(&bytes[r]).unwrap();
    }
    assert_eq!(log.latest_epoch(), Some(5));
    assert_eq!(log.end_offset_for_epoch(5), (5, 9));
    assert!(log.verify().unwrap().errors.is_empty());
}

#[test]
fn rejects_bad_input_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    let good = batch(2, NOW);
    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 1;
    assert!(matches!(
        log.append(&mut bad_crc, &opts()),
        Err(AppendError::Corrupt(_))
    ));
    let mut v1 = good.clone();
    v1[16] = 1;
    assert!(matches!(
        log.append(&mut v1, &opts()),
        Err(AppendError::UnsupportedForMessageFormat(_))
    ));
    let mut truncated = good[..good.len() - 4].to_vec();
    assert!(matches!(
        log.append(&mut truncated, &opts()),
        Err(AppendError::Corrupt(_))
    ));
    let mut two = good.clone();
    two.extend_from_slice(&good[..30]);
    assert!(matches!(
        log.append(&mut two, &opts()),
        Err(AppendError::Corrupt(_))
    ));
    assert!(matches!(
        log.append(&mut [], &opts()),
        Err(AppendError::Corrupt(_))
    ));
    let mut future = batch(1, NOW + 2 * 3_600_000);
    assert!(matches!(
        log.append(&mut future, &opts()),
        Err(AppendError::InvalidTimestamp(_))
    ));
    // A record in the middle of a batch whose first and largest timestamps are fine.
    log.set_config(LogConfig {
        message_timestamp_before_max_ms: 3_600_000,
        ..LogConfig::default()
    });
    let mut middle = crate::test_util::BatchSpec::new(vec![
        crate::test_util::RecSpec::kv("a", "1").at(NOW),
        crate::test_util::RecSpec::kv("b", "2").at(NOW - 2 * 3_600_000),
        crate::test_util::RecSpec::kv("c", "3").at(NOW),
    ])
    .encode(0);
    assert!(matches!(
        log.append(&mut middle, &opts()),
        Err(AppendError::InvalidTimestamp(_))
    ));
    log.set_config(LogConfig::default());
    log.set_config(LogConfig {
        max_message_bytes: 50,
        ..LogConfig::default()
    });
    let mut big = good.clone();
    assert!(matches!(
        log.append(&mut big, &opts()),
        Err(AppendError::MessageTooLarge)
    ));
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.size_bytes(), 0);
}

#[test]
fn log_append_time_rewrites_header() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = LogConfig::default();
    cfg.set("message.timestamp.type", "LogAppendTime").unwrap();
    let mut log = PartitionLog::open(dir.path(), cfg).unwrap();
    let mut b = batch(2, 5);
    let out = log.append(&mut b, &opts()).unwrap();
    assert_eq!(out.log_append_time, NOW);
    let bytes = log
        .read(0, 1 << 20, 2)
        .unwrap()
        .unwrap()
        .read_bytes()
        .unwrap();
    let h = BatchHeader::parse(&bytes).unwrap();
    assert!(h.is_log_append_time());
    assert_eq!(h.max_timestamp, NOW);
    h.verify_crc(&bytes).unwrap();
}

#[test]
fn read_respects_bounds_and_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    append_n(&mut log, 40, 3);
    assert!(log.segment_count() > 3, "segments: {}", log.segment_count());
    let end = log.log_end_offset();
    assert_eq!(end, 120);
    assert!(matches!(
        log.read(end + 1, 100, end),
        Err(ReadError::OffsetOutOfRange { .. })
    ));
    assert!(log.read(end, 100, end).unwrap().is_none());
    assert!(log.read(10, 100, 10).unwrap().is_none());
    // Every offset is readable and the first batch returned contains it.
    for off in 0..end {
        let s = log.read(off, 1, end).unwrap().unwrap();
        let bytes = s.read_bytes().unwrap();
        let (h, _) = iter_batches(&bytes).next().unwrap().unwrap();
        assert!(
            h.base_offset <= off && off <= h.last_offset(),
            "offset {off}"
        );
        assert_eq!(
            bytes.len(),
            h.total_size(),
            "at least one whole batch, at most max_bytes"
        );
    }
    // Upper bound excludes batches at or above it.
    let s = log.read(0, 1 << 20, 7).unwrap().unwrap();
    let bytes = s.read_bytes().unwrap();
    let last = iter_batches(&bytes).last().unwrap().unwrap().0;
    assert!(last.base_offset < 7 && last.last_offset() >= 6);
    assert!(log.verify().unwrap().errors.is_empty());
    // Index files hold 8-byte entries, time index 12-byte entries.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        let len = std::fs::metadata(&p).unwrap().len();
        match p.extension().and_then(|e| e.to_str()) {
            Some("index") => assert_eq!(len % 8, 0),
            Some("timeindex") => assert_eq!(len % 12, 0),
            _ => {}
        }
    }
}

#[test]
fn rolls_by_time_and_keeps_segment_names() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), cfg).unwrap();
    let mut b = batch(1, NOW);
    log.append(&mut b, &opts()).unwrap();
    let mut b = batch(1, NOW + 500);
    log.append(&mut b, &opts()).unwrap();
    assert_eq!(log.segment_count(), 1);
    let mut b = batch(1, NOW + 1500);
    log.append(&mut b, &opts()).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    assert!(dir.path().join("00000000000000000002.log").exists());
    assert!(dir.path().join("00000000000000000002.index").exists());
    assert!(dir.path().join("00000000000000000002.timeindex").exists());
}

#[test]
fn flush_target_then_mark_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    append_n(&mut log, 3, 2);
    assert_eq!(log.unflushed_messages(), 6);
    let t = log.flush_target();
    assert!(!t.is_empty());
    assert_eq!(t.up_to_offset(), 6);
    append_n(&mut log, 1, 1);
    t.sync().unwrap();
    log.mark_flushed(&t);
    assert_eq!(log.unflushed_messages(), 1);
    let t2 = log.flush_target();
    t2.sync().unwrap();
    log.mark_flushed(&t2);
    assert_eq!(log.unflushed_messages(), 0);
    assert!(log.flush_target().is_empty());
}

/// The newest batch headers are served from memory (Segment's recent-batch ring); every read
/// must locate the same bytes as one that reads all headers back from the file after a reopen.
#[test]
fn tail_reads_from_memory_match_reads_from_disk() {
    // One segment, and segments that roll every few batches (a sealed one drops its headers).
    for config in [LogConfig::default(), small_segments()] {
        tail_reads_match(config);
    }
}

fn tail_reads_match(config: LogConfig) {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), config.clone()).unwrap();
    let mut o = opts();
    o.leader_epoch = 3;
    // More batches than the ring holds, of varying sizes, so reads start both inside and
    // before it.
    for i in 0..200 {
        let mut b = batch(1 + i % 5, NOW + i as i64);
        log.append(&mut b, &o).unwrap();
    }
    let end = log.log_end_offset();
    let located = |log: &PartitionLog| {
        let mut out = Vec::new();
        for offset in 0..end {
            for max_bytes in [1, 300, 1000, 1 << 20] {
                for upper in [end, offset + 3] {
                    let slice = log.read(offset, max_bytes, upper).unwrap();
                    out.push(slice.map(|s| (s.position, s.len)));
                }
            }
        }
        out
    };
    let live = located(&log);
    assert!(live.iter().all(Option::is_some));
    log.close().unwrap();
    drop(log);
    let reopened = PartitionLog::open(dir.path(), config).unwrap();
    assert_eq!(live, located(&reopened));
    // And the bytes served from a tail slice are whole batches with the assigned offsets.
    let slice = reopened.read(end - 2, 1 << 20, end).unwrap().unwrap();
    let bytes = slice.read_bytes().unwrap();
    let last = iter_batches(&bytes).map(|r| r.unwrap().0).last().unwrap();
    assert_eq!(
        (last.last_offset(), last.partition_leader_epoch),
        (end - 1, 3)
    );
}

/// A batch larger than the chunk the CRC and the record walk share: a record that lies about its
/// offset is still found in a later chunk (INVALID_RECORD once the CRC is right), and a bad CRC
/// still wins over it (CORRUPT_MESSAGE).
#[test]
fn record_checks_cover_every_chunk_of_a_large_batch() {
    let value = "v".repeat(1000);
    let recs: Vec<RecSpec> = (0..100)
        .map(|i| RecSpec::kv(&format!("k{i:02}"), &value).at(NOW))
        .collect();
    let good = BatchSpec::new(recs).encode(0);
    assert!(good.len() > 3 * 32 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    let out = log.append(&mut good.clone(), &opts()).unwrap();
    assert_eq!((out.base_offset, out.last_offset), (0, 99));

    // Record 90 (in the third chunk) claims offset delta 91.
    let data = &good[crate::batch::RECORD_BATCH_OVERHEAD..];
    let start = crate::records::iter_records(data).nth(90).unwrap().unwrap();
    let at = crate::batch::RECORD_BATCH_OVERHEAD
        + (start.bytes.as_ptr() as usize - data.as_ptr() as usize);
    // Length varint (2 bytes for ~1 KiB), attributes, timestamp delta 0, then the offset delta.
    let delta_pos = at + 2 + 1 + 1;
    assert_eq!(good[delta_pos], 90 << 1);
    let mut lying = good.clone();
    lying[delta_pos] = 91 << 1;
    let mut wrong_crc = lying.clone();
    let crc = crate::batch::crc_of(&lying);
    lying[crate::batch::CRC_POS..crate::batch::CRC_POS + 4].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(
        log.append(&mut lying, &opts()),
        Err(AppendError::InvalidRecord(why)) if why.contains("offset delta 91")
    ));
    assert!(matches!(
        log.append(&mut wrong_crc, &opts()),
        Err(AppendError::Corrupt(_))
    ));
    assert_eq!(log.log_end_offset(), 100);
}
