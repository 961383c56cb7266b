//! The load generator's command line: which workload, against what, with which client settings.
//!
//! Producer defaults mirror librdkafka's own (linger.ms 5, batch.size 1000000) so that a result
//! states every setting it ran with; anything else librdkafka accepts passes through `-X`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use serde::Serialize;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "sluice-bench",
    version,
    about = "Kafka load generator: produce, consume and end-to-end workloads against any Kafka-compatible broker"
)]
pub struct Args {
    /// What to measure.
    #[arg(value_enum)]
    pub workload: Workload,

    /// Bootstrap address of the broker under test.
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub bootstrap: String,

    /// Topic to use; a fresh one (created with --partitions) when omitted.
    #[arg(long)]
    pub topic: Option<String>,

    /// Partitions of the topic created for the run.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(i32).range(1..=100_000))]
    pub partitions: i32,

    /// Bytes per message value (at least 16: a send timestamp and a sequence number lead it).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(16..=64 * 1024 * 1024))]
    pub message_size: u32,

    /// Producer acks: 0, 1 or all (-1).
    #[arg(long, default_value = "1", value_parser = parse_acks)]
    pub acks: i16,

    /// Producer instances, each with its own sending thread and connection.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub producers: u32,

    /// Consumer instances (consume and end-to-end); partitions are dealt round-robin among them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub consumers: u32,

    /// Seconds to send for (produce, end-to-end, and the consume workload's fill). Default 10
    /// unless --messages is given.
    #[arg(long, value_parser = parse_seconds)]
    pub duration: Option<Duration>,

    /// Messages to send in total (instead of, or as a cap on, --duration).
    #[arg(long)]
    pub messages: Option<u64>,

    /// Seconds at the start whose messages count as sent but stay out of the figures.
    #[arg(long, default_value = "0", value_parser = parse_seconds)]
    pub warmup: Duration,

    /// Fixed rate in messages per second across all producers. Latency is measured from each
    /// message's intended send time, so a stalled broker cannot hide its stall (no coordinated
    /// omission). Without it, producers send as fast as the client accepts.
    #[arg(long)]
    pub rate: Option<f64>,

    /// Producer compression codec.
    #[arg(long, value_enum, default_value_t = Compression::None)]
    pub compression: Compression,

    /// How messages are spread over partitions.
    #[arg(long, value_enum, default_value_t = Partitioner::Keyless)]
    pub partitioner: Partitioner,

    /// Producer linger.ms.
    #[arg(long, default_value_t = 5)]
    pub linger_ms: u32,

    /// Producer batch.size in bytes.
    #[arg(long, default_value_t = 1_000_000)]
    pub batch_size: u32,

    /// Producer queue.buffering.max.kbytes: how much unacknowledged data a producer may hold.
    /// librdkafka's own limit (100,000 messages, 100 MB at 1 KiB) is far larger than the CPU
    /// caches; every message then goes cold between send and acknowledgement and the client
    /// spends a third of its time on cache misses. A few milliseconds' worth keeps it fast.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=2_097_151))]
    pub queue_kbytes: u32,

    /// Extra librdkafka setting for every client, KEY=VALUE (repeatable).
    #[arg(short = 'X', value_parser = parse_kv)]
    pub client_config: Vec<(String, String)>,

    /// Extra librdkafka setting for producers only, KEY=VALUE (repeatable).
    #[arg(long = "producer-config", value_parser = parse_kv)]
    pub producer_config: Vec<(String, String)>,

    /// Extra librdkafka setting for consumers only, KEY=VALUE (repeatable).
    #[arg(long = "consumer-config", value_parser = parse_kv)]
    pub consumer_config: Vec<(String, String)>,

    /// consume: read what the topic already holds instead of filling it first (needs --topic).
    #[arg(long, requires = "topic")]
    pub no_fill: bool,

    /// Seconds consumers may take, after the producers finish, to read every acknowledged message.
    #[arg(long, default_value = "60", value_parser = parse_seconds)]
    pub drain_timeout: Duration,

    /// Broker process to account: CPU seconds (utime+stime) per GB and peak RSS, from /proc.
    #[arg(long)]
    pub broker_pid: Option<u32>,

    /// Also write the result as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,

    /// No progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// Producers only; throughput and produce-ack latency.
    Produce,
    /// Fill the topic, then read it back from the start as fast as possible (catch-up read).
    Consume,
    /// Producers and consumers at once; end-to-end latency from the timestamp in each payload.
    #[value(alias = "e2e")]
    EndToEnd,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

/// Which partition each message goes to.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Partitioner {
    /// No key and no partition: the client's default partitioner picks, as for keyless records
    /// in most applications and in the OpenMessaging Benchmark's `NO_KEY` workloads. librdkafka
    /// (like Kafka's Java client) sticks to one partition for a while and then moves on, so
    /// batches fill one at a time: `sticky.partitioning.linger.ms`, twice linger.ms unless set
    /// (10 ms at linger.ms 5); at linger.ms 0 that is 0, and each message gets a random partition.
    Keyless,
    /// Message k goes to partition k mod partitions, set explicitly: every partition's batch
    /// grows at once, which costs the client more per message.
    RoundRobin,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Produce => "produce",
            Workload::Consume => "consume",
            Workload::EndToEnd => "end-to-end",
        }
    }
}

impl Compression {
    pub fn librdkafka_name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl Partitioner {
    pub fn name(self) -> &'static str {
        match self {
            Partitioner::Keyless => "keyless",
            Partitioner::RoundRobin => "round-robin",
        }
    }
}

impl Args {
    /// How long producers send when neither limit was given.
    pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);

    /// The send-time limit: --duration, or the default when --messages is absent too.
    pub fn send_duration(&self) -> Option<Duration> {
        match (self.duration, self.messages) {
            (Some(d), _) => Some(d),
            (None, None) => Some(Self::DEFAULT_DURATION),
            (None, Some(_)) => None,
        }
    }
}

fn parse_acks(s: &str) -> Result<i16, String> {
    match s {
        "0" => Ok(0),
        "1" => Ok(1),
        "all" | "-1" => Ok(-1),
        _ => Err(format!("acks must be 0, 1 or all, not {s:?}")),
    }
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let trimmed = s.strip_suffix('s').unwrap_or(s);
    let secs: f64 = trimmed
        .parse()
        .map_err(|_| format!("expected seconds, like 10 or 2.5, not {s:?}"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{s:?} is not a usable duration"))
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, not {s:?}")),
    }
}
