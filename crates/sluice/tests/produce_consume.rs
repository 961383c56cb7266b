//! The everyday client path through librdkafka: create topics with AdminClient, produce in every
//! compression codec, consume by manual assignment, and get back exactly what was sent.
//!
//! Why: this is what every Kafka application does first. Each test proves one user-visible
//! promise (byte-for-byte round trips, per-partition order, contiguous offsets, size limits,
//! broker-assigned timestamps, topic lifecycle errors) against a real `sluice serve` process.

mod common;

use std::time::Duration;

use common::{
    delivery, now_ms, produce_all, send, stored_batches, unique_topic, wait_until, Broker, Rec,
};
use rdkafka::admin::{NewPartitions, NewTopic, TopicReplication};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::Timestamp;

const PARTITIONS: i32 = 6;
const PER_PARTITION: usize = 30;

/// Records covering the shapes a client can send: null/empty/binary keys and values, repeated
/// and null-valued headers, non-ASCII header keys, explicit (not monotonic) timestamps.
fn varied_records(base_ts: i64) -> Vec<Rec> {
    (0..PARTITIONS as usize * PER_PARTITION)
        .map(|i| {
            let key = match i % 10 {
                3 => None,
                4 => Some(Vec::new()),
                5 => Some(common::noise(i as u64, 16)),
                _ => Some(format!("key-{i}").into_bytes()),
            };
            let payload = match i % 17 {
                5 => None,
                6 => Some(Vec::new()),
                7 => Some((0..=255u8).collect()),
                // Repetitive text so every codec really compresses (librdkafka sends a batch
                // uncompressed when compression would not shrink it).
                _ => Some(format!("value {i} ").repeat(1 + i % 40).into_bytes()),
            };
            let headers = match i % 3 {
                0 => Vec::new(),
                1 => vec![
                    ("trace".to_string(), Some(format!("t-{i}").into_bytes())),
                    (
                        "trace".to_string(),
                        Some(b"second value, same key".to_vec()),
                    ),
                    ("null-valued".to_string(), None),
                ],
                _ => vec![(
                    "ünïcode-kéy".to_string(),
                    Some(common::noise(i as u64 + 7, 33)),
                )],
            };
            // Out of order every 4th record: Kafka stores CreateTime as given.
            let timestamp = if i % 4 == 0 {
                base_ts - 5_000 + i as i64
            } else {
                base_ts + 7 * i as i64
            };
            Rec {
                partition: (i % PARTITIONS as usize) as i32,
                key,
                payload,
                headers,
                timestamp: Some(timestamp),
            }
        })
        .collect()
}

/// Kafka's codec id in the batch attributes.
fn codec_id(codec: &str) -> u8 {
    match codec {
        "none" => 0,
        "gzip" => 1,
        "snappy" => 2,
        "lz4" => 3,
        "zstd" => 4,
        other => panic!("unknown codec {other}"),
    }
}

fn round_trip_in_codec(codec: &str) {
    let broker = Broker::start();
    let topic = unique_topic(&format!("codec-{codec}"));
    broker.create_topic(&topic, PARTITIONS, &[]);
    let producer = broker
        .producer_config()
        .set("compression.type", codec)
        .set("linger.ms", "20")
        .create()
        .expect("producer");
    let recs = varied_records(now_ms() - 3_600_000);

    let deliveries = produce_all(&producer, &topic, &recs);

    // Offsets are contiguous from 0 in send order within each partition.
    let mut next = [0i64; PARTITIONS as usize];
    for (i, (rec, d)) in recs.iter().zip(&deliveries).enumerate() {
        assert_eq!(d.partition, rec.partition, "record #{i} partition");
        assert_eq!(d.offset, next[rec.partition as usize], "record #{i} offset");
        next[rec.partition as usize] += 1;
    }
    let read = broker.read_all(&topic);
    for p in 0..PARTITIONS {
        assert_eq!(
            broker.watermarks(&topic, p),
            (0, PER_PARTITION as i64),
            "watermarks of partition {p}"
        );
        let sent: Vec<&Rec> = recs.iter().filter(|r| r.partition == p).collect();
        let got = &read[&p];
        assert_eq!(got.len(), sent.len(), "record count of partition {p}");
        for (n, (g, s)) in got.iter().zip(&sent).enumerate() {
            assert_eq!(g.offset, n as i64, "offset of partition {p} record {n}");
            assert!(
                g.matches(s),
                "partition {p} offset {n}:\n got  {g:?}\n sent {s:?}"
            );
        }
        // The broker stored what the client compressed, in contiguous v2 batches.
        let batches = stored_batches(&broker.partition_dir(&topic, p));
        assert!(!batches.is_empty(), "no batches on disk for partition {p}");
        let mut expected_base = 0;
        // librdkafka also sends a batch uncompressed when the codec would not shrink it, which
        // happens to a batch that timing left with a single record; every other batch, and at
        // least one per partition, must be stored as the client compressed it.
        assert!(
            batches.iter().any(|b| b.compression == codec_id(codec)),
            "no {codec} batch among {batches:?} (librdkafka silently sends uncompressed when the \
             broker's ApiVersions lack what a codec needs: lz4 needs FindCoordinator, zstd Produce \
             v7+Fetch v10)"
        );
        for b in &batches {
            assert_eq!(b.magic, 2, "stored batch {b:?}");
            assert!(
                b.compression == codec_id(codec) || (b.compression == 0 && b.records == 1),
                "stored batch {b:?} is neither {codec} nor a single uncompressed record"
            );
            assert_eq!(
                b.base_offset, expected_base,
                "batches of partition {p} are contiguous: {batches:?}"
            );
            expected_base = b.last_offset + 1;
        }
        assert_eq!(
            expected_base, PER_PARTITION as i64,
            "batches of partition {p} end at the log end"
        );
    }
}

