//! The registry's durable home: the compacted topic `_schemas`, as Confluent's registry keeps it,
//! written through the broker's own partition append path and replayed at start-up.
//!
//! Keys and values are JSON in Confluent's layout, e.g. key
//! `{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}` with the schema record as value;
//! `CONFIG`, `MODE` and `DELETE_SUBJECT` keys hold compatibility levels, modes and subject
//! deletions. A null value (tombstone) removes a key: a permanently deleted version or a deleted
//! config/mode. Every write is fsynced before the registry acknowledges it.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use serde::{Deserialize, Serialize};
use sluice_broker::partition::{Partition, LEADER_EPOCH};
use sluice_broker::Broker;
use sluice_log::AppendOptions;

use crate::types::SchemaType;

pub const SCHEMAS_TOPIC: &str = "_schemas";

/// Why a write to `_schemas` failed (answered as 50001).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create {SCHEMAS_TOPIC}: {0}")]
    Topic(String),
    #[error("cannot encode a {SCHEMAS_TOPIC} batch: {0}")]
    Encode(String),
    #[error("cannot append to {SCHEMAS_TOPIC}: {0}")]
    Append(String),
    #[error("cannot flush {SCHEMAS_TOPIC}: {0}")]
    Flush(String),
}

/// The key of a `_schemas` record, tagged by `keytype` as in Confluent's registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "keytype", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Key {
    Schema {
        subject: String,
        version: i32,
        magic: i32,
    },
    Config {
        subject: Option<String>,
        magic: i32,
    },
    Mode {
        subject: Option<String>,
        magic: i32,
    },
    DeleteSubject {
        subject: String,
        magic: i32,
    },
    /// Confluent writes these to check the topic is writable; they carry nothing.
    Noop {
        #[serde(default)]
        magic: i32,
    },
}

/// A schema reference as the REST API and the schema record spell it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reference {
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// The value of a SCHEMA key: one version of a subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaValue {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    #[serde(default, skip_serializing_if = "is_avro")]
    pub schema_type: Option<SchemaType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    pub schema: String,
    #[serde(default)]
    pub deleted: bool,
}

fn is_avro(t: &Option<SchemaType>) -> bool {
    matches!(t, None | Some(SchemaType::Avro))
}

impl SchemaValue {
    pub fn schema_type(&self) -> SchemaType {
        self.schema_type.unwrap_or(SchemaType::Avro)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigValue {
    pub compatibility_level: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeValue {
    pub mode: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteSubjectValue {
    pub subject: String,
    pub version: i32,
}

/// One change to write: a key and its JSON value, or `None` for a tombstone.
pub type Change = (Key, Option<serde_json::Value>);

pub struct Store {
    broker: Arc<Broker>,
}

impl Store {
    pub fn new(broker: Arc<Broker>) -> Store {
        Store { broker }
    }

    fn partition(&self) -> Result<Arc<Partition>, StoreError> {
        let configs = || {
            BTreeMap::from([
                ("cleanup.policy".to_string(), "compact".to_string()),
                ("compression.type".to_string(), "producer".to_string()),
            ])
        };
        let topic = self
            .broker
            .topics
            .get_or_create_internal(SCHEMAS_TOPIC, 1, configs)
            .map_err(|e| StoreError::Topic(e.message.to_string()))?;
        topic
            .partition(0)
            .cloned()
            .ok_or_else(|| StoreError::Topic("partition 0 is missing".into()))
    }

    /// Appends `changes` as one batch and waits until it is on disk.
    pub async fn write(&self, changes: &[Change]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let partition = self.partition()?;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let mut batch = Vec::with_capacity(changes.len());
        for (i, (key, value)) in changes.iter().enumerate() {
            let key = serde_json::to_vec(key).map_err(|e| StoreError::Encode(e.to_string()))?;
            let value = value.as_ref().map(|v| Bytes::from(v.to_string()));
            batch.push(Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: LEADER_EPOCH,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: -1,
                timestamp: now_ms,
                key: Some(Bytes::from(key)),
                value,
                headers: IndexMap::new(),
            });
        }
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        };
        RecordBatchEncoder::encode(&mut buf, &batch, &options)
            .map_err(|e| StoreError::Encode(e.to_string()))?;
        let opts = AppendOptions {
            leader_epoch: LEADER_EPOCH,
            now_ms,
            origin_client: false,
        };
        partition
            .append(&mut buf, &opts, true)
            .map_err(|e| StoreError::Append(e.to_string()))?;
        self.broker
            .flusher
            .flush(partition)
            .await
            .map_err(StoreError::Flush)
    }

    /// Warns when `_schemas` exists but is not compacted (e.g. auto-created by a consumer before
    /// the first registration): time-based retention would then delete schemas, as Confluent's
    /// registry warns by refusing to start.
    pub fn check_topic(&self) {
        if let Some(topic) = self.broker.topics.get(SCHEMAS_TOPIC) {
            let compacted = topic
                .configs
                .get("cleanup.policy")
                .is_some_and(|p| p.contains("compact"));
            if !compacted {
                tracing::error!(
                    "{SCHEMAS_TOPIC} is not compacted (cleanup.policy); retention may delete \
                     registered schemas; set cleanup.policy=compact on it"
                );
            }
        }
    }

    /// Every record of `_schemas` in log order, for replay at start-up. Records whose key is not
    /// one we understand are skipped with a warning (another registry's key types).
    pub fn load(&self) -> std::io::Result<Vec<(Key, Option<Bytes>)>> {
        let mut out = Vec::new();
        let Some(topic) = self.broker.topics.get(SCHEMAS_TOPIC) else {
            return Ok(out);
        };
        for p in &topic.partitions {
            p.for_each_batch(|header, mut raw| {
                if header.is_control() {
                    return;
                }
                let set = match RecordBatchDecoder::decode(&mut raw) {
                    Ok(set) => set,
                    Err(e) => {
                        tracing::warn!(offset = header.base_offset, error = %e,
                            "skipping an unreadable {SCHEMAS_TOPIC} batch");
                        return;
                    }
                };
                for r in set.records {
                    let Some(key) = r.key else { continue };
                    match serde_json::from_slice::<Key>(&key) {
                        Ok(k) => out.push((k, r.value)),
                        Err(e) => tracing::warn!(offset = r.offset, error = %e,
                            "skipping a {SCHEMAS_TOPIC} record with an unknown key"),
                    }
                }
            })?;
        }
        Ok(out)
    }
}
