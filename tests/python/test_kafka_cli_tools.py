"""Apache Kafka's own CLI tools (4.x, from scripts/kafka-dist.sh) against the broker.

Why: operators drive a Kafka-compatible broker with kafka-topics, kafka-configs, the console
producer/consumer, kafka-get-offsets and kafka-dump-log. These tools combine many AdminClient and
consumer calls and print their results, so comparing their output catches shape mismatches that
single-call tests miss. Each test runs against a real Apache Kafka (`kafka` ids) as well, proving
the asserted output is Kafka's own; a `sluice` failure is a Sluice bug.
"""

from __future__ import annotations

import re
import subprocess
import uuid

import pytest

from conftest import wait_until
from reference_kafka import (CONFIG_COMMAND, CONSOLE_CONSUMER, CONSOLE_PRODUCER, DUMP_LOG_SEGMENTS,
                             GET_OFFSET_SHELL, TOPIC_COMMAND, dump_log_deep, kafka_tool)

NODE_ID = 0  # both the reference broker and Sluice run as node 0
T0 = 1_700_000_000_000


@pytest.fixture(scope="module", params=["kafka", "sluice"])
def target(request):
    """The broker under test: the reference Apache Kafka, or one Sluice broker for this module."""
    if request.param == "kafka":
        return request.getfixturevalue("kafka_ref")
    return request.getfixturevalue("sluice_module")


def new_topic(stem: str) -> str:
    return f"cli-{stem}-{uuid.uuid4().hex[:8]}"


def run(main_class: str, *args: str, expect_ok: bool = True, input: str | None = None,
        timeout: float = 90) -> subprocess.CompletedProcess:
    """Runs a Kafka tool; with expect_ok it must exit 0 (its output is shown otherwise)."""
    proc = kafka_tool(main_class, list(args), input=input, timeout=timeout)
    if expect_ok:
        assert proc.returncode == 0, (f"{main_class} {' '.join(args)} exited {proc.returncode}\n"
                                      f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}")
    return proc


def topics(target, *args: str, expect_ok: bool = True) -> subprocess.CompletedProcess:
    return run(TOPIC_COMMAND, "--bootstrap-server", target.bootstrap, *args, expect_ok=expect_ok)


def configs(target, topic: str, *args: str, expect_ok: bool = True) -> subprocess.CompletedProcess:
    return run(CONFIG_COMMAND, "--bootstrap-server", target.bootstrap, "--entity-type", "topics",
               "--entity-name", topic, *args, expect_ok=expect_ok)


def expect_failure(proc: subprocess.CompletedProcess, exception: str) -> None:
    """The tool reported the Kafka error `exception` (mapped by the client from the error code)."""
    output = proc.stdout + proc.stderr
    assert exception in output, f"expected {exception} in the tool's output:\n{output[-3000:]}"


# --------------------------------------------------------------------------------------------
# kafka-topics (TopicCommand)
# --------------------------------------------------------------------------------------------

def describe_topic(target, topic: str) -> tuple[dict, list[dict]]:
    """Parses `kafka-topics --describe`: (header fields, one dict per partition line)."""
    out = topics(target, "--describe", "--topic", topic).stdout
    lines = [line for line in out.splitlines() if line.strip()]
    header_line = [line for line in lines if not line.startswith("\t")]
    assert len(header_line) == 1, f"expected one topic header line:\n{out}"
    header = dict(re.findall(r"(\w+): ?([^\t]*)", header_line[0]))
    parts = [dict(re.findall(r"(\w+): ?([^\t]*)", line.strip())) for line in lines if line.startswith("\t")]
    return header, parts


def test_topics_create_and_describe(target):
    topic = new_topic("create")
    out = topics(target, "--create", "--topic", topic, "--partitions", "3", "--replication-factor", "1",
                 "--config", "retention.ms=12345").stdout
    assert f"Created topic {topic}." in out

    header, parts = describe_topic(target, topic)
    assert header["Topic"] == topic
    assert header["PartitionCount"] == "3"
    assert header["ReplicationFactor"] == "1"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", header["TopicId"]) and header["TopicId"] != "AAAAAAAAAAAAAAAAAAAAAA"
    assert "retention.ms=12345" in header["Configs"].split(",")
    assert [p["Partition"] for p in parts] == ["0", "1", "2"]
    for p in parts:
        assert (p["Leader"], p["Replicas"], p["Isr"]) == (str(NODE_ID),) * 3, p

    again = topics(target, "--create", "--topic", topic, "--partitions", "3", expect_ok=False)
    assert again.returncode == 1
    expect_failure(again, "TopicExistsException")
    assert f"Topic '{topic}' already exists." in again.stdout


