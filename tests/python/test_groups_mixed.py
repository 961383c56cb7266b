"""One consumer group, many client libraries, one process per member: rebalancing as applications
meet it (issue 3, "what it must show" 1-3).

Why: a group coordinator is only as good as its behaviour with the clients people run, mixed in
one group: librdkafka (confluent-kafka), kafka-python and the Java KafkaConsumer each implement the
group protocol on their own, with their own timers and assignors. Each member here is a separate
process (so it can be SIGKILLed and restarted), reading a 12-partition topic of 200,000 records,
"processing" every record (its value names its own partition and offset, so a wrong record is
caught) and committing synchronously after each batch (at-least-once). The test checks:

- every partition is assigned to exactly one member (the members' own view and the broker's);
- a member that leaves (LeaveGroup on close) or dies (SIGKILL, no LeaveGroup) has its partitions
  reassigned to the others: at once after a leave, within the session timeout (plus the one
  rebalance that follows it) after a death;
- every record is processed by some member, none skipped, and the final commits reach the end of
  every partition;
- cooperative-sticky: no partition is revoked from a member that keeps it;
- static membership (group.instance.id): a restarted member gets its partitions back and nobody
  else rebalances;
- KIP-848 (group.protocol=consumer) through librdkafka and the Java client.

Members process slowly (a per-record delay) while the group changes, so the churn happens with
records in flight, then are told to go fast and drain the topic.

Run with `--broker=kafka` to run the same scenarios against a real Apache Kafka 4.1 (a broker of
this module's own, with the same short group timeouts), proving the assertions are Kafka's
behaviour.

This file is also the Python member program: `python test_groups_mixed.py member confluent|kafka-python ...`
(see `member_main`); the Java member is tests/interop/java/.../GroupMember.java.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

PARTITIONS = 12
RECORDS = int(os.environ.get("SLUICE_GROUP_RECORDS", "200000"))
SESSION_MS = 6000  # Kafka's group.min.session.timeout.ms: the shortest a broker allows by default
STATIC_SESSION_MS = 15000  # long enough to restart a JVM before the broker gives up on it
# After the session timeout expires, the survivors must rejoin and sync: one rebalance, bounded
# by their poll loops (<= 1 s of throttled processing) on a loaded 2-core machine.
REBALANCE_MARGIN_S = 8.0
SLOW_RATE = 400  # records/s per member while the group changes
DRAIN_TIMEOUT_S = 90

GROUP_SETTINGS = {
    "group.initial.rebalance.delay.ms": "0",
    # KIP-848 groups take session and heartbeat from the broker.
    "group.consumer.session.timeout.ms": str(SESSION_MS),
    "group.consumer.heartbeat.interval.ms": "500",
}
# Kafka refuses KIP-848 timeouts below these minimums (defaults 45 s / 5 s).
KAFKA_ONLY_SETTINGS = {
    "group.consumer.min.session.timeout.ms": str(SESSION_MS),
    "group.consumer.min.heartbeat.interval.ms": "500",
}


# ============================================================================================
# The Python member program (runs in its own process)
# ============================================================================================


def member_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="member")
    ap.add_argument("kind", choices=("confluent", "kafka-python"))
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--name", default="member")
    ap.add_argument("--assignor", default="default")
    ap.add_argument("--protocol", default="classic")
    ap.add_argument("--instance-id")
    ap.add_argument("--session-ms", type=int, default=SESSION_MS)
    ap.add_argument("--rate", type=float, default=0)
    args = ap.parse_args(argv)

    out_lock = threading.Lock()
    control = {"fast": False, "stop": False}

    def emit(**event) -> None:
        line = json.dumps(event, separators=(",", ":"))
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def read_commands() -> None:
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "fast":
                control["fast"] = True
            elif cmd == "stop":
                control["stop"] = True

    threading.Thread(target=read_commands, daemon=True).start()
    owned: set[int] = set()

    def changed(ev: str, parts, add: bool) -> None:
        ids = sorted(parts)
        if add:
            owned.update(ids)
        else:
            owned.difference_update(ids)
        emit(ev=ev, parts=ids)
        emit(ev="owned", parts=sorted(owned))

    def process(batches: dict[int, list[tuple[int, bytes | None]]]) -> dict[int, int]:
        """Checks each record and reports the batch; returns the offsets to commit."""
        commits = {}
        n = 0
        for p, recs in batches.items():
            for offset, value in recs:
                if value != f"{p}-{offset}".encode():
                    emit(ev="bad", p=p, o=offset, value=repr(value))
            emit(ev="batch", p=p, first=recs[0][0], last=recs[-1][0], n=len(recs))
            commits[p] = recs[-1][0] + 1
            n += len(recs)
        if args.rate and not control["fast"]:
            time.sleep(n / args.rate)
        return commits

    if args.kind == "confluent":
        from confluent_kafka import Consumer, KafkaException, TopicPartition

        conf = {"bootstrap.servers": args.bootstrap, "group.id": args.group, "client.id": args.name,
                "enable.auto.commit": False, "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 100, "group.protocol": args.protocol}
        if args.protocol == "classic":  # the consumer protocol takes these from the broker
            conf.update({"session.timeout.ms": args.session_ms, "heartbeat.interval.ms": 500,
                         "max.poll.interval.ms": 30000})
            if args.assignor != "default":
                conf["partition.assignment.strategy"] = args.assignor
        if args.instance_id:
            conf["group.instance.id"] = args.instance_id
        c = Consumer(conf)
        c.subscribe([args.topic],
                    on_assign=lambda _c, tps: changed("assigned", [t.partition for t in tps], True),
                    on_revoke=lambda _c, tps: changed("revoked", [t.partition for t in tps], False),
                    on_lost=lambda _c, tps: changed("lost", [t.partition for t in tps], False))
        emit(ev="ready")
        while not control["stop"]:
            msgs = c.consume(num_messages=500, timeout=0.2)
            batches: dict[int, list] = {}
            for m in msgs:
                if m.error() is not None:
                    emit(ev="error", error=str(m.error()))
                    continue
                batches.setdefault(m.partition(), []).append((m.offset(), m.value()))
            if not batches:
                continue
            commits = process(batches)
            try:
                c.commit(offsets=[TopicPartition(args.topic, p, o) for p, o in commits.items()],
                         asynchronous=False)
                emit(ev="commit", offsets={str(p): o for p, o in commits.items()})
            except KafkaException as exc:
                emit(ev="commit_failed", error=str(exc))
        c.close()
    else:
        from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
        from kafka.coordinator.assignors.range import RangePartitionAssignor
        from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
        from kafka.errors import KafkaError
        from kafka.structs import OffsetAndMetadata

        kw = dict(bootstrap_servers=args.bootstrap, group_id=args.group, client_id=args.name,
                  enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=100,
                  session_timeout_ms=args.session_ms, heartbeat_interval_ms=500,
                  max_poll_interval_ms=30000, group_instance_id=args.instance_id)
        if args.assignor == "range":
            kw["partition_assignment_strategy"] = [RangePartitionAssignor]
        elif args.assignor == "roundrobin":
            kw["partition_assignment_strategy"] = [RoundRobinPartitionAssignor]
        c = KafkaConsumer(**kw)

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                changed("revoked", [t.partition for t in revoked], False)

            def on_partitions_assigned(self, assigned):
                changed("assigned", [t.partition for t in assigned], True)

        c.subscribe([args.topic], listener=Listener())
        emit(ev="ready")
        while not control["stop"]:
            polled = c.poll(timeout_ms=200, max_records=500)
            batches = {tp.partition: [(m.offset, m.value) for m in msgs]
                       for tp, msgs in polled.items() if msgs}
            if not batches:
                continue
            commits = process(batches)
            try:
                c.commit({TopicPartition(args.topic, p): OffsetAndMetadata(o, "", -1)
                          for p, o in commits.items()})
                emit(ev="commit", offsets={str(p): o for p, o in commits.items()})
            except KafkaError as exc:
                emit(ev="commit_failed", error=repr(exc))
        c.close()
    emit(ev="closed")
    return 0


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "member":
    sys.exit(member_main(sys.argv[2:]))


# ============================================================================================
# The tests
# ============================================================================================

import pytest  # noqa: E402

from conftest import create_topic, wait_until  # noqa: E402
from reference_kafka import ReferenceKafka  # noqa: E402
from test_java_interop import interop_classpath  # noqa: E402,F401  (fixture: builds GroupMember)

THIS_FILE = Path(__file__).resolve()


@pytest.fixture(scope="module")
def group_kafka(request):
    """A real Apache Kafka with this module's group timeouts (only with --broker=kafka)."""
    ref = ReferenceKafka(extra_props={**GROUP_SETTINGS, **KAFKA_ONLY_SETTINGS}).start()
    try:
        yield ref
    finally:
        ref.cleanup()


