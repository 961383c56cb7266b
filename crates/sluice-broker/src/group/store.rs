//! The durable home of committed offsets and group metadata: Kafka's compacted internal topic
//! `__consumer_offsets`, written and read through the ordinary topic registry.
//!
//! A group's records all go to one partition (chosen by the hash Kafka uses), so the order of a
//! group's changes is the order of its records. The topic is created on first write, compacted, so
//! only the latest value per key (and tombstones for a while) survives. At start-up the coordinator
//! replays every partition from the beginning to rebuild its state.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use sluice_log::AppendOptions;

use super::config::GroupConfig;
use crate::error::Code;
use crate::partition::{Partition, LEADER_EPOCH};
use crate::topics::{Topic, TopicRegistry};

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// One record to write: a key and a value, or `None` for a tombstone.
pub type KeyValue = (Bytes, Option<Bytes>);

/// Transactional records still waiting for their marker, by producer id.
pub type PendingTxns = std::collections::HashMap<i64, Vec<KeyValue>>;

/// Java's `String.hashCode`, which Kafka uses to place a group on a partition.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// The `__consumer_offsets` partition that holds `group` (Kafka's `abs(hash) % partitions`).
pub fn partition_for(group: &str, partitions: i32) -> i32 {
    (java_string_hash(group) & 0x7fff_ffff) % partitions.max(1)
}

pub struct OffsetsStore {
    config: GroupConfig,
}

impl OffsetsStore {
    pub fn new(config: GroupConfig) -> OffsetsStore {
        OffsetsStore { config }
    }

    /// The offsets topic, created (compacted, Kafka's offsets-topic settings) on first use.
    fn topic(&self, topics: &TopicRegistry) -> Result<Arc<Topic>, Code> {
        let configs = || {
            BTreeMap::from([
                ("cleanup.policy".to_string(), "compact".to_string()),
                (
                    "segment.bytes".to_string(),
                    self.config.offsets_segment_bytes.to_string(),
                ),
                ("compression.type".to_string(), "producer".to_string()),
            ])
        };
        topics
            .get_or_create_internal(OFFSETS_TOPIC, self.config.offsets_partitions, configs)
            .map_err(|e| {
                tracing::error!(error = %e.message, "cannot create {}", OFFSETS_TOPIC);
                Code::CoordinatorNotAvailable
            })
    }

    /// Appends `records` for `group` as one batch. Returns the partition so the caller can wait
    /// for fsync in durable mode. The caller holds the coordinator lock, which keeps the log in the
    /// same order as the in-memory state changes.
    pub fn append(
        &self,
        topics: &TopicRegistry,
        durable: bool,
        group: &str,
        records: &[KeyValue],
        now_ms: i64,
    ) -> Result<Arc<Partition>, Code> {
        self.append_as(topics, durable, group, records, now_ms, None)
    }

    /// The partition that holds `group` (creating the topic if needed).
    pub fn partition_of(&self, topics: &TopicRegistry, group: &str) -> Result<i32, Code> {
        let topic = self.topic(topics)?;
        Ok(partition_for(group, topic.partitions.len() as i32))
    }

    /// [`Self::append`], as a transactional batch of `producer` (id, epoch) when given: such
    /// records count only once a commit marker follows (TxnOffsetCommit).
    pub fn append_as(
        &self,
        topics: &TopicRegistry,
        durable: bool,
        group: &str,
        records: &[KeyValue],
        now_ms: i64,
        producer: Option<(i64, i16)>,
    ) -> Result<Arc<Partition>, Code> {
        let (producer_id, producer_epoch) = producer.unwrap_or((-1, -1));
        let topic = self.topic(topics)?;
        let index = partition_for(group, topic.partitions.len() as i32);
        let partition = topic
            .partition(index)
            .ok_or(Code::CoordinatorNotAvailable)?
            .clone();
        if records.is_empty() {
            return Ok(partition);
        }
        let batch: Vec<Record> = records
            .iter()
            .enumerate()
            .map(|(i, (key, value))| Record {
                transactional: producer.is_some(),
                control: false,
                delete_horizon: false,
                partition_leader_epoch: LEADER_EPOCH,
                producer_id,
                producer_epoch,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: -1,
                timestamp: now_ms,
                key: Some(key.clone()),
                value: value.clone(),
                headers: IndexMap::new(),
            })
            .collect();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        };
        RecordBatchEncoder::encode(&mut buf, &batch, &options).map_err(|e| {
            tracing::error!(error = %e, "cannot encode a {OFFSETS_TOPIC} batch");
            Code::UnknownServerError
        })?;
        let opts = AppendOptions {
            leader_epoch: LEADER_EPOCH,
            now_ms,
            origin_client: false,
        };
        partition.append(&mut buf, &opts, durable).map_err(|e| {
            tracing::error!(group, error = %e, "cannot append to {OFFSETS_TOPIC}");
            match e {
                sluice_log::AppendError::MessageTooLarge => Code::MessageTooLarge,
                sluice_log::AppendError::Io(_) => Code::KafkaStorageError,
                _ => Code::UnknownServerError,
            }
        })?;
        Ok(partition)
    }

    /// Every record of the offsets topic in log order (per partition), for replay at start-up.
    /// Transactional records (TxnOffsetCommit) appear where their commit marker is and are
    /// dropped at an abort marker; those with no marker yet are returned by producer id.
    pub fn load(&self, topics: &TopicRegistry) -> std::io::Result<(Vec<KeyValue>, PendingTxns)> {
        let mut pending = PendingTxns::new();
        let mut out = Vec::new();
        let Some(topic) = topics.get(OFFSETS_TOPIC) else {
            return Ok((out, pending));
        };
        for p in &topic.partitions {
            p.for_each_batch(|header, mut raw| {
                if header.is_control() {
                    let commit = sluice_log::marker_is_abort(&raw) == Some(false);
                    let records = pending.remove(&header.producer_id).unwrap_or_default();
                    if commit {
                        out.extend(records);
                    }
                    return;
                }
                match RecordBatchDecoder::decode(&mut raw) {
                    Ok(set) => {
                        let dest = if header.is_transactional() {
                            pending.entry(header.producer_id).or_default()
                        } else {
                            &mut out
                        };
                        for r in set.records {
                            if let Some(key) = r.key {
                                dest.push((key, r.value));
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(partition = p.index, offset = header.base_offset, error = %e,
                            "skipping an unreadable {OFFSETS_TOPIC} batch")
                    }
                }
            })?;
        }
        Ok((out, pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_matches_kafkas_placement() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("ab"), 97 * 31 + 98);
        for g in ["", "g", "group-1", "\u{1F600}"] {
            let p = partition_for(g, 50);
            assert!((0..50).contains(&p));
        }
    }
}
