//! Transactions through librdkafka's transactional producer against a real broker: committed and
//! aborted transactions interleaved across partitions (read_committed consumers see only the
//! committed records, read_uncommitted see all, the last stable offset stops at an open
//! transaction), consumer offsets committed inside a transaction, zombie fencing, and transaction
//! state across a broker crash (an open transaction is aborted after its timeout, a committed
//! one stays visible).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{delivery, send, unique_topic, wait_until, Broker, Rec};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

const T: Duration = Duration::from_secs(20);

fn txn_producer(broker: &Broker, id: &str, timeout_ms: u32) -> FutureProducer {
    let producer: FutureProducer = broker
        .producer_config()
        .set("transactional.id", id)
        .set("transaction.timeout.ms", timeout_ms.to_string())
        .set("message.timeout.ms", timeout_ms.to_string())
        .create()
        .expect("creating a transactional producer");
    producer.init_transactions(T).expect("init_transactions");
    producer
}

/// Sends records and waits for every delivery report.
fn send_all(producer: &FutureProducer, topic: &str, recs: &[Rec]) {
    let futures: Vec<_> = recs.iter().map(|r| send(producer, topic, r)).collect();
    for (i, f) in futures.into_iter().enumerate() {
        delivery(f).unwrap_or_else(|e| panic!("delivery of record #{i}: {e}"));
    }
}

fn consumer(broker: &Broker, isolation: &str) -> BaseConsumer {
    broker
        .consumer_config()
        .set("isolation.level", isolation)
        .create()
        .expect("creating a consumer")
}

/// (low, high) as a consumer with this isolation level sees them: high is the last stable
/// offset for read_committed.
fn watermarks(broker: &Broker, isolation: &str, topic: &str, p: i32) -> (i64, i64) {
    consumer(broker, isolation)
        .fetch_watermarks(topic, p, Duration::from_secs(10))
        .expect("ListOffsets")
}

/// Reads payloads from every partition until each holds `want[p]` records (then a short grace
/// poll for anything extra would not help: the last transaction is committed, so an extra
/// record would have arrived before the wanted ones).
fn read(
    broker: &Broker,
    isolation: &str,
    topic: &str,
    want: &BTreeMap<i32, usize>,
) -> BTreeMap<i32, Vec<String>> {
    let c = consumer(broker, isolation);
    let mut tpl = TopicPartitionList::new();
    for p in want.keys() {
        tpl.add_partition_offset(topic, *p, Offset::Beginning)
            .expect("tpl");
    }
    c.assign(&tpl).expect("assign");
    let mut out: BTreeMap<i32, Vec<String>> = want.keys().map(|p| (*p, Vec::new())).collect();
    let deadline = Instant::now() + T;
    while want.iter().any(|(p, n)| out[p].len() < *n) {
        assert!(
            Instant::now() < deadline,
            "{isolation}: timed out; got {out:?}, want counts {want:?}"
        );
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out
                .get_mut(&m.partition())
                .expect("assigned")
                .push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned()),
            Some(Err(e)) => panic!("consuming: {e}"),
            None => {}
        }
    }
    out
}

fn recs(tag: &str, partitions: i32, per: usize) -> Vec<Rec> {
    (0..partitions)
        .flat_map(|p| (0..per).map(move |k| Rec::value(p, format!("{tag}-p{p}-{k}"))))
        .collect()
}

fn is_fencing(e: &KafkaError) -> bool {
    let code = e.rdkafka_error_code();
    matches!(
        code,
        Some(RDKafkaErrorCode::Fenced)
            | Some(RDKafkaErrorCode::ProducerFenced)
            | Some(RDKafkaErrorCode::InvalidProducerEpoch)
    )
}