@pytest.fixture
def group_broker(request, sluice_factory):
    """The broker under test: a fresh Sluice with short group timeouts, or (--broker=kafka) the
    reference Kafka with the same settings."""
    if request.config.getoption("--broker") == "kafka":
        return request.getfixturevalue("group_kafka")
    return sluice_factory(settings=GROUP_SETTINGS)


class Member:
    """One member process; its JSON-line events are collected by a reader thread."""

    def __init__(self, name: str, argv: list[str]):
        self.name = name
        self.argv = argv
        self.events: list[tuple[float, dict]] = []
        self.lock = threading.Lock()
        self.stderr_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"member-{os.getpid()}-{name}-{time.time_ns()}.err"
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, text=True, bufsize=1,
                                     start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"ev": "garbage", "line": line.rstrip()}
            with self.lock:
                self.events.append((time.monotonic(), event))

    def all(self, ev: str | None = None) -> list[dict]:
        with self.lock:
            return [e for _, e in self.events if ev is None or e["ev"] == ev]

    def owned(self) -> set[int] | None:
        """The member's assignment as of its last rebalance callback (None before the first)."""
        owned = self.all("owned")
        return set(owned[-1]["parts"]) if owned else None

    def rebalance_events(self) -> int:
        return len([e for e in self.all() if e["ev"] in ("assigned", "revoked", "lost")])

    def send(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 30) -> None:
        """Asks the member to close (leaving the group) and waits for a clean exit."""
        self.send("stop")
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"member {self.name} did not exit within {timeout}s of 'stop'\n"
                                 f"{self.stderr_tail()}")
        self.reader.join(10)
        assert code == 0, f"member {self.name} exited with {code}\n{self.stderr_tail()}"
        assert self.all("closed"), f"member {self.name} did not close its consumer"

    def stderr_tail(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")[-3000:]

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._stderr.close()
        self.stderr_path.unlink(missing_ok=True)


class Scenario:
    """A topic of RECORDS records, a group, and the members started for it."""

    def __init__(self, broker, topic: str, group: str, java_classpath: str):
        self.bootstrap = broker.bootstrap
        self.topic = topic
        self.group = group
        self.java_classpath = java_classpath
        self.members: list[Member] = []
        self.counts = produce_numbered(self.bootstrap, topic, RECORDS)

    def start(self, kind: str, name: str, **opts) -> Member:
        """Starts a member: kind is confluent, kafka-python or java; opts become --key value."""
        flags = ["--bootstrap", self.bootstrap, "--topic", self.topic, "--group", self.group,
                 "--name", name, "--rate", str(SLOW_RATE)]
        for key, value in opts.items():
            flags += [f"--{key.replace('_', '-')}", str(value)]
        if kind == "java":
            argv = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", self.java_classpath,
                    "dev.sluice.interop.GroupMember", *flags]
        else:
            argv = [sys.executable, str(THIS_FILE), "member", kind, *flags]
        member = Member(name, argv)
        self.members.append(member)
        return member

    def context(self) -> str:
        parts = []
        for m in self.members:
            evs = [e for e in m.all() if e["ev"] not in ("batch", "commit")]
            parts.append(f"--- {m.name} (exit {m.proc.poll()}): {evs[-12:]}\n{m.stderr_tail()[-1500:]}")
        return "\n".join(parts)

    def wait_for_cover(self, live: list[Member], timeout: float, what: str,
                       sizes: list[int] | None = None) -> dict[str, set[int]]:
        """Waits until the live members' assignments are disjoint and cover every partition (and,
        given `sizes`, have those sizes: a member that joins late first sees the others cover
        everything without it)."""
        def covered():
            for m in live:
                assert m.proc.poll() is None, f"member {m.name} exited\n{self.context()}"
            sets = {m.name: m.owned() for m in live}
            if any(s is None for s in sets.values()):
                return None
            if sum(len(s) for s in sets.values()) != PARTITIONS:
                return None
            if set().union(*sets.values()) != set(range(PARTITIONS)):
                return None
            if sizes is not None and sorted(len(v) for v in sets.values()) != sizes:
                return None
            return sets
        try:
            return wait_until(covered, timeout, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.context()}") from None

    def assert_broker_view(self, expected: dict[str, set[int]]) -> None:
        """DescribeGroups / ConsumerGroupDescribe shows the same members and assignments."""
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap})

        def view():
            desc = admin.describe_consumer_groups([self.group], request_timeout=10)[self.group].result(15)
            return {m.client_id: {tp.partition for tp in m.assignment.topic_partitions}
                    for m in desc.members}
        last = {}

        def matches():
            nonlocal last
            last = view()
            return last == expected
        try:
            wait_until(matches, 20, "the broker's description of the group to match the members")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: broker says {last}, members say {expected}") from None

    def drain(self, live: list[Member]) -> None:
        """Lets the live members go fast until the group's commits reach every partition's end,
        then stops them; checks that nothing was skipped and everything committed was processed."""
        from confluent_kafka import Consumer, TopicPartition

        for m in live:
            m.send("fast")
        reader = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group,
                           "enable.auto.commit": False})
        tps = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
        last = {}

        def all_committed():
            nonlocal last
            for m in live:
                assert m.proc.poll() is None, f"member {m.name} exited\n{self.context()}"
            last = {tp.partition: tp.offset for tp in reader.committed(tps, timeout=10)}
            return all(last[p] == self.counts[p] for p in range(PARTITIONS))
        try:
            wait_until(all_committed, DRAIN_TIMEOUT_S, "commits at the end of every partition",
                       interval=0.25)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: committed {last}, ends {self.counts}\n{self.context()}") from None
        finally:
            reader.close()
        # What each member saw until the work was done (closing revokes everything).
        self.events_before_stop = {m.name: list(m.all()) for m in live}
        for m in live:
            m.stop()
        self.check_processing()

    def check_processing(self) -> None:
        bad = [(m.name, e) for m in self.members for e in m.all("bad")]
        assert not bad, f"records with unexpected values: {bad[:5]}"
        garbage = [(m.name, e) for m in self.members for e in m.all("garbage")]
        assert not garbage, f"unparsable member output: {garbage[:5]}"
        ranges: dict[int, list[tuple[int, int]]] = {p: [] for p in range(PARTITIONS)}
        processed = 0
        for m in self.members:
            ends: set[tuple[int, int]] = set()
            for e in m.all("batch"):
                assert e["last"] - e["first"] + 1 == e["n"], f"{m.name}: gap inside a batch {e}"
                ranges[e["p"]].append((e["first"], e["last"]))
                ends.add((e["p"], e["last"] + 1))
                processed += e["n"]
            # At-least-once: a member commits only offsets just past records it processed.
            for e in m.all("commit"):
                for p, o in e["offsets"].items():
                    assert (int(p), o) in ends, f"{m.name} committed {p}@{o} without processing it"
        for p, spans in ranges.items():
            covered = 0  # every offset below `covered` has been processed by some member
            for first, last in sorted(spans):
                assert first <= covered, (f"partition {p}: offsets {covered}..{first - 1} were never "
                                          f"processed (skipped)")
                covered = max(covered, last + 1)
            assert covered == self.counts[p], f"partition {p}: processed up to {covered}, end {self.counts[p]}"
        assert processed >= RECORDS

    def cleanup(self) -> None:
        for m in self.members:
            m.cleanup()


