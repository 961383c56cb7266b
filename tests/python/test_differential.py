"""Differential tests: the same scenario against a real Apache Kafka broker and Sluice.

Why: "Kafka-compatible" means a client cannot tell the brokers apart. Each test runs one scenario
against the reference broker (`kafka_ref`) and then against Sluice with the same topic names, and
compares what the clients observed: produce offsets, ListOffsets answers, metadata shape, topic
configs (values, defaults, sources, synonyms) and the error codes of invalid requests. Anything
Kafka-specific that legitimately differs (ports, cluster/topic ids) is normalised here, and every
deliberate difference is listed in docs/compatibility.md.

Three client paths are used so a difference is not an artefact of one client: confluent-kafka
(librdkafka), kafka-python, and raw protocol requests (kafka-python's message classes over a plain
socket) where the exact error code and response fields matter.

Each scenario also asserts what Kafka answered, so a scenario that silently does nothing on both
brokers cannot pass. Run with `--broker=kafka` to compare Kafka with itself (checks the scenarios
are deterministic).
"""

from __future__ import annotations

import gc
import socket
import struct
import time
import uuid
from typing import Any, Callable

import pytest

from conftest import create_topic, wait_until

T0 = 1_700_000_000_000
# (partition, timestamp) in production order; partition 1's maximum timestamp is not its last record.
TIMED = [(0, T0), (0, T0 + 10), (0, T0 + 20), (1, T0 + 5), (1, T0 + 30), (1, T0 + 15)]
MAX_MESSAGE_BYTES = 1048588  # Kafka's default message.max.bytes / max.message.bytes

# Topic configs every client library and operator tool relies on: compared value by value.
COMMON_TOPIC_CONFIGS = [
    "cleanup.policy", "compression.type", "delete.retention.ms", "file.delete.delay.ms",
    "flush.messages", "flush.ms", "index.interval.bytes", "max.compaction.lag.ms", "max.message.bytes",
    "message.timestamp.type", "message.timestamp.before.max.ms", "message.timestamp.after.max.ms",
    "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas", "preallocate",
    "retention.bytes", "retention.ms", "segment.bytes", "segment.index.bytes", "segment.jitter.ms",
    "segment.ms", "unclean.leader.election.enable",
]
# Kafka 4.1 (KRaft with eligible leader replicas) stores a cluster-level min.insync.replicas at
# bootstrap, so it reports that config as DYNAMIC_DEFAULT_BROKER_CONFIG. Sluice has no controller
# quorum and reports Kafka's plain default. See docs/compatibility.md.
SOURCE_MAY_DIFFER = {"min.insync.replicas"}


# --------------------------------------------------------------------------------------------
# Running one scenario on both brokers
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def brokers(request, kafka_ref):
    """{"kafka": reference, "sluice": candidate}; with --broker=kafka the candidate is Kafka too."""
    if request.config.getoption("--broker") == "kafka":
        yield {"kafka": kafka_ref, "sluice": kafka_ref}
    else:
        yield {"kafka": kafka_ref, "sluice": request.getfixturevalue("sluice_module")}
    _ADMINS.clear()  # destroys the AdminClients before their brokers stop (no reconnect noise)
    gc.collect()


class Names:
    """Topic names shared by both runs of a scenario (same names make observations comparable)."""

    def __init__(self, test_name: str):
        self.stem = f"diff-{test_name[:40]}-{uuid.uuid4().hex[:8]}".replace("[", "-").replace("]", "")
        self.round = 0

    def __call__(self, suffix: str) -> str:
        return f"{self.stem}-r{self.round}-{suffix}"


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{path}.{k}" if path else str(k)))
        return out or {path: {}}
    if isinstance(value, (list, tuple)):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{path}[{i}]"))
        return out or {path: []}
    return {path: value}


def describe_diff(ref: Any, got: Any, limit: int = 40) -> str:
    a, b = flatten(ref), flatten(got)
    lines = []
    for key in sorted(set(a) | set(b)):
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            lines.append(f"  {key}: kafka={a.get(key, '<absent>')!r} sluice={b.get(key, '<absent>')!r}")
    more = f"\n  ... and {len(lines) - limit} more" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


def differential(request, brokers, scenario: Callable, check_kafka: Callable[[Any], None] | None = None):
    """Runs `scenario(broker, names)` on Kafka, checks Kafka's answer, then requires Sluice's to match."""
    names = Names(request.node.name)
    ref = scenario(brokers["kafka"], names)
    if check_kafka is not None:
        check_kafka(ref)
    names.round = 0 if brokers["sluice"] is not brokers["kafka"] else 1
    got = scenario(brokers["sluice"], names)
    if names.round:  # self-comparison: names differ by round, so strip them
        ref, got = _strip_round(ref, names), _strip_round(got, names)
    assert got == ref, f"Sluice differs from Kafka:\n{describe_diff(ref, got)}"
    return ref


def _strip_round(value: Any, names: Names) -> Any:
    if isinstance(value, dict):
        return {_strip_round(k, names): _strip_round(v, names) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_strip_round(v, names) for v in value)
    if isinstance(value, str):
        return value.replace(f"{names.stem}-r0-", "<t>-").replace(f"{names.stem}-r1-", "<t>-")
    return value


def port_of(broker) -> int:
    return int(broker.bootstrap.rsplit(":", 1)[1])


