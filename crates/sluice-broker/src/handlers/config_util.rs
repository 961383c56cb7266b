//! What the three config APIs (DescribeConfigs, AlterConfigs, IncrementalAlterConfigs) share:
//! Kafka's resource types and errors, the broker settings Sluice describes, the checks a topic's
//! whole override set must pass, and the incremental operations on it.
//!
//! Topic settings themselves are defined once in [`crate::topic_config`]; this module only adds
//! what the admin APIs need on top, following the order in which Kafka's broker and controller
//! check a request so each refusal carries the code and message a Kafka cluster would send.

use std::collections::{BTreeMap, HashMap, HashSet};

use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::error::Code;
use crate::topic_config::{self, ConfigSource, ConfigType};

/// Kafka's `ConfigResource.Type` ids.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
pub const RESOURCE_BROKER_LOGGER: i8 = 8;
pub const RESOURCE_CLIENT_METRICS: i8 = 16;
pub const RESOURCE_GROUP: i8 = 32;

/// Kafka's `AlterConfigOp.OpType` ids.
pub const OP_SET: i8 = 0;
pub const OP_DELETE: i8 = 1;
pub const OP_APPEND: i8 = 2;
pub const OP_SUBTRACT: i8 = 3;

/// Kafka's `INVALID_REQUEST` text, sent when a whole request is refused without a specific reason.
pub const INVALID_REQUEST_MESSAGE: &str = "This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker. See the broker logs for more details.";

/// A refused config operation on one resource: Kafka's code, and its message where it sends one.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub code: Code,
    pub message: Option<String>,
}

impl ConfigError {
    pub fn new(code: Code, message: impl Into<String>) -> ConfigError {
        ConfigError {
            code,
            message: Some(message.into()),
        }
    }

    /// An error Kafka sends without a message.
    pub fn bare(code: Code) -> ConfigError {
        ConfigError {
            code,
            message: None,
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> ConfigError {
        ConfigError::new(Code::InvalidRequest, message)
    }

    pub fn invalid_config(message: impl Into<String>) -> ConfigError {
        ConfigError::new(Code::InvalidConfig, message)
    }
}

/// Indices of the resources that appear more than once (same type and name) in one request.
pub fn duplicated<'a>(resources: impl Iterator<Item = (i8, &'a StrBytes)>) -> HashSet<usize> {
    let keys: Vec<(i8, &str)> = resources.map(|(t, n)| (t, &**n)).collect();
    let mut count: HashMap<(i8, &str), usize> = HashMap::new();
    for k in &keys {
        *count.entry(*k).or_default() += 1;
    }
    (0..keys.len()).filter(|&i| count[&keys[i]] > 1).collect()
}

/// The per-resource loop AlterConfigs and IncrementalAlterConfigs share: one answer per
/// resource in request order, a resource named twice refused without being changed, the others
/// through `alter`. `respond` builds the answer from the error code and message (Kafka sends a
/// null message on success, while the schema's default is "").
pub fn per_resource<R, O>(
    resources: &[R],
    key: impl Fn(&R) -> (i8, &StrBytes),
    mut alter: impl FnMut(&R) -> Result<(), ConfigError>,
    respond: impl Fn(&R, i16, Option<StrBytes>) -> O,
) -> Vec<O> {
    let duplicated = duplicated(resources.iter().map(&key));
    resources
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let outcome = if duplicated.contains(&i) {
                Err(ConfigError::invalid_request(
                    "Each resource must appear at most once.",
                ))
            } else {
                alter(r)
            };
            match outcome {
                Ok(()) => respond(r, 0, None),
                Err(e) => respond(r, e.code.code(), e.message.map(super::str_bytes)),
            }
        })
        .collect()
}