#[test]
fn read_committed_sees_only_committed_transactions() {
    let broker = Broker::start_with_args(&["--set", "transaction.state.log.num.partitions=3"]);
    let topic = unique_topic("txn-mix");
    broker.create_topic(&topic, 3, &[]);
    let producer = txn_producer(&broker, "mix", 30_000);

    let mut committed: BTreeMap<i32, Vec<String>> = (0..3).map(|p| (p, Vec::new())).collect();
    let mut all: BTreeMap<i32, Vec<String>> = committed.clone();
    for i in 0..6 {
        let batch = recs(&format!("t{i}"), 3, 4);
        producer.begin_transaction().expect("begin");
        send_all(&producer, &topic, &batch);
        for r in &batch {
            let payload = String::from_utf8(r.payload.clone().unwrap()).unwrap();
            all.get_mut(&r.partition).unwrap().push(payload.clone());
            if i % 2 == 0 {
                committed.get_mut(&r.partition).unwrap().push(payload);
            }
        }
        if i % 2 == 0 {
            producer.commit_transaction(T).expect("commit");
        } else {
            producer.abort_transaction(T).expect("abort");
        }
    }

    // An open transaction holds the last stable offset at its first record, per partition.
    let before: Vec<i64> = (0..3)
        .map(|p| watermarks(&broker, "read_uncommitted", &topic, p).1)
        .collect();
    producer.begin_transaction().expect("begin");
    let open = recs("open", 3, 2);
    send_all(&producer, &topic, &open);
    for p in 0..3 {
        let (_, hw) = watermarks(&broker, "read_uncommitted", &topic, p);
        let (_, lso) = watermarks(&broker, "read_committed", &topic, p);
        assert_eq!(
            hw,
            before[p as usize] + 2,
            "partition {p}: both open records are in the log"
        );
        assert_eq!(
            lso, before[p as usize],
            "partition {p}: LSO stops at the open transaction"
        );
    }
    // Nothing of it reaches a read_committed consumer while it is open.
    let want: BTreeMap<i32, usize> = committed.iter().map(|(p, v)| (*p, v.len())).collect();
    assert_eq!(read(&broker, "read_committed", &topic, &want), committed);

    producer.commit_transaction(T).expect("commit");
    for r in &open {
        let payload = String::from_utf8(r.payload.clone().unwrap()).unwrap();
        committed
            .get_mut(&r.partition)
            .unwrap()
            .push(payload.clone());
        all.get_mut(&r.partition).unwrap().push(payload);
    }
    for p in 0..3 {
        let (_, hw) = watermarks(&broker, "read_uncommitted", &topic, p);
        let (_, lso) = watermarks(&broker, "read_committed", &topic, p);
        assert_eq!(
            lso, hw,
            "partition {p}: everything is stable after the commit"
        );
    }
    let want: BTreeMap<i32, usize> = committed.iter().map(|(p, v)| (*p, v.len())).collect();
    assert_eq!(read(&broker, "read_committed", &topic, &want), committed);
    let want_all: BTreeMap<i32, usize> = all.iter().map(|(p, v)| (*p, v.len())).collect();
    assert_eq!(read(&broker, "read_uncommitted", &topic, &want_all), all);
}

#[test]
fn offsets_sent_to_a_transaction_appear_only_at_commit() {
    let broker = Broker::start_with_args(&["--set", "transaction.state.log.num.partitions=3"]);
    let input = unique_topic("txn-in");
    let output = unique_topic("txn-out");
    broker.create_topic(&input, 1, &[]);
    broker.create_topic(&output, 1, &[]);
    let group = "txn-group";
    let member: BaseConsumer = broker
        .consumer_config()
        .set("group.id", group)
        .create()
        .expect("consumer");
    let metadata = member.group_metadata().expect("group metadata");
    let committed = |c: &BaseConsumer| {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&input, 0);
        c.committed_offsets(tpl, Duration::from_secs(10))
            .expect("OffsetFetch")
            .find_partition(&input, 0)
            .map(|e| e.offset())
    };
    let producer = txn_producer(&broker, "offsets", 30_000);
    let offsets = |n: i64| {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&input, 0, Offset::Offset(n))
            .expect("tpl");
        tpl
    };

    producer.begin_transaction().expect("begin");
    send_all(&producer, &output, &[Rec::value(0, "a")]);
    producer
        .send_offsets_to_transaction(&offsets(5), &metadata, T)
        .expect("send_offsets_to_transaction");
    assert_eq!(
        committed(&member),
        Some(Offset::Invalid),
        "offsets stay invisible until the commit"
    );
    producer.commit_transaction(T).expect("commit");
    assert_eq!(committed(&member), Some(Offset::Offset(5)));

    producer.begin_transaction().expect("begin");
    send_all(&producer, &output, &[Rec::value(0, "b")]);
    producer
        .send_offsets_to_transaction(&offsets(9), &metadata, T)
        .expect("send_offsets_to_transaction");
    producer.abort_transaction(T).expect("abort");
    assert_eq!(
        committed(&member),
        Some(Offset::Offset(5)),
        "an aborted transaction's offsets are dropped"
    );
}