def normalise(value: Any, broker) -> Any:
    """Replaces what must differ between two brokers: the port and generated ids."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("topic_id", "cluster_id") and v not in (None, "", "AAAAAAAAAAAAAAAAAAAAAA",
                                                              "00000000-0000-0000-0000-000000000000"):
                out[k] = "<generated>"
            elif k == "port" and v == port_of(broker):
                out[k] = "<broker port>"
            else:
                out[k] = normalise(v, broker)
        return out
    if isinstance(value, list):
        return [normalise(v, broker) for v in value]
    if isinstance(value, uuid.UUID):
        return "<generated>"
    return value


# --------------------------------------------------------------------------------------------
# Raw protocol requests (kafka-python's message classes over a plain socket)
# --------------------------------------------------------------------------------------------

class RawClient:
    """One connection that sends a request at a fixed API version and decodes the response."""

    def __init__(self, bootstrap: str, timeout: float = 15):
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.correlation_id = 0

    def call(self, request, response_class, version: int):
        self.correlation_id += 1
        request.API_VERSION = version
        request.with_header(correlation_id=self.correlation_id, client_id="sluice-differential")
        self.sock.sendall(request.encode(version=version, header=True, framed=True))
        size = struct.unpack(">i", self._recv(4))[0]
        response = response_class.decode(self._recv(size), version=version, header=True)
        assert response._header.correlation_id == self.correlation_id
        return response

    def _recv(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError(f"broker closed the connection ({len(buf)}/{n} bytes read)")
            buf.extend(chunk)
        return bytes(buf)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def error_name(code: int) -> str:
    import kafka.errors

    return f"{code}:{kafka.errors.for_code(code).__name__}"


def record_batch(records: list[tuple[bytes | None, bytes | None]], timestamp: int | None = None,
                 compression: int = 0, producer: tuple[int, int, int] | None = None) -> bytes:
    """A v2 record batch; `producer` = (producer id, epoch, base sequence) makes it idempotent."""
    from kafka.record.memory_records import MemoryRecordsBuilder

    builder = MemoryRecordsBuilder(magic=2, compression_type=compression, batch_size=1 << 24)
    if producer is not None:
        builder.set_producer_state(*producer, False)
    ts = timestamp if timestamp is not None else int(time.time() * 1000)
    for key, value in records:
        builder.append(ts, key, value, [])
    builder.close()
    return builder.buffer()


def _comparable(part: dict) -> dict:
    """Drops what clients ignore: free-text error messages, and null vs empty aborted-transaction
    lists in read_uncommitted fetches (see docs/compatibility.md)."""
    part.pop("error_message", None)
    if part.get("aborted_transactions") == []:
        part["aborted_transactions"] = None
    if part.get("record_errors"):  # keep which records were rejected, not the wording
        part["record_errors"] = [e["batch_index"] for e in part["record_errors"]]
    return part


def raw_produce(bootstrap: str, topic: str, partition: int, records_bytes: bytes, acks: int = -1,
                version: int = 9) -> dict:
    from kafka.protocol.producer import ProduceRequest, ProduceResponse

    req = ProduceRequest(acks=acks, timeout_ms=10_000, transactional_id=None, topic_data=[
        ProduceRequest.TopicProduceData(name=topic, partition_data=[
            ProduceRequest.TopicProduceData.PartitionProduceData(index=partition, records=records_bytes)])])
    with RawClient(bootstrap) as c:
        resp = c.call(req, ProduceResponse, version).to_dict()
    [topic_resp] = resp["responses"]
    [part] = topic_resp["partition_responses"]
    part["error"] = error_name(part.pop("error_code"))
    return _comparable(part)


def raw_fetch(bootstrap: str, topic: str, partition: int, offset: int, version: int = 12) -> dict:
    from kafka.protocol.consumer import FetchRequest, FetchResponse

    F = FetchRequest
    req = F(replica_id=-1, max_wait_ms=0, min_bytes=0, max_bytes=1 << 20, isolation_level=0, session_id=0,
            session_epoch=-1, forgotten_topics_data=[], rack_id="", topics=[F.FetchTopic(topic=topic, partitions=[
                F.FetchTopic.FetchPartition(partition=partition, current_leader_epoch=-1, fetch_offset=offset,
                                            last_fetched_epoch=-1, log_start_offset=-1,
                                            partition_max_bytes=1 << 20)])])
    with RawClient(bootstrap) as c:
        resp = c.call(req, FetchResponse, version).to_dict()
    assert resp["error_code"] == 0, resp
    [topic_resp] = resp["responses"]
    [part] = topic_resp["partitions"]
    part["error"] = error_name(part.pop("error_code"))
    return _comparable(part)


def raw_create_topic(bootstrap: str, name: str, partitions: int, replication: int,
                     configs: dict | None = None, version: int = 5) -> dict:
    from kafka.protocol.admin import CreateTopicsRequest, CreateTopicsResponse

    C = CreateTopicsRequest
    req = C(timeout_ms=15_000, validate_only=False, topics=[C.CreatableTopic(
        name=name, num_partitions=partitions, replication_factor=replication, assignments=[],
        configs=[C.CreatableTopic.CreatableTopicConfig(name=k, value=v) for k, v in (configs or {}).items()])])
    with RawClient(bootstrap) as c:
        resp = c.call(req, CreateTopicsResponse, version).to_dict()
    [result] = resp["topics"]
    return {"name": result["name"], "error": error_name(result["error_code"])}


def raw_metadata(bootstrap: str, topics: list[str], auto_create: bool, version: int = 12) -> dict:
    from kafka.protocol.metadata import MetadataRequest, MetadataResponse

    M = MetadataRequest
    req = M(topics=[M.MetadataRequestTopic(name=t, topic_id=None) for t in topics],
            allow_auto_topic_creation=auto_create, include_cluster_authorized_operations=False,
            include_topic_authorized_operations=False)
    with RawClient(bootstrap) as c:
        return c.call(req, MetadataResponse, version).to_dict()


def raw_list_offsets(bootstrap: str, topic: str, partitions: list[int], timestamp: int, version: int = 7) -> dict:
    from kafka.protocol.consumer import ListOffsetsRequest, ListOffsetsResponse

    L = ListOffsetsRequest
    req = L(replica_id=-1, isolation_level=0, topics=[L.ListOffsetsTopic(name=topic, partitions=[
        L.ListOffsetsTopic.ListOffsetsPartition(partition_index=p, current_leader_epoch=-1, timestamp=timestamp)
        for p in partitions])])
    with RawClient(bootstrap) as c:
        resp = c.call(req, ListOffsetsResponse, version).to_dict()
    [topic_resp] = resp["topics"]
    out = {}
    for p in topic_resp["partitions"]:
        out[p["partition_index"]] = {"error": error_name(p["error_code"]), "offset": p["offset"],
                                     "timestamp": p["timestamp"], "leader_epoch": p.get("leader_epoch")}
    return out


# --------------------------------------------------------------------------------------------
# Client helpers
# --------------------------------------------------------------------------------------------

_ADMINS: dict = {}


def admin(broker):
    """One confluent-kafka AdminClient per broker, kept alive (a dropped client cancels its futures)."""
    from confluent_kafka.admin import AdminClient

    if broker.bootstrap not in _ADMINS:
        _ADMINS[broker.bootstrap] = AdminClient({"bootstrap.servers": broker.bootstrap})
    return _ADMINS[broker.bootstrap]


def kafka_error(fn: Callable[[], Any]) -> str:
    """Runs a confluent-kafka call expected to fail; returns its error name ("OK" if it did not fail)."""
    from confluent_kafka import KafkaException

    try:
        fn()
    except KafkaException as e:
        return e.args[0].name()
    return "OK"


def produce_confluent(broker, topic: str, items: list[tuple[int, bytes, bytes, int | None]], flush_each: bool,
                      **conf) -> list[tuple]:
    """Produces (partition, key, value, timestamp) items; returns (partition, offset, timestamp type) or error."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5, **conf})
    results: list = [None] * len(items)

    def report(i):
        def cb(err, msg):
            results[i] = err.name() if err else (msg.partition(), msg.offset(), msg.timestamp()[0])
        return cb

    for i, (part, key, value, ts) in enumerate(items):
        kwargs = {"timestamp": ts} if ts is not None else {}
        p.produce(topic, key=key, value=value, partition=part, on_delivery=report(i), **kwargs)
        if flush_each:
            p.flush(30)
    assert p.flush(60) == 0, "undelivered records after 60 s"
    return results