def produce_numbered(bootstrap: str, topic: str, n: int) -> dict[int, int]:
    """Creates `topic` and fills it with `n` small records round-robin over its partitions, the
    value of each being "<partition>-<offset>"; returns the end offset of each partition."""
    from confluent_kafka import Producer

    create_topic(bootstrap, topic, PARTITIONS)
    failures = []

    def report(err, _msg):
        if err is not None:
            failures.append(err)

    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20,
                  "batch.num.messages": 10000, "queue.buffering.max.messages": 1_000_000})
    counts = {q: 0 for q in range(PARTITIONS)}
    for i in range(n):
        q = i % PARTITIONS
        while True:
            try:
                p.produce(topic, value=f"{q}-{counts[q]}".encode(), partition=q, on_delivery=report)
                break
            except BufferError:
                p.poll(0.05)
        counts[q] += 1
        if i % 20000 == 0:
            p.poll(0)
    remaining = p.flush(60)
    assert remaining == 0 and not failures, f"{remaining} undelivered, errors {failures[:3]}"
    return counts


@pytest.fixture
def scenario(group_broker, unique_topic, interop_classpath):
    made: list[Scenario] = []

    def make() -> Scenario:
        s = Scenario(group_broker, unique_topic("mixed"), unique_topic("group"), interop_classpath)
        made.append(s)
        return s

    yield make
    for s in made:
        s.cleanup()