#[test]
fn uncompressed_records_round_trip_across_six_partitions_byte_for_byte() {
    round_trip_in_codec("none");
}

#[test]
fn gzip_records_round_trip_across_six_partitions_byte_for_byte() {
    round_trip_in_codec("gzip");
}

#[test]
fn snappy_records_round_trip_across_six_partitions_byte_for_byte() {
    round_trip_in_codec("snappy");
}

#[test]
fn lz4_records_round_trip_across_six_partitions_byte_for_byte() {
    round_trip_in_codec("lz4");
}

#[test]
fn zstd_records_round_trip_across_six_partitions_byte_for_byte() {
    round_trip_in_codec("zstd");
}

#[test]
fn large_records_in_near_megabyte_batches_round_trip() {
    let broker = Broker::start();
    let topic = unique_topic("large");
    broker.create_topic(&topic, 1, &[]);
    // ~120 KB incompressible records: librdkafka packs up to batch.size (1 MB) per batch.
    let producer = broker
        .producer_config()
        .set("linger.ms", "100")
        .create()
        .expect("producer");
    let recs: Vec<Rec> = (0..16)
        .map(|i| Rec::value(0, common::noise(1000 + i, 120_000)))
        .collect();

    let deliveries = produce_all(&producer, &topic, &recs);

    let offsets: Vec<i64> = deliveries.iter().map(|d| d.offset).collect();
    assert_eq!(offsets, (0..16).collect::<Vec<_>>());
    let batches = stored_batches(&broker.partition_dir(&topic, 0));
    let largest = batches.iter().map(|b| b.records).max().unwrap_or(0);
    assert!(
        largest >= 4,
        "expected multi-record batches of large records, stored {batches:?}"
    );
    let got = broker.read_range(&topic, 0, 0, 16);
    assert_eq!(got.len(), 16);
    for (n, (g, s)) in got.iter().zip(&recs).enumerate() {
        assert_eq!(g.offset, n as i64);
        assert!(
            g.payload == s.payload && g.key.is_none(),
            "record {n} differs"
        );
    }
}

/// Every partition of `topic` holds exactly the records of `recs` sent to it, in order, at offsets
/// 0, 1, 2, ...
fn assert_each_partition_reads_back(broker: &Broker, topic: &str, partitions: i32, recs: &[Rec]) {
    let read = broker.read_all(topic);
    for p in 0..partitions {
        let sent: Vec<&Rec> = recs.iter().filter(|r| r.partition == p).collect();
        let got = &read[&p];
        assert_eq!(got.len(), sent.len(), "record count of partition {p}");
        for (n, (g, s)) in got.iter().zip(&sent).enumerate() {
            assert_eq!(g.offset, n as i64, "offset of partition {p} record {n}");
            assert!(g.payload == s.payload, "partition {p} offset {n} differs");
        }
    }
}

