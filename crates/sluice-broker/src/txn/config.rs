//! The transaction coordinator's settings, read once from the broker's Kafka-named settings with
//! Kafka's names and defaults.

use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct TxnConfig {
    /// `transaction.max.timeout.ms`: the longest transaction timeout a producer may ask for.
    pub max_timeout_ms: i32,
    /// `transaction.state.log.num.partitions`: partitions of `__transaction_state` at creation.
    pub log_partitions: i32,
    /// `transaction.state.log.segment.bytes`.
    pub log_segment_bytes: u64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often open
    /// transactions are checked against their timeout.
    pub abort_check_interval: Duration,
}

fn get<T: std::str::FromStr>(raw: &BTreeMap<String, String>, key: &str, default: T) -> T {
    match raw.get(key).map(|v| v.trim().parse::<T>()) {
        Some(Ok(v)) => v,
        Some(Err(_)) => {
            tracing::warn!(
                key,
                "ignoring unparsable transaction setting; using Kafka's default"
            );
            default
        }
        None => default,
    }
}

impl TxnConfig {
    pub fn from_settings(raw: &BTreeMap<String, String>) -> TxnConfig {
        TxnConfig {
            max_timeout_ms: get(raw, "transaction.max.timeout.ms", 900_000i32).max(1),
            log_partitions: get(raw, "transaction.state.log.num.partitions", 50i32).max(1),
            log_segment_bytes: get(raw, "transaction.state.log.segment.bytes", 104_857_600u64),
            abort_check_interval: Duration::from_millis(
                get(
                    raw,
                    "transaction.abort.timed.out.transaction.cleanup.interval.ms",
                    10_000u64,
                )
                .max(10),
            ),
        }
    }
}