def reassigned_within(s: Scenario, live: list[Member], limit_s: float, what: str) -> dict[str, set[int]]:
    start = time.monotonic()
    sets = s.wait_for_cover(live, limit_s + 20, what)
    elapsed = time.monotonic() - start
    print(f"{what}: {elapsed:.2f}s (limit {limit_s:.1f}s)")
    assert elapsed <= limit_s, f"{what} took {elapsed:.1f}s (limit {limit_s:.1f}s)\n{s.context()}"
    return sets


def test_mixed_clients_eager_group(scenario):
    """Two librdkafka, one kafka-python and one Java member, each client's default assignors
    (the only one all support, range, is chosen); a graceful leave, a SIGKILL, then a drain."""
    s = scenario()
    c1 = s.start("confluent", "c1")
    c2 = s.start("confluent", "c2")
    kp = s.start("kafka-python", "kp")
    java = s.start("java", "java")
    sets = s.wait_for_cover([c1, c2, kp, java], 60, "all four members assigned", [3, 3, 3, 3])
    s.assert_broker_view(sets)

    kp.stop()  # LeaveGroup: the others rebalance at once, not after a session timeout
    reassigned_within(s, [c1, c2, java], SESSION_MS / 1000, "kafka-python member's partitions reassigned")

    c2.kill()  # no LeaveGroup: the broker notices when c2's session times out
    sets = reassigned_within(s, [c1, java], SESSION_MS / 1000 + REBALANCE_MARGIN_S,
                             "killed member's partitions reassigned")
    assert sorted(len(v) for v in sets.values()) == [6, 6], sets
    s.assert_broker_view(sets)
    s.drain([c1, java])