/// The broker's first checks on one resource's entries: each key at most once, and a value for
/// every entry that needs one.
pub fn check_entries<'a>(
    entries: impl Iterator<Item = (&'a str, bool)>,
) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    let mut missing = Vec::new();
    let mut duplicate = false;
    for (name, value_missing) in entries {
        duplicate |= !seen.insert(name);
        if value_missing {
            missing.push(name);
        }
    }
    if duplicate {
        return Err(ConfigError::invalid_request(
            "Error due to duplicate config keys",
        ));
    }
    if !missing.is_empty() {
        return Err(ConfigError::invalid_request(format!(
            "Null value not supported for : {}",
            missing.join(", ")
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Topic resources
// ---------------------------------------------------------------------------------------------

/// Serialises config changes so two read-modify-write alterations of one topic never lose an
/// update. Config changes are rare; one lock for all topics is enough.
static ALTER_LOCK: parking_lot::Mutex<()> = parking_lot::const_mutex(());

/// Checks a topic's complete new override set as Kafka's controller does: names first, then
/// each value, then the rules that tie settings together.
pub fn validate_topic_configs(
    broker: &BrokerConfig,
    configs: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    if let Some(name) = configs
        .keys()
        .find(|k| topic_config::find(k).is_none() && *k != topic_config::INTERNAL_SEGMENT_BYTES)
    {
        return Err(ConfigError::invalid_config(format!(
            "Unknown topic config name: {name}"
        )));
    }
    for (name, value) in configs {
        topic_config::validate(name, value).map_err(|e| ConfigError::invalid_config(e.0))?;
    }
    let long = |name: &str, default: i64| {
        configs
            .get(name)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(default)
    };
    let min_lag = long(
        "min.compaction.lag.ms",
        broker.log_defaults.min_compaction_lag_ms,
    );
    let max_lag = long(
        "max.compaction.lag.ms",
        broker.log_defaults.max_compaction_lag_ms,
    );
    if min_lag > max_lag {
        return Err(ConfigError::invalid_config(format!(
            "conflict topic config setting min.compaction.lag.ms ({min_lag}) > max.compaction.lag.ms ({max_lag})"
        )));
    }
    // Sluice has no remote storage, which Kafka treats as tiered storage disabled cluster-wide.
    if configs
        .get("remote.storage.enable")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    {
        return Err(ConfigError::invalid_config(
            "Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.",
        ));
    }
    Ok(())
}

/// Replaces a topic's override set with the one `change` computes from the current set, checked
/// in Kafka's order (resource name, new settings, then existence). `validate_only` stores nothing.
pub fn alter_topic_configs(
    broker: &Broker,
    topic: &str,
    validate_only: bool,
    change: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, ConfigError>,
) -> Result<(), ConfigError> {
    if topic.is_empty() {
        return Err(ConfigError::invalid_request(
            "Default topic resources are not allowed.",
        ));
    }
    crate::topics::validate_topic_name(topic).map_err(|e| ConfigError::new(e.code, e.message))?;
    let _guard = ALTER_LOCK.lock();
    let existing = broker.topics.get(topic);
    let current = existing
        .as_ref()
        .map(|t| t.configs.clone())
        .unwrap_or_default();
    let new = change(&current)?;
    validate_topic_configs(&broker.config, &new)?;
    if existing.is_none() {
        return Err(ConfigError::new(
            Code::UnknownTopicOrPartition,
            format!("The topic '{topic}' does not exist."),
        ));
    }
    if validate_only {
        return Ok(());
    }
    broker
        .topics
        .set_configs(topic, new)
        .map_err(|e| ConfigError::new(e.code, e.message))
}

/// Java's `String.split(",")`: trailing empty parts are dropped, but a string without a comma is
/// its own single part. Kafka's APPEND and SUBTRACT split their operand this way.
fn java_split(s: &str) -> Vec<&str> {
    if !s.contains(',') {
        return vec![s];
    }
    let mut parts: Vec<&str> = s.split(',').collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}

/// Kafka's APPEND (add each value not yet present) or SUBTRACT (remove one occurrence per
/// value) on a comma-separated list, in linear time: operands come from the network.
fn list_op<'a>(old: &'a str, operand: &'a str, append: bool) -> Vec<&'a str> {
    let mut parts: Vec<&str> = old.split(',').filter(|p| !p.is_empty()).collect();
    if append {
        let mut present: HashSet<&str> = parts.iter().copied().collect();
        parts.extend(
            java_split(operand)
                .into_iter()
                .filter(|v| present.insert(v)),
        );
        return parts;
    }
    let mut to_remove: HashMap<&str, usize> = HashMap::new();
    for v in java_split(operand) {
        *to_remove.entry(v).or_default() += 1;
    }
    parts.retain(|p| match to_remove.get_mut(p) {
        Some(n) if *n > 0 => {
            *n -= 1;
            false
        }
        _ => true,
    });
    parts
}

/// One entry of an IncrementalAlterConfigs resource.
pub struct IncrementalOp<'a> {
    pub name: &'a str,
    pub op: i8,
    pub value: Option<&'a str>,
}

/// Applies incremental operations to a topic's overrides as Kafka's controller does. APPEND and
/// SUBTRACT start from the topic-level default when the topic has no override.
pub fn apply_topic_ops(
    current: &BTreeMap<String, String>,
    ops: &[IncrementalOp<'_>],
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = current.clone();
    for op in ops {
        let value = op.value.unwrap_or_default();
        match op.op {
            OP_SET => {
                out.insert(op.name.to_string(), value.to_string());
            }
            OP_DELETE => {
                out.remove(op.name);
            }
            OP_APPEND | OP_SUBTRACT => {
                let verb = if op.op == OP_APPEND {
                    "APPEND"
                } else {
                    "SUBTRACT"
                };
                let def = topic_config::find(op.name)
                    .filter(|d| d.ty == ConfigType::List)
                    .ok_or_else(|| {
                        ConfigError::invalid_config(format!(
                            "Can't {verb} to key {} because its type is not LIST.",
                            op.name
                        ))
                    })?;
                let old = out.get(op.name).map(String::as_str).unwrap_or(def.default);
                let parts = list_op(old, value, op.op == OP_APPEND);
                out.insert(op.name.to_string(), parts.join(","));
            }
            other => {
                return Err(ConfigError::invalid_request(format!(
                    "Unknown operations type {other}"
                )));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Broker resources
// ---------------------------------------------------------------------------------------------

/// One broker setting Sluice reads (or that a topic setting defaults from), as Kafka defines it.
pub(crate) struct BrokerSetting {
    name: &'static str,
    ty: ConfigType,
    /// The value in effect when the setting is not given; None where Kafka's default is null.
    default: Option<&'static str>,
    /// Kafka can change it at run time (`DynamicBrokerConfig.AllDynamicConfigs`); others are read-only.
    dynamic: bool,
    doc: &'static str,
}

macro_rules! setting {
    ($name:expr, $ty:ident, $default:expr, $dynamic:expr, $doc:expr) => {
        BrokerSetting {
            name: $name,
            ty: ConfigType::$ty,
            default: $default,
            dynamic: $dynamic,
            doc: $doc,
        }
    };
}

const MAX: Option<&str> = Some("9223372036854775807");

/// The broker settings Sluice describes, by Kafka name, type and default. Defaults are the
/// values Sluice runs with when the setting is absent; they equal Kafka's except where noted.
#[rustfmt::skip]
static BROKER_SETTINGS: &[BrokerSetting] = &[
    setting!("advertised.listeners", String, None, true, "Listeners to publish to clients if different from listeners."),
    setting!("auto.create.topics.enable", Boolean, Some("true"), false, "Create a topic when a client asks for its metadata."),
    setting!("broker.id", Int, Some("-1"), false, "Older name of node.id."),
    // Sluice-specific: the id used when meta.properties does not exist yet.
    setting!("cluster.id", String, None, false, "Cluster id for a new data directory (Sluice)."),
    setting!("compression.gzip.level", Int, Some("-1"), true, "Default compression level for gzip."),
    setting!("compression.lz4.level", Int, Some("9"), true, "Default compression level for lz4."),
    setting!("compression.type", String, Some("producer"), true, "Default final compression type for topics."),
    setting!("compression.zstd.level", Int, Some("3"), true, "Default compression level for zstd."),
    setting!("default.replication.factor", Int, Some("1"), false, "Replication factor of automatically created topics."),
    setting!("delete.topic.enable", Boolean, Some("true"), false, "Allow topics to be deleted."),
    // Kafka's default is PLAINTEXT://:9092 (all interfaces); Sluice listens on loopback.
    setting!("listeners", String, Some("PLAINTEXT://127.0.0.1:9092"), true, "Addresses the broker listens on."),
    setting!("log.cleaner.backoff.ms", Long, Some("15000"), true, "Sleep between cleaner passes when there is nothing to clean."),
    setting!("log.cleaner.delete.retention.ms", Long, Some("86400000"), true, "Default time tombstones are kept in compacted topics."),
    setting!("log.cleaner.enable", Boolean, Some("true"), false, "Run the log cleaner (compaction)."),
    setting!("log.cleaner.max.compaction.lag.ms", Long, MAX, true, "Default maximum time a record stays uncompacted."),
    setting!("log.cleaner.min.cleanable.ratio", Double, Some("0.5"), true, "Default dirty ratio above which a log is compacted."),
    setting!("log.cleaner.min.compaction.lag.ms", Long, Some("0"), true, "Default minimum time a record stays uncompacted."),
    setting!("log.cleanup.policy", List, Some("delete"), true, "Default retention policy: delete, compact, or both."),
    // Kafka's default is /tmp/kafka-logs; log.dirs (which wins) decides Sluice's data directory.
    setting!("log.dir", String, Some("/tmp/kafka-logs"), false, "Data directory, used when log.dirs is not set."),
    setting!("log.dirs", String, Some("./sluice-data"), false, "Data directory."),
    setting!("log.flush.interval.messages", Long, MAX, true, "Default records appended between forced fsyncs."),
    setting!("log.flush.interval.ms", Long, None, true, "Default maximum time between forced fsyncs."),
    // Kafka's default is Long.MAX_VALUE; Sluice checks flush policies every second.
    setting!("log.flush.scheduler.interval.ms", Long, Some("1000"), false, "How often the flusher checks whether a log must be flushed."),
    setting!("log.index.interval.bytes", Int, Some("4096"), true, "Default bytes between offset index entries."),
    setting!("log.index.size.max.bytes", Int, Some("10485760"), true, "Default offset index size per segment."),
    setting!("log.local.retention.bytes", Long, Some("-2"), true, "Default local retention size with tiered storage."),
    setting!("log.local.retention.ms", Long, Some("-2"), true, "Default local retention time with tiered storage."),
    setting!("log.message.timestamp.after.max.ms", Long, Some("3600000"), true, "Default limit on CreateTime timestamps in the future."),
    setting!("log.message.timestamp.before.max.ms", Long, MAX, true, "Default limit on CreateTime timestamps in the past."),
    setting!("log.message.timestamp.type", String, Some("CreateTime"), true, "Default timestamp type: CreateTime or LogAppendTime."),
    setting!("log.preallocate", Boolean, Some("false"), true, "Default for preallocating segment files."),
    setting!("log.retention.bytes", Long, Some("-1"), true, "Default maximum partition size before old segments are deleted."),
    setting!("log.retention.check.interval.ms", Long, Some("300000"), false, "How often retention is applied."),
    setting!("log.retention.hours", Int, Some("168"), false, "Default segment age before deletion, in hours."),
    setting!("log.retention.minutes", Int, None, false, "Default segment age before deletion, in minutes."),
    setting!("log.retention.ms", Long, None, true, "Default segment age before deletion, in milliseconds."),
    setting!("log.roll.hours", Int, Some("168"), false, "Default segment age before it is rolled, in hours."),
    setting!("log.roll.jitter.hours", Int, Some("0"), false, "Default jitter subtracted from the roll time, in hours."),
    setting!("log.roll.jitter.ms", Long, None, true, "Default jitter subtracted from the roll time, in milliseconds."),
    setting!("log.roll.ms", Long, None, true, "Default segment age before it is rolled, in milliseconds."),
    setting!("log.segment.bytes", Int, Some("1073741824"), true, "Default segment file size."),
    setting!("log.segment.delete.delay.ms", Long, Some("60000"), true, "Default delay before a deleted segment file is removed."),
    setting!("message.max.bytes", Int, Some("1048588"), true, "Default largest record batch size allowed."),
    setting!("min.insync.replicas", Int, Some("1"), true, "Default replicas that must acknowledge an acks=all write."),
    // Kafka's default is -1 (the setting is required); Sluice runs as node 0.
    setting!("node.id", Int, Some("0"), false, "This node's id."),
    setting!("num.partitions", Int, Some("1"), false, "Partitions of automatically created topics."),
    setting!("sluice.durable", Boolean, Some("false"), false, "Acknowledge writes only once fsynced (Sluice)."),
    setting!("sluice.writeback.bytes", Long, Some("1048576"), false, "Bytes appended to a partition before its writeback to disk is started; 0 leaves it to the OS (Sluice)."),
    setting!("socket.request.max.bytes", Int, Some("104857600"), false, "Largest request the broker accepts."),
    setting!("unclean.leader.election.enable", Boolean, Some("false"), true, "Allow out-of-sync replicas to become leader."),
];

/// Broker settings Kafka treats as one value in different units; the first of each group wins.
const SYNONYM_GROUPS: &[&[&str]] = &[
    &["log.roll.ms", "log.roll.hours"],
    &["log.roll.jitter.ms", "log.roll.jitter.hours"],
    &["log.flush.interval.ms", "log.flush.scheduler.interval.ms"],
    &[
        "log.retention.ms",
        "log.retention.minutes",
        "log.retention.hours",
    ],
];

pub(crate) fn broker_setting(name: &str) -> Option<&'static BrokerSetting> {
    BROKER_SETTINGS.iter().find(|s| s.name == name)
}

/// A setting (of a topic or the broker) as DescribeConfigs reports it.
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    pub source: ConfigSource,
    pub read_only: bool,
    pub sensitive: bool,
    /// Kafka's config type code; 0 (UNKNOWN) for settings Kafka does not define.
    pub ty: i8,
    pub doc: Option<&'static str>,
    /// (name, value, source), most specific first.
    pub synonyms: Vec<(String, Option<String>, ConfigSource)>,
}

/// Synonyms of a known broker setting in Kafka's order: static settings of the whole group,
/// then defaults of the whole group, starting from the setting itself.
pub(crate) fn broker_synonyms(
    raw: &BTreeMap<String, String>,
    name: &str,
) -> Vec<(String, Option<String>, ConfigSource)> {
    let single = [name];
    let group: &[&str] = SYNONYM_GROUPS
        .iter()
        .find(|g| g.contains(&name))
        .copied()
        .unwrap_or(&single);
    let statics = group.iter().filter_map(|n| {
        raw.get(*n).map(|v| {
            (
                n.to_string(),
                Some(v.trim().to_string()),
                ConfigSource::StaticBroker,
            )
        })
    });
    let defaults = group.iter().filter_map(|n| {
        broker_setting(n)
            .and_then(|s| s.default)
            .map(|d| (n.to_string(), Some(d.to_string()), ConfigSource::Default))
    });
    statics
        .chain(defaults)
        .skip_while(|(n, _, _)| n != name)
        .collect()
}

/// Every broker setting Sluice knows, then every other setting it was started with. Kafka
/// treats settings it does not define as possibly secret: their values are not shown.
pub fn broker_entries(config: &BrokerConfig) -> Vec<ConfigEntry> {
    let raw = &config.raw;
    let known = BROKER_SETTINGS.iter().map(|s| {
        let synonyms = broker_synonyms(raw, s.name);
        ConfigEntry {
            name: s.name.to_string(),
            value: raw
                .get(s.name)
                .map(|v| v.trim().to_string())
                .or(s.default.map(str::to_string)),
            source: synonyms
                .first()
                .map(|x| x.2)
                .unwrap_or(ConfigSource::Default),
            read_only: !s.dynamic,
            sensitive: false,
            ty: s.ty as i8,
            doc: Some(s.doc),
            synonyms,
        }
    });
    let unknown = raw
        .keys()
        .filter(|k| broker_setting(k).is_none())
        .map(|k| ConfigEntry {
            name: k.clone(),
            value: None,
            source: ConfigSource::StaticBroker,
            read_only: true,
            sensitive: true,
            ty: 0,
            doc: None,
            synonyms: vec![(k.clone(), None, ConfigSource::StaticBroker)],
        });
    known.chain(unknown).collect()
}

/// Parses a broker resource name as a node id, with Kafka's message for a non-number.
pub fn parse_node_id(name: &str, what: &str) -> Result<i32, ConfigError> {
    name.parse::<i32>().map_err(|_| {
        ConfigError::invalid_request(format!("{what} must be an integer, but it is: {name}"))
    })
}

/// Answers a change to broker settings. Sluice's broker settings are fixed at start-up, so any
/// setting left after the operations is refused the way Kafka refuses a static setting; a
/// request that changes nothing (no entries, or only deletions) succeeds.
pub fn refuse_broker_changes(
    node_id: i32,
    resource_name: &str,
    remaining: &[&str],
) -> Result<(), ConfigError> {
    if !resource_name.is_empty() {
        let id = parse_node_id(resource_name, "Node id")?;
        if id != node_id {
            return Err(ConfigError::invalid_request(format!(
                "Unexpected broker id, expected {node_id}, but received {resource_name}"
            )));
        }
    }
    if remaining.is_empty() {
        return Ok(());
    }
    Err(ConfigError::invalid_request(format!(
        "Cannot update these configs dynamically: Set({})",
        remaining.join(", ")
    )))
}

/// Applies incremental operations to the (always empty) set of dynamic broker settings and
/// answers as [`refuse_broker_changes`] does. Kafka checks list operations against the type of
/// the broker setting.
pub fn alter_broker_incrementally(
    node_id: i32,
    resource_name: &str,
    ops: &[IncrementalOp<'_>],
) -> Result<(), ConfigError> {
    if !resource_name.is_empty() {
        refuse_broker_changes(node_id, resource_name, &[])?;
    }
    let mut remaining: Vec<&str> = Vec::new();
    for op in ops {
        match op.op {
            OP_SET => remaining.push(op.name),
            // Keys are unique within a resource, so a DELETE never meets a SET of the same
            // key, and there are no stored dynamic settings to delete.
            OP_DELETE => {}
            OP_APPEND | OP_SUBTRACT => {
                let verb = if op.op == OP_APPEND {
                    "append"
                } else {
                    "subtract"
                };
                match broker_setting(op.name) {
                    None => {
                        return Err(ConfigError::invalid_config(format!(
                            "Unknown config name: {}",
                            op.name
                        )))
                    }
                    Some(s) if s.ty != ConfigType::List => {
                        return Err(ConfigError::invalid_config(format!(
                            "Config value {verb} is not allowed for config key: {}",
                            op.name
                        )))
                    }
                    Some(_) => remaining.push(op.name),
                }
            }
            other => {
                return Err(ConfigError::invalid_request(format!(
                    "Unknown operations type {other}"
                )))
            }
        }
    }
    refuse_broker_changes(node_id, resource_name, &remaining)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops<'a>(list: &[(&'a str, i8, Option<&'a str>)]) -> Vec<IncrementalOp<'a>> {
        list.iter()
            .map(|&(name, op, value)| IncrementalOp { name, op, value })
            .collect()
    }

    #[test]
    fn append_starts_from_the_topic_default_and_skips_present_values() {
        let out = apply_topic_ops(
            &BTreeMap::new(),
            &ops(&[("cleanup.policy", OP_APPEND, Some("compact,delete"))]),
        )
        .unwrap();
        assert_eq!(out["cleanup.policy"], "delete,compact");
    }

    #[test]
    fn subtract_removes_values_and_may_leave_an_empty_list() {
        let current =
            BTreeMap::from([("cleanup.policy".to_string(), "delete,compact".to_string())]);
        let out = apply_topic_ops(
            &current,
            &ops(&[("cleanup.policy", OP_SUBTRACT, Some("delete"))]),
        )
        .unwrap();
        assert_eq!(out["cleanup.policy"], "compact");
        let out = apply_topic_ops(
            &out,
            &ops(&[("cleanup.policy", OP_SUBTRACT, Some("compact"))]),
        )
        .unwrap();
        assert_eq!(out["cleanup.policy"], "");
    }

    #[test]
    fn list_operations_on_other_types_are_invalid_config() {
        let err = apply_topic_ops(
            &BTreeMap::new(),
            &ops(&[("retention.ms", OP_APPEND, Some("1"))]),
        )
        .unwrap_err();
        assert_eq!(err.code, Code::InvalidConfig);
        assert_eq!(
            err.message.as_deref(),
            Some("Can't APPEND to key retention.ms because its type is not LIST.")
        );
    }

    #[test]
    fn subtract_removes_one_occurrence_per_value_and_append_skips_duplicates() {
        assert_eq!(list_op("a,b,a,c", "a,c", false), vec!["b", "a"]);
        assert_eq!(list_op("a,b", "b,c,c,a", true), vec!["a", "b", "c"]);
    }

    #[test]
    fn java_split_drops_trailing_empty_parts_only() {
        assert_eq!(java_split(""), vec![""]);
        assert_eq!(java_split("a,,b,,"), vec!["a", "", "b"]);
        assert!(java_split(",").is_empty());
    }

    #[test]
    fn conflicting_compaction_lags_are_refused() {
        let configs = BTreeMap::from([
            ("min.compaction.lag.ms".to_string(), "10".to_string()),
            ("max.compaction.lag.ms".to_string(), "5".to_string()),
        ]);
        let err = validate_topic_configs(&BrokerConfig::default(), &configs).unwrap_err();
        assert_eq!(
            err.message.as_deref(),
            Some("conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)")
        );
    }

    #[test]
    fn broker_synonyms_follow_kafka_precedence() {
        let raw = BTreeMap::from([("log.retention.ms".to_string(), "1000".to_string())]);
        let syn = broker_synonyms(&raw, "log.retention.ms");
        let names: Vec<_> = syn.iter().map(|s| (s.0.as_str(), s.2)).collect();
        assert_eq!(
            names,
            vec![
                ("log.retention.ms", ConfigSource::StaticBroker),
                ("log.retention.hours", ConfigSource::Default)
            ]
        );
        // A setting below the one given statically only lists itself and what follows.
        let syn = broker_synonyms(&raw, "log.retention.hours");
        assert_eq!(syn.len(), 1);
        assert_eq!(syn[0].2, ConfigSource::Default);
    }

    #[test]
    fn unknown_broker_settings_are_hidden() {
        let raw = BTreeMap::from([("some.secret".to_string(), "hunter2".to_string())]);
        let config = BrokerConfig::from_settings(&raw).unwrap();
        let entries = broker_entries(&config);
        let e = entries.iter().find(|e| e.name == "some.secret").unwrap();
        assert!(e.sensitive);
        assert_eq!(e.value, None);
    }
}
