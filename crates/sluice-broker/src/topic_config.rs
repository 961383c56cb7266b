//! Topic-level configuration: the settings Kafka lets a topic override, with their types, the
//! broker settings they default from, and validation.
//!
//! One table drives CreateTopics validation, DescribeConfigs answers (value, source, synonyms,
//! type) and the [`LogConfig`] each partition log runs with, so the three can never disagree.

use std::collections::BTreeMap;

use sluice_log::LogConfig;

use crate::config::BrokerConfig;
use crate::handlers::config_util;

/// Kafka's `ConfigType` codes, as DescribeConfigs v3+ reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
    Class = 8,
    Password = 9,
}

/// Kafka's `ConfigSource` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    DynamicTopic = 1,
    DynamicBroker = 2,
    DynamicDefaultBroker = 3,
    StaticBroker = 4,
    Default = 5,
}

/// One topic-level setting.
pub struct TopicConfigDef {
    pub name: &'static str,
    pub ty: ConfigType,
    /// Broker settings that set this topic setting's default, most specific first.
    pub broker_synonyms: &'static [&'static str],
    /// Kafka's default when no broker setting is given.
    pub default: &'static str,
    pub doc: &'static str,
}

const MAX: &str = "9223372036854775807";

macro_rules! def {
    ($name:expr, $ty:ident, [$($syn:expr),*], $default:expr, $doc:expr) => {
        TopicConfigDef { name: $name, ty: ConfigType::$ty, broker_synonyms: &[$($syn),*], default: $default, doc: $doc }
    };
}

