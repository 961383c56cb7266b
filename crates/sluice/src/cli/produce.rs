//! `sluice produce TOPIC`: sends one record per stdin line and reports how many were delivered.
//! Deliveries are pipelined (many in flight), and the command fails if any record is not
//! acknowledged, so it can be trusted in scripts.

use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::connection::{create_client, topic_error, ConnectionArgs};
use super::context::CliContext;
use super::error::{describe_code, kafka_error_code, CliError};
use super::input_line::{parse_header, strip_line_end, LineFormat};

/// How long an unknown topic is given to appear through auto-creation before the command
/// concludes it does not exist.
const AUTO_CREATE_GRACE: Duration = Duration::from_secs(3);

/// Pause between metadata requests while waiting for a topic.
const METADATA_RETRY_INTERVAL: Duration = Duration::from_millis(100);

/// Records awaiting acknowledgement before reading more input waits for some to finish.
const MAX_IN_FLIGHT: usize = 10_000;

#[derive(clap::Args)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Topic to produce to.
    pub topic: String,

    /// Split each line at the first SEP into key and value (use $'\t' for a tab).
    #[arg(long, value_name = "SEP", value_parser = non_empty)]
    pub key_separator: Option<String>,

    /// A header added to every record (repeatable); a bare KEY gives a null value.
    #[arg(long = "header", value_name = "KEY=VALUE")]
    pub headers: Vec<String>,

    /// Each line starts with headers `k=v,k2=v2` ended by SEP, before the key and value.
    #[arg(long, value_name = "SEP", value_parser = non_empty)]
    pub headers_separator: Option<String>,

    /// Send every record to this partition instead of choosing by key.
    #[arg(long, value_parser = clap::value_parser!(i32).range(0..))]
    pub partition: Option<i32>,

    /// Acknowledgements required: all (-1), 1 or 0.
    #[arg(long, value_parser = ["all", "-1", "0", "1"], allow_hyphen_values = true)]
    pub acks: Option<String>,

    /// Compression codec for record batches.
    #[arg(long, value_parser = ["none", "gzip", "snappy", "lz4", "zstd"])]
    pub compression: Option<String>,
}

fn non_empty(raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        Err("the separator must not be empty".to_owned())
    } else {
        Ok(raw.to_owned())
    }
}

/// Tally of delivery outcomes, with the first failure kept for the error message.
#[derive(Default)]
struct Outcomes {
    delivered: u64,
    failed: u64,
    first_failure: Option<String>,
}

impl Outcomes {
    fn record(&mut self, result: Result<(), String>) {
        match result {
            Ok(()) => self.delivered += 1,
            Err(reason) => {
                self.failed += 1;
                self.first_failure.get_or_insert(reason);
            }
        }
    }
}

pub async fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let line_format = LineFormat {
        key_separator: args.key_separator.as_ref().map(|s| s.as_bytes().to_vec()),
        headers_separator: args
            .headers_separator
            .as_ref()
            .map(|s| s.as_bytes().to_vec()),
    };
    let static_headers = args
        .headers
        .iter()
        .map(|raw| parse_header(raw.as_bytes()).map_err(CliError::Invalid))
        .collect::<Result<Vec<_>, _>>()?;

    // murmur2 is the Java client's partitioner: the same key lands in the same partition
    // whichever client wrote it.
    let mut config = args
        .connection
        .client_config(&[("partitioner", "murmur2_random")]);
    if let Some(acks) = &args.acks {
        config.set("acks", acks);
    }
    if let Some(codec) = &args.compression {
        config.set("compression.type", codec);
    }
    let producer: FutureProducer<CliContext> = create_client(&config)?;
    await_topic(&producer, &args).await?;

    let mut outcomes = Outcomes::default();
    let mut in_flight = FuturesUnordered::new();
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut buffer = Vec::new();
    let mut line_number = 0u64;
    let mut input_error = None;
    loop {
        buffer.clear();
        if stdin.read_until(b'\n', &mut buffer).await? == 0 {
            break;
        }
        line_number += 1;
        let parsed = match line_format.parse(strip_line_end(&buffer)) {
            Ok(parsed) => parsed,
            Err(reason) => {
                input_error = Some(format!("line {line_number}: {reason}"));
                break;
            }
        };
        let mut headers =
            OwnedHeaders::new_with_capacity(static_headers.len() + parsed.headers.len());
        for (key, value) in static_headers.iter().chain(parsed.headers.iter()) {
            headers = headers.insert(Header { key, value: *value });
        }
        let mut record = FutureRecord::<[u8], [u8]>::to(&args.topic)
            .payload(parsed.value)
            .headers(headers);
        if let Some(key) = parsed.key {
            record = record.key(key);
        }
        if let Some(partition) = args.partition {
            record = record.partition(partition);
        }
        loop {
            match producer.send_result(record) {
                Ok(delivery) => {
                    in_flight.push(delivery);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    // librdkafka's queue is full: wait for a delivery to free a slot.
                    record = returned;
                    match in_flight.next().await {
                        Some(result) => outcomes.record(delivery_outcome(result)),
                        None => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                }
                Err((err, _)) => {
                    outcomes.record(Err(failure_reason(&err)));
                    break;
                }
            }
        }
        while let Some(Some(result)) = in_flight.next().now_or_never() {
            outcomes.record(delivery_outcome(result));
        }
        if in_flight.len() >= MAX_IN_FLIGHT {
            if let Some(result) = in_flight.next().await {
                outcomes.record(delivery_outcome(result));
            }
        }
    }
    while let Some(result) = in_flight.next().await {
        outcomes.record(delivery_outcome(result));
    }

    let noun = if outcomes.delivered == 1 {
        "record"
    } else {
        "records"
    };
    eprintln!("produced {} {noun} to {}", outcomes.delivered, args.topic);
    if outcomes.failed > 0 {
        return Err(CliError::Invalid(format!(
            "{} of {} records failed; first failure: {}",
            outcomes.failed,
            outcomes.failed + outcomes.delivered,
            outcomes.first_failure.unwrap_or_default()
        ))
        .into());
    }
    if let Some(input_error) = input_error {
        return Err(CliError::Invalid(format!("stopped reading input at {input_error}")).into());
    }
    Ok(())
}

