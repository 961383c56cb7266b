//! `sluice consume TOPIC`: prints records to stdout. Without `--group` it assigns partitions
//! itself (no consumer group, nothing committed); with `--group` it joins the group (or, when a
//! start position or partition is given, assigns manually and commits under that group id).

use std::io::{self, BufWriter, Write};
use std::time::Duration;

use futures::FutureExt;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio::time::Instant;

use super::connection::{create_client, find_topic, ConnectionArgs};
use super::context::CliContext;
use super::error::{describe_code, CliError};
use super::format::{Encoding, Formatter, RecordView, FORMAT_HELP};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("start").args(["from_beginning", "offset", "timestamp"])))]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Topic to consume from.
    pub topic: String,

    /// Start at the earliest retained record (with --group: when the group has no committed
    /// offset).
    #[arg(long)]
    pub from_beginning: bool,

    /// Start at this offset in each partition; a negative N starts N records before the end.
    #[arg(long, allow_negative_numbers = true)]
    pub offset: Option<i64>,

    /// Start at the first record whose timestamp is at or after MS (milliseconds since the epoch).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(i64).range(0..))]
    pub timestamp: Option<i64>,

    /// Consume only this partition (default: all partitions).
    #[arg(long, value_parser = clap::value_parser!(i32).range(0..))]
    pub partition: Option<i32>,

    /// Consumer group id; consumed offsets are committed under it.
    #[arg(long)]
    pub group: Option<String>,

    /// Exit after printing N records.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,

    /// Exit when no record has arrived for MS milliseconds (default: follow forever).
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,

    #[arg(long, help = FORMAT_HELP, conflicts_with_all = ["print_key", "print_offset"])]
    pub format: Option<String>,

    /// Print the key before the value, separated by a tab.
    #[arg(long)]
    pub print_key: bool,

    /// Print `partition:offset` before the record, separated by a tab.
    #[arg(long)]
    pub print_offset: bool,

    /// How keys are printed.
    #[arg(long, value_enum, default_value_t)]
    pub key_format: Encoding,

    /// How values are printed.
    #[arg(long, value_enum, default_value_t)]
    pub value_format: Encoding,
}

impl ConsumeArgs {
    /// The `--format` template, or the one the shortcut flags stand for.
    fn template(&self) -> String {
        if let Some(format) = &self.format {
            return format.clone();
        }
        let mut template = String::new();
        if self.print_offset {
            template.push_str("%p:%o\\t");
        }
        if self.print_key {
            template.push_str("%k\\t");
        }
        template.push_str("%s\\n");
        template
    }
}

