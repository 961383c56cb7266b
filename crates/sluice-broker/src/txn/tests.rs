//! Crash recovery of the coordinator: a transaction recorded as PrepareCommit or PrepareAbort
//! whose markers were never written (the broker died between the two steps) is completed when
//! the broker opens its data directory again.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::BytesMut;
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use sluice_log::AppendOptions;

use super::state::TxnState;
use crate::broker::Broker;
use crate::config::BrokerConfig;

fn config(dir: &std::path::Path) -> BrokerConfig {
    let settings = BTreeMap::from([
        ("log.dirs".to_string(), dir.display().to_string()),
        (
            "transaction.state.log.num.partitions".to_string(),
            "2".to_string(),
        ),
    ]);
    BrokerConfig::from_settings(&settings).expect("settings")
}

/// One transactional record as a producer sends it.
fn txn_batch(producer_id: i64, producer_epoch: i16) -> BytesMut {
    let record = Record {
        transactional: true,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id,
        producer_epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: 0,
        timestamp: crate::background::now_ms(),
        key: None,
        value: Some(bytes::Bytes::from_static(b"v")),
        headers: IndexMap::new(),
    };
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, [&record], &options).expect("encode");
    buf
}

/// Opens a transaction of `id` on partition `index` of `t`, writes one record, and records the
/// first step of ending it.
async fn prepare(broker: &Arc<Broker>, id: &str, index: i32, commit: bool) {
    let txns = &broker.txns;
    let (pid, epoch) = txns
        .init_producer_id(broker, id, 60_000, None)
        .await
        .expect("init");
    txns.add_partitions(broker, id, pid, epoch, &[("t".to_string(), index)])
        .await
        .expect("add partitions");
    let topic = broker.topics.get("t").expect("topic");
    let partition = topic.partition(index).expect("partition");
    let opts = AppendOptions {
        leader_epoch: 0,
        now_ms: crate::background::now_ms(),
        origin_client: true,
    };
    partition
        .append(&mut txn_batch(pid, epoch), &opts, false)
        .expect("append");
    assert_eq!(
        partition.last_stable_offset(),
        0,
        "the open record is unstable"
    );
    txns.prepare_end(broker, id, pid, epoch, commit)
        .expect("prepare")
        .expect("a first EndTxn");
}

#[test]
fn prepared_transactions_complete_after_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let broker = Broker::open(config(dir.path())).expect("open");
        broker
            .topics
            .create("t", 2, 1, BTreeMap::new())
            .expect("create");
        prepare(&broker, "to-commit", 0, true).await;
        prepare(&broker, "to-abort", 1, false).await;
        // Crash: no clean close, the markers never written.
    });
    drop(rt);

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let broker = Broker::open(config(dir.path())).expect("reopen");
        assert_eq!(
            broker.txns.describe("to-commit").map(|m| m.state),
            Some(TxnState::PrepareCommit)
        );
        assert_eq!(
            broker.txns.describe("to-abort").map(|m| m.state),
            Some(TxnState::PrepareAbort)
        );
        broker.txns.complete_prepared(&broker).await;
        assert_eq!(
            broker.txns.describe("to-commit").map(|m| m.state),
            Some(TxnState::CompleteCommit)
        );
        assert_eq!(
            broker.txns.describe("to-abort").map(|m| m.state),
            Some(TxnState::CompleteAbort)
        );
        let topic = broker.topics.get("t").expect("topic");
        for index in 0..2 {
            let p = topic.partition(index).expect("partition");
            // Record + marker, and the marker made everything stable.
            assert_eq!(p.log_end_offset(), 2);
            assert_eq!(p.last_stable_offset(), 2);
        }
        let aborted = |index: i32| {
            topic
                .partition(index)
                .expect("partition")
                .with_log(|l| l.aborted_transactions(0, 2))
        };
        assert!(aborted(0).is_empty(), "the commit is not an abort");
        assert_eq!(aborted(1).len(), 1, "the abort is indexed");
        assert_eq!(aborted(1)[0].first_offset, 0);
    });
}