def watermarks(broker, topic: str, partitions: int) -> dict[int, tuple[int, int]]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": f"wm-{uuid.uuid4().hex}"})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in range(partitions)}
    finally:
        c.close()


# --------------------------------------------------------------------------------------------
# Produce offsets
# --------------------------------------------------------------------------------------------

def scenario_produce_offsets(broker, names) -> dict:
    from kafka import KafkaProducer

    topic = names("produce")
    create_topic(broker.bootstrap, topic, 3)
    obs: dict = {}
    items = [(i % 3, f"k{i}".encode(), f"v{i}".encode() * (i + 1), None) for i in range(30)]
    obs["confluent acks=all one batch per record"] = produce_confluent(broker, topic, items[:9], flush_each=True,
                                                                       acks="all")
    obs["confluent acks=1 batched"] = produce_confluent(broker, topic, items[9:], flush_each=False, acks=1)
    obs["confluent idempotent lz4"] = produce_confluent(
        broker, topic, [(0, b"k", b"x" * 500, None)] * 20, flush_each=False, **{"enable.idempotence": True,
                                                                                 "compression.type": "lz4"})
    kp = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5, compression_type="gzip")
    try:
        futures = [kp.send(topic, key=b"kp", value=b"v" * i, partition=1) for i in range(10)]
        kp.flush(30)
        obs["kafka-python gzip"] = [(f.get(10).partition, f.get(10).offset) for f in futures]
    finally:
        kp.close(5)
    obs["raw produce v9 acks=-1 (3 records)"] = raw_produce(
        broker.bootstrap, topic, 2, record_batch([(b"a", b"1"), (b"b", b"2"), (None, None)], timestamp=T0))
    obs["raw produce v3 acks=1"] = raw_produce(broker.bootstrap, topic, 2, record_batch([(b"c", b"3")]), acks=1,
                                               version=3)
    obs["watermarks"] = watermarks(broker, topic, 3)

    lat = names("logappend")
    create_topic(broker.bootstrap, lat, 1, {"message.timestamp.type": "LogAppendTime"})
    before = int(time.time() * 1000)
    resp = raw_produce(broker.bootstrap, lat, 0, record_batch([(b"a", b"1"), (b"b", b"2")], timestamp=T0))
    after = int(time.time() * 1000)
    ts = resp.pop("log_append_time_ms")
    resp["log_append_time_ms"] = "within the request" if before - 1000 <= ts <= after + 1000 else ts
    obs["raw produce to a LogAppendTime topic"] = resp
    obs["confluent to LogAppendTime topic"] = produce_confluent(broker, lat, [(0, b"k", b"v", T0)], flush_each=True)
    return obs


