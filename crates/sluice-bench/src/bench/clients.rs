//! librdkafka client settings for the benchmark and the topic it runs on.
//!
//! Consumers are manually assigned explicit offsets (no group membership, no commits), so the
//! same tool runs against a broker that has no group coordinator. librdkafka logs at warning and
//! above go to stderr: a benchmark that silently retries against a dead broker would lie.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::args::Args;

/// A client context that prints librdkafka's warnings and errors to stderr.
pub struct LoggingContext {
    pub role: &'static str,
}

impl ClientContext for LoggingContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        if (level as i32) <= (RDKafkaLogLevel::Warning as i32) {
            eprintln!(
                "sluice-bench: {} librdkafka {fac}: {log_message}",
                self.role
            );
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        eprintln!(
            "sluice-bench: {} librdkafka error: {error}: {reason}",
            self.role
        );
    }
}

impl ConsumerContext for LoggingContext {}

fn base(args: &Args) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &args.bootstrap);
    // TCP_NODELAY, as Kafka's Java clients always set it. librdkafka leaves Nagle on by default,
    // and then a small produce request can wait for the ACK of the previous segment (tens of
    // milliseconds with delayed ACKs): that was the fixed-rate runs' p99, not the broker's.
    c.set("socket.nagle.disable", "true");
    for (k, v) in &args.client_config {
        c.set(k, v);
    }
    c
}

pub fn producer_config(args: &Args) -> ClientConfig {
    let mut c = base(args);
    c.set("acks", args.acks.to_string())
        .set("compression.type", args.compression.librdkafka_name())
        .set("linger.ms", args.linger_ms.to_string())
        .set("batch.size", args.batch_size.to_string())
        .set("queue.buffering.max.kbytes", args.queue_kbytes.to_string());
    for (k, v) in &args.producer_config {
        c.set(k, v);
    }
    c
}

pub fn consumer_config(args: &Args) -> ClientConfig {
    let mut c = base(args);
    // librdkafka refuses assign() without a group.id; nothing joins or commits to it.
    c.set("group.id", "sluice-bench")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        // Losing our place must fail the run, not silently skip or re-read data.
        .set("auto.offset.reset", "error");
    for (k, v) in &args.consumer_config {
        c.set(k, v);
    }
    c
}

pub fn consumer(args: &Args) -> anyhow::Result<BaseConsumer<LoggingContext>> {
    consumer_config(args)
        .create_with_context(LoggingContext { role: "consumer" })
        .context("creating a consumer")
}

/// A topic name no earlier run used.
pub fn fresh_topic_name(workload: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("sluice-bench-{workload}-{}-{nanos:08x}", std::process::id())
}

/// Creates the topic (or accepts an existing one with the same partition count) and waits until
/// metadata shows every partition with a leader. A broker still starting up answers with
/// transient errors; those are retried for up to a minute.
pub fn ensure_topic(args: &Args, topic: &str, partitions: i32) -> anyhow::Result<()> {
    let admin: AdminClient<LoggingContext> = base(args)
        .create_with_context(LoggingContext { role: "admin" })
        .context("creating an admin client")?;
    let opts = AdminOptions::new()
        .request_timeout(Some(Duration::from_secs(30)))
        .operation_timeout(Some(Duration::from_secs(30)));
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let outcome = match futures::executor::block_on(admin.create_topics([&new], &opts)) {
            Err(e) => Err(format!("{e}")),
            Ok(results) => match results.into_iter().next() {
                Some(Ok(_)) | Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => Ok(()),
                Some(Err((_, code))) if permanent(code) => bail!("CreateTopics {topic}: {code}"),
                Some(Err((_, code))) => Err(format!("{code}")),
                None => Err("no result".to_string()),
            },
        };
        match outcome {
            Ok(()) => break,
            Err(e) if Instant::now() >= deadline => bail!("CreateTopics {topic}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
    wait_for_leaders(args, topic, partitions)
}

/// CreateTopics errors that retrying cannot fix.
fn permanent(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::InvalidTopic
            | RDKafkaErrorCode::InvalidPartitions
            | RDKafkaErrorCode::InvalidReplicationFactor
            | RDKafkaErrorCode::InvalidConfig
            | RDKafkaErrorCode::PolicyViolation
            | RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::ClusterAuthorizationFailed
    )
}

fn wait_for_leaders(args: &Args, topic: &str, partitions: i32) -> anyhow::Result<()> {
    let consumer = consumer(args)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let md = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .with_context(|| format!("Metadata for {topic}"))?;
        if let Some(t) = md.topics().iter().find(|t| t.name() == topic) {
            let led = t.partitions().iter().filter(|p| p.leader() >= 0).count();
            if t.error().is_none()
                && t.partitions().len() == partitions as usize
                && led == t.partitions().len()
            {
                return Ok(());
            }
            if t.error().is_none() && t.partitions().len() != partitions as usize && led > 0 {
                bail!(
                    "topic {topic} exists with {} partitions, not the {partitions} asked for",
                    t.partitions().len()
                );
            }
        }
        if Instant::now() >= deadline {
            bail!("topic {topic} did not show {partitions} led partitions within 30s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// (low, high) watermarks of every partition, through ListOffsets. Right after creating a topic a
/// broker may still answer NotLeaderForPartition; errors are retried for up to 30 s.
pub fn watermarks(args: &Args, topic: &str, partitions: i32) -> anyhow::Result<Vec<(i64, i64)>> {
    let consumer = consumer(args)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    (0..partitions)
        .map(|p| loop {
            match consumer.fetch_watermarks(topic, p, Duration::from_secs(10)) {
                Ok(marks) => return Ok(marks),
                Err(e) if Instant::now() >= deadline => {
                    return Err(e).with_context(|| format!("ListOffsets {topic}/{p}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        })
        .collect()
}

/// The partition count of an existing topic.
pub fn partition_count(args: &Args, topic: &str) -> anyhow::Result<i32> {
    let consumer = consumer(args)?;
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .with_context(|| format!("Metadata for {topic}"))?;
    match md.topics().iter().find(|t| t.name() == topic) {
        Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
            Ok(t.partitions().len() as i32)
        }
        _ => bail!("topic {topic} does not exist"),
    }
}
