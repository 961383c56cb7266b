//! ListOffsets as librdkafka uses it: watermarks (earliest/latest) and offsets_for_times.
//!
//! Why: consumers position themselves with these answers ("start at the end", "replay from
//! yesterday"), so an off-by-one here silently skips or repeats data. The timestamp lookups
//! deliberately target records inside compressed batches, where the broker must look past the
//! batch header, and the end of the log, where Kafka answers offset -1.

mod common;

use std::time::Duration;

use common::{now_ms, produce_all, stored_batches, unique_topic, Broker, Rec};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

/// One ListOffsets-by-timestamp round trip for several partitions: partition -> answer.
fn offsets_for_times(
    consumer: &BaseConsumer,
    topic: &str,
    queries: &[(i32, i64)],
) -> Vec<(i32, Offset)> {
    let mut tpl = TopicPartitionList::new();
    for (p, ts) in queries {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*ts))
            .expect("tpl");
    }
    let answer = consumer
        .offsets_for_times(tpl, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("offsets_for_times {queries:?}: {e}"));
    queries
        .iter()
        .map(|(p, ts)| {
            let elem = answer
                .find_partition(topic, *p)
                .expect("partition in answer");
            elem.error()
                .unwrap_or_else(|e| panic!("offsets_for_times partition {p} ts {ts}: {e}"));
            (*p, elem.offset())
        })
        .collect()
}

fn at(offset: i64) -> Offset {
    Offset::Offset(offset)
}

#[test]
fn watermarks_are_zero_for_an_empty_partition_and_track_the_log_end() {
    let broker = Broker::start();
    let topic = unique_topic("watermarks");
    broker.create_topic(&topic, 2, &[]);
    assert_eq!(broker.watermarks(&topic, 0), (0, 0), "empty partition");
    assert_eq!(broker.watermarks(&topic, 1), (0, 0), "empty partition");

    let recs: Vec<Rec> = (0..25).map(|i| Rec::value(1, format!("r{i}"))).collect();
    produce_all(&broker.producer(), &topic, &recs);

    assert_eq!(broker.watermarks(&topic, 0), (0, 0), "untouched partition");
    assert_eq!(broker.watermarks(&topic, 1), (0, 25), "after 25 records");
    produce_all(&broker.producer(), &topic, &recs[..3]);
    assert_eq!(broker.watermarks(&topic, 1), (0, 28), "after 3 more");
}

#[test]
fn offsets_for_times_finds_first_record_at_or_after_timestamp_inside_compressed_batches() {
    let broker = Broker::start();
    let topic = unique_topic("fortimes");
    broker.create_topic(&topic, 1, &[]);
    let producer = broker
        .producer_config()
        .set("compression.type", "gzip")
        .set("linger.ms", "50")
        .create()
        .expect("producer");
    let base = now_ms() - 600_000;
    // Two flushes of 20 records, 10 ms apart in timestamp: two (or more) gzip batches.
    let recs: Vec<Rec> = (0..40)
        .map(|i| Rec {
            timestamp: Some(base + 10 * i),
            ..Rec::value(0, format!("record {i} ").repeat(8))
        })
        .collect();
    produce_all(&producer, &topic, &recs[..20]);
    produce_all(&producer, &topic, &recs[20..]);
    let batches = stored_batches(&broker.partition_dir(&topic, 0));
    assert!(
        batches.iter().all(|b| b.compression == 1),
        "all batches gzip: {batches:?}"
    );
    for inside in [8, 25] {
        assert!(
            batches
                .iter()
                .any(|b| b.base_offset < inside && inside <= b.last_offset),
            "offset {inside} must sit inside a batch for this test to mean anything: {batches:?}"
        );
    }
    let consumer = broker.consumer();
    let cases = [
        (base - 60_000, at(0), "before the first record"),
        (base, at(0), "exactly the first record"),
        (
            base + 70,
            at(7),
            "exactly a record in the middle of a batch",
        ),
        (base + 71, at(8), "between two records inside a batch"),
        (
            base + 247,
            at(25),
            "between two records inside the second flush",
        ),
        (base + 390, at(39), "exactly the last record"),
        (
            base + 391,
            Offset::End,
            "after the last record: Kafka answers -1",
        ),
    ];
    for (ts, expected, what) in cases {
        assert_eq!(
            offsets_for_times(&consumer, &topic, &[(0, ts)]),
            vec![(0, expected)],
            "{what} (ts {ts})"
        );
    }
}