def test_topics_create_rejects_impossible_replication_factor(target):
    topic = new_topic("rf3")
    proc = topics(target, "--create", "--topic", topic, "--partitions", "1", "--replication-factor", "3",
                  expect_ok=False)
    assert proc.returncode == 1
    expect_failure(proc, "InvalidReplicationFactorException")
    listed = topics(target, "--list", "--exclude-internal").stdout.split()
    assert topic not in listed


def test_topics_alter_partitions(target):
    topic = new_topic("alter")
    topics(target, "--create", "--topic", topic, "--partitions", "1", "--replication-factor", "1")
    topics(target, "--alter", "--topic", topic, "--partitions", "4")
    wait_until(lambda: describe_topic(target, topic)[0]["PartitionCount"] == "4", 30,
               f"{topic} to show 4 partitions")
    _, parts = describe_topic(target, topic)
    assert [p["Partition"] for p in parts] == ["0", "1", "2", "3"]
    assert all(p["Leader"] == str(NODE_ID) for p in parts), parts

    shrink = topics(target, "--alter", "--topic", topic, "--partitions", "2", expect_ok=False)
    assert shrink.returncode == 1
    expect_failure(shrink, "InvalidPartitionsException")
    assert describe_topic(target, topic)[0]["PartitionCount"] == "4"


def test_topics_list_and_delete(target):
    keep, doomed = new_topic("keep"), new_topic("doomed")
    for t in (keep, doomed):
        topics(target, "--create", "--topic", t, "--partitions", "2", "--replication-factor", "1")
    listed = topics(target, "--list", "--exclude-internal").stdout.split()
    assert keep in listed and doomed in listed
    assert listed == sorted(listed), "kafka-topics --list prints names sorted"
    assert not [t for t in listed if t.startswith("__")], "--exclude-internal must hide internal topics"

    topics(target, "--delete", "--topic", doomed)
    wait_until(lambda: doomed not in topics(target, "--list").stdout.split(), 30, f"{doomed} to disappear")
    assert keep in topics(target, "--list").stdout.split()

    gone = topics(target, "--describe", "--topic", doomed, expect_ok=False)
    assert gone.returncode == 1
    assert f"Topic '{doomed}' does not exist as expected" in gone.stdout


# --------------------------------------------------------------------------------------------
# kafka-configs (ConfigCommand)
# --------------------------------------------------------------------------------------------

CONFIG_LINE = re.compile(r"^  (\S+?)=(.*?) sensitive=(true|false) synonyms=\{(.*)\}$")


def parse_configs(out: str) -> dict[str, tuple[str, str]]:
    """name -> (value, synonyms text) from `kafka-configs --describe` output."""
    parsed = {}
    for line in out.splitlines():
        m = CONFIG_LINE.match(line)
        if m:
            parsed[m.group(1)] = (m.group(2), m.group(4))
    return parsed


def test_configs_describe_alter_delete(target):
    topic = new_topic("configs")
    topics(target, "--create", "--topic", topic, "--partitions", "1", "--replication-factor", "1",
           "--config", "retention.ms=12345")

    out = configs(target, topic, "--describe").stdout
    assert f"Dynamic configs for topic {topic} are:" in out
    assert parse_configs(out) == {"retention.ms": ("12345", "DYNAMIC_TOPIC_CONFIG:retention.ms=12345")}, out

    out = configs(target, topic, "--alter", "--add-config", "retention.ms=1000,cleanup.policy=compact").stdout
    assert f"Completed updating config for topic {topic}." in out
    dynamic = parse_configs(configs(target, topic, "--describe").stdout)
    assert dynamic["retention.ms"] == ("1000", "DYNAMIC_TOPIC_CONFIG:retention.ms=1000")
    # Kafka lists the broker-level default as a synonym after the topic override.
    assert dynamic["cleanup.policy"] == (
        "compact", "DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact, DEFAULT_CONFIG:log.cleanup.policy=delete")
    assert set(dynamic) == {"retention.ms", "cleanup.policy"}

    configs(target, topic, "--alter", "--delete-config", "retention.ms")
    assert set(parse_configs(configs(target, topic, "--describe").stdout)) == {"cleanup.policy"}

    every = parse_configs(configs(target, topic, "--describe", "--all").stdout)
    expected_defaults = {
        "retention.ms": "604800000",
        "retention.bytes": "-1",
        "segment.bytes": "1073741824",
        "segment.ms": "604800000",
        "max.message.bytes": "1048588",
        "compression.type": "producer",
        "message.timestamp.type": "CreateTime",
        "min.compaction.lag.ms": "0",
        "delete.retention.ms": "86400000",
        "cleanup.policy": "compact",
    }
    assert {k: every.get(k, (None,))[0] for k in expected_defaults} == expected_defaults