/// Every topic config Kafka 4.1 describes for a topic, in name order.
pub static TOPIC_CONFIGS: &[TopicConfigDef] = &[
    def!(
        "cleanup.policy",
        List,
        ["log.cleanup.policy"],
        "delete",
        "Retention policy for old log segments: delete, compact, or both."
    ),
    def!(
        "compression.gzip.level",
        Int,
        ["compression.gzip.level"],
        "-1",
        "Compression level for gzip."
    ),
    def!(
        "compression.lz4.level",
        Int,
        ["compression.lz4.level"],
        "9",
        "Compression level for lz4."
    ),
    def!(
        "compression.type",
        String,
        ["compression.type"],
        "producer",
        "Final compression type for the topic; 'producer' keeps the producer's codec."
    ),
    def!(
        "compression.zstd.level",
        Int,
        ["compression.zstd.level"],
        "3",
        "Compression level for zstd."
    ),
    def!(
        "confluent.key.schema.validation",
        Boolean,
        [],
        "false",
        "Reject records whose key does not carry a schema id registered for the topic."
    ),
    def!(
        "confluent.key.subject.name.strategy",
        String,
        [],
        "io.confluent.kafka.serializers.subject.TopicNameStrategy",
        "How the key's subject is derived for schema id validation."
    ),
    def!(
        "confluent.value.schema.validation",
        Boolean,
        [],
        "false",
        "Reject records whose value does not carry a schema id registered for the topic."
    ),
    def!(
        "confluent.value.subject.name.strategy",
        String,
        [],
        "io.confluent.kafka.serializers.subject.TopicNameStrategy",
        "How the value's subject is derived for schema id validation."
    ),
    def!(
        "delete.retention.ms",
        Long,
        ["log.cleaner.delete.retention.ms"],
        "86400000",
        "How long tombstones are kept in compacted topics."
    ),
    def!(
        "file.delete.delay.ms",
        Long,
        ["log.segment.delete.delay.ms"],
        "60000",
        "Delay before a deleted segment file is removed."
    ),
    def!(
        "flush.messages",
        Long,
        ["log.flush.interval.messages"],
        MAX,
        "Records appended between forced fsyncs."
    ),
    def!(
        "flush.ms",
        Long,
        ["log.flush.interval.ms"],
        MAX,
        "Maximum time between forced fsyncs."
    ),
    def!(
        "follower.replication.throttled.replicas",
        List,
        [],
        "",
        "Replicas throttled on the follower side."
    ),
    def!(
        "index.interval.bytes",
        Int,
        ["log.index.interval.bytes"],
        "4096",
        "Bytes between offset index entries."
    ),
    def!(
        "leader.replication.throttled.replicas",
        List,
        [],
        "",
        "Replicas throttled on the leader side."
    ),
    def!(
        "local.retention.bytes",
        Long,
        ["log.local.retention.bytes"],
        "-2",
        "Local retention size when tiered storage is enabled."
    ),
    def!(
        "local.retention.ms",
        Long,
        ["log.local.retention.ms"],
        "-2",
        "Local retention time when tiered storage is enabled."
    ),
    def!(
        "max.compaction.lag.ms",
        Long,
        ["log.cleaner.max.compaction.lag.ms"],
        MAX,
        "Maximum time a record stays uncompacted."
    ),
    def!(
        "max.message.bytes",
        Int,
        ["message.max.bytes"],
        "1048588",
        "Largest record batch size allowed."
    ),
    def!(
        "message.timestamp.after.max.ms",
        Long,
        ["log.message.timestamp.after.max.ms"],
        "3600000",
        "How far in the future a CreateTime timestamp may be."
    ),
    def!(
        "message.timestamp.before.max.ms",
        Long,
        ["log.message.timestamp.before.max.ms"],
        MAX,
        "How far in the past a CreateTime timestamp may be."
    ),
    def!(
        "message.timestamp.type",
        String,
        ["log.message.timestamp.type"],
        "CreateTime",
        "CreateTime or LogAppendTime."
    ),
    def!(
        "min.cleanable.dirty.ratio",
        Double,
        ["log.cleaner.min.cleanable.ratio"],
        "0.5",
        "Dirty ratio above which the log is compacted."
    ),
    def!(
        "min.compaction.lag.ms",
        Long,
        ["log.cleaner.min.compaction.lag.ms"],
        "0",
        "Minimum time a record stays uncompacted."
    ),
    def!(
        "min.insync.replicas",
        Int,
        ["min.insync.replicas"],
        "1",
        "Replicas that must acknowledge an acks=all write."
    ),
    def!(
        "preallocate",
        Boolean,
        ["log.preallocate"],
        "false",
        "Preallocate segment files."
    ),
    def!(
        "remote.log.copy.disable",
        Boolean,
        [],
        "false",
        "Stop copying segments to remote storage."
    ),
    def!(
        "remote.log.delete.on.disable",
        Boolean,
        [],
        "false",
        "Delete remote data when tiering is disabled."
    ),
    def!(
        "remote.storage.enable",
        Boolean,
        [],
        "false",
        "Tier this topic to remote storage."
    ),
    def!(
        "retention.bytes",
        Long,
        ["log.retention.bytes"],
        "-1",
        "Maximum partition size before old segments are deleted."
    ),
    def!(
        "retention.ms",
        Long,
        [
            "log.retention.ms",
            "log.retention.minutes",
            "log.retention.hours"
        ],
        "604800000",
        "Maximum age of a segment before it is deleted."
    ),
    def!(
        "segment.bytes",
        Int,
        ["log.segment.bytes"],
        "1073741824",
        "Segment file size."
    ),
    def!(
        "segment.index.bytes",
        Int,
        ["log.index.size.max.bytes"],
        "10485760",
        "Offset index size per segment."
    ),
    def!(
        "segment.jitter.ms",
        Long,
        ["log.roll.jitter.ms", "log.roll.jitter.hours"],
        "0",
        "Random jitter subtracted from segment.ms."
    ),
    def!(
        "segment.ms",
        Long,
        ["log.roll.ms", "log.roll.hours"],
        "604800000",
        "Time after which a segment is rolled."
    ),
    def!(
        "sluice.key.schema.validation.decode",
        Boolean,
        [],
        "false",
        "With key schema validation: also require the key to decode with its schema (Sluice)."
    ),
    def!(
        "sluice.value.schema.validation.decode",
        Boolean,
        [],
        "false",
        "With value schema validation: also require the value to decode with its schema (Sluice)."
    ),
    def!(
        "unclean.leader.election.enable",
        Boolean,
        ["unclean.leader.election.enable"],
        "false",
        "Allow out-of-sync replicas to become leader."
    ),
];

/// Kafka's undocumented topic setting that allows segments smaller than `segment.bytes`' 1 MiB
/// minimum (its own tests use it); accepted, applied, never described.
pub const INTERNAL_SEGMENT_BYTES: &str = "internal.segment.bytes";