/// Waits until the topic's metadata is usable. Asking for the topic by name lets a broker with
/// auto.create.topics.enable create it, as any Kafka producer would. While that creation is under
/// way Kafka answers LEADER_NOT_AVAILABLE or even UNKNOWN_TOPIC_OR_PARTITION, so those answers
/// are retried: "does not exist" is only concluded after [`AUTO_CREATE_GRACE`].
async fn await_topic(
    producer: &FutureProducer<CliContext>,
    args: &ProduceArgs,
) -> Result<(), CliError> {
    let connection = &args.connection;
    let started = Instant::now();
    let deadline = started + connection.timeout();
    let unknown_deadline = (started + AUTO_CREATE_GRACE).min(deadline);
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let metadata = producer
            .client()
            .fetch_metadata(Some(&args.topic), remaining)
            .map_err(|err| connection.metadata_error(&err, Some(&args.topic)))?;
        let topic = metadata.topics().iter().find(|t| t.name() == args.topic);
        let partitions = topic.map_or(0, |t| t.partitions().len());
        let retry_until = match topic.and_then(topic_error) {
            None if partitions > 0 => {
                return match args.partition {
                    Some(p) if p as usize >= partitions => Err(CliError::Invalid(format!(
                        "partition {p} does not exist in topic {} (it has {partitions})",
                        args.topic
                    ))),
                    _ => Ok(()),
                };
            }
            None | Some(RDKafkaErrorCode::UnknownTopicOrPartition) => unknown_deadline,
            Some(RDKafkaErrorCode::LeaderNotAvailable) => deadline,
            Some(code) => {
                return Err(CliError::kafka(
                    format!("looking up topic {}", args.topic),
                    Some(&args.topic),
                    code,
                ))
            }
        };
        if Instant::now() >= retry_until {
            return Err(match topic.and_then(topic_error) {
                Some(RDKafkaErrorCode::LeaderNotAvailable) => CliError::kafka(
                    format!("looking up topic {}", args.topic),
                    None,
                    RDKafkaErrorCode::LeaderNotAvailable,
                ),
                _ => CliError::UnknownTopic(args.topic.clone()),
            });
        }
        tokio::time::sleep(METADATA_RETRY_INTERVAL).await;
    }
}

fn delivery_outcome(result: <DeliveryFuture as std::future::Future>::Output) -> Result<(), String> {
    match result {
        Ok(Ok(_delivery)) => Ok(()),
        Ok(Err((err, _message))) => Err(failure_reason(&err)),
        Err(_canceled) => {
            Err("the producer shut down before the record was acknowledged".to_owned())
        }
    }
}

fn failure_reason(err: &KafkaError) -> String {
    match kafka_error_code(err) {
        Some(code) => describe_code(code),
        None => err.to_string(),
    }
}
