//! The aborted-transaction index across a crash: after SIGKILL the broker re-scans the
//! unflushed tail, rebuilds its `.txnindex` (Kafka's 34-byte entries) and read_committed
//! consumers still skip the aborted records.

mod common;

use std::time::Duration;

use common::{delivery, send, unique_topic, Broker, Rec};
use rdkafka::producer::Producer;

const T: Duration = Duration::from_secs(20);

#[test]
fn aborted_transactions_stay_hidden_after_a_crash() {
    let mut broker = Broker::start();
    let topic = unique_topic("txnindex-crash");
    broker.create_topic(&topic, 1, &[]);
    let p = broker.transactional_producer(&format!("{topic}-txn"), &[]);
    for (value, commit) in [("a1", false), ("c1", true), ("a2", false), ("c2", true)] {
        p.begin_transaction().expect("begin");
        delivery(send(&p, &topic, &Rec::value(0, value))).expect("delivery");
        if commit {
            p.commit_transaction(T).expect("commit");
        } else {
            p.abort_transaction(T).expect("abort");
        }
    }
    assert_eq!(broker.read_committed_to_end(&topic, 1), vec!["c1", "c2"]);
    let index = broker
        .partition_dir(&topic, 0)
        .join("00000000000000000000.txnindex");
    assert_eq!(std::fs::metadata(&index).expect("txnindex").len(), 2 * 34);

    broker.kill();
    std::fs::remove_file(&index).expect("removing the index");
    broker.restart();
    assert_eq!(broker.read_committed_to_end(&topic, 1), vec!["c1", "c2"]);
    assert_eq!(
        std::fs::metadata(&index).expect("rebuilt txnindex").len(),
        2 * 34,
        "rebuilt by recovery"
    );
}
