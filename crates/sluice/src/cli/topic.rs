//! `sluice topic create|list|describe|alter|delete`: topic administration over the Kafka admin
//! APIs (CreateTopics, Metadata, ListOffsets, DescribeConfigs, IncrementalAlterConfigs,
//! CreatePartitions, DeleteTopics), so it works against any Kafka-compatible cluster.

use std::io::Write;

use rdkafka::admin::{AdminClient, AdminOptions, ConfigEntry, ConfigSource, ResourceSpecifier};
use rdkafka::error::RDKafkaErrorCode;

use super::connection::{create_client, find_topic, parse_key_value, ConnectionArgs};
use super::context::CliContext;
use super::error::CliError;
use super::native_admin::{self, ConfigChange, NewTopicSpec};

/// Topic names Kafka itself reserves and marks internal; hidden from `topic list` by default.
/// (librdkafka's metadata view does not expose the broker's is-internal flag.)
const INTERNAL_TOPICS: &[&str] = &[
    "__consumer_offsets",
    "__transaction_state",
    "__share_group_state",
];

#[derive(clap::Subcommand)]
pub enum TopicCommand {
    /// Create a topic.
    Create(CreateArgs),
    /// List topic names, one per line.
    List(ListArgs),
    /// Show a topic's partitions (leader, replicas, in-sync replicas, watermarks) and configs.
    Describe(DescribeArgs),
    /// Change a topic's configs and/or increase its partition count.
    Alter(AlterArgs),
    /// Delete one or more topics.
    Delete(DeleteArgs),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Name of the topic to create.
    name: String,
    /// Number of partitions (default: the broker's num.partitions).
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
    partitions: Option<i32>,
    /// Replication factor (default: the broker's default.replication.factor).
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=i16::MAX as i64))]
    replication_factor: Option<i32>,
    /// A topic config override (repeatable), e.g. --config retention.ms=3600000.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    configs: Vec<(String, String)>,
    /// Succeed without changes if the topic already exists.
    #[arg(long)]
    if_not_exists: bool,
}

#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Include Kafka's internal topics (__consumer_offsets, __transaction_state, ...).
    #[arg(long)]
    internal: bool,
}

#[derive(clap::Args)]
pub struct DescribeArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Name of the topic to describe.
    name: String,
    /// Show every config with its source, not only the ones that differ from the defaults.
    #[arg(long)]
    all_configs: bool,
}

#[derive(clap::Args)]
pub struct AlterArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Name of the topic to alter.
    name: String,
    /// New (larger) total number of partitions.
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
    partitions: Option<i32>,
    /// Set a config override (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    configs: Vec<(String, String)>,
    /// Remove a config override so the default applies again (repeatable).
    #[arg(long = "delete-config", value_name = "KEY")]
    delete_configs: Vec<String>,
}

#[derive(clap::Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Names of the topics to delete.
    #[arg(required = true)]
    names: Vec<String>,
}

pub async fn run(cmd: TopicCommand) -> anyhow::Result<()> {
    match cmd {
        TopicCommand::Create(args) => create(args),
        TopicCommand::List(args) => list(args),
        TopicCommand::Describe(args) => describe(args).await,
        TopicCommand::Alter(args) => alter(args),
        TopicCommand::Delete(args) => delete(args),
    }
}

type Admin = AdminClient<CliContext>;

/// An admin client whose cluster has answered a metadata request.
fn connect(connection: &ConnectionArgs) -> Result<(Admin, rdkafka::metadata::Metadata), CliError> {
    let admin: Admin = create_client(&connection.client_config(&[]))?;
    let metadata = connection.cluster_metadata(admin.inner())?;
    Ok((admin, metadata))
}

fn admin_options(connection: &ConnectionArgs) -> AdminOptions {
    AdminOptions::new().request_timeout(Some(connection.timeout()))
}

fn create(args: CreateArgs) -> anyhow::Result<()> {
    let (admin, _) = connect(&args.connection)?;
    // -1 asks the broker to apply its own defaults (CreateTopics v4+).
    let spec = NewTopicSpec {
        name: &args.name,
        partitions: args.partitions.unwrap_or(-1),
        replication_factor: args.replication_factor.unwrap_or(-1),
        configs: &args.configs,
    };
    match native_admin::create_topic(admin.inner(), &spec, args.connection.timeout()) {
        Ok(()) => println!("created topic {}", args.name),
        Err(CliError::Kafka {
            code: RDKafkaErrorCode::TopicAlreadyExists,
            ..
        }) if args.if_not_exists => eprintln!("topic {} already exists", args.name),
        Err(err) => return Err(err.into()),
    }
    Ok(())
}

fn list(args: ListArgs) -> anyhow::Result<()> {
    let (_admin, metadata) = connect(&args.connection)?;
    let mut names: Vec<&str> = metadata
        .topics()
        .iter()
        .map(|topic| topic.name())
        .filter(|name| args.internal || !INTERNAL_TOPICS.contains(name))
        .collect();
    names.sort_unstable();
    let mut out = std::io::stdout().lock();
    for name in names {
        writeln!(out, "{name}")?;
    }
    out.flush()?;
    Ok(())
}

