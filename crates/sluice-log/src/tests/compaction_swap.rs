//! Compaction merges consecutive cleaned segments into as few as segment.bytes /
//! segment.index.bytes allow, and swaps each merged segment in crash-safely: stopped after any
//! file operation, reopening yields a log where each group is either wholly old or wholly new.

use super::compaction::{compact, compact_config, dump, put, Row};
use super::*;
use crate::cleaner::{group_parts, CleanedGroup, CleanedPart, GroupLimits};
use kafka_protocol::records::Compression;
use std::collections::HashMap;
use std::path::Path;

/// Write each of `keys` keys `rounds` times (one record per batch, ~100-byte batches).
fn fill(log: &mut PartitionLog, keys: usize, rounds: usize) -> HashMap<String, (i64, String)> {
    let mut latest = HashMap::new();
    for round in 0..rounds {
        latest.extend(fill_keys(log, 0..keys, round));
    }
    latest
}

/// Write each key of `keys` once, in `round`.
fn fill_keys(
    log: &mut PartitionLog,
    keys: impl Iterator<Item = usize>,
    round: usize,
) -> HashMap<String, (i64, String)> {
    let mut latest = HashMap::new();
    {
        for k in keys {
            let (key, value) = (format!("key-{k}"), format!("value-{round}-{k:-<24}"));
            let off = put(
                log,
                vec![RecSpec::kv(&key, &value).at(NOW)],
                Compression::None,
            );
            latest.insert(key, (off, value));
        }
    }
    latest
}

/// Sizes of the closed segments (the active one is never cleaned).
fn closed_sizes(log: &PartitionLog) -> Vec<u64> {
    let mut v: Vec<u64> = log.segments.values().map(|s| s.size()).collect();
    v.pop();
    v
}

/// Names in the partition directory that only exist while a swap is under way.
fn swap_leftovers(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| {
            n.ends_with(".swap")
                || n.ends_with(".deleted")
                || n.ends_with(".swap-end")
                || n.ends_with(".cleaned")
                || n == crate::cleaner::CLEANER_TMP
        })
        .collect();
    v.sort();
    v
}

fn log_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".log")
        })
        .count()
}

fn assert_latest_values(records: &[Row], latest: &HashMap<String, (i64, String)>) {
    for (k, (off, v)) in latest {
        assert!(
            records.contains(&(*off, k.clone(), Some(v.clone()))),
            "latest {k}={v} at {off} is missing"
        );
    }
    assert!(records.windows(2).all(|w| w[0].0 < w[1].0));
}

#[test]
fn many_small_segments_clean_into_few() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), compact_config()).unwrap();
    let latest = fill(&mut log, 5, 60);
    let before = log.segment_count();
    assert!(before > 20, "only {before} segments");
    let end = log.log_end_offset();
    // A fetch in flight during the swap keeps reading the replaced segment.
    let in_flight = log.read(0, 1 << 20, end).unwrap().unwrap();
    let in_flight_bytes = in_flight.read_bytes().unwrap();

    let done = log.compaction_plan(NOW).unwrap().execute().unwrap();
    let (replaced, groups) = done.segments_replaced();
    assert_eq!(replaced, before - 1);
    assert_eq!(groups, 1, "5 latest values fit one segment");
    let bytes_after = done.bytes_after;
    log.finish_compaction(done).unwrap();

    assert_eq!(log.segment_count(), 2, "{:?}", log.segment_base_offsets());
    assert_eq!(
        log.segment_base_offsets()[0],
        0,
        "named by the group's first base"
    );
    assert_eq!(closed_sizes(&log), vec![bytes_after]);
    assert_eq!(
        log_files(dir.path()),
        2,
        "replaced files are gone from the directory"
    );
    assert!(swap_leftovers(dir.path()).is_empty());
    assert_eq!(log.log_end_offset(), end);
    assert!(log.verify().unwrap().errors.is_empty());
    let (records, _) = dump(&log);
    assert_latest_values(&records, &latest);
    assert_eq!(in_flight.read_bytes().unwrap(), in_flight_bytes);

    // Later passes fold new dirty segments into the clean one instead of adding files.
    let mut latest = latest;
    for _ in 0..3 {
        latest.extend(fill(&mut log, 5, 30));
        assert!(compact(&mut log, NOW));
        assert_eq!(log.segment_count(), 2, "{:?}", log.segment_base_offsets());
    }
    let (records, _) = dump(&log);
    assert_latest_values(&records, &latest);
    drop(log);
    let log = PartitionLog::open(dir.path(), compact_config()).unwrap();
    assert_eq!(dump(&log).0, records);
}

