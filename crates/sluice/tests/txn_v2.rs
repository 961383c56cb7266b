//! Transactions v2 (KIP-890 part 2) over the wire, as the Java client 4.x speaks it once
//! ApiVersions finalizes `transaction.version=2`: Produce v12 adds partitions implicitly,
//! TxnOffsetCommit v5 adds the group's offsets partition without AddOffsetsToTxn, and EndTxn v5
//! bumps the epoch at every commit or abort (retries recognised, writes of the old epoch
//! fenced). A read_committed librdkafka consumer then sees exactly the committed records.
//!
//! Why: librdkafka never uses this flow, so only requests built here exercise it.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use common::{unique_topic, Broker};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

struct Wire {
    stream: TcpStream,
    correlation_id: i32,
}

impl Wire {
    fn open(broker: &Broker) -> Wire {
        let stream = TcpStream::connect(broker.addr()).expect("connecting");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        Wire {
            stream,
            correlation_id: 0,
        }
    }

    fn call<Req: Encodable, Resp: Decodable>(&mut self, key: ApiKey, v: i16, req: &Req) -> Resp {
        self.correlation_id += 1;
        let mut header = RequestHeader::default();
        header.request_api_key = key as i16;
        header.request_api_version = v;
        header.correlation_id = self.correlation_id;
        header.client_id = Some(StrBytes::from_static_str("tv2-test"));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, key.request_header_version(v))
            .expect("header");
        req.encode(&mut body, v).expect("body");
        let mut frame = BytesMut::new();
        frame.put_i32(body.len() as i32);
        frame.extend_from_slice(&body);
        self.stream.write_all(&frame).expect("send");
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).expect("response size");
        let mut buf = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut buf).expect("response");
        let mut buf = Bytes::from(buf);
        let h = ResponseHeader::decode(&mut buf, key.response_header_version(v)).expect("header");
        assert_eq!(h.correlation_id, self.correlation_id);
        let resp = Resp::decode(&mut buf, v).expect("decoding the response");
        assert!(!buf.has_remaining(), "{key:?} v{v}: trailing bytes");
        resp
    }
}

/// A transactional batch of one record `value` from (pid, epoch) at `seq`.
fn txn_batch(pid: i64, epoch: i16, seq: i32, value: &str) -> Bytes {
    let record = Record {
        transactional: true,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: pid,
        producer_epoch: epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: seq,
        timestamp: common::now_ms(),
        key: None,
        value: Some(Bytes::copy_from_slice(value.as_bytes())),
        headers: IndexMap::new(),
    };
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, [&record], &options).expect("encoding");
    buf.freeze()
}

/// Produce v12 of one batch to partition 0; the partition's error code.
fn produce(w: &mut Wire, id: &str, topic: &str, batch: Bytes) -> i16 {
    let mut pd = PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(batch);
    let mut td = TopicProduceData::default();
    td.name = TopicName(StrBytes::from_string(topic.to_string()));
    td.partition_data.push(pd);
    let mut req = ProduceRequest::default();
    req.transactional_id = Some(TransactionalId(StrBytes::from_string(id.to_string())));
    req.acks = -1;
    req.timeout_ms = 10_000;
    req.topic_data.push(td);
    let resp: ProduceResponse = w.call(ApiKey::Produce, 12, &req);
    resp.responses[0].partition_responses[0].error_code
}

/// EndTxn v5: (error code, producer id, epoch) of the answer.
fn end_txn(w: &mut Wire, id: &str, pid: i64, epoch: i16, commit: bool) -> (i16, i64, i16) {
    let mut req = EndTxnRequest::default();
    req.transactional_id = TransactionalId(StrBytes::from_string(id.to_string()));
    req.producer_id = ProducerId(pid);
    req.producer_epoch = epoch;
    req.committed = commit;
    let resp: EndTxnResponse = w.call(ApiKey::EndTxn, 5, &req);
    (resp.error_code, resp.producer_id.0, resp.producer_epoch)
}

fn describe(w: &mut Wire, id: &str) -> describe_transactions_response::TransactionState {
    let mut req = DescribeTransactionsRequest::default();
    req.transactional_ids
        .push(TransactionalId(StrBytes::from_string(id.to_string())));
    let resp: DescribeTransactionsResponse = w.call(ApiKey::DescribeTransactions, 0, &req);
    resp.transaction_states.into_iter().next().expect("a state")
}

