"""Kafka's own `kafka-consumer-groups` tool (ConsumerGroupCommand, kafka-tools 4.x) against Sluice,
compared line by line with its output against a real Apache Kafka.

Why: operators watch lag and move offsets with this tool. It combines ListGroups,
DescribeGroups, OffsetFetch, ListOffsets, OffsetCommit and DeleteGroups and prints what it gets,
so any difference in a group's state, members, offsets or error codes shows up as a different
line. Every scenario runs on both brokers with the same topic and group names; the outputs must
be equal after normalising what is naturally different (member ids, ports, column padding), and
must also hold the values the scenario implies (so equal-but-wrong cannot pass).
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from datetime import datetime, timezone

import pytest

from conftest import create_topic, wait_until
from reference_kafka import kafka_tool

GROUP_COMMAND = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"  # kafka-consumer-groups.sh
PARTITIONS = 3
PER_PARTITION = 10
AGE_OF_FIRST_MS = 120_000


@pytest.fixture(scope="module")
def brokers(kafka_ref, sluice_module):
    """Both brokers: the reference Apache Kafka and one Sluice."""
    return {"kafka": kafka_ref, "sluice": sluice_module}


def tool(bootstrap: str, *args: str) -> subprocess.CompletedProcess:
    return kafka_tool(GROUP_COMMAND, ["--bootstrap-server", bootstrap, *args], timeout=90)


def normalise(text: str, bootstrap: str) -> list[str]:
    """Lines with member ids, the broker's port and column padding made comparable."""
    port = bootstrap.rsplit(":", 1)[1]
    out = []
    for line in text.splitlines():
        line = line.replace(port, "<port>")
        line = re.sub(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] ", "", line)  # log time
        line = re.sub(r"\b(rdkafka|lagger)-[0-9a-f-]{36}\b", "<member>", line)
        line = re.sub(r"\s+", " ", line).strip()
        if line:
            out.append(line)
    return out