def test_configs_reject_unknown_config(target):
    topic = new_topic("badconf")
    topics(target, "--create", "--topic", topic, "--partitions", "1", "--replication-factor", "1")
    proc = configs(target, topic, "--alter", "--add-config", "no.such.config=1", expect_ok=False)
    assert proc.returncode != 0
    expect_failure(proc, "InvalidConfigurationException")
    assert parse_configs(configs(target, topic, "--describe").stdout) == {}


# --------------------------------------------------------------------------------------------
# kafka-console-producer / kafka-console-consumer
# --------------------------------------------------------------------------------------------

CONSOLE_RECORDS = [(f"key-{i}", f"value-{i}-" + "x" * (i % 50), f"n:{i},src:cli") for i in range(300)]


def console_produce(target, topic: str, records) -> None:
    lines = "".join(f"{h}\t{k}\t{v}\n" for k, v, h in records)
    run(CONSOLE_PRODUCER, "--bootstrap-server", target.bootstrap, "--topic", topic,
        "--property", "parse.key=true", "--property", "parse.headers=true", input=lines)


def console_consume(target, topic: str, count: int, *extra: str) -> list[dict]:
    proc = run(CONSOLE_CONSUMER, "--bootstrap-server", target.bootstrap, "--topic", topic,
               "--max-messages", str(count), "--timeout-ms", "30000",
               "--property", "print.key=true", "--property", "print.partition=true",
               "--property", "print.offset=true", "--property", "print.headers=true",
               "--property", "print.timestamp=true", *extra)
    rows = []
    for line in proc.stdout.splitlines():
        ts, part, off, headers, key, value = line.split("\t")
        rows.append({"ts": ts, "partition": int(part.removeprefix("Partition:")),
                     "offset": int(off.removeprefix("Offset:")), "headers": headers, "key": key, "value": value})
    assert len(rows) == count, (f"expected {count} records, got {len(rows)}:\n"
                                f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    assert f"Processed a total of {count} messages" in proc.stderr
    return rows


def test_console_producer_then_group_consumer(target):
    topic = new_topic("console")
    topics(target, "--create", "--topic", topic, "--partitions", "3", "--replication-factor", "1")
    console_produce(target, topic, CONSOLE_RECORDS)

    rows = console_consume(target, topic, len(CONSOLE_RECORDS), "--from-beginning")
    assert sorted((r["key"], r["value"], r["headers"]) for r in rows) == sorted(CONSOLE_RECORDS)
    by_partition: dict[int, list[int]] = {}
    for r in rows:
        assert r["ts"].startswith("CreateTime:"), r
        by_partition.setdefault(r["partition"], []).append(r["offset"])
    assert set(by_partition) == {0, 1, 2}, "300 keys spread over all 3 partitions"
    for p, offsets in by_partition.items():
        assert offsets == list(range(len(offsets))), f"partition {p} offsets {offsets[:20]}..."
    # The producer wrote lines in order; each partition must keep that order.
    order = {k: i for i, (k, _, _) in enumerate(CONSOLE_RECORDS)}
    for p in by_partition:
        seqs = [order[r["key"]] for r in sorted((r for r in rows if r["partition"] == p), key=lambda r: r["offset"])]
        assert seqs == sorted(seqs), f"partition {p} out of production order"


def test_console_consumer_assigned_partition_from_offset(target):
    topic = new_topic("assign")
    topics(target, "--create", "--topic", topic, "--partitions", "1", "--replication-factor", "1")
    records = CONSOLE_RECORDS[:20]
    console_produce(target, topic, records)
    rows = console_consume(target, topic, 15, "--partition", "0", "--offset", "5")
    assert [r["offset"] for r in rows] == list(range(5, 20))
    assert [(r["key"], r["value"], r["headers"]) for r in rows] == records[5:20]


# --------------------------------------------------------------------------------------------
# kafka-get-offsets (GetOffsetShell)
# --------------------------------------------------------------------------------------------

# (partition, timestamp) in production order; partition 1's maximum timestamp is not its last record.
TIMED = [(0, T0), (0, T0 + 10), (0, T0 + 20), (1, T0 + 5), (1, T0 + 30), (1, T0 + 15)]


def produce_timed(target, topic: str) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": target.bootstrap, "linger.ms": 0})
    errors = []
    for i, (part, ts) in enumerate(TIMED):
        p.produce(topic, key=f"k{i}", value=f"v{i}", partition=part, timestamp=ts,
                  on_delivery=lambda err, msg: errors.append(err) if err else None)
        p.flush(30)  # one batch per record, so offset lookups must look inside the log, not batch headers
    assert p.flush(30) == 0 and not errors, errors


def get_offsets(target, *args: str) -> dict[str, int]:
    out = run(GET_OFFSET_SHELL, "--bootstrap-server", target.bootstrap, *args).stdout
    result = {}
    for line in out.split():
        name, offset = line.rsplit(":", 1)
        result[name] = int(offset)
    return result


def test_get_offset_shell(target):
    topic = new_topic("offsets")
    topics(target, "--create", "--topic", topic, "--partitions", "2", "--replication-factor", "1")
    produce_timed(target, topic)
    p0, p1 = f"{topic}:0", f"{topic}:1"
    assert get_offsets(target, "--topic", topic) == {p0: 3, p1: 3}  # default --time is latest
    assert get_offsets(target, "--topic", topic, "--time", "-2") == {p0: 0, p1: 0}
    assert get_offsets(target, "--topic", topic, "--time", "-3") == {p0: 2, p1: 1}  # max timestamp
    # First record whose timestamp >= T0+12: partition 0 offset 2 (T0+20), partition 1 offset 1 (T0+30).
    assert get_offsets(target, "--topic", topic, "--time", str(T0 + 12)) == {p0: 2, p1: 1}
    # No record that late: GetOffsetShell prints nothing for such partitions.
    assert get_offsets(target, "--topic-partitions", f"{topic}:0", "--time", str(T0 + 1000)) == {}
    assert get_offsets(target, "--topic-partitions", f"{topic}:1", "--time", "-1") == {p1: 3}


# --------------------------------------------------------------------------------------------
# kafka-dump-log (DumpLogSegments) on the broker's own files
# --------------------------------------------------------------------------------------------

def test_dump_log_reads_partition_segment(target):
    topic = new_topic("dump")
    topics(target, "--create", "--topic", topic, "--partitions", "1", "--replication-factor", "1")
    records = CONSOLE_RECORDS[:50]
    console_produce(target, topic, records)
    segment = target.data_dir / f"{topic}-0" / "00000000000000000000.log"

    def dumped():
        if not segment.exists():
            return None
        ok, output = dump_log_deep(segment, "--print-data-log")
        return (ok, output) if "| offset: 49 " in output else None

    ok, output = wait_until(dumped, 30, f"{segment} to hold offsets 0..49")
    assert ok, f"kafka-dump-log found problems in {segment}:\n{output[-3000:]}"
    for i, (key, value, _) in enumerate(records):
        assert f"| offset: {i} " in output
        assert f"key: {key} payload: {value}" in output
    assert "headerKeys: [n,src]" in output
    assert "isvalid: true" in output and "isvalid: false" not in output


# --------------------------------------------------------------------------------------------
# The harness itself
# --------------------------------------------------------------------------------------------

def test_shared_tool_jvm_matches_a_fresh_jvm(kafka_ref):
    """kafka_tool runs tools in one warm JVM; its exit codes and output must be a fresh JVM's."""
    topic = new_topic("harness")
    base = ["--bootstrap-server", kafka_ref.bootstrap]
    kafka_tool(TOPIC_COMMAND, [*base, "--create", "--topic", topic, "--partitions", "2"], check=True)
    for args in (["--describe", "--topic", topic], ["--describe", "--topic", topic + "-missing"], ["--bogus"]):
        shared = kafka_tool(TOPIC_COMMAND, [*base, *args])
        fresh = kafka_tool(TOPIC_COMMAND, [*base, *args], fresh_jvm=True)
        assert (shared.returncode, shared.stdout) == (fresh.returncode, fresh.stdout), args
        first_line = [re.sub(r"^\[[^\]]*\] ", "", p.stderr.splitlines()[0]) if p.stderr else ""
                      for p in (shared, fresh)]
        assert first_line[0] == first_line[1], args  # log lines differ only by their time stamp

    # Scala tools print through scala.Console, which must follow each call too (twice in a row).
    console_produce(kafka_ref, topic, CONSOLE_RECORDS[:5])
    segment = kafka_ref.data_dir / f"{topic}-0" / "00000000000000000000.log"
    fresh = kafka_tool(DUMP_LOG_SEGMENTS, ["--deep-iteration", "--files", str(segment)], fresh_jvm=True)
    for _ in range(2):
        shared = kafka_tool(DUMP_LOG_SEGMENTS, ["--deep-iteration", "--files", str(segment)])
        assert (shared.returncode, shared.stdout) == (fresh.returncode, fresh.stdout)
    assert "Dumping " in fresh.stdout
