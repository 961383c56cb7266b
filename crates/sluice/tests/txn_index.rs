//! The aborted-transaction index across a crash: after SIGKILL the broker re-scans the
//! unflushed tail, rebuilds its `.txnindex` (Kafka's 34-byte entries) and read_committed
//! consumers still skip the aborted records.

mod common;

use std::time::{Duration, Instant};

use common::{delivery, send, unique_topic, Broker, Rec};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

const T: Duration = Duration::from_secs(20);

fn read_committed(broker: &Broker, topic: &str) -> Vec<String> {
    let c: BaseConsumer = broker
        .consumer_config()
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("tpl");
    c.assign(&tpl).expect("assign");
    let deadline = Instant::now() + T;
    let mut out = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "no end of partition");
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into())
            }
            Some(Err(KafkaError::PartitionEOF(_))) => return out,
            Some(Err(e)) => panic!("{e}"),
            None => {}
        }
    }
}

#[test]
fn aborted_transactions_stay_hidden_after_a_crash() {
    let mut broker = Broker::start();
    let topic = unique_topic("txnindex-crash");
    broker.create_topic(&topic, 1, &[]);
    let p: FutureProducer = broker
        .producer_config()
        .set("transactional.id", format!("{topic}-txn"))
        .create()
        .expect("producer");
    p.init_transactions(T).expect("init_transactions");
    for (value, commit) in [("a1", false), ("c1", true), ("a2", false), ("c2", true)] {
        p.begin_transaction().expect("begin");
        delivery(send(&p, &topic, &Rec::value(0, value))).expect("delivery");
        if commit {
            p.commit_transaction(T).expect("commit");
        } else {
            p.abort_transaction(T).expect("abort");
        }
    }
    assert_eq!(read_committed(&broker, &topic), vec!["c1", "c2"]);
    let index = broker
        .partition_dir(&topic, 0)
        .join("00000000000000000000.txnindex");
    assert_eq!(std::fs::metadata(&index).expect("txnindex").len(), 2 * 34);

    broker.kill();
    std::fs::remove_file(&index).expect("removing the index");
    broker.restart();
    assert_eq!(read_committed(&broker, &topic), vec!["c1", "c2"]);
    assert_eq!(
        std::fs::metadata(&index).expect("rebuilt txnindex").len(),
        2 * 34,
        "rebuilt by recovery"
    );
}
