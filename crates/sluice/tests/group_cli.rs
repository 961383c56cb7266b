//! `sluice group list|describe|delete|reset-offsets` against a real `sluice serve`, with a real
//! librdkafka consumer group: members and assignments, committed offset, log end offset, lag in
//! records and in time while the group is behind and after it catches up; resets to every kind of
//! target (dry run by default, refused while the group is active), and deletion.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::Duration;

use common::{now_ms, produce_all, unique_topic, wait_until, Broker, Rec, WAIT};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");
const PARTITIONS: i32 = 3;
const PER_PARTITION: i64 = 10;
/// Record i of every partition was written AGE_OF_FIRST_MS - i seconds ago.
const AGE_OF_FIRST_MS: i64 = 120_000;

fn broker() -> Broker {
    Broker::start_with_args(&["--set", "group.initial.rebalance.delay.ms=0"])
}

/// Runs `sluice group ARGS -b BROKER`.
fn group_cmd(broker: &Broker, args: &[&str]) -> Output {
    Command::new(SLUICE)
        .arg("group")
        .args(args)
        .args(["-b", &broker.bootstrap(), "--connect-timeout-ms", "10000"])
        .output()
        .expect("running sluice group")
}

fn stdout_ok(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn stderr_failure(out: &Output, what: &str) -> String {
    assert!(
        !out.status.success(),
        "{what} should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A topic whose partitions each hold PER_PARTITION records with timestamps a second apart,
/// the first AGE_OF_FIRST_MS old.
fn topic_with_records(broker: &Broker) -> (String, i64) {
    let topic = unique_topic("group-cli");
    broker.create_topic(&topic, PARTITIONS, &[]);
    let base = now_ms() - AGE_OF_FIRST_MS;
    let recs: Vec<Rec> = (0..PARTITIONS)
        .flat_map(|p| {
            (0..PER_PARTITION).map(move |i| Rec {
                partition: p,
                payload: Some(format!("{p}-{i}").into_bytes()),
                timestamp: Some(base + i * 1000),
                ..Rec::default()
            })
        })
        .collect();
    produce_all(&broker.producer(), &topic, &recs);
    (topic, base)
}

fn group_config(broker: &Broker, group: &str) -> ClientConfig {
    let mut c = broker.client_config();
    c.set("group.id", group)
        .set("client.id", "lag-watcher")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "300");
    c
}

/// A group member that has been assigned every partition of `topic`.
fn joined_member(broker: &Broker, group: &str, topic: &str) -> BaseConsumer {
    let consumer: BaseConsumer = group_config(broker, group).create().expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    wait_until(Duration::from_secs(30), "the member to be assigned", || {
        let _ = consumer.poll(Duration::from_millis(50));
        let n = consumer.assignment().map(|a| a.count()).unwrap_or(0);
        (n == PARTITIONS as usize).then_some(())
    });
    consumer
}

fn commit(consumer: &BaseConsumer, topic: &str, offset: i64) {
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Offset(offset))
            .expect("tpl");
    }
    consumer
        .commit(&tpl, CommitMode::Sync)
        .expect("committing offsets");
}

/// The group's committed offsets as the broker reports them (OffsetFetch, no group join).
fn committed(broker: &Broker, group: &str, topic: &str) -> BTreeMap<i32, Option<i64>> {
    let consumer: BaseConsumer = group_config(broker, group).create().expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(topic, p);
    }
    let got = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("OffsetFetch");
    got.elements()
        .iter()
        .map(|e| {
            let offset = match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            };
            (e.partition(), offset)
        })
        .collect()
}