def test_produce_offsets(request, brokers):
    def check(ref):
        assert ref["watermarks"] == {0: (0, 10 + 20), 1: (0, 10 + 10), 2: (0, 10 + 3 + 1)}, ref["watermarks"]
        assert ref["raw produce v9 acks=-1 (3 records)"]["error"] == "0:NoError"
        assert ref["raw produce to a LogAppendTime topic"]["log_append_time_ms"] == "within the request"

    differential(request, brokers, scenario_produce_offsets, check)


# --------------------------------------------------------------------------------------------
# ListOffsets: earliest / latest / by time / max timestamp
# --------------------------------------------------------------------------------------------

def scenario_list_offsets(broker, names) -> dict:
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KpTopicPartition

    topic = names("offsets")
    create_topic(broker.bootstrap, topic, 3)  # partition 2 stays empty
    produce_confluent(broker, topic, [(p, f"k{i}".encode(), b"v", ts) for i, (p, ts) in enumerate(TIMED)],
                      flush_each=True)
    specs = {
        "earliest": OffsetSpec.earliest(), "latest": OffsetSpec.latest(), "max_timestamp": OffsetSpec.max_timestamp(),
        **{f"for_timestamp(T0{d:+d})": OffsetSpec.for_timestamp(T0 + d) for d in (-1, 0, 5, 12, 25, 30, 1000)},
    }
    a = admin(broker)
    obs: dict = {"confluent": {}, "kafka-python": {}, "raw v7": {}}
    for label, spec in specs.items():
        futures = a.list_offsets({TopicPartition(topic, p): spec for p in range(3)}, request_timeout=15)
        for tp, fut in futures.items():
            r = fut.result()
            obs["confluent"][f"p{tp.partition} {label}"] = (r.offset, r.timestamp, r.leader_epoch)

    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, request_timeout_ms=15_000)
    try:
        tps = [KpTopicPartition(topic, p) for p in range(3)]
        obs["kafka-python"]["beginning"] = sorted((tp.partition, o) for tp, o in c.beginning_offsets(tps).items())
        obs["kafka-python"]["end"] = sorted((tp.partition, o) for tp, o in c.end_offsets(tps).items())
        for d in (0, 12, 1000):
            found = c.offsets_for_times({tp: T0 + d for tp in tps})
            obs["kafka-python"][f"offsets_for_times(T0+{d})"] = sorted(
                (tp.partition, None if v is None else (v.offset, v.timestamp)) for tp, v in found.items())
    finally:
        c.close()

    for label, ts in {"earliest": -2, "latest": -1, "max_timestamp": -3, "T0+12": T0 + 12}.items():
        obs["raw v7"][label] = raw_list_offsets(broker.bootstrap, topic, [0, 1, 2, 9], ts)
    obs["raw v1 latest"] = raw_list_offsets(broker.bootstrap, topic, [0, 1], -1, version=1)

    low = a.delete_records([TopicPartition(topic, 0, 1)])
    obs["delete_records p0 before 1"] = [(tp.partition, f.result().low_watermark) for tp, f in low.items()]
    after = a.list_offsets({TopicPartition(topic, 0): OffsetSpec.earliest()})
    obs["earliest after delete_records"] = [(tp.partition, f.result().offset) for tp, f in after.items()]
    return obs


def test_list_offsets(request, brokers):
    def check(ref):
        c = ref["confluent"]
        assert c["p0 earliest"] == (0, -1, 0) and c["p0 latest"] == (3, -1, 0), c
        assert c["p1 max_timestamp"] == (1, T0 + 30, 0), c
        assert c["p0 for_timestamp(T0+12)"] == (2, T0 + 20, 0) and c["p1 for_timestamp(T0+12)"] == (1, T0 + 30, 0)
        assert c["p0 for_timestamp(T0+1000)"][0] == -1
        assert ref["earliest after delete_records"] == [(0, 1)]

    differential(request, brokers, scenario_list_offsets, check)


# --------------------------------------------------------------------------------------------
# Metadata shape
# --------------------------------------------------------------------------------------------

def scenario_metadata(broker, names) -> dict:
    from confluent_kafka import TopicCollection
    from kafka.admin import KafkaAdminClient

    topic = names("meta")
    create_topic(broker.bootstrap, topic, 4)
    obs: dict = {}
    md = admin(broker).list_topics(topic, timeout=10)
    obs["confluent list_topics"] = {
        "controller_id": md.controller_id,
        "cluster_id set": bool(md.cluster_id),
        "brokers": normalise([{"id": b.id, "host": b.host, "port": b.port} for b in md.brokers.values()], broker),
        "topic error": str(md.topics[topic].error),
        "partitions": [(p.id, p.leader, p.replicas, p.isrs, str(p.error))
                       for _, p in sorted(md.topics[topic].partitions.items())],
    }
    desc = admin(broker).describe_topics(TopicCollection([topic]))[topic].result()
    obs["confluent describe_topics"] = {
        "name": desc.name, "internal": desc.is_internal, "topic_id set": desc.topic_id is not None,
        "partitions": [(p.id, p.leader.id, [r.id for r in p.replicas], [r.id for r in p.isr]) for p in desc.partitions],
    }
    cluster = admin(broker).describe_cluster(include_authorized_operations=False).result()
    obs["confluent describe_cluster"] = {
        "controller": cluster.controller.id, "nodes": normalise(
            [{"id": n.id, "host": n.host, "port": n.port, "rack": n.rack} for n in cluster.nodes], broker)}

    kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15_000)
    try:
        described = normalise(kp.describe_topics([topic]), broker)
        obs["kafka-python describe_topics"] = sorted_metadata({"topics": described})
        obs["kafka-python describe_cluster"] = normalise(kp.describe_cluster(), broker)
    finally:
        kp.close()

    obs["raw metadata v12"] = sorted_metadata(
        normalise(raw_metadata(broker.bootstrap, [topic, names("missing")], auto_create=False), broker))
    obs["raw metadata v1"] = sorted_metadata(
        normalise(raw_metadata(broker.bootstrap, [topic], auto_create=False, version=1), broker))
    return obs


