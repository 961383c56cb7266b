//! Broker restarts as clients see them: after a clean stop (SIGTERM) nothing is lost or changed,
//! and after a crash (SIGKILL, non-durable mode) the log is still a valid Kafka log that
//! producers continue at its end.
//!
//! Why: a broker is only useful if data and topic definitions outlive the process. A clean
//! restart must preserve records byte for byte, partition counts, topic configs and topic ids
//! (clients cache ids; a changed id means "a different topic"). A crash may lose what was never
//! acknowledged but must never leave gaps, torn batches or an offset that goes backwards.

mod common;

use std::collections::BTreeMap;

use common::{
    delivery, now_ms, produce_all, send, stored_batches, unique_topic, Broker, Consumed, Rec,
};
use rdkafka::producer::future_producer::Delivery;

/// Configs set at creation time that must survive a restart.
const TOPIC_A_CONFIGS: &[(&str, &str)] = &[
    ("retention.ms", "7200000"),
    ("max.message.bytes", "200000"),
    ("cleanup.policy", "delete"),
];
const TOPIC_B_CONFIGS: &[(&str, &str)] = &[
    ("message.timestamp.type", "LogAppendTime"),
    ("segment.bytes", "1048576"),
];

/// Everything a client can observe about a topic.
#[derive(Debug, PartialEq)]
struct TopicView {
    id: String,
    partitions: Option<usize>,
    configs: BTreeMap<String, Option<String>>,
    watermarks: Vec<(i64, i64)>,
    records: BTreeMap<i32, Vec<Consumed>>,
}

fn view(broker: &Broker, topic: &str, configs: &[(&str, &str)]) -> TopicView {
    let all = broker.topic_configs(topic);
    let partitions = broker.partition_count(topic);
    TopicView {
        id: broker.topic_id(topic),
        partitions,
        configs: configs
            .iter()
            .map(|(k, _)| (k.to_string(), all.get(*k).cloned().flatten()))
            .collect(),
        watermarks: (0..partitions.unwrap_or(0) as i32)
            .map(|p| broker.watermarks(topic, p))
            .collect(),
        records: broker.read_all(topic),
    }
}

#[test]
fn clean_shutdown_keeps_records_partition_counts_configs_and_topic_ids() {
    let mut broker = Broker::start();
    let (a, b) = (unique_topic("keep-a"), unique_topic("keep-b"));
    broker.create_topic(&a, 3, TOPIC_A_CONFIGS);
    broker.create_topic(&b, 1, TOPIC_B_CONFIGS);
    let producer = broker
        .producer_config()
        .set("compression.type", "gzip")
        .create()
        .expect("producer");
    let base = now_ms() - 60_000;
    let recs_a: Vec<Rec> = (0..150)
        .map(|i| Rec {
            key: Some(format!("key-{i}").into_bytes()),
            headers: vec![("h".into(), Some(vec![i as u8; i % 5]))],
            timestamp: Some(base + i as i64),
            ..Rec::value((i % 3) as i32, format!("a-{i}"))
        })
        .collect();
    let recs_b: Vec<Rec> = (0..20).map(|i| Rec::value(0, format!("b-{i}"))).collect();
    produce_all(&producer, &a, &recs_a);
    produce_all(&producer, &b, &recs_b);
    let before_a = view(&broker, &a, TOPIC_A_CONFIGS);
    let before_b = view(&broker, &b, TOPIC_B_CONFIGS);
    // The views must be meaningful before comparing them across the restart.
    assert_eq!(before_a.partitions, Some(3));
    assert_eq!(before_a.watermarks, vec![(0, 50); 3]);
    assert_eq!(before_b.watermarks, vec![(0, 20)]);
    for (k, v) in TOPIC_A_CONFIGS {
        assert_eq!(
            before_a.configs[*k].as_deref(),
            Some(*v),
            "{a} config {k} before restart"
        );
    }
    for (k, v) in TOPIC_B_CONFIGS {
        assert_eq!(
            before_b.configs[*k].as_deref(),
            Some(*v),
            "{b} config {k} before restart"
        );
    }
    assert_ne!(
        before_a.id, before_b.id,
        "distinct topics have distinct ids"
    );

    let status = broker.stop();
    assert!(status.success(), "SIGTERM exit status {status}");
    broker.restart();

    assert_eq!(
        view(&broker, &a, TOPIC_A_CONFIGS),
        before_a,
        "{a} after restart"
    );
    assert_eq!(
        view(&broker, &b, TOPIC_B_CONFIGS),
        before_b,
        "{b} after restart"
    );
    let next = produce_all(&producer, &a, &[Rec::value(2, "after restart")]);
    assert_eq!(
        (next[0].partition, next[0].offset),
        (2, 50),
        "produce continues at the log end"
    );
}