/// A consumer catching up on many partitions that each hold a few tens of KiB gets answers the
/// broker builds mostly in memory (record sets up to 64 KiB are read into the answer, up to 1 MiB
/// of them per answer) and partly as file ranges past that budget: about a megabyte in one
/// vectored write, then `sendfile` ranges. Every byte must still arrive in place.
#[test]
fn answers_mixing_read_and_file_record_sets_round_trip_byte_for_byte() {
    const PARTS: i32 = 32;
    const PER_PARTITION: usize = 4;
    let broker = Broker::start();
    let topic = unique_topic("mixed");
    broker.create_topic(&topic, PARTS, &[]);
    let producer = broker
        .producer_config()
        .set("linger.ms", "50")
        .create()
        .expect("producer");
    // 4 incompressible records of 12 KB: one batch of ~48 KB per partition, 1.5 MB in all.
    let recs: Vec<Rec> = (0..PARTS as usize * PER_PARTITION)
        .map(|i| {
            Rec::value(
                (i % PARTS as usize) as i32,
                common::noise(7000 + i as u64, 12_000),
            )
        })
        .collect();

    produce_all(&producer, &topic, &recs);

    assert_each_partition_reads_back(&broker, &topic, PARTS, &recs);
}

#[test]
fn twenty_thousand_small_records_in_many_batches_round_trip_in_order() {
    const N: usize = 20_000;
    const PARTS: i32 = 3;
    let broker = Broker::start();
    let topic = unique_topic("small");
    broker.create_topic(&topic, PARTS, &[]);
    let producer = broker
        .producer_config()
        .set("batch.num.messages", "250")
        .create()
        .expect("producer");
    let recs: Vec<Rec> = (0..N)
        .map(|i| Rec::value((i % PARTS as usize) as i32, format!("{i}")))
        .collect();

    let deliveries = produce_all(&producer, &topic, &recs);

    assert_eq!(deliveries.len(), N);
    assert_each_partition_reads_back(&broker, &topic, PARTS, &recs);
    for p in 0..PARTS {
        let sent = recs.iter().filter(|r| r.partition == p).count();
        let batches = stored_batches(&broker.partition_dir(&topic, p));
        assert!(
            batches.len() >= sent / 250,
            "partition {p}: only {} batches",
            batches.len()
        );
    }
}

/// Kafka limits the whole batch (12-byte log overhead + 49-byte v2 header + records) to
/// max.message.bytes. One record with a null key, no headers and a value of L bytes (L needing
/// a 3-byte varint, and so does its record length) makes a batch of L + 72 bytes.
#[test]
fn batch_of_exactly_max_message_bytes_is_accepted_and_one_byte_more_is_message_too_large() {
    const MAX: usize = 100_000;
    let broker = Broker::start();
    let topic = unique_topic("maxsize");
    broker.create_topic(&topic, 1, &[("max.message.bytes", "100000")]);
    // The client's own limit (message.max.bytes, 1 MB) is far above, so the broker decides.
    let producer = broker.producer();
    let fits = Rec::value(0, common::noise(1, MAX - 72));
    let too_big = Rec::value(0, common::noise(2, MAX - 71));

    let accepted = delivery(send(&producer, &topic, &fits));
    let rejected = delivery(send(&producer, &topic, &too_big));

    assert_eq!(
        accepted.map(|d| d.offset),
        Ok(0),
        "a batch of exactly max.message.bytes is accepted"
    );
    assert_eq!(
        rejected.map(|d| d.offset),
        Err(KafkaError::MessageProduction(
            RDKafkaErrorCode::MessageSizeTooLarge
        )),
        "a batch one byte over max.message.bytes is rejected"
    );
    assert_eq!(
        broker.watermarks(&topic, 0),
        (0, 1),
        "the rejected batch was not stored"
    );
    let got = broker.read_range(&topic, 0, 0, 1);
    assert!(
        got[0].matches(&fits),
        "the accepted record reads back intact"
    );
}

#[test]
fn log_append_time_topic_replaces_client_timestamps_with_broker_time() {
    let broker = Broker::start();
    let topic = unique_topic("appendtime");
    broker.create_topic(&topic, 1, &[("message.timestamp.type", "LogAppendTime")]);
    let producer = broker.producer();
    let recs: Vec<Rec> = (0..10)
        .map(|i| Rec {
            timestamp: Some(1_000_000 + i),
            ..Rec::value(0, format!("r{i}"))
        })
        .collect();

    let before = now_ms();
    let deliveries = produce_all(&producer, &topic, &recs);
    let after = now_ms();

    let in_window =
        |t: Timestamp| matches!(t, Timestamp::LogAppendTime(ms) if (before..=after).contains(&ms));
    for d in &deliveries {
        assert!(
            in_window(d.timestamp),
            "delivery report timestamp {:?} not LogAppendTime in [{before}, {after}]",
            d.timestamp
        );
    }
    let got = broker.read_range(&topic, 0, 0, 10);
    assert_eq!(got.len(), 10);
    for (g, d) in got.iter().zip(&deliveries) {
        assert!(
            in_window(g.timestamp),
            "consumed timestamp {:?} not LogAppendTime in [{before}, {after}]",
            g.timestamp
        );
        assert_eq!(
            g.timestamp, d.timestamp,
            "offset {}: consumed and acknowledged append times agree",
            g.offset
        );
        assert_eq!(g.offset, d.offset);
    }
}