/// `describe`'s partition table: partition -> column -> value.
fn partition_rows(stdout: &str, topic: &str) -> BTreeMap<i32, BTreeMap<String, String>> {
    let header_line = stdout
        .lines()
        .find(|l| l.starts_with("TOPIC"))
        .unwrap_or_else(|| panic!("no partition table in:\n{stdout}"));
    let header: Vec<&str> = header_line.split_whitespace().collect();
    stdout
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(topic))
        .map(|l| {
            let row: BTreeMap<String, String> = header
                .iter()
                .zip(l.split_whitespace())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect();
            (row["PARTITION"].parse().expect("partition number"), row)
        })
        .collect()
}

/// Reads a LAG-TIME cell back into milliseconds (`850ms`, `12.3s`, `1m56s`).
fn age_ms(cell: &str) -> i64 {
    if let Some(ms) = cell.strip_suffix("ms") {
        return ms.parse().expect("ms");
    }
    if let Some((m, s)) = cell.strip_suffix('s').and_then(|c| c.split_once('m')) {
        return m.parse::<i64>().expect("minutes") * 60_000 + s.parse::<i64>().expect("s") * 1000;
    }
    let secs: f64 = cell
        .strip_suffix('s')
        .unwrap_or_else(|| panic!("unexpected LAG-TIME {cell:?}"))
        .parse()
        .expect("seconds");
    (secs * 1000.0) as i64
}

#[test]
fn describe_shows_members_offsets_and_lag_while_behind_and_after_catching_up() {
    let broker = broker();
    let (topic, _) = topic_with_records(&broker);
    let group = unique_topic("g-describe");
    let member = joined_member(&broker, &group, &topic);
    // The consumer has processed 4 records of each partition and is paused there.
    commit(&member, &topic, 4);

    let out = stdout_ok(&group_cmd(&broker, &["describe", &group]), "describe");
    let summary = out.lines().next().expect("summary line");
    assert!(summary.contains(&format!("GROUP: {group}")), "{out}");
    assert!(summary.contains("STATE: Stable"), "{out}");
    assert!(summary.contains("MEMBERS: 1"), "{out}");
    assert!(summary.contains("ASSIGNOR: range"), "{out}");
    let member_line = out
        .lines()
        .find(|l| l.contains("lag-watcher"))
        .unwrap_or_else(|| panic!("no member line:\n{out}"));
    assert!(
        member_line.ends_with(&format!("{topic}:0,1,2")),
        "assignment missing: {member_line}"
    );
    let member_id = member_line.split_whitespace().next().expect("member id");

    let rows = partition_rows(&out, &topic);
    assert_eq!(rows.len(), PARTITIONS as usize, "{out}");
    for (p, row) in &rows {
        assert_eq!(row["CURRENT-OFFSET"], "4", "partition {p}:\n{out}");
        assert_eq!(row["LOG-END-OFFSET"], "10", "partition {p}:\n{out}");
        assert_eq!(row["LAG"], "6", "partition {p}:\n{out}");
        assert_eq!(row["MEMBER-ID"], member_id, "partition {p}:\n{out}");
        // The record at offset 4 was written AGE_OF_FIRST_MS - 4 s ago.
        let age = age_ms(&row["LAG-TIME"]);
        let expected = AGE_OF_FIRST_MS - 4000;
        assert!(
            (expected - 2000..expected + 30_000).contains(&age),
            "partition {p}: lag time {age} ms, expected about {expected} ms:\n{out}"
        );
    }
    assert!(out.contains("TOTAL-LAG: 18"), "{out}");

    // The consumer catches up: no lag in records or time.
    commit(&member, &topic, PER_PARTITION);
    let out = stdout_ok(&group_cmd(&broker, &["describe", &group]), "describe");
    for (p, row) in partition_rows(&out, &topic) {
        assert_eq!(row["CURRENT-OFFSET"], "10", "partition {p}:\n{out}");
        assert_eq!(row["LAG"], "0", "partition {p}:\n{out}");
        assert_eq!(row["LAG-TIME"], "0s", "partition {p}:\n{out}");
    }
    assert!(out.contains("TOTAL-LAG: 0"), "{out}");

    // After the member leaves, the offsets stay and the group is Empty.
    drop(member);
    let out = wait_until(WAIT, "the group to be Empty", || {
        let out = stdout_ok(&group_cmd(&broker, &["describe", &group]), "describe");
        out.contains("STATE: Empty").then_some(out)
    });
    assert!(out.contains("MEMBERS: 0"), "{out}");
    for (p, row) in partition_rows(&out, &topic) {
        assert_eq!(row["CURRENT-OFFSET"], "10", "partition {p}:\n{out}");
        assert_eq!(row["MEMBER-ID"], "-", "partition {p}:\n{out}");
    }

    let err = stderr_failure(
        &group_cmd(&broker, &["describe", "no-such-group"]),
        "describe of an unknown group",
    );
    assert!(err.contains("group no-such-group does not exist"), "{err}");
}