#[test]
fn crash_leaves_a_contiguous_readable_log_holding_every_acked_record_and_produce_continues_at_its_end(
) {
    const PARTS: i32 = 2;
    let mut broker = Broker::start();
    let topic = unique_topic("crash");
    broker.create_topic(&topic, PARTS, &[]);
    let producer = broker
        .producer_config()
        .set("compression.type", "snappy")
        .create()
        .expect("producer");
    let mut sent: Vec<(Rec, Delivery)> = Vec::new();
    for chunk in 0..6 {
        let recs: Vec<Rec> = (0..50)
            .map(|i| Rec::value(i % PARTS, format!("acked-{chunk}-{i}")))
            .collect();
        let ds = produce_all(&producer, &topic, &recs);
        sent.extend(recs.into_iter().zip(ds));
    }

    // A second stream is in flight when the process dies; its records may or may not be there.
    let streaming = broker
        .producer_config()
        .set("message.timeout.ms", "3000")
        .create()
        .expect("producer");
    let stream: Vec<Rec> = (0..3000)
        .map(|i| Rec::value(i % PARTS, format!("stream-{i}").repeat(5)))
        .collect();
    let mut futures = stream.iter().map(|r| send(&streaming, &topic, r));
    let first = delivery(futures.next().expect("one")).expect("the stream reaches the broker");
    let rest: Vec<_> = futures.collect();
    broker.kill();
    // Settle every outcome while the broker is down (message.timeout.ms bounds this), so no
    // retry lands after the restart and changes the log under the checks below.
    sent.push((stream[0].clone(), first));
    for (rec, f) in stream[1..].iter().zip(rest) {
        if let Ok(d) = delivery(f) {
            sent.push((rec.clone(), d));
        }
    }
    drop(streaming);
    broker.restart();

    let read = broker.read_all(&topic);
    for p in 0..PARTS {
        let (low, high) = broker.watermarks(&topic, p);
        assert_eq!(low, 0, "partition {p} log start");
        let got = &read[&p];
        let offsets: Vec<i64> = got.iter().map(|c| c.offset).collect();
        assert_eq!(
            offsets,
            (0..high).collect::<Vec<_>>(),
            "partition {p}: every offset below the end is readable"
        );
        let batches = stored_batches(&broker.partition_dir(&topic, p));
        let mut expected_base = 0;
        for b in &batches {
            assert_eq!(b.magic, 2, "partition {p} batch {b:?}");
            assert_eq!(
                b.base_offset, expected_base,
                "partition {p}: batches contiguous after recovery: {batches:?}"
            );
            expected_base = b.last_offset + 1;
        }
        assert_eq!(
            expected_base, high,
            "partition {p}: stored batches end at the high watermark"
        );
    }
    // SIGKILL does not drop the page cache: whatever was acknowledged was written, so it stays.
    for (rec, d) in &sent {
        let at = read[&d.partition].get(d.offset as usize);
        assert!(
            at.is_some_and(|c| c.matches(rec)),
            "acked {rec:?} at {}/{} but log has {at:?}",
            d.partition,
            d.offset
        );
    }

    let producer = broker.producer();
    for p in 0..PARTS {
        let end = broker.watermarks(&topic, p).1;
        let rec = Rec::value(p, format!("after crash {p}"));
        let d = produce_all(&producer, &topic, std::slice::from_ref(&rec));
        assert_eq!(
            (d[0].partition, d[0].offset),
            (p, end),
            "produce after the crash continues at the log end"
        );
        assert!(broker.read_range(&topic, p, end, end + 1)[0].matches(&rec));
    }
}