def sorted_metadata(md: dict) -> dict:
    """Kafka lists topics and partitions in hash order; clients index them, so order is not compared."""
    md["topics"] = sorted(md["topics"], key=lambda t: t["name"])
    for t in md["topics"]:
        t["partitions"] = sorted(t["partitions"], key=lambda p: p["partition_index"])
    return md


def test_metadata_shape(request, brokers):
    def check(ref):
        raw = ref["raw metadata v12"]
        assert [t["error_code"] for t in raw["topics"]] == [3, 0] or [t["error_code"] for t in raw["topics"]] == [0, 3]
        assert ref["confluent list_topics"]["partitions"] == [(p, 0, [0], [0], "None") for p in range(4)]

    differential(request, brokers, scenario_metadata, check)


def scenario_auto_create(broker, names) -> dict:
    topic = names("auto")
    first = raw_metadata(broker.bootstrap, [topic], auto_create=True)["topics"][0]

    def created():
        t = raw_metadata(broker.bootstrap, [topic], auto_create=False)["topics"][0]
        return t if t["error_code"] == 0 and t["partitions"] else None

    final = wait_until(created, 30, f"auto-created topic {topic} to appear")
    first_error = error_name(first["error_code"])
    # Kafka 4.1 answers UNKNOWN_TOPIC_OR_PARTITION while its controller creates the topic (older
    # Kafka: LEADER_NOT_AVAILABLE); a broker that creates it synchronously may answer with the
    # topic at once. Clients retry on all three, so any is compatible (docs/compatibility.md).
    assert first_error in {"0:NoError", "3:UnknownTopicOrPartitionError", "5:LeaderNotAvailableError"}, first
    if first_error == "0:NoError":
        assert normalise(first, broker) == normalise(final, broker)
    return {"eventually": sorted_metadata({"topics": [normalise(final, broker)]})}


def test_metadata_auto_creates_topic(request, brokers):
    def check(ref):
        assert len(ref["eventually"]["topics"][0]["partitions"]) == 1  # num.partitions defaults to 1

    differential(request, brokers, scenario_auto_create, check)


# --------------------------------------------------------------------------------------------
# Consumer group lifecycle (classic protocol) as the admin API shows it
# --------------------------------------------------------------------------------------------

def scenario_group_lifecycle(broker, names) -> dict:
    from confluent_kafka import Consumer, ConsumerGroupTopicPartitions

    topic, group = names("grouped"), names("group")
    create_topic(broker.bootstrap, topic, 2)
    produce_confluent(broker, topic, [(i % 2, b"k", b"v", None) for i in range(10)], flush_each=False)
    a = admin(broker)

    def describe(group_id):
        d = a.describe_consumer_groups([group_id], request_timeout=15)[group_id].result()
        return {"state": d.state.name, "type": d.type.name, "assignor": d.partition_assignor,
                "simple": d.is_simple_consumer_group, "coordinator": d.coordinator.id,
                "members": [sorted((tp.topic, tp.partition) for tp in m.assignment.topic_partitions)
                            for m in d.members]}

    def committed():
        found = a.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result()
        return sorted((tp.topic, tp.partition, tp.offset) for tp in found.topic_partitions)

    obs: dict = {}
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    try:
        c.subscribe([topic])
        seen = []

        def consumed_all():
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                seen.append((m.partition(), m.offset()))
            return len(seen) == 10

        wait_until(consumed_all, 60, "the group member to consume all 10 records")
        c.commit(asynchronous=False)
        obs["while consuming"] = describe(group)
        obs["committed"] = committed()
    finally:
        c.close()
    obs["after the member left"] = wait_until(
        lambda: (lambda d: d if d["state"] == "EMPTY" else None)(describe(group)), 30, "the group to be EMPTY")
    listed = a.list_consumer_groups(request_timeout=15).result()
    obs["listed"] = [(g.state.name, g.type.name, g.is_simple_consumer_group) for g in listed.valid
                     if g.group_id == group]
    obs["list errors"] = [str(e) for e in listed.errors]
    obs["unknown group"] = describe(names("no-such-group"))
    obs["delete"] = kafka_error(lambda: a.delete_consumer_groups([group])[group].result())
    obs["delete again"] = kafka_error(lambda: a.delete_consumer_groups([group])[group].result())
    obs["committed after delete"] = committed()
    return obs


def test_consumer_group_lifecycle(request, brokers):
    def check(ref):
        assert ref["while consuming"]["state"] == "STABLE" and ref["after the member left"]["state"] == "EMPTY"
        assert [o for _, _, o in ref["committed"]] == [5, 5]
        assert (ref["delete"], ref["delete again"]) == ("OK", "GROUP_ID_NOT_FOUND")

    differential(request, brokers, scenario_group_lifecycle, check)


# --------------------------------------------------------------------------------------------
# Topic configs
# --------------------------------------------------------------------------------------------

