//! Committed offsets expire as Kafka's `offsets.retention.minutes` says (KIP-211): a group that
//! still consumes a topic keeps its offsets however old, an empty group's offsets age from the
//! moment it became empty and the group disappears with them, and a standalone consumer's
//! offsets (commits without group membership) age from their commit.
//!
//! Kafka counts retention in whole minutes; these brokers use Sluice's test knob
//! `internal.offsets.retention.ms` so the tests wait seconds, not minutes.

mod common;

use std::time::{Duration, Instant};

use common::{produce_all, unique_topic, wait_until, Broker, Rec};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

const RETENTION_MS: u64 = 2_000;

fn broker() -> Broker {
    Broker::start_with_args(&[
        "--set",
        "group.initial.rebalance.delay.ms=0",
        "--set",
        &format!("internal.offsets.retention.ms={RETENTION_MS}"),
        "--set",
        "offsets.retention.check.interval.ms=200",
    ])
}

fn records(n: usize) -> Vec<Rec> {
    (0..n)
        .map(|i| Rec {
            partition: 0,
            key: Some(format!("k{i}").into_bytes()),
            payload: Some(format!("v{i}").into_bytes()),
            headers: Vec::new(),
            timestamp: None,
        })
        .collect()
}

/// The group's committed offset for partition 0 of `topic`, asked with OffsetFetch by a client
/// that does not join the group.
fn committed(broker: &Broker, group: &str, topic: &str) -> Option<i64> {
    let probe: BaseConsumer = broker
        .consumer_config()
        .set("group.id", group)
        .create()
        .expect("probe consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let got = probe
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("OffsetFetch");
    match got.elements()[0].offset() {
        Offset::Offset(o) => Some(o),
        _ => None,
    }
}

fn group_listed(broker: &Broker, group: &str) -> bool {
    let probe: BaseConsumer = broker.consumer_config().create().expect("probe");
    let list = probe
        .fetch_group_list(None, Duration::from_secs(10))
        .expect("ListGroups");
    let listed = list.groups().iter().any(|g| g.name() == group);
    listed
}

#[test]
fn a_consuming_group_keeps_its_offsets_and_an_empty_one_loses_them_with_the_group() {
    let broker = broker();
    let topic = unique_topic("retention");
    let group = unique_topic("g");
    broker.create_topic(&topic, 1, &[]);
    produce_all(&broker.producer(), &topic, &records(10));

    let consumer: BaseConsumer = broker
        .consumer_config()
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "300")
        .create()
        .expect("group consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let mut seen = 0;
    wait_until(Duration::from_secs(30), "all 10 records consumed", || {
        if let Some(Ok(_)) = consumer.poll(Duration::from_millis(100)) {
            seen += 1;
        }
        (seen == 10).then_some(())
    });
    let mut position = TopicPartitionList::new();
    position
        .add_partition_offset(&topic, 0, Offset::Offset(10))
        .expect("offset");
    consumer
        .commit(&position, CommitMode::Sync)
        .expect("commit");
    assert_eq!(committed(&broker, &group, &topic), Some(10));

    // A stable group subscribed to the topic keeps its offsets past the retention period.
    let stable_until = Instant::now() + Duration::from_millis(RETENTION_MS * 2);
    while Instant::now() < stable_until {
        // Polling keeps the member alive (heartbeats are served by librdkafka's thread, but
        // max.poll.interval.ms needs the application to poll).
        let _ = consumer.poll(Duration::from_millis(100));
    }
    assert_eq!(
        committed(&broker, &group, &topic),
        Some(10),
        "a stable group that still consumes the topic lost its offsets"
    );
    assert!(group_listed(&broker, &group));

    // Leaving makes the group empty; its offsets now age and go, and the group with them.
    drop(consumer);
    let left_at = Instant::now();
    wait_until(
        Duration::from_secs(30),
        "the empty group's offsets to expire",
        || committed(&broker, &group, &topic).is_none().then_some(()),
    );
    assert!(
        left_at.elapsed() >= Duration::from_millis(RETENTION_MS / 2),
        "offsets expired {:?} after the group emptied, before the retention period",
        left_at.elapsed()
    );
    wait_until(
        Duration::from_secs(30),
        "the empty group to be deleted",
        || (!group_listed(&broker, &group)).then_some(()),
    );
}

#[test]
fn a_standalone_consumers_offsets_expire_counted_from_their_commit() {
    let broker = broker();
    let topic = unique_topic("standalone");
    let group = unique_topic("simple");
    broker.create_topic(&topic, 1, &[]);
    produce_all(&broker.producer(), &topic, &records(3));

    // assign() + commit: OffsetCommit without a generation, as Kafka's "simple" consumers do.
    let consumer: BaseConsumer = broker
        .consumer_config()
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("standalone consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Offset(2))
        .expect("offset");
    consumer
        .commit(&tpl, CommitMode::Sync)
        .expect("standalone commit");
    let committed_at = Instant::now();
    assert_eq!(committed(&broker, &group, &topic), Some(2));

    wait_until(
        Duration::from_secs(30),
        "the standalone commit to expire",
        || committed(&broker, &group, &topic).is_none().then_some(()),
    );
    assert!(
        committed_at.elapsed() >= Duration::from_millis(RETENTION_MS / 2),
        "a standalone commit expired after {:?}, before the retention period",
        committed_at.elapsed()
    );
}