#[test]
fn groups_stay_within_segment_bytes_and_index_bytes() {
    for index_bytes in [10_485_760u64, 64] {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = compact_config();
        cfg.segment_index_bytes = index_bytes;
        let mut log = PartitionLog::open(dir.path(), cfg.clone()).unwrap();
        let latest = fill(&mut log, 80, 3);
        let before = log.segment_count();
        assert!(compact(&mut log, NOW));
        let sizes = closed_sizes(&log);
        let total: u64 = sizes.iter().sum();
        assert!(
            sizes.iter().all(|&s| s <= cfg.segment_bytes),
            "a cleaned segment outgrew segment.bytes: {sizes:?}"
        );
        for seg in log.segments.values() {
            assert!(seg.index.len() <= cfg.max_offset_index_entries());
            assert!(seg.time_index.len() <= cfg.max_time_index_entries());
        }
        // Greedy grouping: two neighbours never both fit in one segment.
        if index_bytes > 1024 {
            assert!(
                sizes.len() as u64 <= 2 * total / cfg.segment_bytes + 1,
                "{sizes:?}"
            );
            assert!(sizes.windows(2).all(|w| w[0] + w[1] > cfg.segment_bytes));
        }
        assert!(sizes.len() < before - 1, "{before} -> {sizes:?}");
        assert!(log.verify().unwrap().errors.is_empty());
        assert_latest_values(&dump(&log).0, &latest);
    }
}

fn part(base: i64, last_offset: i64, bytes: u64, batches: u64) -> CleanedPart {
    CleanedPart {
        base,
        next_base: last_offset + 1,
        last_offset,
        original_size: bytes,
        spool: 0..bytes,
        batches,
    }
}

#[test]
fn grouping_limits() {
    let roomy = GroupLimits {
        max_bytes: 1000,
        max_index_entries: 1000,
        index_interval: 100,
    };
    // By bytes; empty parts join their neighbours; a too-big part stands alone.
    let parts = [
        part(0, 9, 600, 6),
        part(10, 19, 0, 0),
        part(20, 29, 400, 4),
        part(30, 39, 1, 1),
        part(40, 49, 5000, 50),
        part(50, 59, 0, 0),
    ];
    assert_eq!(group_parts(&parts, roomy), vec![0..3, 3..4, 4..5, 5..6]);
    // By index entries: 3 parts of 300 bytes may need 3 entries each (+1 for the seal).
    let small_index = GroupLimits {
        max_index_entries: 7,
        ..roomy
    };
    let parts = [
        part(0, 9, 300, 3),
        part(10, 19, 300, 3),
        part(20, 29, 300, 3),
    ];
    assert_eq!(group_parts(&parts, small_index), vec![0..2, 2..3]);
    // By offset range: relative offsets must fit in the index's 32 bits.
    let big = i32::MAX as i64;
    let parts = [
        part(0, 9, 1, 1),
        part(10, big, 1, 1),
        part(big + 1, big + 5, 1, 1),
    ];
    assert_eq!(group_parts(&parts, roomy), vec![0..2, 2..3]);
}

/// The log the crash test cleans: ~10 segments cleaning into several groups, the first ones
/// each losing every other record.
fn crash_fixture(dir: &Path) -> (PartitionLog, HashMap<String, (i64, String)>) {
    let mut log = PartitionLog::open(dir, compact_config()).unwrap();
    let mut latest = fill(&mut log, 48, 1);
    latest.extend(fill_keys(&mut log, (0..48).step_by(2), 1));
    (log, latest)
}

/// Records with offsets in `range`.
fn within(records: &[Row], range: std::ops::Range<i64>) -> Vec<Row> {
    records
        .iter()
        .filter(|r| range.contains(&r.0))
        .cloned()
        .collect()
}