#[test]
fn list_shows_groups_filtered_by_state() {
    let broker = broker();
    let (topic, _) = topic_with_records(&broker);
    let active = unique_topic("g-active");
    let idle = unique_topic("g-idle");
    let member = joined_member(&broker, &active, &topic);
    let idle_member: BaseConsumer = group_config(&broker, &idle).create().expect("consumer");
    commit(&idle_member, &topic, 1); // a simple (non-member) commit creates an Empty group

    let out = stdout_ok(&group_cmd(&broker, &["list"]), "list");
    let names: Vec<&str> = out.lines().collect();
    assert!(
        names.contains(&active.as_str()) && names.contains(&idle.as_str()),
        "{out}"
    );

    let out = stdout_ok(
        &group_cmd(&broker, &["list", "--state", "Stable"]),
        "list --state",
    );
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == [active.as_str(), "Stable", "Classic"]),
        "{out}"
    );
    assert!(!out.contains(&idle), "{out}");
    let out = stdout_ok(
        &group_cmd(&broker, &["list", "--state", "Empty"]),
        "list --state",
    );
    assert!(out.contains(&idle) && !out.contains(&active), "{out}");

    let err = stderr_failure(
        &group_cmd(&broker, &["list", "--state", "Sleeping"]),
        "bad state",
    );
    assert!(err.contains("unknown group state"), "{err}");
    drop(member);
}

