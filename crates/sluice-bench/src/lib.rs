//! Sluice's benchmark tooling, shared by two binaries:
//!
//! - `sluice-bench` ([`bench`]): a librdkafka load generator (produce, consume, end-to-end) that
//!   runs against any Kafka-compatible bootstrap address and reports throughput, latency
//!   percentiles and the broker's CPU and memory cost;
//! - `null-broker` ([`null_broker`]): a Kafka-protocol server that acknowledges at once and keeps
//!   data only in memory, so the same load generator measures the ceiling set by the client,
//!   loopback TCP and the shared CPU.

pub mod bench;
pub mod null_broker;