/// Values of partition 0 a read_committed consumer sees, to the end.
#[test]
fn transactions_v2_flow() {
    let broker = Broker::start();
    let topic = unique_topic("tv2");
    broker.create_topic(&topic, 1, &[]);
    let id = format!("{topic}-txn");
    let group = format!("{topic}-group");
    let mut w = Wire::open(&broker);

    // The feature that switches the Java client to transactions v2.
    let mut req = ApiVersionsRequest::default();
    req.client_software_name = StrBytes::from_static_str("tv2-test");
    req.client_software_version = StrBytes::from_static_str("1");
    let versions: ApiVersionsResponse = w.call(ApiKey::ApiVersions, 3, &req);
    let tv = versions
        .finalized_features
        .iter()
        .find(|f| f.name.as_str() == "transaction.version")
        .expect("transaction.version finalized");
    assert_eq!(tv.max_version_level, 2);
    let end_txn_max = versions
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::EndTxn as i16)
        .map(|k| k.max_version);
    assert_eq!(end_txn_max, Some(5));

    let mut req = InitProducerIdRequest::default();
    req.transactional_id = Some(TransactionalId(StrBytes::from_string(id.clone())));
    req.transaction_timeout_ms = 60_000;
    req.producer_id = ProducerId(-1);
    req.producer_epoch = -1;
    let init: InitProducerIdResponse = w.call(ApiKey::InitProducerId, 4, &req);
    assert_eq!(init.error_code, 0);
    let (pid, epoch) = (init.producer_id.0, init.producer_epoch);

    // Produce v12 begins the transaction and adds the partition: no AddPartitionsToTxn.
    assert_eq!(
        produce(&mut w, &id, &topic, txn_batch(pid, epoch, 0, "one")),
        0
    );
    let state = describe(&mut w, &id);
    assert_eq!(state.transaction_state.as_str(), "Ongoing");
    assert_eq!(state.topics[0].partitions, vec![0]);

    // TxnOffsetCommit v5 adds the group's offsets partition: no AddOffsetsToTxn.
    let mut p = TxnOffsetCommitRequestPartition::default();
    p.partition_index = 0;
    p.committed_offset = 42;
    let mut t = TxnOffsetCommitRequestTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.clone()));
    t.partitions.push(p);
    let mut req = TxnOffsetCommitRequest::default();
    req.transactional_id = TransactionalId(StrBytes::from_string(id.clone()));
    req.group_id = GroupId(StrBytes::from_string(group.clone()));
    req.producer_id = ProducerId(pid);
    req.producer_epoch = epoch;
    req.generation_id = -1;
    req.topics.push(t);
    let resp: TxnOffsetCommitResponse = w.call(ApiKey::TxnOffsetCommit, 5, &req);
    assert_eq!(resp.topics[0].partitions[0].error_code, 0);
    assert_eq!(
        describe(&mut w, &id).topics.len(),
        2,
        "data + offsets partition"
    );

    // EndTxn v5 commits at a bumped epoch; a retry gets the same answer.
    assert_eq!(end_txn(&mut w, &id, pid, epoch, true), (0, pid, epoch + 1));
    assert_eq!(
        end_txn(&mut w, &id, pid, epoch, true),
        (0, pid, epoch + 1),
        "retry"
    );
    assert_ne!(
        produce(&mut w, &id, &topic, txn_batch(pid, epoch, 1, "zombie")),
        0,
        "the old epoch is fenced"
    );

    // The next transaction runs at the new epoch from sequence 0, and is aborted.
    let e1 = epoch + 1;
    assert_eq!(
        produce(&mut w, &id, &topic, txn_batch(pid, e1, 0, "two")),
        0
    );
    assert_eq!(end_txn(&mut w, &id, pid, e1, false), (0, pid, e1 + 1));
    // An abort with nothing open only bumps the epoch; a commit then is refused.
    assert_eq!(end_txn(&mut w, &id, pid, e1 + 1, false), (0, pid, e1 + 2));
    assert_ne!(end_txn(&mut w, &id, pid, e1 + 2, true).0, 0);
    assert_eq!(describe(&mut w, &id).producer_epoch, e1 + 2);

    assert_eq!(
        broker.read_committed_to_end(&topic, 1),
        vec!["one".to_string()]
    );
    let c: BaseConsumer = broker
        .consumer_config()
        .set("group.id", &group)
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(&topic, 0);
    let committed = c
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("OffsetFetch");
    assert_eq!(
        committed.find_partition(&topic, 0).map(|p| p.offset()),
        Some(Offset::Offset(42)),
        "the committed transaction's offsets"
    );
}
