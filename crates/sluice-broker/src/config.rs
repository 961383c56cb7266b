//! Broker settings, named and defaulted as Apache Kafka names and defaults them.
//!
//! The binary layers a TOML file, `SLUICE_*` environment variables and flags into one map of
//! Kafka-named settings; this module turns that map into typed values once, at start-up, and
//! derives the default [`LogConfig`] every topic starts from.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use sluice_log::LogConfig;

/// A setting that is present but cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value {value:?} for {key}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
}

/// A listener address such as `PLAINTEXT://127.0.0.1:9092`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Listener {
    pub fn parse(s: &str) -> Option<Listener> {
        let (name, rest) = s.trim().split_once("://")?;
        let (host, port) = rest.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Some(Listener {
            name: name.to_string(),
            host: if host.is_empty() {
                "0.0.0.0".into()
            } else {
                host.into()
            },
            port: port.parse().ok()?,
        })
    }

    pub fn socket_addr(&self) -> Option<SocketAddr> {
        use std::net::ToSocketAddrs;
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .ok()?
            .next()
    }
}

/// Typed broker configuration.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub node_id: i32,
    pub cluster_id: Option<String>,
    pub listeners: Vec<Listener>,
    pub advertised_listeners: Vec<Listener>,
    /// The HTTP server (admin API, `/metrics`, REST proxy, console): `http.listeners`,
    /// default `http://127.0.0.1:8080`; an empty value turns it off.
    pub http_listeners: Vec<Listener>,
    /// The schema registry: `schema.registry.listeners`, default `http://127.0.0.1:8081`
    /// (Confluent's port); an empty value turns it off.
    pub schema_registry_listeners: Vec<Listener>,
    /// Whether these listeners were set explicitly. A default port that is already taken
    /// only warns (a developer may run something else on 8080); an explicit one is fatal.
    pub http_listeners_explicit: bool,
    pub schema_registry_listeners_explicit: bool,
    pub data_dir: PathBuf,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub delete_topic_enable: bool,
    pub socket_request_max_bytes: usize,
    pub log_retention_check_interval_ms: u64,
    pub log_cleaner_enable: bool,
    pub log_cleaner_backoff_ms: u64,
    /// Acknowledge produce requests only after their data is fsynced (group commit).
    pub durable: bool,
    pub log_flush_scheduler_interval_ms: u64,
    /// Defaults for every topic's log, from the broker-level `log.*` settings.
    pub log_defaults: LogConfig,
    /// Every setting as given, for DescribeConfigs on the broker resource.
    pub raw: BTreeMap<String, String>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig::from_settings(&BTreeMap::new()).expect("defaults are valid")
    }
}

struct Reader<'a>(&'a BTreeMap<String, String>);