def describe_topic_configs(broker, topic: str) -> dict:
    from confluent_kafka.admin import ConfigResource, ConfigSource, ResourceType

    res = ConfigResource(ResourceType.TOPIC, topic)
    entries = admin(broker).describe_configs([res], request_timeout=15)[res].result()
    return {name: {"value": e.value, "is_default": e.is_default, "read_only": e.is_read_only,
                   "sensitive": e.is_sensitive, "source": ConfigSource(e.source).name} for name, e in entries.items()}


def kp_topic_configs(broker, topic: str) -> dict:
    """kafka-python's DescribeConfigs with synonyms (confluent-kafka folds synonyms by name)."""
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15_000)
    try:
        found = kp.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)], include_synonyms=True,
                                    config_filter="all")
    finally:
        kp.close()
    return found["topic"][topic]


def scenario_topic_configs(broker, names) -> dict:
    topic = names("configs")
    create_topic(broker.bootstrap, topic, 1, {"retention.ms": "3600000", "cleanup.policy": "compact"})
    entries = describe_topic_configs(broker, topic)
    obs = {}
    for name in COMMON_TOPIC_CONFIGS:
        e = dict(entries.get(name, {"missing": True}))
        if name in SOURCE_MAY_DIFFER:
            e = {"value": e.get("value")}
        obs[name] = e
    kp = kp_topic_configs(broker, topic)
    obs["kafka-python synonyms"] = {
        name: [(s["name"], s["value"], s["source"]) for s in kp[name]["synonyms"]] if name in kp else "missing"
        for name in COMMON_TOPIC_CONFIGS if name not in SOURCE_MAY_DIFFER}
    obs["kafka-python config types"] = {name: kp[name]["config_type"] if name in kp else "missing"
                                        for name in COMMON_TOPIC_CONFIGS}
    return obs


def test_describe_configs_common_topic_configs(request, brokers):
    def check(ref):
        assert ref["retention.ms"] == {"value": "3600000", "is_default": False, "read_only": False,
                                       "sensitive": False, "source": "DYNAMIC_TOPIC_CONFIG"}
        assert ref["segment.bytes"]["source"] == "DEFAULT_CONFIG" and ref["segment.bytes"]["is_default"]
        assert ref["kafka-python synonyms"]["cleanup.policy"] == [
            ("cleanup.policy", "compact", "DYNAMIC_TOPIC_CONFIG"), ("log.cleanup.policy", "delete", "DEFAULT_CONFIG")]
        assert ref["kafka-python config types"]["retention.ms"] == "LONG"

    differential(request, brokers, scenario_topic_configs, check)


def scenario_config_names(broker, names) -> list[str]:
    topic = names("confignames")
    create_topic(broker.bootstrap, topic, 1)
    # Sluice's documented additions (schema validation, as Confluent Server names it, and
    # sluice.* settings; see docs/compatibility.md) are not Apache Kafka's: leave them out.
    extensions = ("confluent.", "sluice.")
    return sorted(n for n in describe_topic_configs(broker, topic) if not n.startswith(extensions))


def test_describe_configs_reports_kafkas_topic_config_names(request, brokers):
    differential(request, brokers, scenario_config_names, lambda ref: set(COMMON_TOPIC_CONFIGS) <= set(ref))


def scenario_alter_configs(broker, names) -> dict:
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    topic = names("alter")
    create_topic(broker.bootstrap, topic, 1)
    a = admin(broker)
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("max.message.bytes", "2000000", incremental_operation=AlterConfigOpType.SET)])
    a.incremental_alter_configs([res])[res].result()

    def configs_once(retention_ms: str):
        """The two configs once retention.ms reads `retention_ms` (Kafka applies alters asynchronously)."""
        entries = describe_topic_configs(broker, topic)
        if entries["retention.ms"]["value"] != retention_ms:
            return None
        return {k: v for k, v in entries.items() if k in ("retention.ms", "max.message.bytes")}

    obs = {"after SET": wait_until(lambda: configs_once("1000"), 30, "retention.ms=1000 to show")}
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE)])
    a.incremental_alter_configs([res])[res].result()
    obs["after DELETE"] = wait_until(lambda: configs_once("604800000"), 30, "retention.ms back to its default")
    for label, entry in {"non-numeric retention.ms": ("retention.ms", "abc"),
                         "unknown name": ("no.such.config", "1"),
                         "invalid cleanup.policy": ("cleanup.policy", "sometimes")}.items():
        bad = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
            ConfigEntry(*entry, incremental_operation=AlterConfigOpType.SET)])
        obs[f"SET {label}"] = kafka_error(lambda res=bad: a.incremental_alter_configs([res])[res].result())
    missing = ConfigResource(ResourceType.TOPIC, names("never-created"), incremental_configs=[
        ConfigEntry("retention.ms", "1", incremental_operation=AlterConfigOpType.SET)])
    obs["SET on unknown topic"] = kafka_error(lambda: a.incremental_alter_configs([missing])[missing].result())
    return obs


def test_incremental_alter_configs(request, brokers):
    def check(ref):
        assert ref["after SET"]["retention.ms"]["source"] == "DYNAMIC_TOPIC_CONFIG"
        assert ref["after DELETE"]["retention.ms"]["source"] == "DEFAULT_CONFIG"
        assert ref["SET unknown name"] == "INVALID_CONFIG"

    differential(request, brokers, scenario_alter_configs, check)


# --------------------------------------------------------------------------------------------
# Error codes of invalid requests
# --------------------------------------------------------------------------------------------