#[test]
fn reset_offsets_plans_by_default_applies_with_execute_and_refuses_active_groups() {
    let broker = broker();
    let (topic, base) = topic_with_records(&broker);
    let group = unique_topic("g-reset");
    let member = joined_member(&broker, &group, &topic);
    commit(&member, &topic, 4);
    let all = |offset: i64| {
        (0..PARTITIONS)
            .map(|p| (p, Some(offset)))
            .collect::<BTreeMap<_, _>>()
    };

    let err = stderr_failure(
        &group_cmd(
            &broker,
            &["reset-offsets", &group, "--all-topics", "--to-earliest"],
        ),
        "reset of an active group",
    );
    assert!(err.contains("Stable") && err.contains("inactive"), "{err}");
    drop(member);
    wait_until(WAIT, "the group to be Empty", || {
        let out = stdout_ok(&group_cmd(&broker, &["describe", &group]), "describe");
        out.contains("STATE: Empty").then_some(())
    });

    // A dry run shows the plan and changes nothing.
    let out = stdout_ok(
        &group_cmd(
            &broker,
            &["reset-offsets", &group, "--all-topics", "--to-earliest"],
        ),
        "dry run",
    );
    assert_eq!(
        out.lines()
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"])
    );
    for p in 0..PARTITIONS {
        let row = format!("{group} {topic} {p} 0");
        assert!(
            out.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == row),
            "{row} not in\n{out}"
        );
    }
    assert_eq!(committed(&broker, &group, &topic), all(4));

    let reset = |args: &[&str]| {
        let mut full = vec!["reset-offsets", group.as_str()];
        full.extend_from_slice(args);
        full.push("--execute");
        stdout_ok(&group_cmd(&broker, &full), &full.join(" "));
        committed(&broker, &group, &topic)
    };
    assert_eq!(reset(&["--all-topics", "--to-earliest"]), all(0));
    assert_eq!(
        reset(&["--topic", &topic, "--to-latest"]),
        all(PER_PARTITION)
    );
    assert_eq!(reset(&["--all-topics", "--to-offset", "7"]), all(7));
    assert_eq!(reset(&["--all-topics", "--shift-by", "-3"]), all(4));
    // Out-of-range targets are kept inside the log, as Kafka does.
    assert_eq!(
        reset(&["--all-topics", "--shift-by", "100"]),
        all(PER_PARTITION)
    );
    assert_eq!(reset(&["--all-topics", "--to-offset", "-5"]), all(0));
    // Record 6 of each partition was written at base + 6 s.
    let six = datetime_utc(base + 6000);
    assert_eq!(reset(&["--all-topics", "--to-datetime", &six]), all(6));
    // A time after the last record: the log end.
    assert_eq!(
        reset(&[
            "--all-topics",
            "--to-datetime",
            &datetime_utc(now_ms() + 60_000)
        ]),
        all(PER_PARTITION)
    );
    // One partition only.
    let partition_one = format!("{topic}:1");
    let after = reset(&["--topic", &partition_one, "--to-offset", "2"]);
    assert_eq!(after[&1], Some(2));
    assert_eq!(after[&0], Some(PER_PARTITION));

    let err = stderr_failure(
        &group_cmd(
            &broker,
            &[
                "reset-offsets",
                &group,
                "--topic",
                "no-such-topic",
                "--to-earliest",
            ],
        ),
        "reset for an unknown topic",
    );
    assert!(err.contains("topic no-such-topic does not exist"), "{err}");
    let err = stderr_failure(
        &group_cmd(
            &broker,
            &[
                "reset-offsets",
                &group,
                "--all-topics",
                "--to-datetime",
                "yesterday",
            ],
        ),
        "a bad datetime",
    );
    assert!(err.contains("--to-datetime"), "{err}");
}

#[test]
fn delete_removes_empty_groups_with_their_offsets_and_refuses_active_ones() {
    let broker = broker();
    let (topic, _) = topic_with_records(&broker);
    let group = unique_topic("g-delete");
    let member = joined_member(&broker, &group, &topic);
    commit(&member, &topic, 5);

    let err = stderr_failure(
        &group_cmd(&broker, &["delete", &group]),
        "delete of an active group",
    );
    assert!(err.contains("NON_EMPTY_GROUP"), "{err}");
    drop(member);
    let out = wait_until(WAIT, "the group to be deletable", || {
        let out = group_cmd(&broker, &["delete", &group]);
        out.status.success().then_some(out)
    });
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("deleted group {group}")
    );
    assert_eq!(
        committed(&broker, &group, &topic),
        (0..PARTITIONS).map(|p| (p, None)).collect()
    );
    let out = stdout_ok(&group_cmd(&broker, &["list"]), "list");
    assert!(!out.lines().any(|l| l == group), "{out}");

    let err = stderr_failure(
        &group_cmd(&broker, &["delete", &group]),
        "delete of a deleted group",
    );
    assert!(err.contains("GROUP_ID_NOT_FOUND"), "{err}");
}

#[test]
fn an_unreachable_broker_is_reported_as_such() {
    let port = common::free_port();
    let out = Command::new(SLUICE)
        .args(["group", "list", "-b", &format!("127.0.0.1:{port}")])
        .args(["--connect-timeout-ms", "1500"])
        .output()
        .expect("running sluice group");
    let err = stderr_failure(&out, "list against nothing");
    assert!(
        err.contains(&format!("cannot reach broker at 127.0.0.1:{port}")),
        "{err}"
    );
}

/// `YYYY-MM-DDTHH:mm:SS.sssZ` for milliseconds since the epoch.
fn datetime_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}
