//! `sluice group list|describe|delete|reset-offsets`: consumer groups as an operator sees them,
//! the way Kafka's `kafka-consumer-groups` shows and changes them, plus the lag in time (how old
//! the oldest record a group has not consumed yet is), which is what tells whether a consumer is
//! keeping up. Everything goes over the Kafka protocol (ListGroups, DescribeGroups /
//! ConsumerGroupDescribe, OffsetFetch, ListOffsets, Fetch, OffsetCommit, DeleteGroups), so it works
//! against any Kafka-compatible cluster.

mod native;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::{Duration, Instant};

use rdkafka::admin::AdminClient;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message;
use rdkafka::metadata::Metadata;
use rdkafka::{Offset, TopicPartitionList};

use self::native::{GroupDescription, Partition};
use super::connection::{create_client, find_topic, ConnectionArgs};
use super::context::CliContext;
use super::error::CliError;

#[derive(clap::Subcommand)]
pub enum GroupCommand {
    /// List consumer group ids, one per line.
    List(ListArgs),
    /// Show a group's members and assignments, and per partition the committed offset, log end
    /// offset, lag in records and lag in time (age of the oldest unconsumed record).
    Describe(DescribeArgs),
    /// Delete groups (only groups without members) and their committed offsets.
    Delete(DeleteArgs),
    /// Move a group's committed offsets (only while it has no members). Shows the plan unless
    /// --execute is given.
    ResetOffsets(ResetArgs),
}

#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Only groups in this state (repeatable): Stable, Empty, PreparingRebalance,
    /// CompletingRebalance, Dead. Also prints each group's state and type.
    #[arg(long = "state", value_name = "STATE")]
    states: Vec<String>,
    /// Print each group's state and type next to its id.
    #[arg(long)]
    verbose: bool,
}

#[derive(clap::Args)]
pub struct DescribeArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Group id(s) to describe.
    #[arg(required = true)]
    groups: Vec<String>,
}

#[derive(clap::Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Group id(s) to delete.
    #[arg(required = true)]
    groups: Vec<String>,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["to_earliest", "to_latest", "to_datetime", "to_offset", "shift_by"])))]
#[command(group(clap::ArgGroup::new("scope").required(true).args(["topics", "all_topics"])))]
pub struct ResetArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Group whose offsets to reset.
    group: String,
    /// Topic to reset, optionally only some partitions: TOPIC or TOPIC:0,2 (repeatable).
    #[arg(long = "topic", value_name = "TOPIC[:PARTITIONS]")]
    topics: Vec<String>,
    /// Every topic the group has committed offsets for.
    #[arg(long)]
    all_topics: bool,
    /// To the earliest retained offset (log start).
    #[arg(long)]
    to_earliest: bool,
    /// To the log end offset.
    #[arg(long)]
    to_latest: bool,
    /// To the first record at or after this time: YYYY-MM-DDTHH:mm:SS[.sss][Z|+hh:mm]; local time
    /// without a zone (as kafka-consumer-groups).
    #[arg(long, value_name = "DATETIME")]
    to_datetime: Option<String>,
    /// To this offset (kept within the log's start and end, as Kafka does).
    #[arg(long, value_name = "OFFSET", allow_negative_numbers = true)]
    to_offset: Option<i64>,
    /// Move the committed offset by N (negative: back), kept within the log's start and end.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    shift_by: Option<i64>,
    /// Apply the new offsets (without it, only show them).
    #[arg(long)]
    execute: bool,
}

pub async fn run(cmd: GroupCommand) -> anyhow::Result<()> {
    match cmd {
        GroupCommand::List(args) => list(args),
        GroupCommand::Describe(args) => describe(args),
        GroupCommand::Delete(args) => delete(args),
        GroupCommand::ResetOffsets(args) => reset_offsets(args),
    }
}

type Admin = AdminClient<CliContext>;