def case_create_existing_topic(broker, names):
    from confluent_kafka.admin import NewTopic

    topic = names("exists")
    create_topic(broker.bootstrap, topic, 1)
    return {
        "confluent": kafka_error(lambda: admin(broker).create_topics([NewTopic(topic, 1, 1)])[topic].result()),
        "raw": raw_create_topic(broker.bootstrap, topic, 1, 1),
    }


def case_invalid_topic_names(broker, names):
    from confluent_kafka.admin import NewTopic

    out = {}
    for label, name in {"slash": "bad/name", "space": "bad name", "dot": ".", "dotdot": "..",
                        "250 chars": "x" * 250, "empty": ""}.items():
        out[f"raw {label}"] = raw_create_topic(broker.bootstrap, name, 1, 1)["error"]
    out["confluent slash"] = kafka_error(lambda: admin(broker).create_topics([NewTopic("bad/name", 1, 1)])["bad/name"]
                                         .result())
    return out


def case_bad_partition_and_replication_counts(broker, names):
    from confluent_kafka.admin import NewPartitions

    out = {
        "partitions=0": raw_create_topic(broker.bootstrap, names("p0"), 0, 1)["error"],
        "partitions=-5": raw_create_topic(broker.bootstrap, names("pneg"), -5, 1)["error"],
        "replication=0": raw_create_topic(broker.bootstrap, names("r0"), 1, 0)["error"],
        "replication=3 on one broker": raw_create_topic(broker.bootstrap, names("r3"), 1, 3)["error"],
        "partitions=-1 replication=-1 (broker defaults)":
            raw_create_topic(broker.bootstrap, names("dflt"), -1, -1)["error"],
        "invalid config value":
            raw_create_topic(broker.bootstrap, names("cfg"), 1, 1, {"retention.ms": "abc"})["error"],
        "unknown config name": raw_create_topic(broker.bootstrap, names("cfg2"), 1, 1, {"no.such": "1"})["error"],
    }
    topic = names("grow")
    create_topic(broker.bootstrap, topic, 3)
    a = admin(broker)
    out["create_partitions 3->2"] = kafka_error(lambda: a.create_partitions([NewPartitions(topic, 2)])[topic].result())
    out["create_partitions 3->3"] = kafka_error(lambda: a.create_partitions([NewPartitions(topic, 3)])[topic].result())
    missing = names("never-created")
    out["create_partitions unknown topic"] = kafka_error(
        lambda: a.create_partitions([NewPartitions(missing, 4)])[missing].result())
    return out


def case_unknown_topic_describe(broker, names):
    from confluent_kafka import TopicCollection
    from confluent_kafka.admin import ConfigResource, ResourceType

    missing = names("never-created")
    a = admin(broker)
    res = ConfigResource(ResourceType.TOPIC, missing)
    return {
        "describe_topics": kafka_error(lambda: a.describe_topics(TopicCollection([missing]))[missing].result()),
        "describe_configs": kafka_error(lambda: a.describe_configs([res])[res].result()),
        "raw list_offsets": raw_list_offsets(broker.bootstrap, missing, [0], -1),
    }


def case_delete_unknown_topic(broker, names):
    missing = names("never-created")
    return {"delete_topics": kafka_error(lambda: admin(broker).delete_topics([missing])[missing].result())}


def case_produce_to_unknown_partition(broker, names):
    topic = names("parts")
    create_topic(broker.bootstrap, topic, 2)
    batch = record_batch([(b"k", b"v")])
    return {
        "partition 2 of 2": raw_produce(broker.bootstrap, topic, 2, batch),
        "partition 99": raw_produce(broker.bootstrap, topic, 99, batch),
        "partition -1": raw_produce(broker.bootstrap, topic, -1, batch),
    }


def case_fetch_out_of_range(broker, names):
    topic = names("fetch")
    create_topic(broker.bootstrap, topic, 1)
    produce_confluent(broker, topic, [(0, b"k", b"v", None)] * 10, flush_each=False)
    out = {f"fetch at {o}": raw_fetch(broker.bootstrap, topic, 0, o) for o in (1000, 11, -5)}
    at_end = raw_fetch(broker.bootstrap, topic, 0, 10)
    out["fetch at the log end (10)"] = at_end
    at_one = raw_fetch(broker.bootstrap, topic, 0, 9)
    at_one["records"] = "non-empty" if at_one["records"] else "empty"
    out["fetch at 9"] = at_one
    out["fetch unknown partition"] = raw_fetch(broker.bootstrap, topic, 5, 0)
    return out


def case_oversize_message(broker, names):
    topic = names("big")
    create_topic(broker.bootstrap, topic, 1)
    small = names("small")
    create_topic(broker.bootstrap, small, 1, {"max.message.bytes": "1000"})
    big_value = b"x" * (MAX_MESSAGE_BYTES + 100)
    out = {
        "confluent value > message.max.bytes": produce_confluent(
            broker, topic, [(0, b"k", big_value, None)], flush_each=True,
            **{"message.max.bytes": 4_000_000, "compression.type": "none"}),
        "raw batch > message.max.bytes": raw_produce(broker.bootstrap, topic, 0, record_batch([(b"k", big_value)])),
        "raw 2000 bytes > topic max.message.bytes=1000": raw_produce(
            broker.bootstrap, small, 0, record_batch([(b"k", b"y" * 2000)])),
        "raw 500 bytes to the same topic": raw_produce(broker.bootstrap, small, 0, record_batch([(b"k", b"y" * 500)])),
        "watermarks": {**watermarks(broker, topic, 1), "small": watermarks(broker, small, 1)[0]},
    }
    return out