pub fn find(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// A topic setting as DescribeConfigs reports it.
#[derive(Debug, Clone)]
pub struct EffectiveConfig {
    pub name: &'static str,
    pub value: String,
    pub source: ConfigSource,
    pub ty: ConfigType,
    pub doc: &'static str,
    /// (name, value, source) from most to least specific, as Kafka lists synonyms.
    pub synonyms: Vec<(String, String, ConfigSource)>,
}

/// The broker-level value a topic setting defaults to, with the broker setting it came from.
fn broker_default(def: &TopicConfigDef, broker: &BrokerConfig) -> (String, Option<&'static str>) {
    for syn in def.broker_synonyms {
        if let Some(v) = broker.raw.get(*syn) {
            let v = v.trim();
            // The hour/minute forms are converted to the topic's millisecond unit.
            let scaled = match *syn {
                "log.retention.hours" | "log.roll.hours" | "log.roll.jitter.hours" => {
                    v.parse::<i64>().ok().map(|h| (h * 3_600_000).to_string())
                }
                "log.retention.minutes" => v.parse::<i64>().ok().map(|m| (m * 60_000).to_string()),
                _ => Some(v.to_string()),
            };
            if let Some(s) = scaled {
                return (s, Some(syn));
            }
        }
    }
    (def.default.to_string(), None)
}

/// Every topic setting's effective value for a topic with `overrides`.
pub fn effective(
    broker: &BrokerConfig,
    overrides: &BTreeMap<String, String>,
) -> Vec<EffectiveConfig> {
    TOPIC_CONFIGS
        .iter()
        .map(|def| {
            let (default_value, _) = broker_default(def, broker);
            let mut synonyms = Vec::new();
            if let Some(v) = overrides.get(def.name) {
                synonyms.push((def.name.to_string(), v.clone(), ConfigSource::DynamicTopic));
            }
            // Then the broker settings behind it, in Kafka's order (statics of the synonym group,
            // then defaults, starting from the topic config's own broker setting).
            match def.broker_synonyms.first() {
                Some(first) if config_util::broker_setting(first).is_some() => {
                    synonyms.extend(
                        config_util::broker_synonyms(&broker.raw, first)
                            .into_iter()
                            .map(|(n, v, src)| (n, v.unwrap_or_default(), src)),
                    );
                }
                Some(first) => {
                    if let Some(v) = broker.raw.get(*first) {
                        synonyms.push((
                            first.to_string(),
                            v.trim().to_string(),
                            ConfigSource::StaticBroker,
                        ));
                    }
                    synonyms.push((
                        first.to_string(),
                        def.default.to_string(),
                        ConfigSource::Default,
                    ));
                }
                None => {}
            }
            let (value, source) = match overrides.get(def.name) {
                Some(v) => (v.clone(), ConfigSource::DynamicTopic),
                None => (
                    default_value,
                    synonyms
                        .first()
                        .map(|s| s.2)
                        .unwrap_or(ConfigSource::Default),
                ),
            };
            EffectiveConfig {
                name: def.name,
                value,
                source,
                ty: def.ty,
                doc: def.doc,
                synonyms,
            }
        })
        .collect()
}

/// Why a topic setting was refused (answered as INVALID_CONFIG).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidConfig(pub String);

/// Checks one topic setting by Kafka's rules for its type and range.
pub fn validate(name: &str, value: &str) -> Result<(), InvalidConfig> {
    if name == INTERNAL_SEGMENT_BYTES {
        return match value.trim().parse::<i32>() {
            Ok(n) if n >= 14 => Ok(()),
            _ => Err(InvalidConfig(format!(
                "Invalid value {value} for configuration {name}: Value must be at least 14"
            ))),
        };
    }
    let def =
        find(name).ok_or_else(|| InvalidConfig(format!("Unknown topic config name: {name}")))?;
    let bad = |why: &str| {
        InvalidConfig(format!(
            "Invalid value {value} for configuration {name}: {why}"
        ))
    };
    let v = value.trim();
    match def.ty {
        ConfigType::Boolean
            if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") =>
        {
            return Err(bad("Expected value to be either true or false"));
        }
        ConfigType::Int => {
            let n: i32 = v.parse().map_err(|_| bad("Not a number of type INT"))?;
            let min = match name {
                "segment.bytes" => 1_048_576,
                "segment.index.bytes" => 4,
                "max.message.bytes" | "index.interval.bytes" => 0,
                "min.insync.replicas" => 1,
                _ => i32::MIN,
            };
            if n < min {
                return Err(bad(&format!("Value must be at least {min}")));
            }
        }
        ConfigType::Long => {
            let n: i64 = v.parse().map_err(|_| bad("Not a number of type LONG"))?;
            let min = match name {
                "retention.ms" => -1,
                "retention.bytes" => i64::MIN,
                "local.retention.ms" | "local.retention.bytes" => -2,
                "segment.ms" | "flush.messages" => 1,
                "max.compaction.lag.ms" => 1,
                _ => 0,
            };
            if n < min {
                return Err(bad(&format!("Value must be at least {min}")));
            }
        }
        ConfigType::Double => {
            let n: f64 = v.parse().map_err(|_| bad("Not a number of type DOUBLE"))?;
            if name == "min.cleanable.dirty.ratio" && !(0.0..=1.0).contains(&n) {
                return Err(bad("Value must be between 0 and 1"));
            }
        }
        ConfigType::List if name == "cleanup.policy" => {
            for p in v.split(',').map(str::trim) {
                if p != "delete" && p != "compact" {
                    return Err(bad("String must be one of: compact, delete"));
                }
            }
        }
        ConfigType::String
            if name.ends_with(".subject.name.strategy")
                && crate::record_validation::SubjectNameStrategy::parse(v).is_none() =>
        {
            return Err(bad(
                "Must be TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy",
            ));
        }
        ConfigType::String
            if name == "message.timestamp.type" && v != "CreateTime" && v != "LogAppendTime" =>
        {
            return Err(bad("String must be one of: CreateTime, LogAppendTime"));
        }
        ConfigType::String
            if name == "compression.type"
                && !["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"].contains(&v) =>
        {
            return Err(bad(
                "String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer",
            ));
        }
        _ => {}
    }
    Ok(())
}

/// The log settings a topic's partitions run with: broker defaults, then the topic's overrides.
pub fn log_config(broker: &BrokerConfig, overrides: &BTreeMap<String, String>) -> LogConfig {
    let mut c = broker.log_defaults.clone();
    let num = |k: &str| overrides.get(k).and_then(|v| v.trim().parse::<i64>().ok());
    if let Some(v) = num("segment.bytes") {
        c.segment_bytes = v.max(14) as u64;
    }
    // Kafka's test-only override, below segment.bytes' 1 MiB floor; not described.
    if let Some(v) = num(INTERNAL_SEGMENT_BYTES) {
        c.segment_bytes = v.max(14) as u64;
    }
    if let Some(v) = num("segment.ms") {
        c.segment_ms = v;
    }
    if let Some(v) = num("segment.index.bytes") {
        c.segment_index_bytes = v.max(4) as u64;
    }
    if let Some(v) = num("index.interval.bytes") {
        c.index_interval_bytes = v.max(0) as u64;
    }
    if let Some(v) = num("retention.ms") {
        c.retention_ms = v;
    }
    if let Some(v) = num("retention.bytes") {
        c.retention_bytes = v;
    }
    if let Some(p) = overrides.get("cleanup.policy") {
        c.cleanup_policy_delete = p.contains("delete");
        c.cleanup_policy_compact = p.contains("compact");
    }
    if let Some(v) = num("delete.retention.ms") {
        c.delete_retention_ms = v;
    }
    if let Some(v) = overrides
        .get("min.cleanable.dirty.ratio")
        .and_then(|v| v.trim().parse().ok())
    {
        c.min_cleanable_dirty_ratio = v;
    }
    if let Some(v) = num("min.compaction.lag.ms") {
        c.min_compaction_lag_ms = v;
    }
    if let Some(v) = num("max.compaction.lag.ms") {
        c.max_compaction_lag_ms = v;
    }
    if let Some(v) = num("flush.messages") {
        // Durable mode is a broker-wide promise; a topic may only flush more often.
        c.flush_messages = if broker.durable { 1 } else { v };
    }
    if let Some(v) = num("flush.ms") {
        c.flush_ms = v;
    }
    if let Some(v) = num("max.message.bytes") {
        c.max_message_bytes = v.clamp(0, i32::MAX as i64) as i32;
    }
    if let Some(v) = overrides.get("message.timestamp.type") {
        c.message_timestamp_type_log_append = v.trim() == "LogAppendTime";
    }
    if let Some(v) = num("message.timestamp.before.max.ms") {
        c.message_timestamp_before_max_ms = v;
    }
    if let Some(v) = num("message.timestamp.after.max.ms") {
        c.message_timestamp_after_max_ms = v;
    }
    if let Some(v) = num("file.delete.delay.ms") {
        c.file_delete_delay_ms = v;
    }
    c
}