def test_cooperative_sticky_group(scenario):
    """librdkafka and Java members with cooperative-sticky: a join only moves partitions to the
    newcomer, a death only adds partitions to the survivors."""
    s = scenario()
    c1 = s.start("confluent", "c1", assignor="cooperative-sticky")
    java = s.start("java", "java", assignor="cooperative-sticky")
    before = s.wait_for_cover([c1, java], 60, "two cooperative members assigned", [6, 6])

    marks = {m.name: len(m.all()) for m in (c1, java)}
    c2 = s.start("confluent", "c2", assignor="cooperative-sticky")
    after = s.wait_for_cover([c1, java, c2], 60, "three cooperative members assigned", [4, 4, 4])
    for m in (c1, java):
        revoked = {p for e in m.all()[marks[m.name]:] if e["ev"] == "revoked" for p in e["parts"]}
        assert not revoked & after[m.name], f"{m.name} lost and regained {revoked & after[m.name]}"
        assert after[m.name] == before[m.name] - revoked, (
            f"{m.name}: kept {after[m.name]}, had {before[m.name]}, revoked {revoked}: a partition "
            f"it keeps was revoked or one it gained came from elsewhere")
        assert not any(e["ev"] == "lost" for e in m.all()), f"{m.name} lost partitions"
    assert after["c2"] == (before["c1"] | before["java"]) - after["c1"] - after["java"]
    s.assert_broker_view(after)

    marks = {m.name: len(m.all()) for m in (c1, java)}
    c2.kill()
    final = reassigned_within(s, [c1, java], SESSION_MS / 1000 + REBALANCE_MARGIN_S,
                              "killed cooperative member's partitions reassigned")
    for m in (c1, java):
        revoked = [e for e in m.all()[marks[m.name]:] if e["ev"] in ("revoked", "lost")]
        assert not revoked, f"{m.name} had partitions revoked when another member died: {revoked}"
        assert final[m.name] >= after[m.name]
    s.drain([c1, java])


