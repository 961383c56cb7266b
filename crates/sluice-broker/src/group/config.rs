//! The group coordinator's settings, read once from the broker's Kafka-named settings with
//! Kafka's names and defaults.

use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`: how long a new (empty) group waits for more members.
    pub initial_rebalance_delay: Duration,
    /// `group.min.session.timeout.ms` / `group.max.session.timeout.ms`.
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    /// `group.max.size`: members per classic group.
    pub max_size: usize,
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets` when it is created.
    pub offsets_partitions: i32,
    /// `offsets.topic.segment.bytes`.
    pub offsets_segment_bytes: u64,
    /// `offsets.retention.minutes`, in milliseconds.
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms`.
    pub offsets_retention_check: Duration,
    /// `offsets.metadata.max.bytes`: longest commit metadata string accepted.
    pub offset_metadata_max_bytes: usize,
    /// `group.consumer.session.timeout.ms` (KIP-848 groups).
    pub consumer_session_timeout_ms: i32,
    /// `group.consumer.heartbeat.interval.ms` (KIP-848 groups).
    pub consumer_heartbeat_interval_ms: i32,
    /// `group.consumer.assignors`: server-side assignors by name; the first is the default.
    pub consumer_assignors: Vec<String>,
    /// `group.consumer.max.size`.
    pub consumer_max_size: usize,
}

fn get<T: std::str::FromStr>(raw: &BTreeMap<String, String>, key: &str, default: T) -> T {
    match raw.get(key).map(|v| v.trim().parse::<T>()) {
        Some(Ok(v)) => v,
        Some(Err(_)) => {
            tracing::warn!(
                key,
                "ignoring unparsable group setting; using Kafka's default"
            );
            default
        }
        None => default,
    }
}

impl GroupConfig {
    pub fn from_settings(raw: &BTreeMap<String, String>) -> GroupConfig {
        let assignors = raw
            .get("group.consumer.assignors")
            .map(|s| s.as_str())
            .unwrap_or("uniform,range");
        let consumer_assignors: Vec<String> = assignors
            .split(',')
            .map(|s| {
                // Kafka accepts class names too; map its two built-in classes to their names.
                let s = s.trim();
                match s.rsplit('.').next().unwrap_or(s) {
                    "UniformAssignor" => "uniform".to_string(),
                    "RangeAssignor" => "range".to_string(),
                    other => other.to_string(),
                }
            })
            .filter(|s| s == "uniform" || s == "range")
            .collect();
        GroupConfig {
            initial_rebalance_delay: Duration::from_millis(get(
                raw,
                "group.initial.rebalance.delay.ms",
                3000u64,
            )),
            min_session_timeout_ms: get(raw, "group.min.session.timeout.ms", 6000),
            max_session_timeout_ms: get(raw, "group.max.session.timeout.ms", 1_800_000),
            max_size: get(raw, "group.max.size", i32::MAX as usize),
            offsets_partitions: get(raw, "offsets.topic.num.partitions", 50i32).max(1),
            offsets_segment_bytes: get(raw, "offsets.topic.segment.bytes", 104_857_600u64),
            // `internal.offsets.retention.ms` is Sluice's test knob (Kafka's setting counts in
            // whole minutes, too coarse for a test to wait out); it wins when present.
            offsets_retention_ms: match raw.get("internal.offsets.retention.ms") {
                Some(_) => get(raw, "internal.offsets.retention.ms", 604_800_000i64),
                None => get(raw, "offsets.retention.minutes", 10_080i64).saturating_mul(60_000),
            },
            offsets_retention_check: Duration::from_millis(
                get(raw, "offsets.retention.check.interval.ms", 600_000u64).max(100),
            ),
            offset_metadata_max_bytes: get(raw, "offsets.metadata.max.bytes", 4096usize),
            consumer_session_timeout_ms: get(raw, "group.consumer.session.timeout.ms", 45_000),
            consumer_heartbeat_interval_ms: get(raw, "group.consumer.heartbeat.interval.ms", 5_000),
            consumer_assignors: if consumer_assignors.is_empty() {
                vec!["uniform".into(), "range".into()]
            } else {
                consumer_assignors
            },
            consumer_max_size: get(raw, "group.consumer.max.size", i32::MAX as usize),
        }
    }
}