#[test]
fn a_newer_producer_fences_the_older_one() {
    let broker = Broker::start_with_args(&["--set", "transaction.state.log.num.partitions=3"]);
    let topic = unique_topic("txn-zombie");
    broker.create_topic(&topic, 2, &[]);
    let zombie = txn_producer(&broker, "zombie", 30_000);
    zombie.begin_transaction().expect("begin");
    send_all(&zombie, &topic, &[Rec::value(0, "zombie-1")]);

    // A second instance with the same transactional.id aborts the first one's transaction.
    let fresh = txn_producer(&broker, "zombie", 30_000);

    // The older instance can neither write to its partition nor to a new one, nor commit.
    let write = delivery(send(&zombie, &topic, &Rec::value(0, "zombie-2")));
    let e = write.expect_err("a fenced producer's write must fail");
    assert!(
        is_fencing(&e),
        "write failed with {e:?}, not the fencing error"
    );
    let commit = zombie.commit_transaction(T);
    let e = commit.expect_err("a fenced producer's commit must fail");
    assert!(
        is_fencing(&e),
        "commit failed with {e:?}, not the fencing error"
    );

    fresh.begin_transaction().expect("begin");
    send_all(
        &fresh,
        &topic,
        &[Rec::value(0, "fresh-1"), Rec::value(1, "fresh-2")],
    );
    fresh.commit_transaction(T).expect("commit");
    let want = BTreeMap::from([(0, 1), (1, 1)]);
    let got = read(&broker, "read_committed", &topic, &want);
    assert_eq!(
        got,
        BTreeMap::from([
            (0, vec!["fresh-1".to_string()]),
            (1, vec!["fresh-2".to_string()])
        ])
    );
    // The zombie's first record is in the log, aborted: read_uncommitted sees it.
    let want = BTreeMap::from([(0, 2), (1, 1)]);
    let got = read(&broker, "read_uncommitted", &topic, &want);
    assert_eq!(got[&0], vec!["zombie-1".to_string(), "fresh-1".to_string()]);
}

#[test]
fn transaction_state_survives_a_broker_crash() {
    let mut broker = Broker::start_with_args(&[
        "--set",
        "transaction.state.log.num.partitions=3",
        "--set",
        "transaction.abort.timed.out.transaction.cleanup.interval.ms=200",
    ]);
    let topic = unique_topic("txn-crash");
    broker.create_topic(&topic, 2, &[]);
    let producer = txn_producer(&broker, "crash", 4_000);
    producer.begin_transaction().expect("begin");
    send_all(&producer, &topic, &recs("committed", 2, 3));
    producer.commit_transaction(T).expect("commit");
    producer.begin_transaction().expect("begin");
    send_all(&producer, &topic, &recs("open", 2, 3));
    let open_at: Vec<i64> = (0..2)
        .map(|p| watermarks(&broker, "read_committed", &topic, p).1)
        .collect();

    broker.kill();
    drop(producer);
    broker.restart();

    // Right after the restart the open transaction still holds the LSO back; once its
    // timeout passes the coordinator aborts it and the LSO reaches the log end.
    for p in 0..2 {
        let (_, lso) = watermarks(&broker, "read_committed", &topic, p);
        let (_, hw) = watermarks(&broker, "read_uncommitted", &topic, p);
        assert!(
            lso >= open_at[p as usize] && lso < hw,
            "partition {p}: LSO {lso}, HW {hw}"
        );
    }
    wait_until(
        Duration::from_secs(30),
        "the open transaction to be aborted",
        || {
            (0..2)
                .all(|p| {
                    watermarks(&broker, "read_committed", &topic, p).1
                        == watermarks(&broker, "read_uncommitted", &topic, p).1
                })
                .then_some(())
        },
    );
    let want = BTreeMap::from([(0, 3), (1, 3)]);
    let got = read(&broker, "read_committed", &topic, &want);
    for p in 0..2 {
        let expected: Vec<String> = (0..3).map(|k| format!("committed-p{p}-{k}")).collect();
        assert_eq!(got[&p], expected);
    }
    // A new instance of the transactional id works after the restart.
    let producer = txn_producer(&broker, "crash", 4_000);
    producer.begin_transaction().expect("begin");
    send_all(&producer, &topic, &[Rec::value(0, "after")]);
    producer.commit_transaction(T).expect("commit");
    let got = read(&broker, "read_committed", &topic, &BTreeMap::from([(0, 4)]));
    assert_eq!(got[&0].last().map(String::as_str), Some("after"));
}
