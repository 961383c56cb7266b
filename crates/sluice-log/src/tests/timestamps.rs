//! ListOffsets by timestamp (record-level, also inside compressed batches) and max timestamp.

use super::*;
use kafka_protocol::records::Compression;

#[test]
fn offset_for_timestamp_is_record_level() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    // Batches of 4 records with timestamps NOW+10*offset, some compressed.
    for b in 0..30i64 {
        let recs = (0..4)
            .map(|i| RecSpec::kv(&format!("k{i}"), "v").at(NOW + 10 * (b * 4 + i)))
            .collect();
        let c = if b % 2 == 0 {
            Compression::Zstd
        } else {
            Compression::None
        };
        let mut bytes = BatchSpec::new(recs).compressed(c).encode(0);
        log.append(&mut bytes, &opts()).unwrap();
    }
    assert!(log.segment_count() > 2);
    for off in 0..120i64 {
        assert_eq!(
            log.offset_for_timestamp(NOW + 10 * off).unwrap(),
            Some((off, NOW + 10 * off))
        );
        assert_eq!(
            log.offset_for_timestamp(NOW + 10 * off - 5).unwrap(),
            Some((off, NOW + 10 * off))
        );
    }
    assert_eq!(log.offset_for_timestamp(NOW + 10_000).unwrap(), None);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, NOW)));
    assert_eq!(log.max_timestamp_offset().unwrap(), Some((119, NOW + 1190)));
    log.delete_records_before(50).unwrap();
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((50, NOW + 500)));
}

#[test]
fn max_timestamp_finds_record_inside_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(log.max_timestamp_offset().unwrap(), None);
    let recs = vec![
        RecSpec::kv("a", "1").at(NOW + 5),
        RecSpec::kv("b", "1").at(NOW + 99),
        RecSpec::kv("c", "1").at(NOW + 7),
    ];
    let mut b = BatchSpec::new(recs).compressed(Compression::Gzip).encode(0);
    log.append(&mut b, &opts()).unwrap();
    append_n(&mut log, 1, 2);
    assert_eq!(log.max_timestamp_offset().unwrap(), Some((1, NOW + 99)));
    // Out-of-order timestamps: first record with ts >= target wins.
    assert_eq!(
        log.offset_for_timestamp(NOW + 6).unwrap(),
        Some((1, NOW + 99))
    );
}
