//! Compaction of a transactional, compacted topic through librdkafka: values written by an
//! aborted transaction never stand as the latest for their keys after the cleaner has run, for
//! read_committed and read_uncommitted consumers alike, and the result survives a restart.
//!
//! Why: a cleaner that treats aborted records as ordinary ones keeps the newest of them per key
//! and drops the committed value it supersedes; a read_committed consumer then filters the
//! aborted value out and the key vanishes, and read_uncommitted readers see a value that was
//! never committed (the same happens to offsets in __consumer_offsets).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{delivery, send, unique_topic, wait_until, Broker, Rec};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

const T: Duration = Duration::from_secs(20);

fn rec(key: &str, value: &str) -> Rec {
    Rec {
        partition: 0,
        key: Some(key.as_bytes().to_vec()),
        payload: Some(value.as_bytes().to_vec()),
        ..Rec::default()
    }
}

/// One transaction writing `value` to each key, then committed or aborted.
fn transaction(p: &FutureProducer, topic: &str, keys: &[String], value: &str, commit: bool) {
    p.begin_transaction().expect("begin");
    let futures: Vec<_> = keys
        .iter()
        .map(|k| send(p, topic, &rec(k, value)))
        .collect();
    for f in futures {
        delivery(f).expect("delivery");
    }
    if commit {
        p.commit_transaction(T).expect("commit");
    } else {
        p.abort_transaction(T).expect("abort");
    }
}

/// Every (key, value) of partition 0 in offset order, read to the end with `isolation`.
fn read(broker: &Broker, topic: &str, isolation: &str) -> Vec<(String, String)> {
    let c: BaseConsumer = broker
        .consumer_config()
        .set("isolation.level", isolation)
        .set("enable.partition.eof", "true")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("tpl");
    c.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let deadline = Instant::now() + T;
    loop {
        assert!(
            Instant::now() < deadline,
            "{isolation}: no end of partition"
        );
        match c.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) => out.push((
                String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
                String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
            )),
            Some(Err(KafkaError::PartitionEOF(_))) => return out,
            Some(Err(e)) => panic!("consuming {topic}: {e}"),
        }
    }
}

/// Latest value per key, if every key appears exactly once (a fully compacted log).
fn compacted(records: &[(String, String)]) -> Option<BTreeMap<String, String>> {
    let map: BTreeMap<_, _> = records.iter().cloned().collect();
    (map.len() == records.len()).then_some(map)
}

#[test]
fn aborted_values_never_win_after_compaction() {
    let mut broker = Broker::start_with_args(&["--set", "log.cleaner.backoff.ms=200"]);
    let topic = unique_topic("txn-compact");
    broker.create_topic(
        &topic,
        1,
        &[
            ("cleanup.policy", "compact"),
            ("internal.segment.bytes", "2048"),
            ("min.cleanable.dirty.ratio", "0.01"),
        ],
    );
    let p = broker.transactional_producer(&format!("{topic}-txn"), &[]);
    let keys: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
    transaction(&p, &topic, &keys, "committed-1", true);
    transaction(&p, &topic, &keys, "aborted", false);
    transaction(&p, &topic, &keys[5..], "committed-3", true);
    // Plain writes of other keys roll the segments above so the cleaner may clean them.
    let plain = broker.producer();
    for i in 0..60 {
        let key = format!("filler-{i}");
        delivery(send(&plain, &topic, &rec(&key, &"x".repeat(100)))).expect("filler");
    }
    let mut want: BTreeMap<String, String> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let v = if i < 5 { "committed-1" } else { "committed-3" };
            (k.clone(), v.to_string())
        })
        .collect();
    want.extend((0..60).map(|i| (format!("filler-{i}"), "x".repeat(100))));

    // Stored data (read_uncommitted) reaches one record per key, none of them aborted.
    let got = wait_until(Duration::from_secs(30), "the cleaner to compact", || {
        compacted(&read(&broker, &topic, "read_uncommitted"))
    });
    assert_eq!(got, want, "read_uncommitted after compaction");
    assert_eq!(
        compacted(&read(&broker, &topic, "read_committed")),
        Some(want.clone()),
        "read_committed after compaction"
    );
    broker.restart();
    assert_eq!(
        compacted(&read(&broker, &topic, "read_committed")),
        Some(want),
        "after a restart"
    );
}
