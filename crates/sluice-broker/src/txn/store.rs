//! The durable home of transaction state: Kafka's compacted internal topic `__transaction_state`,
//! written and read through the ordinary topic registry (the pattern of [`crate::group::store`]).
//!
//! A transactional id's records all go to one partition (Kafka's `abs(hash) % partitions`), so
//! its latest record is its state. Start-up replays every partition from the beginning.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use sluice_log::AppendOptions;

use super::config::TxnConfig;
use crate::error::Code;
use crate::group::store::partition_for;
use crate::partition::{Partition, LEADER_EPOCH};
use crate::topics::{Topic, TopicRegistry};

pub const TXN_TOPIC: &str = "__transaction_state";

pub struct TxnStore {
    config: TxnConfig,
}

impl TxnStore {
    pub fn new(config: TxnConfig) -> TxnStore {
        TxnStore { config }
    }

    /// The state topic, created (compacted, Kafka's settings for it) on first use.
    fn topic(&self, topics: &TopicRegistry) -> Result<Arc<Topic>, Code> {
        let configs = || {
            BTreeMap::from([
                ("cleanup.policy".to_string(), "compact".to_string()),
                (
                    "segment.bytes".to_string(),
                    self.config.log_segment_bytes.to_string(),
                ),
                ("compression.type".to_string(), "uncompressed".to_string()),
            ])
        };
        topics
            .get_or_create_internal(TXN_TOPIC, self.config.log_partitions, configs)
            .map_err(|e| {
                tracing::error!(error = %e.message, "cannot create {}", TXN_TOPIC);
                Code::CoordinatorNotAvailable
            })
    }

    /// Appends one record for `transactional_id`. Returns the partition so the caller can wait
    /// for fsync in durable mode. The caller holds the coordinator lock, so the log order is the
    /// order of the state changes.
    pub fn append(
        &self,
        topics: &TopicRegistry,
        durable: bool,
        transactional_id: &str,
        key: Bytes,
        value: Option<Bytes>,
        now_ms: i64,
    ) -> Result<Arc<Partition>, Code> {
        let topic = self.topic(topics)?;
        let index = partition_for(transactional_id, topic.partitions.len() as i32);
        let partition = topic
            .partition(index)
            .ok_or(Code::CoordinatorNotAvailable)?
            .clone();
        let record = Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: LEADER_EPOCH,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: 0,
            sequence: -1,
            timestamp: now_ms,
            key: Some(key),
            value,
            headers: IndexMap::new(),
        };
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        };
        RecordBatchEncoder::encode(&mut buf, [&record], &options).map_err(|e| {
            tracing::error!(error = %e, "cannot encode a {TXN_TOPIC} batch");
            Code::UnknownServerError
        })?;
        let opts = AppendOptions {
            leader_epoch: LEADER_EPOCH,
            now_ms,
            origin_client: false,
        };
        partition.append(&mut buf, &opts, durable).map_err(|e| {
            tracing::error!(transactional_id, error = %e, "cannot append to {TXN_TOPIC}");
            Code::CoordinatorNotAvailable
        })?;
        Ok(partition)
    }

    /// Every (key, value) of the state topic in log order per partition, for replay at start-up.
    pub fn load(&self, topics: &TopicRegistry) -> std::io::Result<Vec<(Bytes, Option<Bytes>)>> {
        let mut out = Vec::new();
        let Some(topic) = topics.get(TXN_TOPIC) else {
            return Ok(out);
        };
        for p in &topic.partitions {
            p.for_each_batch(|header, mut raw| {
                if header.is_control() {
                    return;
                }
                match RecordBatchDecoder::decode(&mut raw) {
                    Ok(set) => out.extend(
                        set.records
                            .into_iter()
                            .filter_map(|r| r.key.map(|k| (k, r.value))),
                    ),
                    Err(e) => tracing::warn!(partition = p.index, offset = header.base_offset,
                        error = %e, "skipping an unreadable {TXN_TOPIC} batch"),
                }
            })?;
        }
        Ok(out)
    }
}
