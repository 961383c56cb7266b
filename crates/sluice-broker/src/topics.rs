//! The topic registry: which topics exist, their ids, partitions and config overrides.
//!
//! Topic metadata is what a restart must remember besides the logs themselves; it lives in
//! `<data>/__sluice/topics.json`, rewritten atomically on every change. Each partition directory
//! also carries Kafka's `partition.metadata` file so the topic id can be matched to the data.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use sluice_log::PartitionLog;
use uuid::Uuid;

use crate::config::BrokerConfig;
use crate::error::Code;
use crate::partition::Partition;
use crate::topic_config;

pub struct Topic {
    pub name: Arc<str>,
    pub id: Uuid,
    pub partitions: Vec<Arc<Partition>>,
    pub configs: BTreeMap<String, String>,
    pub internal: bool,
}

impl Topic {
    pub fn partition(&self, index: i32) -> Option<&Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }
}

/// A refused topic operation: a Kafka error code and the message Kafka would send with it.
#[derive(Debug, Clone)]
pub struct TopicError {
    pub code: Code,
    pub message: String,
}

impl TopicError {
    pub fn new(code: Code, message: impl Into<String>) -> TopicError {
        TopicError {
            code,
            message: message.into(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct StoredTopic {
    name: String,
    id: Uuid,
    partitions: i32,
    #[serde(default)]
    configs: BTreeMap<String, String>,
}

#[derive(Default)]
struct Inner {
    by_name: HashMap<Arc<str>, Arc<Topic>>,
    by_id: HashMap<Uuid, Arc<Topic>>,
}

pub struct TopicRegistry {
    broker: Arc<BrokerConfig>,
    data_dir: PathBuf,
    meta_file: PathBuf,
    inner: RwLock<Inner>,
    /// Serialises changes so the metadata file is written in the order changes happen.
    change: parking_lot::Mutex<()>,
}

/// The most partitions one request may create (Kafka's controller batch limit).
pub const MAX_PARTITIONS_PER_REQUEST: i32 = 10_000;

/// Kafka's rules for a legal topic name.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    let invalid = |why: String| {
        Err(TopicError::new(
            Code::InvalidTopicException,
            format!("Topic name is invalid: {why}"),
        ))
    };
    if name.is_empty() {
        return invalid("the empty string is not allowed".into());
    }
    if name == "." || name == ".." {
        return invalid(format!("'{name}' is not allowed"));
    }
    if name.len() > 249 {
        return invalid(format!(
            "the length of '{name}' is longer than the max allowed length 249"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return invalid(format!(
            "'{name}' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

fn partition_dir(data_dir: &Path, topic: &str, index: i32) -> PathBuf {
    data_dir.join(format!("{topic}-{index}"))
}

/// Kafka's `partition.metadata` file: version and the topic id in Kafka's base64 form.
fn write_partition_metadata(dir: &Path, id: Uuid) -> std::io::Result<()> {
    let content = format!("version: 0\ntopic_id: {}\n", crate::ids::kafka_base64(id));
    crate::persist::write_atomic(&dir.join("partition.metadata"), content.as_bytes())
}

impl TopicRegistry {
    /// Loads the registry and opens (recovering) every partition log.
    pub fn open(broker: Arc<BrokerConfig>) -> std::io::Result<TopicRegistry> {
        let data_dir = broker.data_dir.clone();
        let meta_file = data_dir.join("__sluice").join("topics.json");
        let stored: Vec<StoredTopic> = match std::fs::read(&meta_file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let registry = TopicRegistry {
            broker,
            data_dir,
            meta_file,
            inner: RwLock::new(Inner::default()),
            change: parking_lot::Mutex::new(()),
        };
        // Recovery is I/O bound per partition: open partitions on a few threads at once.
        let mut jobs = Vec::new();
        for t in &stored {
            for p in 0..t.partitions {
                jobs.push((t.name.clone(), t.id, p, t.configs.clone()));
            }
        }
        let opened = std::thread::scope(|s| {
            let chunks: Vec<_> = jobs.chunks(jobs.len().div_ceil(4).max(1)).collect();
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    let reg = &registry;
                    s.spawn(move || {
                        chunk
                            .iter()
                            .map(|(name, id, p, configs)| {
                                reg.open_partition(name, *id, *p, configs)
                                    .map(|part| (name.clone(), part))
                            })
                            .collect::<std::io::Result<Vec<_>>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(std::io::Error::other("recovery thread panicked")))
                })
                .collect::<std::io::Result<Vec<_>>>()
        })?;
        let mut parts: HashMap<String, Vec<Arc<Partition>>> = HashMap::new();
        for (name, part) in opened.into_iter().flatten() {
            parts.entry(name).or_default().push(part);
        }
        {
            let mut inner = registry.inner.write();
            for t in stored {
                let mut partitions = parts.remove(&t.name).unwrap_or_default();
                partitions.sort_by_key(|p| p.index);
                let topic = Arc::new(Topic {
                    name: Arc::from(t.name.as_str()),
                    id: t.id,
                    internal: t.name.starts_with("__"),
                    partitions,
                    configs: t.configs,
                });
                inner.by_id.insert(topic.id, topic.clone());
                inner.by_name.insert(topic.name.clone(), topic);
            }
        }
        Ok(registry)
    }

    fn open_partition(
        &self,
        name: &str,
        id: Uuid,
        index: i32,
        configs: &BTreeMap<String, String>,
    ) -> std::io::Result<Arc<Partition>> {
        let dir = partition_dir(&self.data_dir, name, index);
        let log = PartitionLog::open(&dir, topic_config::log_config(&self.broker, configs))?;
        if !dir.join("partition.metadata").exists() {
            write_partition_metadata(&dir, id)?;
        }
        Ok(Arc::new(Partition::new(Arc::from(name), id, index, log)))
    }

    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.inner.read().by_name.get(name).cloned()
    }

    pub fn get_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        self.inner.read().by_id.get(&id).cloned()
    }

    pub fn list(&self) -> Vec<Arc<Topic>> {
        let mut v: Vec<_> = self.inner.read().by_name.values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    fn persist(&self, inner: &Inner) -> std::io::Result<()> {
        let mut stored: Vec<StoredTopic> = inner
            .by_name
            .values()
            .map(|t| StoredTopic {
                name: t.name.to_string(),
                id: t.id,
                partitions: t.partitions.len() as i32,
                configs: t.configs.clone(),
            })
            .collect();
        stored.sort_by(|a, b| a.name.cmp(&b.name));
        let json = serde_json::to_vec_pretty(&stored).map_err(std::io::Error::other)?;
        crate::persist::write_atomic(&self.meta_file, &json)
    }

    /// Checks a create request the way Kafka does, without changing anything.
    pub fn check_create(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), TopicError> {
        validate_topic_name(name)?;
        let inner = self.inner.read();
        if inner.by_name.contains_key(name) {
            return Err(TopicError::new(
                Code::TopicAlreadyExists,
                format!("Topic '{name}' already exists."),
            ));
        }
        if name.contains('.') || name.contains('_') {
            let norm = name.replace('.', "_");
            if let Some(other) = inner.by_name.keys().find(|n| n.replace('.', "_") == norm) {
                return Err(TopicError::new(
                    Code::InvalidTopicException,
                    format!("Topic '{name}' collides with existing topic: {other}"),
                ));
            }
        }
        drop(inner);
        if partitions < 1 {
            return Err(TopicError::new(
                Code::InvalidPartitions,
                "Number of partitions was set to an invalid non-positive value.",
            ));
        }
        // Kafka's controller refuses oversized batches outright rather than stalling on them.
        if partitions > MAX_PARTITIONS_PER_REQUEST {
            return Err(TopicError::new(
                Code::PolicyViolation,
                "Excessively large number of partitions per request.",
            ));
        }
        if replication_factor < 1 {
            return Err(TopicError::new(
                Code::InvalidReplicationFactor,
                "Replication factor must be larger than 0, or -1 to use the default value.",
            ));
        }
        if replication_factor > 1 {
            return Err(TopicError::new(
                Code::InvalidReplicationFactor,
                format!(
                    "Unable to replicate the partition {replication_factor} time(s): The target replication factor of {replication_factor} cannot be reached because only 1 broker(s) are registered."
                ),
            ));
        }
        for (k, v) in configs {
            topic_config::validate(k, v).map_err(|e| TopicError::new(Code::InvalidConfig, e.0))?;
        }
        Ok(())
    }

    /// Creates a topic (validated by [`Self::check_create`]) and its partition logs.
    pub fn create(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, TopicError> {
        let _guard = self.change.lock();
        self.check_create(name, partitions, replication_factor, &configs)?;
        let id = Uuid::new_v4();
        let storage = |e: std::io::Error| TopicError::new(Code::KafkaStorageError, e.to_string());
        let parts = (0..partitions)
            .map(|p| self.open_partition(name, id, p, &configs))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(storage)?;
        let topic = Arc::new(Topic {
            name: Arc::from(name),
            id,
            partitions: parts,
            configs,
            internal: name.starts_with("__"),
        });
        let mut inner = self.inner.write();
        inner.by_id.insert(id, topic.clone());
        inner.by_name.insert(topic.name.clone(), topic.clone());
        self.persist(&inner).map_err(storage)?;
        tracing::info!(topic = name, partitions, "created topic");
        Ok(topic)
    }

    /// An internal compacted topic (`__consumer_offsets`, `__transaction_state`), created with
    /// `configs()` on first use; a concurrent creator's topic is used if it won the race.
    pub fn get_or_create_internal(
        &self,
        name: &str,
        partitions: i32,
        configs: impl FnOnce() -> BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, TopicError> {
        if let Some(t) = self.get(name) {
            return Ok(t);
        }
        match self.create(name, partitions, 1, configs()) {
            Ok(t) => Ok(t),
            Err(e) => self.get(name).ok_or(e),
        }
    }

    /// Deletes a topic; its partition directories are renamed away at once and removed in the background.
    pub fn delete(&self, name: &str) -> Result<Arc<Topic>, TopicError> {
        let _guard = self.change.lock();
        let mut inner = self.inner.write();
        let topic = inner.by_name.remove(name).ok_or_else(|| {
            TopicError::new(
                Code::UnknownTopicOrPartition,
                "This server does not host this topic-partition.",
            )
        })?;
        inner.by_id.remove(&topic.id);
        self.persist(&inner)
            .map_err(|e| TopicError::new(Code::KafkaStorageError, e.to_string()))?;
        drop(inner);
        for p in &topic.partitions {
            // Fetches still holding the partition see an empty log from here on.
            p.with_log(|log| {
                let dir = log.dir().to_path_buf();
                let doomed = dir.with_file_name(format!(
                    "{}-{}.{}-delete",
                    topic.name,
                    p.index,
                    topic.id.simple()
                ));
                if std::fs::rename(&dir, &doomed).is_ok() {
                    let _ = std::thread::Builder::new()
                        .name("topic-delete".into())
                        .spawn(move || std::fs::remove_dir_all(doomed));
                }
            });
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(topic)
    }

    /// Grows a topic to `total` partitions.
    pub fn add_partitions(
        &self,
        name: &str,
        total: i32,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let _guard = self.change.lock();
        let topic = self.get(name).ok_or_else(|| {
            TopicError::new(
                Code::UnknownTopicOrPartition,
                "This server does not host this topic-partition.",
            )
        })?;
        let current = topic.partitions.len() as i32;
        if total < current {
            return Err(TopicError::new(
                Code::InvalidPartitions,
                format!("Topic currently has {current} partitions, which is higher than the requested {total}."),
            ));
        }
        if total == current {
            return Err(TopicError::new(
                Code::InvalidPartitions,
                format!("Topic already has {current} partitions."),
            ));
        }
        if validate_only {
            return Ok(());
        }
        let mut partitions = topic.partitions.clone();
        for p in current..total {
            partitions.push(
                self.open_partition(name, topic.id, p, &topic.configs)
                    .map_err(|e| TopicError::new(Code::KafkaStorageError, e.to_string()))?,
            );
        }
        self.replace(Topic {
            name: topic.name.clone(),
            id: topic.id,
            partitions,
            configs: topic.configs.clone(),
            internal: topic.internal,
        })
    }

    /// Replaces a topic's config overrides and applies them to its open logs.
    pub fn set_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
    ) -> Result<(), TopicError> {
        let _guard = self.change.lock();
        let topic = self.get(name).ok_or_else(|| {
            TopicError::new(
                Code::UnknownTopicOrPartition,
                "This server does not host this topic-partition.",
            )
        })?;
        let log_config = topic_config::log_config(&self.broker, &configs);
        for p in &topic.partitions {
            p.with_log(|log| log.set_config(log_config.clone()));
        }
        self.replace(Topic {
            name: topic.name.clone(),
            id: topic.id,
            partitions: topic.partitions.clone(),
            configs,
            internal: topic.internal,
        })
    }

    fn replace(&self, topic: Topic) -> Result<(), TopicError> {
        let topic = Arc::new(topic);
        let mut inner = self.inner.write();
        inner.by_id.insert(topic.id, topic.clone());
        inner.by_name.insert(topic.name.clone(), topic);
        self.persist(&inner)
            .map_err(|e| TopicError::new(Code::KafkaStorageError, e.to_string()))
    }

    /// Flushes and closes every log (clean shutdown).
    pub fn close_all(&self) {
        for topic in self.list() {
            for p in &topic.partitions {
                if let Err(e) = p.with_log(|log| log.close()) {
                    tracing::error!(topic = %topic.name, partition = p.index, error = %e, "closing log failed");
                }
            }
        }
    }
}