/// Kafka answers with the first record in log order whose timestamp is >= the target, even when
/// CreateTime timestamps inside a batch are not monotonic; one request answers every partition.
#[test]
fn offsets_for_times_with_unordered_timestamps_answers_first_record_in_log_order_per_partition() {
    let broker = Broker::start();
    let topic = unique_topic("unordered");
    broker.create_topic(&topic, 2, &[]);
    let producer = broker
        .producer_config()
        .set("compression.type", "zstd")
        .set("linger.ms", "50")
        .create()
        .expect("producer");
    let base = now_ms() - 600_000;
    let p0: Vec<Rec> = (0..5)
        .map(|i| Rec {
            timestamp: Some(base + 1000 * i),
            ..Rec::value(0, format!("p0-{i}"))
        })
        .collect();
    let p1: Vec<Rec> = [100, 300, 200, 400, 250]
        .iter()
        .map(|d| Rec {
            timestamp: Some(base + d),
            ..Rec::value(1, format!("p1-{d}"))
        })
        .collect();
    produce_all(&producer, &topic, &[p0, p1].concat());
    let consumer = broker.consumer();

    let cases = [
        (base + 150, at(1), at(1)),
        (base + 250, at(1), at(1)),
        (base + 301, at(1), at(3)),
        (base + 400, at(1), at(3)),
        (base + 401, at(1), Offset::End),
        (base + 4000, at(4), Offset::End),
        (base + 4001, Offset::End, Offset::End),
    ];
    for (ts, expect_p0, expect_p1) in cases {
        assert_eq!(
            offsets_for_times(&consumer, &topic, &[(0, ts), (1, ts)]),
            vec![(0, expect_p0), (1, expect_p1)],
            "timestamp base+{}",
            ts - base
        );
    }
}

#[test]
fn offsets_for_times_on_an_empty_partition_is_end() {
    let broker = Broker::start();
    let topic = unique_topic("emptytimes");
    broker.create_topic(&topic, 1, &[]);
    let consumer = broker.consumer();
    assert_eq!(
        offsets_for_times(&consumer, &topic, &[(0, 0)]),
        vec![(0, Offset::End)]
    );
    assert_eq!(
        offsets_for_times(&consumer, &topic, &[(0, now_ms())]),
        vec![(0, Offset::End)]
    );
}

/// The "replay from a point in time" flow: look an offset up by timestamp, then fetch from it.
/// The offset lies inside a compressed batch; the consumer must get exactly the records from
/// there on (the broker returns whole batches, librdkafka skips the earlier records).
#[test]
fn fetching_from_an_offset_found_by_timestamp_inside_a_compressed_batch_starts_exactly_there() {
    let broker = Broker::start();
    let topic = unique_topic("replay");
    broker.create_topic(&topic, 1, &[]);
    let producer = broker
        .producer_config()
        .set("compression.type", "zstd")
        .set("linger.ms", "50")
        .create()
        .expect("producer");
    let base = now_ms() - 600_000;
    let recs: Vec<Rec> = (0..50)
        .map(|i| Rec {
            timestamp: Some(base + i),
            ..Rec::value(0, format!("replay {i} ").repeat(6))
        })
        .collect();
    produce_all(&producer, &topic, &recs);
    let batches = stored_batches(&broker.partition_dir(&topic, 0));
    assert!(
        batches
            .iter()
            .any(|b| b.compression == 4 && b.base_offset < 17 && 17 <= b.last_offset),
        "offset 17 must sit inside a zstd batch: {batches:?}"
    );

    let found = offsets_for_times(&broker.consumer(), &topic, &[(0, base + 17)]);
    assert_eq!(found, vec![(0, at(17))]);
    let got = broker.read_range(&topic, 0, 17, 50);

    let offsets: Vec<i64> = got.iter().map(|c| c.offset).collect();
    assert_eq!(offsets, (17..50).collect::<Vec<_>>());
    for (g, s) in got.iter().zip(&recs[17..]) {
        assert!(g.matches(s), "offset {}: {g:?} vs {s:?}", g.offset);
    }
}