/// An admin client whose cluster has answered a metadata request.
fn connect(connection: &ConnectionArgs) -> Result<(Admin, Metadata), CliError> {
    let admin: Admin = create_client(&connection.client_config(&[]))?;
    let metadata = connection.cluster_metadata(admin.inner())?;
    Ok((admin, metadata))
}

/// A consumer for watermarks, timestamp lookups and reading single records. It never joins or
/// commits to any group; librdkafka only insists on some group id for `assign`.
fn reader(connection: &ConnectionArgs) -> Result<BaseConsumer<CliContext>, CliError> {
    let group = format!("sluice-cli-{}", std::process::id());
    create_client(&connection.client_config(&[
        ("group.id", group.as_str()),
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
        ("enable.partition.eof", "false"),
        ("auto.offset.reset", "earliest"),
        ("fetch.wait.max.ms", "100"),
    ]))
}

fn list(args: ListArgs) -> anyhow::Result<()> {
    let (admin, _) = connect(&args.connection)?;
    let mut groups = native::list_groups(admin.inner(), &args.states, args.connection.timeout())?;
    groups.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = std::io::stdout().lock();
    if args.verbose || !args.states.is_empty() {
        let mut table = Table::new(&["GROUP", "STATE", "TYPE"]);
        for group in &groups {
            table.row(vec![
                group.id.clone(),
                group.state.clone(),
                group.kind.clone(),
            ]);
        }
        out.write_all(table.render().as_bytes())?;
    } else {
        for group in &groups {
            writeln!(out, "{}", group.id)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// One partition's line of `describe`.
struct PartitionLag {
    committed: Option<i64>,
    log_end: Option<i64>,
    /// Age of the record at the committed offset, when the group is behind.
    lag_time: Option<Duration>,
    member: Option<String>,
}

fn describe(args: DescribeArgs) -> anyhow::Result<()> {
    let (admin, _) = connect(&args.connection)?;
    let reader = reader(&args.connection)?;
    let timeout = args.connection.timeout();
    let mut out = std::io::stdout().lock();
    for (i, group) in args.groups.iter().enumerate() {
        let description = native::describe_group(admin.inner(), group, timeout)?;
        let committed = native::committed_offsets(admin.inner(), group, timeout)?;
        if description.state == "Dead" && description.members.is_empty() && committed.is_empty() {
            return Err(CliError::Invalid(format!("group {group} does not exist")).into());
        }
        let lags = partition_lags(&reader, &description, &committed, timeout)?;
        if i > 0 {
            writeln!(out)?;
        }
        out.write_all(render_description(&description, &lags).as_bytes())?;
        out.flush()?;
    }
    Ok(())
}

/// Committed offset, log end offset, lag time and owner of every partition the group has an
/// offset for or a member assigned to.
fn partition_lags(
    reader: &BaseConsumer<CliContext>,
    description: &GroupDescription,
    committed: &BTreeMap<Partition, i64>,
    timeout: Duration,
) -> Result<BTreeMap<Partition, PartitionLag>, CliError> {
    let mut lags: BTreeMap<Partition, PartitionLag> = committed
        .iter()
        .map(|(tp, offset)| {
            let lag = PartitionLag {
                committed: Some(*offset),
                log_end: None,
                lag_time: None,
                member: None,
            };
            (tp.clone(), lag)
        })
        .collect();
    for member in &description.members {
        for tp in &member.assignment {
            lags.entry(tp.clone())
                .or_insert(PartitionLag {
                    committed: None,
                    log_end: None,
                    lag_time: None,
                    member: None,
                })
                .member = Some(member.member_id.clone());
        }
    }
    let mut behind = BTreeMap::new();
    for ((topic, partition), lag) in lags.iter_mut() {
        match reader.fetch_watermarks(topic, *partition, timeout) {
            Ok((low, high)) => {
                lag.log_end = Some(high);
                if let Some(committed) = lag.committed.filter(|c| *c < high) {
                    // Records below the log start are gone; the oldest unconsumed one left is
                    // the first retained record.
                    behind.insert((topic.clone(), *partition), committed.max(low));
                }
            }
            Err(err) => eprintln!(
                "warning: {}",
                CliError::from_kafka(
                    format!("reading the log end offset of {topic}-{partition}"),
                    Some(topic),
                    &err
                )
            ),
        }
    }
    for (tp, age) in oldest_unconsumed_ages(reader, &behind, timeout)? {
        if let Some(lag) = lags.get_mut(&tp) {
            lag.lag_time = Some(age);
        }
    }
    Ok(lags)
}

/// Reads the record at each given offset and returns how long ago it was written (its
/// timestamp compared to now). Partitions whose record does not arrive in time are left out.
fn oldest_unconsumed_ages(
    reader: &BaseConsumer<CliContext>,
    offsets: &BTreeMap<Partition, i64>,
    timeout: Duration,
) -> Result<BTreeMap<Partition, Duration>, CliError> {
    let mut ages = BTreeMap::new();
    if offsets.is_empty() {
        return Ok(ages);
    }
    let mut assignment = TopicPartitionList::new();
    for ((topic, partition), offset) in offsets {
        assignment
            .add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .map_err(|err| CliError::Invalid(format!("reading unconsumed records: {err}")))?;
    }
    reader
        .assign(&assignment)
        .map_err(|err| CliError::from_kafka("reading unconsumed records", None, &err))?;
    let deadline = Instant::now() + timeout;
    while ages.len() < offsets.len() && Instant::now() < deadline {
        match reader.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                let tp = (message.topic().to_owned(), message.partition());
                if ages.contains_key(&tp) {
                    continue;
                }
                if let Some(timestamp) = message.timestamp().to_millis() {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as i64);
                    ages.insert(tp, Duration::from_millis((now - timestamp).max(0) as u64));
                }
            }
            Some(Err(err)) => eprintln!(
                "warning: {}",
                CliError::from_kafka("reading unconsumed records", None, &err)
            ),
            None => {}
        }
    }
    let _ = reader.unassign();
    Ok(ages)
}