// ------------------------------------------------------------------------------------------
// Topic lifecycle through AdminClient (deeper admin coverage lives in admin_api.rs)
// ------------------------------------------------------------------------------------------

#[test]
fn created_topic_has_its_partitions_and_configs_and_a_second_create_is_topic_already_exists() {
    let broker = Broker::start();
    let admin = broker.admin();
    let topic = unique_topic("create");
    let new = NewTopic::new(&topic, 3, TopicReplication::Fixed(1))
        .set("retention.ms", "3600000")
        .set("cleanup.policy", "delete");

    let first = common::block_on(admin.create_topics([&new], &common::admin_options()))
        .expect("CreateTopics");
    let second = common::block_on(admin.create_topics([&new], &common::admin_options()))
        .expect("CreateTopics");

    assert_eq!(first, vec![Ok(topic.clone())]);
    assert_eq!(
        second,
        vec![Err((topic.clone(), RDKafkaErrorCode::TopicAlreadyExists))]
    );
    broker.wait_for_partitions(&topic, 3);
    let configs = broker.topic_configs(&topic);
    assert_eq!(
        configs.get("retention.ms"),
        Some(&Some("3600000".to_string())),
        "{configs:?}"
    );
    assert_eq!(
        configs.get("cleanup.policy"),
        Some(&Some("delete".to_string())),
        "{configs:?}"
    );
}

#[test]
fn topic_names_kafka_forbids_are_invalid_topic() {
    let broker = Broker::start();
    let admin = broker.admin();
    let too_long = "x".repeat(250);
    for name in ["bad name!", "slash/name", ".", "..", too_long.as_str()] {
        let new = NewTopic::new(name, 1, TopicReplication::Fixed(1));
        let result = common::block_on(admin.create_topics([&new], &common::admin_options()))
            .expect("CreateTopics");
        assert_eq!(
            result,
            vec![Err((name.to_string(), RDKafkaErrorCode::InvalidTopic))],
            "topic name {name:?}"
        );
    }
    let md_names: Vec<String> = {
        use rdkafka::consumer::Consumer;
        let md = broker
            .consumer()
            .fetch_metadata(None, Duration::from_secs(10))
            .expect("Metadata");
        md.topics().iter().map(|t| t.name().to_string()).collect()
    };
    assert!(
        !md_names
            .iter()
            .any(|n| n.contains("bad") || n.contains("slash") || n.starts_with('.')),
        "{md_names:?}"
    );
}

#[test]
fn deleted_topic_disappears_from_metadata() {
    let broker = Broker::start();
    let admin = broker.admin();
    let topic = unique_topic("delete");
    broker.create_topic(&topic, 2, &[]);
    produce_all(&broker.producer(), &topic, &[Rec::value(1, "doomed")]);

    let result = common::block_on(admin.delete_topics(&[&topic], &common::admin_options()))
        .expect("DeleteTopics");

    assert_eq!(result, vec![Ok(topic.clone())]);
    wait_until(common::WAIT, &format!("{topic} to leave metadata"), || {
        broker.partition_count(&topic).is_none().then_some(())
    });
}

#[test]
fn create_partitions_grows_a_topic_and_the_new_partition_takes_records() {
    let broker = Broker::start();
    let admin = broker.admin();
    let topic = unique_topic("grow");
    broker.create_topic(&topic, 2, &[]);

    let result = common::block_on(
        admin.create_partitions([&NewPartitions::new(&topic, 5)], &common::admin_options()),
    )
    .expect("CreatePartitions");

    assert_eq!(result, vec![Ok(topic.clone())]);
    broker.wait_for_partitions(&topic, 5);
    let producer = broker.producer();
    let rec = Rec::value(4, "in a new partition");
    let d = produce_all(&producer, &topic, std::slice::from_ref(&rec));
    assert_eq!((d[0].partition, d[0].offset), (4, 0));
    assert!(broker.read_range(&topic, 4, 0, 1)[0].matches(&rec));
}