#[test]
fn crash_at_any_point_of_a_multi_group_swap_recovers() {
    // Reference: the swap run to its end.
    let ref_dir = tempfile::tempdir().unwrap();
    let (mut log, latest) = crash_fixture(ref_dir.path());
    let original = dump(&log).0;
    let original_bases = log.segment_base_offsets();
    assert!(compact(&mut log, NOW));
    let cleaned = dump(&log).0;
    assert!(cleaned.len() < original.len());

    let (mut completed, mut rolled_back, mut mixed) = (0, 0, 0);
    for ops in 0.. {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = crash_fixture(dir.path());
        let done = log.compaction_plan(NOW).unwrap().execute().unwrap();
        let groups: Vec<CleanedGroup> = done.groups.clone();
        assert!(
            groups.len() >= 3 && groups.iter().any(|g| g.members.len() > 1),
            "{groups:?}"
        );
        if log.finish_compaction_crashing_after(done, ops).is_ok() {
            assert!(ops > 0);
            break;
        }
        drop(log); // the crash: no close, no clean-shutdown marker
        let log = PartitionLog::open(dir.path(), compact_config()).unwrap();
        let report = log.verify().unwrap();
        assert!(
            report.errors.is_empty(),
            "after {ops} ops: {:?}",
            report.errors
        );
        assert!(
            swap_leftovers(dir.path()).is_empty(),
            "after {ops} ops: {:?}",
            swap_leftovers(dir.path())
        );
        assert_eq!(log_files(dir.path()), log.segment_count());
        let records = dump(&log).0;
        assert_latest_values(&records, &latest);
        let bases = log.segment_base_offsets();
        let (mut new_groups, mut changed_groups) = (0, 0);
        for g in &groups {
            let changed = g.members.len() > 1
                || within(&original, g.base..g.end) != within(&cleaned, g.base..g.end);
            changed_groups += changed as usize;
            let got = within(&records, g.base..g.end);
            let here: Vec<i64> = bases
                .iter()
                .copied()
                .filter(|b| (g.base..g.end).contains(b))
                .collect();
            if got == within(&cleaned, g.base..g.end) && here == vec![g.base] {
                new_groups += changed as usize;
            } else {
                assert_eq!(got, within(&original, g.base..g.end), "after {ops} ops");
                let old: Vec<i64> = original_bases
                    .iter()
                    .copied()
                    .filter(|b| (g.base..g.end).contains(b))
                    .collect();
                assert_eq!(here, old, "after {ops} ops, group {g:?}");
            }
        }
        match new_groups {
            0 => rolled_back += 1,
            n if n == changed_groups => completed += 1,
            _ => mixed += 1,
        }
        // The recovered log keeps working: appends and another cleaning pass.
        let mut log = log;
        put(
            &mut log,
            vec![RecSpec::kv("key-0", "after").at(NOW)],
            Compression::None,
        );
        compact(&mut log, NOW);
        assert!(log.verify().unwrap().errors.is_empty());
        assert_eq!(dump(&log).0.last().unwrap().2.as_deref(), Some("after"));
    }
    assert!(
        rolled_back > 0 && completed > 0 && mixed > 0,
        "crash points covered: {rolled_back} rolled back, {completed} completed, {mixed} mixed"
    );
}

#[test]
fn swap_without_its_end_record_falls_back_to_the_swap_data() {
    // A swap left by another tool has no `.swap-end`: recovery trusts the swap's own offsets.
    let dir = tempfile::tempdir().unwrap();
    let (mut log, latest) = crash_fixture(dir.path());
    let done = log.compaction_plan(NOW).unwrap().execute().unwrap();
    let first = done.groups[0].clone();
    // Stop right after the first group's `.log.swap` rename (its 4th operation).
    assert!(log.finish_compaction_crashing_after(done, 4).is_err());
    drop(log);
    let end_file = dir.path().join(format!("{:020}.swap-end", first.base));
    assert!(end_file.exists());
    std::fs::remove_file(end_file).unwrap();
    let log = PartitionLog::open(dir.path(), compact_config()).unwrap();
    assert!(log.verify().unwrap().errors.is_empty());
    assert!(swap_leftovers(dir.path()).is_empty());
    assert_eq!(log.segment_base_offsets()[0], first.base);
    assert_latest_values(&dump(&log).0, &latest);
}