fn render_description(
    description: &GroupDescription,
    lags: &BTreeMap<Partition, PartitionLag>,
) -> String {
    let mut text = format!(
        "GROUP: {}  STATE: {}  TYPE: {}  ASSIGNOR: {}  MEMBERS: {}\n\n",
        description.id,
        description.state,
        description.kind,
        dash(&description.assignor),
        description.members.len()
    );
    if !description.members.is_empty() {
        let mut members = Table::new(&[
            "MEMBER-ID",
            "INSTANCE-ID",
            "CLIENT-ID",
            "HOST",
            "ASSIGNMENT",
        ]);
        let mut sorted: Vec<_> = description.members.iter().collect();
        sorted.sort_by(|a, b| {
            a.client_id
                .cmp(&b.client_id)
                .then(a.member_id.cmp(&b.member_id))
        });
        for member in sorted {
            members.row(vec![
                dash(&member.member_id),
                member.instance_id.clone().unwrap_or_else(|| "-".to_owned()),
                dash(&member.client_id),
                dash(&member.host),
                format_assignment(&member.assignment),
            ]);
        }
        text.push_str(&members.render());
        text.push('\n');
    }
    let mut table = Table::new(&[
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "LAG-TIME",
        "MEMBER-ID",
    ]);
    let mut total = 0i64;
    for ((topic, partition), lag) in lags {
        let records = match (lag.committed, lag.log_end) {
            (Some(committed), Some(end)) => Some((end - committed).max(0)),
            _ => None,
        };
        total += records.unwrap_or(0);
        let lag_time = match records {
            Some(0) => "0s".to_owned(),
            Some(_) => lag.lag_time.map_or("?".to_owned(), format_age),
            None => "-".to_owned(),
        };
        table.row(vec![
            topic.clone(),
            partition.to_string(),
            opt(lag.committed),
            opt(lag.log_end),
            opt(records),
            lag_time,
            lag.member.clone().unwrap_or_else(|| "-".to_owned()),
        ]);
    }
    text.push_str(&table.render());
    text.push_str(&format!("TOTAL-LAG: {total}\n"));
    text
}