def test_static_membership_restart_without_rebalance(scenario):
    """Static members (group.instance.id) of three clients; a SIGKILLed librdkafka member and a
    closed Java member come back within the session timeout and get their own partitions back,
    and no other member sees a rebalance."""
    s = scenario()
    opts = {"assignor": "range", "session_ms": STATIC_SESSION_MS}
    c1 = s.start("confluent", "c1", instance_id="c1", **opts)
    kp = s.start("kafka-python", "kp", instance_id="kp", **opts)
    java = s.start("java", "java", instance_id="java", **opts)
    sets = s.wait_for_cover([c1, kp, java], 60, "three static members assigned", [4, 4, 4])
    s.assert_broker_view(sets)
    rebalances = {"kp": kp.rebalance_events()}

    c1.kill()
    c1b = s.start("confluent", "c1", instance_id="c1", **opts)
    again = s.wait_for_cover([c1b, kp, java], STATIC_SESSION_MS / 1000, "restarted c1 assigned")
    assert again["c1"] == sets["c1"], f"restarted c1 got {again['c1']}, had {sets['c1']}"

    java.stop()  # a static member does not leave the group on close
    java_b = s.start("java", "java", instance_id="java", **opts)
    again = s.wait_for_cover([c1b, kp, java_b], STATIC_SESSION_MS / 1000, "restarted java assigned")
    assert again == sets, f"after restarts {again}, before {sets}"
    s.assert_broker_view(sets)

    s.drain([c1b, kp, java_b])
    kp_seen = [e for e in s.events_before_stop["kp"] if e["ev"] in ("assigned", "revoked", "lost")]
    assert len(kp_seen) == rebalances["kp"], f"kp rebalanced while static members restarted: {kp_seen}"
    for m in (c1b, java_b):
        seen = [e for e in s.events_before_stop[m.name] if e["ev"] in ("assigned", "revoked", "lost")]
        assert seen == [{"ev": "assigned", "parts": sorted(sets[m.name])}], (
            f"restarted {m.name}: expected one assignment of its old partitions, saw {seen}")


def test_kip848_consumer_protocol_group(scenario):
    """group.protocol=consumer through librdkafka and the Java client: server-side assignment,
    a leave and a death handled without revoking anything from the survivors."""
    s = scenario()
    c1 = s.start("confluent", "c1", protocol="consumer")
    c2 = s.start("confluent", "c2", protocol="consumer")
    c3 = s.start("confluent", "c3", protocol="consumer")
    java = s.start("java", "java", protocol="consumer")
    sets = s.wait_for_cover([c1, c2, c3, java], 60, "four KIP-848 members assigned", [3, 3, 3, 3])
    s.assert_broker_view(sets)

    marks = {m.name: len(m.all()) for m in (c1, c3, java)}
    c2.stop()
    after_leave = reassigned_within(s, [c1, c3, java], SESSION_MS / 1000,
                                    "leaving KIP-848 member's partitions reassigned")
    c3.kill()
    final = reassigned_within(s, [c1, java], SESSION_MS / 1000 + REBALANCE_MARGIN_S,
                              "killed KIP-848 member's partitions reassigned")
    assert sorted(len(v) for v in final.values()) == [6, 6], final
    for m in (c1, java):
        revoked = [e for e in m.all()[marks[m.name]:] if e["ev"] in ("revoked", "lost")]
        assert not revoked, f"{m.name} had partitions revoked as others left: {revoked}"
        assert final[m.name] >= after_leave[m.name] >= sets[m.name]
    s.assert_broker_view(final)
    s.drain([c1, java])