pub async fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    let formatter = Formatter::parse(&args.template(), args.key_format, args.value_format)
        .map_err(CliError::Invalid)?;

    let reset = if args.from_beginning {
        "earliest"
    } else {
        "latest"
    };
    // librdkafka's consumer cannot assign partitions without some group id; like Kafka's console
    // consumer, a group-less run gets a throwaway one and never commits offsets under it.
    let throwaway_group = format!("sluice-cli-{}", std::process::id());
    let mut defaults = vec![
        ("enable.partition.eof", "false"),
        ("auto.offset.reset", reset),
    ];
    match &args.group {
        Some(group) => {
            defaults.push(("group.id", group.as_str()));
            // Offsets are stored only for records actually printed: librdkafka's automatic store
            // would also count records it hands out while closing, skipping them for the group.
            defaults.push(("enable.auto.offset.store", "false"));
        }
        None => {
            defaults.push(("group.id", throwaway_group.as_str()));
            defaults.push(("enable.auto.commit", "false"));
        }
    }
    let consumer: CliConsumer = create_client(&args.connection.client_config(&defaults))?;

    let metadata = args.connection.cluster_metadata(consumer.client())?;
    let topic = find_topic(&metadata, &args.topic)?;
    let mut partitions: Vec<i32> = topic.partitions().iter().map(|p| p.id()).collect();
    partitions.sort_unstable();
    if let Some(wanted) = args.partition {
        if !partitions.contains(&wanted) {
            return Err(CliError::Invalid(format!(
                "partition {wanted} does not exist in topic {} (it has {})",
                args.topic,
                partitions.len()
            ))
            .into());
        }
        partitions = vec![wanted];
    }

    let group_managed = args.group.is_some()
        && args.partition.is_none()
        && args.offset.is_none()
        && args.timestamp.is_none();
    if group_managed {
        consumer
            .subscribe(&[&args.topic])
            .map_err(|err| CliError::from_kafka("subscribing", Some(&args.topic), &err))?;
    } else {
        let assignment = start_positions(&consumer, &args, &partitions)?;
        consumer
            .assign(&assignment)
            .map_err(|err| CliError::from_kafka("assigning partitions", Some(&args.topic), &err))?;
    }

    let mut out = BufWriter::new(io::stdout().lock());
    match print_records(&consumer, &args, &formatter, &mut out).await {
        Err(ConsumeError::Output(err)) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(ConsumeError::Output(err)) => Err(err.into()),
        Err(ConsumeError::Kafka(err)) => {
            // Whatever was printed before the failure still reaches the reader.
            let _ = out.flush();
            Err(err.into())
        }
        Ok(()) => Ok(()),
    }
}

type CliConsumer = StreamConsumer<CliContext>;

/// Why the record loop stopped early.
enum ConsumeError {
    Output(io::Error),
    Kafka(CliError),
}

impl From<io::Error> for ConsumeError {
    fn from(err: io::Error) -> Self {
        ConsumeError::Output(err)
    }
}

/// Prints records until the limit is reached, the idle timeout passes, or a fatal error.
async fn print_records(
    consumer: &CliConsumer,
    args: &ConsumeArgs,
    formatter: &Formatter,
    out: &mut impl Write,
) -> Result<(), ConsumeError> {
    let idle = args.timeout_ms.map(Duration::from_millis);
    let mut idle_deadline = idle.map(|idle| Instant::now() + idle);
    let mut printed = 0u64;
    loop {
        let next = match consumer.recv().now_or_never() {
            Some(next) => next,
            None => {
                // Nothing is ready: show what we have before waiting.
                out.flush()?;
                match idle_deadline {
                    Some(deadline) => {
                        match tokio::time::timeout_at(deadline, consumer.recv()).await {
                            Ok(next) => next,
                            Err(_elapsed) => break,
                        }
                    }
                    None => consumer.recv().await,
                }
            }
        };
        match next {
            Ok(message) => {
                let headers: Vec<(&str, Option<&[u8]>)> = message
                    .headers()
                    .map(|headers| headers.iter().map(|h| (h.key, h.value)).collect())
                    .unwrap_or_default();
                let record = RecordView {
                    topic: message.topic(),
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key(),
                    value: message.payload(),
                    headers: &headers,
                    timestamp: message.timestamp().to_millis(),
                };
                formatter.write(out, &record)?;
                if args.group.is_some() {
                    consumer
                        .store_offset_from_message(&message)
                        .map_err(|err| {
                            ConsumeError::Kafka(CliError::from_kafka(
                                "storing the consumed offset",
                                Some(&args.topic),
                                &err,
                            ))
                        })?;
                }
                printed += 1;
                if args.limit.is_some_and(|limit| printed >= limit) {
                    break;
                }
                idle_deadline = idle.map(|idle| Instant::now() + idle);
            }
            Err(err) => handle_error(&err, &args.topic).map_err(ConsumeError::Kafka)?,
        }
    }
    out.flush()?;
    if args.group.is_some() && printed > 0 {
        consumer
            .commit_consumer_state(CommitMode::Sync)
            .map_err(|err| {
                ConsumeError::Kafka(CliError::from_kafka(
                    "committing consumed offsets",
                    Some(&args.topic),
                    &err,
                ))
            })?;
    }
    Ok(())
}