/// `topic:0,1,2;other:3`, or `-` for no partitions.
fn format_assignment(assignment: &[Partition]) -> String {
    let mut by_topic: BTreeMap<&str, BTreeSet<i32>> = BTreeMap::new();
    for (topic, partition) in assignment {
        by_topic.entry(topic).or_default().insert(*partition);
    }
    if by_topic.is_empty() {
        return "-".to_owned();
    }
    by_topic
        .iter()
        .map(|(topic, partitions)| {
            let ids: Vec<String> = partitions.iter().map(i32::to_string).collect();
            format!("{topic}:{}", ids.join(","))
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// A duration as people read lag: `850ms`, `12.3s`, `4m05s`, `3h02m`, `2d07h`.
fn format_age(age: Duration) -> String {
    let ms = age.as_millis() as u64;
    let secs = ms / 1000;
    match secs {
        0 => format!("{ms}ms"),
        1..=59 => format!("{}.{}s", secs, (ms % 1000) / 100),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..=86_399 => format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60),
        _ => format!("{}d{:02}h", secs / 86_400, (secs % 86_400) / 3600),
    }
}

fn delete(args: DeleteArgs) -> anyhow::Result<()> {
    let (admin, _) = connect(&args.connection)?;
    let outcomes = native::delete_groups(admin.inner(), &args.groups, args.connection.timeout())?;
    let mut failures = Vec::new();
    for (group, outcome) in outcomes {
        match outcome {
            Ok(()) => println!("deleted group {group}"),
            Err(err) => failures.push(err.to_string()),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::Invalid(failures.join("; ")).into())
    }
}

fn reset_offsets(args: ResetArgs) -> anyhow::Result<()> {
    // Parse everything the user typed before talking to the cluster.
    let to_datetime = args
        .to_datetime
        .as_deref()
        .map(parse_datetime)
        .transpose()?;
    let scopes = args
        .topics
        .iter()
        .map(|raw| parse_topic_scope(raw))
        .collect::<Result<Vec<_>, _>>()?;

    let (admin, metadata) = connect(&args.connection)?;
    let timeout = args.connection.timeout();
    let group = &args.group;
    let description = native::describe_group(admin.inner(), group, timeout)?;
    // Kafka moves offsets only under a group nobody consumes in: an active member would
    // overwrite them with its next commit.
    if !matches!(description.state.as_str(), "Empty" | "Dead") {
        return Err(CliError::Invalid(format!(
            "cannot reset offsets of group {group}: it is {} with {} member(s); stop its consumers \
             first (offsets can only be reset while a group is inactive)",
            description.state,
            description.members.len()
        ))
        .into());
    }
    let committed = native::committed_offsets(admin.inner(), group, timeout)?;

    let mut partitions: BTreeSet<Partition> = BTreeSet::new();
    if args.all_topics {
        partitions.extend(committed.keys().cloned());
    }
    for (topic, wanted) in &scopes {
        let known = find_topic(&metadata, topic)?;
        let ids: BTreeSet<i32> = known.partitions().iter().map(|p| p.id()).collect();
        match wanted {
            None => partitions.extend(ids.iter().map(|p| (topic.clone(), *p))),
            Some(wanted) => {
                for p in wanted {
                    if !ids.contains(p) {
                        return Err(CliError::Invalid(format!(
                            "partition {p} does not exist in topic {topic} (it has {})",
                            ids.len()
                        ))
                        .into());
                    }
                    partitions.insert((topic.clone(), *p));
                }
            }
        }
    }

    let reader = reader(&args.connection)?;
    let mut planned = BTreeMap::new();
    let mut by_time = TopicPartitionList::new();
    for (topic, partition) in &partitions {
        let (low, high) = reader
            .fetch_watermarks(topic, *partition, timeout)
            .map_err(|err| {
                CliError::from_kafka(
                    format!("reading the offsets of {topic}-{partition}"),
                    Some(topic),
                    &err,
                )
            })?;
        let clamp = |offset: i64| offset.clamp(low, high);
        let tp = (topic.clone(), *partition);
        let target = if args.to_earliest {
            low
        } else if args.to_latest {
            high
        } else if let Some(offset) = args.to_offset {
            clamp(offset)
        } else if let Some(shift) = args.shift_by {
            let current = committed.get(&tp).copied().ok_or_else(|| {
                CliError::Invalid(format!(
                    "group {group} has no committed offset for {topic}-{partition} to shift"
                ))
            })?;
            clamp(current.saturating_add(shift))
        } else {
            let ts = to_datetime.expect("clap requires one reset target");
            by_time
                .add_partition_offset(topic, *partition, Offset::Offset(ts))
                .map_err(|err| CliError::Invalid(format!("looking up offsets by time: {err}")))?;
            // No record at or after the time: the end of the log, as Kafka does.
            high
        };
        planned.insert(tp, target);
    }
    if by_time.count() > 0 {
        let found = reader
            .offsets_for_times(by_time, timeout)
            .map_err(|err| CliError::from_kafka("looking up offsets by time", None, &err))?;
        for elem in found.elements() {
            if let Offset::Offset(offset) = elem.offset() {
                planned.insert((elem.topic().to_owned(), elem.partition()), offset);
            }
        }
    }

    let mut table = Table::new(&["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]);
    for ((topic, partition), offset) in &planned {
        table.row(vec![
            group.clone(),
            topic.clone(),
            partition.to_string(),
            offset.to_string(),
        ]);
    }
    if !args.execute {
        print!("{}", table.render());
        eprintln!("dry run: no offsets changed; add --execute to apply");
        return Ok(());
    }
    if planned.is_empty() {
        return Err(CliError::Invalid(format!("nothing to reset for group {group}")).into());
    }
    let outcomes = native::alter_offsets(admin.inner(), group, &planned, timeout)?;
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|(_, code)| *code != RDKafkaErrorCode::NoError)
        .map(|((topic, partition), code)| {
            CliError::kafka(
                format!("committing the offset of {topic}-{partition}"),
                None,
                *code,
            )
            .to_string()
        })
        .collect();
    if !failures.is_empty() {
        return Err(CliError::Invalid(failures.join("; ")).into());
    }
    print!("{}", table.render());
    Ok(())
}

/// `TOPIC` or `TOPIC:0,2,5`.
fn parse_topic_scope(raw: &str) -> Result<(String, Option<Vec<i32>>), CliError> {
    match raw.rsplit_once(':') {
        None => Ok((raw.to_owned(), None)),
        Some((topic, list)) => {
            let partitions = list
                .split(',')
                .map(|p| p.trim().parse::<i32>().ok().filter(|p| *p >= 0))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    CliError::Invalid(format!(
                        "--topic {raw:?}: expected TOPIC or TOPIC:PARTITION[,PARTITION...]"
                    ))
                })?;
            Ok((topic.to_owned(), Some(partitions)))
        }
    }
}

/// Parses kafka-consumer-groups' `--to-datetime` format, `YYYY-MM-DDTHH:mm:SS[.sss]` followed by
/// `Z`, `±hh:mm`, `±hhmm` or nothing (local time), into milliseconds since the epoch.
fn parse_datetime(raw: &str) -> Result<i64, CliError> {
    let invalid = || {
        CliError::Invalid(format!(
            "--to-datetime {raw:?}: expected YYYY-MM-DDTHH:mm:SS[.sss] with an optional zone \
             (Z or +hh:mm), e.g. 2024-05-01T12:00:00.000Z"
        ))
    };
    let bytes = raw.as_bytes();
    if bytes.len() < 19 || bytes[10] != b'T' || !raw.is_char_boundary(19) {
        return Err(invalid());
    }
    let num = |range: std::ops::Range<usize>| raw[range].parse::<i64>().map_err(|_| invalid());
    if [4, 7].iter().any(|&i| bytes[i] != b'-') || [13, 16].iter().any(|&i| bytes[i] != b':') {
        return Err(invalid());
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(invalid());
    }
    let mut rest = &raw[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
        millis = padded.parse::<i64>().map_err(|_| invalid())?;
        rest = &fraction[digits..];
    }
    let civil_ms =
        (days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second) * 1000
            + millis;
    let offset_ms = match rest {
        "" => local_offset_ms(civil_ms / 1000).ok_or_else(invalid)?,
        "Z" => 0,
        zone => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return Err(invalid()),
            };
            let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            let hours = digits[..2].parse::<i64>().map_err(|_| invalid())?;
            let minutes = digits[2..].parse::<i64>().map_err(|_| invalid())?;
            sign * (hours * 3600 + minutes * 60) * 1000
        }
    };
    Ok(civil_ms - offset_ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The local zone's offset from UTC at (about) `local_secs`, in milliseconds.
fn local_offset_ms(local_secs: i64) -> Option<i64> {
    let t = libc::time_t::try_from(local_secs).ok()?;
    // SAFETY: localtime_r writes into the zeroed `tm` we own; `t` is a plain value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let result = unsafe { libc::localtime_r(&t, &mut tm) };
    (!result.is_null()).then(|| tm.tm_gmtoff * 1000)
}

fn opt(value: Option<i64>) -> String {
    value.map_or("-".to_owned(), |v| v.to_string())
}

fn dash(value: &str) -> String {
    if value.is_empty() {
        "-".to_owned()
    } else {
        value.to_owned()
    }
}

/// Columns padded to their widest cell, two spaces apart; cells never contain spaces, so the
/// output splits on whitespace.
struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(
            cells
                .into_iter()
                .map(|c| {
                    if c.is_empty() {
                        "-".to_owned()
                    } else {
                        c.replace(char::is_whitespace, "_")
                    }
                })
                .collect(),
        );
    }

    fn render(&self) -> String {
        let columns = self.rows[0].len();
        let widths: Vec<usize> = (0..columns)
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut text = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == columns {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
                }
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_parse_as_kafka_consumer_groups_reads_them() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_datetime("2024-05-01T12:00:00.250Z").unwrap(),
            1_714_564_800_250
        );
        assert_eq!(
            parse_datetime("2024-05-01T14:00:00.250+02:00").unwrap(),
            1_714_564_800_250
        );
        assert_eq!(
            parse_datetime("2024-05-01T11:30:00-0030").unwrap(),
            1_714_564_800_000
        );
        assert!(parse_datetime("2024-05-01 12:00:00").is_err());
        assert!(parse_datetime("2024-13-01T12:00:00Z").is_err());
        assert!(parse_datetime("yesterday").is_err());
    }

    #[test]
    fn topic_scopes_name_partitions_after_a_colon() {
        assert_eq!(
            parse_topic_scope("orders").unwrap(),
            ("orders".to_owned(), None)
        );
        assert_eq!(
            parse_topic_scope("orders:0,2").unwrap(),
            ("orders".to_owned(), Some(vec![0, 2]))
        );
        assert!(parse_topic_scope("orders:x").is_err());
    }

    #[test]
    fn ages_read_like_lag() {
        assert_eq!(format_age(Duration::from_millis(850)), "850ms");
        assert_eq!(format_age(Duration::from_millis(12_345)), "12.3s");
        assert_eq!(format_age(Duration::from_secs(245)), "4m05s");
        assert_eq!(format_age(Duration::from_secs(3 * 3600 + 120)), "3h02m");
        assert_eq!(
            format_age(Duration::from_secs(2 * 86_400 + 7 * 3600)),
            "2d07h"
        );
    }
}