def case_invalid_batches(broker, names):
    topic = names("invalid")
    create_topic(broker.bootstrap, topic, 1)
    compacted = names("compacted")
    create_topic(broker.bootstrap, compacted, 1, {"cleanup.policy": "compact"})
    corrupt = bytearray(record_batch([(b"k", b"v")]))
    corrupt[-1] ^= 0xFF  # payload byte after the CRC field: the CRC no longer matches
    two_hours_ahead = int(time.time() * 1000) + 2 * 3600 * 1000  # message.timestamp.after.max.ms is 1 h
    return {
        "acks=2": raw_produce(broker.bootstrap, topic, 0, record_batch([(b"k", b"v")]), acks=2),
        "corrupt CRC": raw_produce(broker.bootstrap, topic, 0, bytes(corrupt)),
        "timestamp 2 h in the future": raw_produce(broker.bootstrap, topic, 0,
                                                   record_batch([(b"k", b"v")], timestamp=two_hours_ahead)),
        "keyless record to a compacted topic": raw_produce(broker.bootstrap, compacted, 0,
                                                           record_batch([(None, b"v")])),
        "watermarks": {**watermarks(broker, topic, 1), "compacted": watermarks(broker, compacted, 1)[0]},
    }


def init_producer_id(bootstrap: str) -> tuple[int, int]:
    """InitProducerId for an idempotent (non-transactional) producer, retrying while Kafka's
    transaction coordinator is still loading (COORDINATOR_LOAD_IN_PROGRESS on a fresh broker)."""
    from kafka.protocol.producer import InitProducerIdRequest, InitProducerIdResponse

    def attempt():
        with RawClient(bootstrap) as c:
            r = c.call(InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60_000, producer_id=-1,
                                             producer_epoch=-1), InitProducerIdResponse, 4).to_dict()
        return (r["producer_id"], r["producer_epoch"]) if r["error_code"] == 0 else None

    return wait_until(attempt, 30, "InitProducerId to succeed")


def case_idempotent_sequences(broker, names):
    topic = names("idempotent")
    create_topic(broker.bootstrap, topic, 1)
    pid, epoch = init_producer_id(broker.bootstrap)
    b = broker.bootstrap

    def send(records, producer_epoch, seq, producer_id=pid):
        batch = record_batch(records, timestamp=T0, producer=(producer_id, producer_epoch, seq))
        return raw_produce(b, topic, 0, batch)

    two = [(b"a", b"1"), (b"b", b"2")]
    out = {"seq 0 (2 records)": send(two, epoch, 0)}
    dup = send(two, epoch, 0)
    # Kafka answers a duplicate with the original offsets and, quirkily, the batch's own timestamp
    # as log_append_time_ms even on a CreateTime topic; clients ignore it there (docs/compatibility.md).
    if dup.get("log_append_time_ms") in (-1, T0):
        dup["log_append_time_ms"] = "-1 or the batch timestamp"
    out["same batch again (duplicate)"] = dup
    out["seq 5 (gap)"] = send([(b"c", b"3")], epoch, 5)
    out["seq 2 (next)"] = send([(b"c", b"3")], epoch, 2)
    out["higher epoch, seq 0"] = send([(b"d", b"4")], epoch + 1, 0)
    out["older epoch after the bump"] = send([(b"e", b"5")], epoch, 3)
    out["unknown producer id, seq 7"] = send([(b"f", b"6")], 0, 7, producer_id=pid + 1000)
    out["watermarks"] = watermarks(broker, topic, 1)
    return out


ERROR_CASES = {
    "create-existing-topic": (case_create_existing_topic, lambda r: r["confluent"] == "TOPIC_ALREADY_EXISTS"),
    "invalid-topic-names": (case_invalid_topic_names, lambda r: r["raw slash"] == "17:InvalidTopicError"),
    "bad-partition-and-replication-counts": (case_bad_partition_and_replication_counts,
                                             lambda r: r["partitions=0"] == "37:InvalidPartitionsError"),
    "unknown-topic-describe": (case_unknown_topic_describe, lambda r: r["describe_topics"] == "UNKNOWN_TOPIC_OR_PART"),
    "delete-unknown-topic": (case_delete_unknown_topic, lambda r: r["delete_topics"] == "UNKNOWN_TOPIC_OR_PART"),
    "produce-to-unknown-partition": (case_produce_to_unknown_partition,
                                     lambda r: r["partition 99"]["error"] == "3:UnknownTopicOrPartitionError"),
    "fetch-out-of-range": (case_fetch_out_of_range,
                           lambda r: r["fetch at 1000"]["error"] == "1:OffsetOutOfRangeError"),
    "oversize-message": (case_oversize_message,
                         lambda r: r["raw batch > message.max.bytes"]["error"] == "10:MessageSizeTooLargeError"),
    "invalid-batches": (case_invalid_batches, lambda r: (r["corrupt CRC"]["error"], r["acks=2"]["error"]) == (
        "2:CorruptRecordError", "21:InvalidRequiredAcksError")),
    "idempotent-producer-sequences": (case_idempotent_sequences, lambda r: (
        r["same batch again (duplicate)"]["base_offset"], r["seq 5 (gap)"]["error"],
        r["older epoch after the bump"]["error"]) == (0, "45:OutOfOrderSequenceNumberError",
                                                      "47:InvalidProducerEpochError")),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_error_codes(request, brokers, case):
    scenario, kafka_expectation = ERROR_CASES[case]

    def check(ref):
        assert kafka_expectation(ref), f"Kafka's answer is not the one this case is about: {ref}"

    differential(request, brokers, scenario, check)