/// Errors that end consumption; anything else (a broker restarting, a leader moving) is
/// retried by librdkafka and only reported.
fn handle_error(err: &KafkaError, topic: &str) -> Result<(), CliError> {
    let code = match err {
        KafkaError::MessageConsumptionFatal(code) => {
            return Err(CliError::kafka("consuming", Some(topic), *code))
        }
        KafkaError::MessageConsumption(code) => *code,
        other => {
            eprintln!("warning: {other}");
            return Ok(());
        }
    };
    match code {
        RDKafkaErrorCode::UnknownTopicOrPartition
        | RDKafkaErrorCode::UnknownTopic
        | RDKafkaErrorCode::UnknownPartition
        | RDKafkaErrorCode::TopicAuthorizationFailed
        | RDKafkaErrorCode::GroupAuthorizationFailed
        | RDKafkaErrorCode::OffsetOutOfRange
        | RDKafkaErrorCode::AutoOffsetReset
        | RDKafkaErrorCode::InvalidGroupId => Err(CliError::kafka("consuming", Some(topic), code)),
        _ => {
            eprintln!("warning: {}", describe_code(code));
            Ok(())
        }
    }
}

/// Where each assigned partition starts, from the start flags.
fn start_positions(
    consumer: &CliConsumer,
    args: &ConsumeArgs,
    partitions: &[i32],
) -> Result<TopicPartitionList, CliError> {
    let timeout = args.connection.timeout();
    let mut assignment = TopicPartitionList::with_capacity(partitions.len());
    let set = |list: &mut TopicPartitionList, partition: i32, offset: Offset| {
        list.add_partition_offset(&args.topic, partition, offset)
            .map_err(|err| CliError::from_kafka("choosing start offsets", Some(&args.topic), &err))
    };

    if let Some(timestamp) = args.timestamp {
        let mut query = TopicPartitionList::with_capacity(partitions.len());
        for &partition in partitions {
            set(&mut query, partition, Offset::Offset(timestamp))?;
        }
        let found = consumer.offsets_for_times(query, timeout).map_err(|err| {
            CliError::from_kafka("looking up offsets by timestamp", Some(&args.topic), &err)
        })?;
        for element in found.elements() {
            if let Err(err) = element.error() {
                return Err(CliError::from_kafka(
                    format!(
                        "looking up offsets by timestamp in partition {}",
                        element.partition()
                    ),
                    Some(&args.topic),
                    &err,
                ));
            }
            // No record at or after the timestamp: start at the end and wait for new ones.
            let offset = match element.offset() {
                Offset::Offset(offset) if offset >= 0 => Offset::Offset(offset),
                _ => Offset::End,
            };
            set(&mut assignment, element.partition(), offset)?;
        }
        return Ok(assignment);
    }

    for &partition in partitions {
        let offset = match args.offset {
            Some(offset) if offset < 0 => {
                Offset::OffsetTail(offset.checked_neg().unwrap_or(i64::MAX))
            }
            Some(offset) => {
                let (low, high) = consumer
                    .fetch_watermarks(&args.topic, partition, timeout)
                    .map_err(|err| {
                        CliError::from_kafka("reading offsets", Some(&args.topic), &err)
                    })?;
                if offset < low || offset > high {
                    return Err(CliError::Invalid(format!(
                        "offset {offset} is out of range for partition {partition} of topic {} \
                         (valid start offsets are {low} to {high})",
                        args.topic
                    )));
                }
                Offset::Offset(offset)
            }
            None if args.from_beginning => Offset::Beginning,
            // Resume from the group's committed offset (auto.offset.reset applies if none).
            None if args.group.is_some() => Offset::Stored,
            None => Offset::End,
        };
        set(&mut assignment, partition, offset)?;
    }
    Ok(assignment)
}