def run_both(brokers, *args: str, expect_ok: bool = True, only: str | None = None) -> list[str]:
    """Runs the tool against both brokers; their normalised outputs (stdout then stderr) must be
    equal. Returns Kafka's. `only` keeps just the lines containing it (the shared Kafka broker
    also holds other tests' groups)."""
    results = {}
    for name, b in brokers.items():
        proc = tool(b.bootstrap, *args)
        if expect_ok:
            assert proc.returncode == 0, (f"{name}: {' '.join(args)} exited {proc.returncode}\n"
                                          f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        keep = (lambda lines: [x for x in lines if only in x]) if only else (lambda lines: lines)
        results[name] = (proc.returncode, keep(normalise(proc.stdout, b.bootstrap)),
                         keep(normalise(_drop_warnings(proc.stderr), b.bootstrap)))
    assert results["sluice"] == results["kafka"], (
        f"kafka-consumer-groups {' '.join(args)} differs:\n"
        f"kafka:  {results['kafka']}\nsluice: {results['sluice']}")
    _, stdout, stderr = results["kafka"]
    return stdout + stderr


def _drop_warnings(stderr: str) -> str:
    # JVM / log4j chatter is not the tool's answer.
    return "\n".join(line for line in stderr.splitlines()
                     if not line.startswith(("WARNING:", "SLF4J")) and "log4j" not in line.lower())


class Scene:
    """The same topic, records and group on both brokers, with one member per broker."""

    def __init__(self, brokers):
        self.brokers = brokers
        self.topic = f"cg-{uuid.uuid4().hex[:8]}"
        self.group = f"cg-group-{uuid.uuid4().hex[:8]}"
        self.base = int(time.time() * 1000) - AGE_OF_FIRST_MS
        self.members = {}
        for b in brokers.values():
            create_topic(b.bootstrap, self.topic, PARTITIONS)
            self._produce(b.bootstrap)

    def _produce(self, bootstrap: str) -> None:
        from confluent_kafka import Producer

        p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
        for q in range(PARTITIONS):
            for i in range(PER_PARTITION):
                p.produce(self.topic, value=f"{q}-{i}".encode(), partition=q, timestamp=self.base + i * 1000)
        assert p.flush(30) == 0

    def join(self) -> None:
        """One member per broker, assigned every partition (it then stays, paused)."""
        from confluent_kafka import Consumer

        for name, b in self.brokers.items():
            c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": self.group,
                          "client.id": "lagger", "enable.auto.commit": False,
                          "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                          "heartbeat.interval.ms": 300})
            c.subscribe([self.topic])
            self.members[name] = c

        def assigned():
            for c in self.members.values():
                c.poll(0.05)
            return all(len(c.assignment()) == PARTITIONS for c in self.members.values())
        wait_until(assigned, 60, "both members to be assigned every partition")

    def commit(self, offset: int) -> None:
        from confluent_kafka import TopicPartition

        for c in self.members.values():
            c.commit(offsets=[TopicPartition(self.topic, p, offset) for p in range(PARTITIONS)],
                     asynchronous=False)

    def leave(self) -> None:
        for c in self.members.values():
            c.close()
        self.members.clear()
        # The tool's describe of an inactive group is stable only once the group is Empty.
        for b in self.brokers.values():
            wait_until(lambda: "Empty" in tool(b.bootstrap, "--describe", "--group", self.group,
                                               "--state").stdout, 30, "the group to be Empty")

    def close(self) -> None:
        for c in self.members.values():
            c.close()


@pytest.fixture
def scene(brokers):
    s = Scene(brokers)
    yield s
    s.close()


def rows(lines: list[str], first_column: str) -> list[list[str]]:
    """The table rows (after the header that starts with `first_column`)."""
    header = next(i for i, line in enumerate(lines) if line.startswith(first_column + " "))
    width = len(lines[header].split(" "))
    return [line.split(" ") for line in lines[header + 1:] if len(line.split(" ")) == width]


def test_list_and_describe_show_lag_while_paused_and_after_catching_up(scene, brokers):
    scene.join()
    scene.commit(4)  # the consumer processed 4 records of each partition and is paused there

    listed = run_both(brokers, "--list", only=scene.group)
    assert listed == [scene.group]
    stable = run_both(brokers, "--list", "--state", "Stable", only=scene.group)
    assert stable == [f"{scene.group} Stable"]

    out = run_both(brokers, "--describe", "--group", scene.group)
    table = rows(out, "GROUP")
    assert next(line for line in out if line.startswith("GROUP ")).split(" ") == [
        "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"]
    assert sorted(r[:6] + r[8:] for r in table) == [
        [scene.group, scene.topic, str(p), "4", "10", "6", "lagger"] for p in range(PARTITIONS)]

    members = run_both(brokers, "--describe", "--group", scene.group, "--members", "--verbose")
    assert members[1:] == [f"{scene.group} <member> /127.0.0.1 lagger 3 - {scene.topic}:0,1,2 - -"], members
    state = run_both(brokers, "--describe", "--group", scene.group, "--state")
    assert any(line.startswith(scene.group) and " Stable " in f" {line} " for line in state), state

    scene.commit(PER_PARTITION)  # caught up
    out = run_both(brokers, "--describe", "--group", scene.group)
    assert sorted(r[:6] for r in rows(out, "GROUP")) == [
        [scene.group, scene.topic, str(p), "10", "10", "0"] for p in range(PARTITIONS)]

    # Another reset while the member is still there is refused.
    refused = run_both(brokers, "--reset-offsets", "--group", scene.group, "--all-topics",
                       "--to-earliest", "--execute", expect_ok=False)
    assert any("can only be reset if the group" in line and "inactive" in line for line in refused), refused


def utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_reset_offsets_dry_run_and_execute(scene, brokers):
    scene.join()
    scene.commit(4)
    scene.leave()

    def new_offsets(lines):
        return sorted((r[1], r[2], r[3]) for r in rows(lines, "GROUP"))

    def committed(brokers_out):
        return sorted((r[1], r[2], r[3]) for r in rows(brokers_out, "GROUP"))

    expect = lambda o: [(scene.topic, str(p), str(o)) for p in range(PARTITIONS)]  # noqa: E731
    cases = [
        (["--to-earliest"], 0),
        (["--to-latest"], PER_PARTITION),
        (["--to-offset", "7"], 7),
        (["--shift-by", "-3"], 4),
        (["--shift-by", "100"], PER_PARTITION),  # kept at the log end
        (["--to-offset", "0"], 0),
        (["--to-datetime", utc(scene.base + 6000)], 6),
    ]
    current = 4
    for args, target in cases:
        dry = run_both(brokers, "--reset-offsets", "--group", scene.group, "--topic", scene.topic,
                       *args, "--dry-run")
        assert new_offsets(dry) == expect(target), (args, dry)
        described = run_both(brokers, "--describe", "--group", scene.group)
        assert committed(described) == expect(current), f"a dry run changed offsets: {described}"

        done = run_both(brokers, "--reset-offsets", "--group", scene.group, "--topic", scene.topic,
                        *args, "--execute")
        assert new_offsets(done) == expect(target), (args, done)
        described = run_both(brokers, "--describe", "--group", scene.group)
        assert committed(described) == expect(target), (args, described)
        current = target

    one = run_both(brokers, "--reset-offsets", "--group", scene.group, "--topic", f"{scene.topic}:1",
                   "--to-offset", "2", "--execute")
    assert new_offsets(one) == [(scene.topic, "1", "2")]
    described = run_both(brokers, "--describe", "--group", scene.group)
    assert committed(described) == [(scene.topic, "0", "6"), (scene.topic, "1", "2"), (scene.topic, "2", "6")]


def test_delete_refused_while_active_then_removes_group_and_offsets(scene, brokers):
    scene.join()
    scene.commit(5)
    refused = run_both(brokers, "--delete", "--group", scene.group, expect_ok=False)
    assert any("GroupNotEmptyException" in line or "not empty" in line for line in refused), refused

    scene.leave()
    deleted = run_both(brokers, "--delete", "--group", scene.group)
    assert any(scene.group in line and "successful" in line for line in deleted), deleted
    listed = run_both(brokers, "--list", only=scene.group)
    assert listed == []
    again = run_both(brokers, "--delete", "--group", scene.group, expect_ok=False)
    assert any("GroupIdNotFoundException" in line or "does not exist" in line for line in again), again


def test_describe_of_an_unknown_group(brokers):
    # (Also what describing a deleted group prints.)
    group = f"cg-never-{uuid.uuid4().hex[:8]}"
    out = run_both(brokers, "--describe", "--group", group, expect_ok=False, only="Error:")
    assert out == [f"Error: Executing consumer group command failed due to "
                   f"org.apache.kafka.common.errors.GroupIdNotFoundException: Group {group} not found."]