impl Reader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|s| s.trim())
    }
    fn parse<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.parse::<T>().map(Some).map_err(|e| ConfigError::Invalid {
                key: key.into(),
                value: v.into(),
                reason: e.to_string(),
            }),
        }
    }
    fn or<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        Ok(self.parse(key)?.unwrap_or(default))
    }
    fn listeners(&self, key: &str) -> Result<Option<Vec<Listener>>, ConfigError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        v.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                Listener::parse(s).ok_or_else(|| ConfigError::Invalid {
                    key: key.into(),
                    value: v.into(),
                    reason: "expected NAME://host:port".into(),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

impl BrokerConfig {
    /// Builds the configuration from Kafka-named settings; absent settings take Kafka's defaults.
    pub fn from_settings(raw: &BTreeMap<String, String>) -> Result<BrokerConfig, ConfigError> {
        let r = Reader(raw);
        let listeners = r
            .listeners("listeners")?
            .unwrap_or_else(|| vec![Listener::parse("PLAINTEXT://127.0.0.1:9092").unwrap()]);
        let advertised_listeners = r
            .listeners("advertised.listeners")?
            .unwrap_or_else(|| listeners.clone());
        let http_listeners = r
            .listeners("http.listeners")?
            .unwrap_or_else(|| vec![Listener::parse("http://127.0.0.1:8080").unwrap()]);
        let schema_registry_listeners = r
            .listeners("schema.registry.listeners")?
            .unwrap_or_else(|| vec![Listener::parse("http://127.0.0.1:8081").unwrap()]);
        let http_listeners_explicit = r.get("http.listeners").is_some();
        let schema_registry_listeners_explicit = r.get("schema.registry.listeners").is_some();
        let data_dir = r
            .get("log.dirs")
            .or(r.get("log.dir"))
            .map(|s| s.split(',').next().unwrap_or(s).trim().to_string())
            .unwrap_or_else(|| "./sluice-data".into());

        // Kafka: log.retention.ms wins over .minutes, which wins over .hours.
        let retention_ms = match r.parse::<i64>("log.retention.ms")? {
            Some(v) => v,
            None => match r.parse::<i64>("log.retention.minutes")? {
                Some(m) => m * 60_000,
                None => r.or("log.retention.hours", 168i64)? * 3_600_000,
            },
        };
        let segment_ms = match r.parse::<i64>("log.roll.ms")? {
            Some(v) => v,
            None => r.or("log.roll.hours", 168i64)? * 3_600_000,
        };
        let flush_messages = r.or("log.flush.interval.messages", i64::MAX)?;
        let durable = r.or("sluice.durable", false)? || flush_messages == 1;
        let cleanup = r.get("log.cleanup.policy").unwrap_or("delete");
        let timestamp_type = r.get("log.message.timestamp.type").unwrap_or("CreateTime");
        let mut log = LogConfig {
            segment_bytes: r.or("log.segment.bytes", 1_073_741_824u64)?,
            segment_ms,
            segment_index_bytes: r.or("log.index.size.max.bytes", 10_485_760u64)?,
            index_interval_bytes: r.or("log.index.interval.bytes", 4096u64)?,
            retention_ms,
            retention_bytes: r.or("log.retention.bytes", -1i64)?,
            cleanup_policy_delete: cleanup.contains("delete"),
            cleanup_policy_compact: cleanup.contains("compact"),
            delete_retention_ms: r.or("log.cleaner.delete.retention.ms", 86_400_000i64)?,
            min_cleanable_dirty_ratio: r.or("log.cleaner.min.cleanable.ratio", 0.5f64)?,
            min_compaction_lag_ms: r.or("log.cleaner.min.compaction.lag.ms", 0i64)?,
            max_compaction_lag_ms: r.or("log.cleaner.max.compaction.lag.ms", i64::MAX)?,
            flush_messages,
            flush_ms: r.or("log.flush.interval.ms", i64::MAX)?,
            max_message_bytes: r.or("message.max.bytes", 1_048_588i32)?,
            message_timestamp_type_log_append: timestamp_type == "LogAppendTime",
            message_timestamp_before_max_ms: r
                .or("log.message.timestamp.before.max.ms", i64::MAX)?,
            message_timestamp_after_max_ms: r
                .or("log.message.timestamp.after.max.ms", 3_600_000i64)?,
            file_delete_delay_ms: r.or("log.segment.delete.delay.ms", 60_000i64)?,
            preallocate: r.or("log.preallocate", false)?,
            writeback_bytes: r.or("sluice.writeback.bytes", 1u64 << 20)?,
        };
        if durable {
            log.flush_messages = 1;
        }
        Ok(BrokerConfig {
            node_id: r.or("node.id", r.or("broker.id", 0i32)?)?,
            cluster_id: r.get("cluster.id").map(str::to_string),
            listeners,
            advertised_listeners,
            http_listeners,
            schema_registry_listeners,
            http_listeners_explicit,
            schema_registry_listeners_explicit,
            data_dir: PathBuf::from(data_dir),
            num_partitions: r.or("num.partitions", 1i32)?,
            default_replication_factor: r.or("default.replication.factor", 1i16)?,
            auto_create_topics_enable: r.or("auto.create.topics.enable", true)?,
            delete_topic_enable: r.or("delete.topic.enable", true)?,
            socket_request_max_bytes: r.or("socket.request.max.bytes", 104_857_600usize)?,
            log_retention_check_interval_ms: r.or("log.retention.check.interval.ms", 300_000u64)?,
            log_cleaner_enable: r.or("log.cleaner.enable", true)?,
            log_cleaner_backoff_ms: r.or("log.cleaner.backoff.ms", 15_000u64)?,
            durable,
            log_flush_scheduler_interval_ms: r
                .or("log.flush.scheduler.interval.ms", 1_000u64)?
                .max(1),
            log_defaults: log,
            raw: raw.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writeback_bytes_defaults_to_a_mebibyte_and_zero_turns_it_off() {
        assert_eq!(
            BrokerConfig::default().log_defaults.writeback_bytes,
            1 << 20
        );
        let off = BTreeMap::from([("sluice.writeback.bytes".to_string(), "0".to_string())]);
        let config = BrokerConfig::from_settings(&off).expect("valid");
        assert_eq!(config.log_defaults.writeback_bytes, 0);
    }
}