async fn describe(args: DescribeArgs) -> anyhow::Result<()> {
    let (admin, metadata) = connect(&args.connection)?;
    let topic = find_topic(&metadata, &args.name)?;
    let mut partitions: Vec<_> = topic.partitions().iter().collect();
    partitions.sort_by_key(|partition| partition.id());
    let replication_factor = partitions.first().map_or(0, |p| p.replicas().len());

    let mut text = format!(
        "Topic: {}\tPartitionCount: {}\tReplicationFactor: {}\n",
        args.name,
        partitions.len(),
        replication_factor
    );
    for partition in partitions {
        let watermarks =
            admin
                .inner()
                .fetch_watermarks(&args.name, partition.id(), args.connection.timeout());
        let (low, high) = match watermarks {
            Ok((low, high)) => (low.to_string(), high.to_string()),
            Err(err) => {
                let err = CliError::from_kafka(
                    format!("reading offsets of {}-{}", args.name, partition.id()),
                    None,
                    &err,
                );
                eprintln!("warning: {err}");
                ("?".to_owned(), "?".to_owned())
            }
        };
        let leader = match partition.leader() {
            id if id < 0 => "none".to_owned(),
            id => id.to_string(),
        };
        text.push_str(&format!(
            "\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}\tLowWatermark: {low}\tHighWatermark: {high}\n",
            partition.id(),
            join_ids(partition.replicas()),
            join_ids(partition.isr()),
        ));
    }

    // Partitions are shown even if the configs cannot be read.
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    text.clear();

    let action = format!("describing configs of topic {}", args.name);
    let resources = admin
        .describe_configs(
            [&ResourceSpecifier::Topic(&args.name)],
            &admin_options(&args.connection),
        )
        .await
        .map_err(|err| CliError::from_kafka(&action, Some(&args.name), &err))?;
    let mut entries: Vec<ConfigEntry> = Vec::new();
    for resource in resources {
        let resource = resource.map_err(|code| CliError::kafka(&action, Some(&args.name), code))?;
        entries.extend(resource.entries);
    }
    entries.retain(|entry| args.all_configs || !entry.is_default);
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    if entries.is_empty() {
        text.push_str("Configs: (all defaults)\n");
    } else {
        text.push_str("Configs:\n");
        for entry in &entries {
            text.push_str(&format_config(entry, args.all_configs));
            text.push('\n');
        }
    }
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// `\tname=value`, followed by the Kafka name of the value's source when listing every config.
fn format_config(entry: &ConfigEntry, with_source: bool) -> String {
    let value = match (&entry.value, entry.is_sensitive) {
        (_, true) => "(sensitive)",
        (Some(value), false) => value.as_str(),
        (None, false) => "(null)",
    };
    if with_source {
        format!("\t{}={value}\t{}", entry.name, source_name(&entry.source))
    } else {
        format!("\t{}={value}", entry.name)
    }
}

/// Kafka's name for where a config value comes from (DescribeConfigs `config_source`).
fn source_name(source: &ConfigSource) -> &'static str {
    match source {
        ConfigSource::Unknown => "UNKNOWN",
        ConfigSource::DynamicTopic => "DYNAMIC_TOPIC_CONFIG",
        ConfigSource::DynamicBroker => "DYNAMIC_BROKER_CONFIG",
        ConfigSource::DynamicDefaultBroker => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        ConfigSource::StaticBroker => "STATIC_BROKER_CONFIG",
        ConfigSource::Default => "DEFAULT_CONFIG",
    }
}

fn join_ids(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

fn alter(args: AlterArgs) -> anyhow::Result<()> {
    if args.partitions.is_none() && args.configs.is_empty() && args.delete_configs.is_empty() {
        return Err(CliError::Invalid(
            "nothing to alter: give --partitions, --config or --delete-config".to_owned(),
        )
        .into());
    }
    let (admin, metadata) = connect(&args.connection)?;
    find_topic(&metadata, &args.name)?;

    let changes: Vec<ConfigChange> = args
        .configs
        .iter()
        .map(|(key, value)| ConfigChange::Set(key.clone(), value.clone()))
        .chain(
            args.delete_configs
                .iter()
                .cloned()
                .map(ConfigChange::Delete),
        )
        .collect();
    if !changes.is_empty() {
        native_admin::alter_topic_configs(
            admin.inner(),
            &args.name,
            &changes,
            args.connection.timeout(),
        )?;
        println!("updated configs of topic {}", args.name);
    }

    if let Some(partitions) = args.partitions {
        native_admin::create_partitions(
            admin.inner(),
            &args.name,
            partitions as usize,
            args.connection.timeout(),
        )?;
        println!(
            "increased partitions of topic {} to {partitions}",
            args.name
        );
    }
    Ok(())
}

fn delete(args: DeleteArgs) -> anyhow::Result<()> {
    let (admin, _) = connect(&args.connection)?;
    let outcomes =
        native_admin::delete_topics(admin.inner(), &args.names, args.connection.timeout())?;
    let mut failures = Vec::new();
    for (name, outcome) in outcomes {
        match outcome {
            Ok(()) => println!("deleted topic {name}"),
            Err(err) => failures.push(err.to_string()),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::Invalid(failures.join("; ")).into())
    }
}
