"""REST proxy (Confluent REST Proxy v3 produce, v2 consumers) over plain HTTP against a real broker.

Why: HTTP-only producers and consumers (browsers, serverless functions, IoT gateways) must be able
to use Sluice through the same API as Confluent's REST Proxy. Every record produced over HTTP is
read back twice, through a v2 REST consumer instance and through a real Kafka client
(confluent-kafka), and both must see the same partitions, offsets, keys, values and headers.
Bad input must get a 4xx JSON error in Confluent's shape, never a 500 or a hang.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import socket
import time
import uuid

import pytest
import requests
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import wait_until

V2 = "application/vnd.kafka.v2+json"
V2_BINARY = "application/vnd.kafka.binary.v2+json"
V2_JSON = "application/vnd.kafka.json.v2+json"
HTTP_TIMEOUT = 15


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def murmur2_partition(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner for keyed records (Utils.murmur2, positive, modulo)."""
    m, seed = 0x5BD1E995, 0x9747B28C
    h = (seed ^ len(key)) & 0xFFFFFFFF
    for i in range(len(key) // 4):
        k = int.from_bytes(key[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail, extra = len(key) & ~3, len(key) % 4
    if extra == 3:
        h ^= key[tail + 2] << 16
    if extra >= 2:
        h ^= key[tail + 1] << 8
    if extra >= 1:
        h ^= key[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def concatenated_json(text: str) -> list[dict]:
    """Parses Confluent's streaming answer: JSON objects one after another."""
    decoder, out, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            return out
        obj, i = decoder.raw_decode(text, i)
        out.append(obj)


def assert_error(resp: requests.Response, status: int, error_code: int | None = None) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert set(body) == {"error_code", "message"}, body
    assert isinstance(body["message"], str) and body["message"]
    if error_code is not None:
        assert body["error_code"] == error_code, body
    return body


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for fut in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        fut.result(10)


class Rest:
    """Tiny client for the proxy of one broker."""

    def __init__(self, broker):
        self.url = broker.http_url
        self.s = requests.Session()
        clusters = self.s.get(f"{self.url}/v3/clusters", timeout=HTTP_TIMEOUT).json()
        self.cluster_id = clusters["data"][0]["cluster_id"]

    def records_url(self, topic: str) -> str:
        return f"{self.url}/v3/clusters/{self.cluster_id}/topics/{topic}/records"

    def produce(self, topic: str, record: dict) -> requests.Response:
        return self.s.post(self.records_url(topic), json=record, timeout=HTTP_TIMEOUT)

    def consumer(self, group: str, **config) -> str:
        r = self.s.post(f"{self.url}/consumers/{group}", json=config,
                        headers={"Content-Type": V2}, timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["base_uri"].endswith(f"/consumers/{group}/instances/{body['instance_id']}")
        return body["base_uri"]

    def post(self, url: str, body=None, expect: int = 204) -> requests.Response:
        r = self.s.post(url, data=None if body is None else json.dumps(body),
                        headers={"Content-Type": V2}, timeout=HTTP_TIMEOUT)
        assert r.status_code == expect, (url, r.status_code, r.text)
        return r

    def fetch_until(self, base: str, count: int, accept: str = V2_BINARY,
                    timeout: float = 15.0) -> list[dict]:
        got: list[dict] = []

        def more():
            r = self.s.get(f"{base}/records?timeout=500", headers={"Accept": accept},
                           timeout=HTTP_TIMEOUT)
            assert r.status_code == 200, r.text
            got.extend(r.json())
            return len(got) >= count

        wait_until(more, timeout, f"{count} records from {base}", interval=0.0)
        return got


@pytest.fixture(scope="module")
def rest(sluice_module):
    return Rest(sluice_module)


def kafka_records(bootstrap: str, topic: str, partitions: int, count: int) -> list:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{uuid.uuid4()}",
                  "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        got = []
        deadline = time.monotonic() + 15
        while len(got) < count and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None:
                assert m.error() is None, m.error()
                got.append(m)
        assert len(got) == count, f"read {len(got)} of {count} records"
        return got
    finally:
        c.close()


# ------------------------------------------------------------------------------------------
# v3 metadata
# ------------------------------------------------------------------------------------------


def test_v3_cluster_and_topic_descriptions(sluice_module, rest, unique_topic):
    topic = unique_topic("rp-meta")
    create_topic(sluice_module.bootstrap, topic, 3)
    md = AdminClient({"bootstrap.servers": sluice_module.bootstrap}).list_topics(timeout=10)
    assert rest.cluster_id == md.cluster_id

    base = f"{rest.url}/v3/clusters/{rest.cluster_id}"
    cluster = rest.s.get(base, timeout=HTTP_TIMEOUT).json()
    assert cluster["kind"] == "KafkaCluster"
    assert cluster["metadata"]["self"] == base
    assert cluster["topics"]["related"] == f"{base}/topics"

    topics = rest.s.get(f"{base}/topics", timeout=HTTP_TIMEOUT).json()
    assert topics["kind"] == "KafkaTopicList"
    ours = [t for t in topics["data"] if t["topic_name"] == topic]
    assert len(ours) == 1 and ours[0]["partitions_count"] == 3

    one = rest.s.get(f"{base}/topics/{topic}", timeout=HTTP_TIMEOUT).json()
    assert one["kind"] == "KafkaTopic" and one["is_internal"] is False
    assert one["metadata"]["self"] == f"{base}/topics/{topic}"
    parts = rest.s.get(f"{base}/topics/{topic}/partitions", timeout=HTTP_TIMEOUT).json()
    assert [p["partition_id"] for p in parts["data"]] == [0, 1, 2]

    assert_error(rest.s.get(f"{base}/topics/no-such-{topic}", timeout=HTTP_TIMEOUT), 404, 40403)
    assert_error(rest.s.get(f"{rest.url}/v3/clusters/not-this-one", timeout=HTTP_TIMEOUT),
                 404, 404)
    assert topic in rest.s.get(f"{rest.url}/topics", timeout=HTTP_TIMEOUT).json()
    # Confluent Server / Cloud clients use the same API under /kafka.
    r = rest.s.post(f"{rest.url}/kafka/v3/clusters/{rest.cluster_id}/topics/{topic}/records",
                    json={"partition_id": 1, "value": {"type": "STRING", "data": "via /kafka"}},
                    timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json()["partition_id"] == 1, r.text
    assert rest.s.get(f"{rest.url}/kafka/v3/clusters", timeout=HTTP_TIMEOUT).json()["data"][0][
        "cluster_id"] == rest.cluster_id


# ------------------------------------------------------------------------------------------
# produce in every format, read back through REST v2 and through a Kafka client
# ------------------------------------------------------------------------------------------


def test_produce_every_format_then_consume_via_rest_and_kafka(sluice_module, rest, unique_topic):
    topic = unique_topic("rp-formats")
    partitions = 3
    create_topic(sluice_module.bootstrap, topic, partitions)
    expected = []  # dicts: partition, offset, key (bytes|None), value (bytes|None), headers

    def check_report(report: dict, key_type, key_size, value_type, value_size) -> dict:
        assert report["error_code"] == 200, report
        assert report["cluster_id"] == rest.cluster_id and report["topic_name"] == topic
        assert report["key"] == (None if key_type is None else {"type": key_type, "size": key_size})
        assert report["value"] == {"type": value_type, "size": value_size}
        assert report["timestamp"].endswith("Z")
        return report

    # 1. JSON value, STRING key, headers, explicit partition.
    value1 = {"temp": 21.5, "tags": ["a", "b"], "ok": True}
    r = rest.produce(topic, {
        "partition_id": 2,
        "headers": [{"name": "trace", "value": b64(b"abc\x00\xff")}, {"name": "empty", "value": None}],
        "key": {"type": "STRING", "data": "sensor-7"},
        "value": {"type": "JSON", "data": value1},
    })
    assert r.status_code == 200, r.text
    value1_bytes = json.dumps(value1, separators=(",", ":")).encode()
    rep = check_report(r.json(), "STRING", 8, "JSON", len(value1_bytes))
    assert rep["partition_id"] == 2
    expected.append(dict(partition=2, offset=rep["offset"], key=b"sensor-7", value=value1_bytes,
                         headers=[("trace", b"abc\x00\xff"), ("empty", None)]))

    # 2. BINARY key and value, no partition: the key decides, as Kafka's Java partitioner would.
    key2, value2 = b"\x00\x01binary-key\xfe", bytes(range(256))
    r = rest.produce(topic, {"key": {"type": "BINARY", "data": b64(key2)},
                             "value": {"type": "BINARY", "data": b64(value2)}})
    assert r.status_code == 200, r.text
    rep = check_report(r.json(), "BINARY", len(key2), "BINARY", 256)
    assert rep["partition_id"] == murmur2_partition(key2, partitions)
    expected.append(dict(partition=rep["partition_id"], offset=rep["offset"], key=key2,
                         value=value2, headers=[]))

    # 3. STRING value without a key, with a timestamp of its own.
    r = rest.produce(topic, {"partition_id": 0, "value": {"type": "STRING", "data": "héllo"},
                             "timestamp": "2024-05-01T12:00:00.123Z"})
    assert r.status_code == 200, r.text
    rep = check_report(r.json(), None, 0, "STRING", len("héllo".encode()))
    assert rep["timestamp"] == "2024-05-01T12:00:00.123Z"
    ts3 = 1714564800123
    expected.append(dict(partition=0, offset=rep["offset"], key=None, value="héllo".encode(),
                         headers=[], timestamp=ts3))

    # 4. Streaming mode: several records in one chunked request, one with a bad payload.
    stream = [
        {"partition_id": 1, "key": {"type": "STRING", "data": f"s{i}"},
         "value": {"type": "JSON", "data": {"i": i}}}
        for i in range(5)
    ]
    stream.insert(2, {"partition_id": 1, "value": {"type": "BINARY", "data": "%%% not base64"}})

    def chunks():
        for rec in stream:
            yield json.dumps(rec).encode()

    r = rest.s.post(rest.records_url(topic), data=chunks(),
                    headers={"Content-Type": "application/json"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    reports = concatenated_json(r.text)
    assert len(reports) == 6
    assert reports[2]["error_code"] == 42206 and "base64" in reports[2]["message"]
    good = [rep for i, rep in enumerate(reports) if i != 2]
    offsets = [rep["offset"] for rep in good]
    assert offsets == list(range(offsets[0], offsets[0] + 5)), "records kept their order"
    for i, rep in enumerate(good):
        check_report(rep, "STRING", 2, "JSON", len(json.dumps({"i": i}, separators=(",", ":"))))
        assert rep["partition_id"] == 1
        expected.append(dict(partition=1, offset=rep["offset"], key=f"s{i}".encode(),
                             value=json.dumps({"i": i}, separators=(",", ":")).encode(),
                             headers=[]))

    # 5. Several records with a Content-Length (not chunked): one report per record, in order.
    body = "".join(json.dumps({"partition_id": 0, "value": {"type": "STRING", "data": f"b{i}"}})
                   for i in range(2))
    r = rest.s.post(rest.records_url(topic), data=body.encode(),
                    headers={"Content-Type": "application/json"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    reports = concatenated_json(r.text)
    assert [x["error_code"] for x in reports] == [200, 200]
    assert reports[1]["offset"] == reports[0]["offset"] + 1
    for i, rep in enumerate(reports):
        expected.append(dict(partition=0, offset=rep["offset"], key=None,
                             value=f"b{i}".encode(), headers=[]))

    def by_position(items):
        return sorted(items, key=lambda e: (e["partition"], e["offset"]))

    expected = by_position(expected)

    # Through a real Kafka client.
    msgs = kafka_records(sluice_module.bootstrap, topic, partitions, len(expected))
    seen = by_position([dict(partition=m.partition(), offset=m.offset(), key=m.key(),
                             value=m.value(), headers=m.headers() or [], ts=m.timestamp()[1])
                        for m in msgs])
    for want, got in zip(expected, seen):
        assert (got["partition"], got["offset"], got["key"], got["value"]) == \
            (want["partition"], want["offset"], want["key"], want["value"])
        assert [(k, v) for k, v in got["headers"]] == want["headers"]
        if "timestamp" in want:
            assert got["ts"] == want["timestamp"]

    # Through a REST v2 consumer instance (binary format: base64 keys and values).
    group = f"rest-group-{uuid.uuid4().hex[:8]}"
    base = rest.consumer(group, name="c1", format="binary", **{
        "auto.offset.reset": "earliest", "auto.commit.enable": "false"})
    rest.post(f"{base}/subscription", {"topics": [topic]})
    assert rest.s.get(f"{base}/subscription", timeout=HTTP_TIMEOUT).json() == {"topics": [topic]}
    got = rest.fetch_until(base, len(expected))
    assert len(got) == len(expected)
    decode = (lambda v: None if v is None else base64.b64decode(v))
    rest_seen = by_position([dict(partition=g["partition"], offset=g["offset"], topic=g["topic"],
                                  key=decode(g["key"]), value=decode(g["value"])) for g in got])
    for want, g in zip(expected, rest_seen):
        assert g["topic"] == topic
        assert (g["partition"], g["offset"], g["key"], g["value"]) == \
            (want["partition"], want["offset"], want["key"], want["value"])

    # Commit everything consumed (empty body), then read the committed offsets back.
    assert rest.post(f"{base}/offsets", None, expect=200).json() == []
    parts = [{"topic": topic, "partition": p} for p in range(partitions)]
    r = rest.s.get(f"{base}/offsets", data=json.dumps({"partitions": parts}),
                   headers={"Content-Type": V2}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    committed = {o["partition"]: o["offset"] for o in r.json()["offsets"]}
    ends = {}
    for e in expected:
        ends[e["partition"]] = max(ends.get(e["partition"], -1), e["offset"] + 1)
    assert committed == ends

    # The Kafka client sees the same committed offsets for the group.
    c = Consumer({"bootstrap.servers": sluice_module.bootstrap, "group.id": group})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        assert {tp.partition: tp.offset for tp in tps if tp.offset >= 0} == ends
    finally:
        c.close()

    # Delete the instance; it is gone afterwards.
    r = rest.s.delete(base, timeout=HTTP_TIMEOUT)
    assert r.status_code == 204, r.text
    assert_error(rest.s.get(f"{base}/records", headers={"Accept": V2_BINARY},
                            timeout=HTTP_TIMEOUT), 404, 40403)


def test_streaming_answers_each_record_while_the_request_is_open(sluice_module, rest,
                                                                  unique_topic):
    """A report arrives for each record before the client has finished sending the body."""
    topic = unique_topic("rp-stream")
    create_topic(sluice_module.bootstrap, topic, 1)
    conn = http.client.HTTPConnection("127.0.0.1", sluice_module.http_port, timeout=HTTP_TIMEOUT)
    try:
        conn.putrequest("POST", f"/v3/clusters/{rest.cluster_id}/topics/{topic}/records")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()

        def send_chunk(data: bytes):
            conn.send(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        send_chunk(json.dumps({"value": {"type": "STRING", "data": "first"}}).encode())
        resp = conn.getresponse()
        assert resp.status == 200
        first = json.loads(resp.readline())
        assert first["error_code"] == 200 and first["offset"] == 0
        # A record split across chunks is put together before it is parsed.
        rec = json.dumps({"value": {"type": "STRING", "data": "second"}}).encode()
        send_chunk(rec[:10])
        send_chunk(rec[10:])
        second = json.loads(resp.readline())
        assert second["error_code"] == 200 and second["offset"] == 1
        send_chunk(b"{not json}")
        bad = json.loads(resp.readline())
        assert bad["error_code"] == 400
        send_chunk(json.dumps({"value": {"type": "STRING", "data": "third"}}).encode())
        third = json.loads(resp.readline())
        assert third["error_code"] == 200 and third["offset"] == 2
        conn.send(b"0\r\n\r\n")
        assert resp.read().strip() == b""
    finally:
        conn.close()
    msgs = kafka_records(sluice_module.bootstrap, topic, 1, 3)
    assert [m.value() for m in msgs] == [b"first", b"second", b"third"]


# ------------------------------------------------------------------------------------------
# v2 consumer: JSON format, manual assignment, positions, explicit commits
# ------------------------------------------------------------------------------------------


def test_v2_json_consumer_assign_seek_commit(sluice_module, rest, unique_topic):
    topic = unique_topic("rp-json")
    create_topic(sluice_module.bootstrap, topic, 1)
    values = [{"n": i, "s": "x" * i} for i in range(4)]
    for i, v in enumerate(values):
        r = rest.produce(topic, {"key": {"type": "JSON", "data": {"k": i}},
                                 "value": {"type": "JSON", "data": v}})
        assert r.status_code == 200 and r.json()["offset"] == i, r.text

    group = f"rest-json-{uuid.uuid4().hex[:8]}"
    base = rest.consumer(group, name="j1", format="json",
                         **{"auto.offset.reset": "earliest", "auto.commit.enable": "false"})
    # A second instance with the same name in the same group is refused.
    r = rest.s.post(f"{rest.url}/consumers/{group}", json={"name": "j1"},
                    headers={"Content-Type": V2}, timeout=HTTP_TIMEOUT)
    assert_error(r, 409, 40902)

    rest.post(f"{base}/assignments", {"partitions": [{"topic": topic, "partition": 0}]})
    assert rest.s.get(f"{base}/assignments", timeout=HTTP_TIMEOUT).json() == \
        {"partitions": [{"topic": topic, "partition": 0}]}
    # Subscribing while partitions are assigned by hand is a conflict, as in Kafka's consumer.
    r = rest.s.post(f"{base}/subscription", json={"topics": [topic]},
                    headers={"Content-Type": V2}, timeout=HTTP_TIMEOUT)
    assert_error(r, 409, 40903)

    got = rest.fetch_until(base, 4, accept=V2_JSON)
    assert [(g["offset"], g["key"], g["value"]) for g in got] == \
        [(i, {"k": i}, v) for i, v in enumerate(values)]
    # The Accept header must match the instance's format.
    r = rest.s.get(f"{base}/records", headers={"Accept": V2_BINARY}, timeout=HTTP_TIMEOUT)
    assert_error(r, 406, 40601)

    # Seek back to offset 2, then to the beginning, then to the end.
    rest.post(f"{base}/positions", {"offsets": [{"topic": topic, "partition": 0, "offset": 2}]})
    assert [g["offset"] for g in rest.fetch_until(base, 2, accept=V2_JSON)] == [2, 3]
    rest.post(f"{base}/positions/beginning", {"partitions": [{"topic": topic, "partition": 0}]})
    assert rest.fetch_until(base, 1, accept=V2_JSON)[0]["offset"] == 0
    rest.post(f"{base}/positions/end", {"partitions": [{"topic": topic, "partition": 0}]})
    r = rest.s.get(f"{base}/records?timeout=300&max_bytes=100000", headers={"Accept": V2_JSON},
                   timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json() == []

    # Explicit commit names the last consumed offset; the group's committed offset is one more.
    rest.post(f"{base}/offsets", {"offsets": [{"topic": topic, "partition": 0, "offset": 1}]},
              expect=200)
    r = rest.s.get(f"{base}/offsets", json={"partitions": [{"topic": topic, "partition": 0}]},
                   timeout=HTTP_TIMEOUT)
    assert r.json()["offsets"] == [{"topic": topic, "partition": 0, "offset": 2, "metadata": ""}]

    # max_bytes bounds a response (one oversized record still comes alone).
    rest.post(f"{base}/positions/beginning", {"partitions": [{"topic": topic, "partition": 0}]})
    first = rest.fetch_until(base, 1, accept=V2_JSON)
    assert len(first) >= 1
    rest.post(f"{base}/positions/beginning", {"partitions": [{"topic": topic, "partition": 0}]})
    small = []
    wait_until(lambda: small.extend(rest.s.get(
        f"{base}/records?timeout=500&max_bytes=1", headers={"Accept": V2_JSON},
        timeout=HTTP_TIMEOUT).json()) or small, 10, "one record")
    assert len(small) == 1 and small[0]["offset"] == 0

    assert rest.s.delete(base, timeout=HTTP_TIMEOUT).status_code == 204


def test_v2_produce(sluice_module, rest, unique_topic):
    topic = unique_topic("rp-v2")
    create_topic(sluice_module.bootstrap, topic, 2)
    r = rest.s.post(f"{rest.url}/topics/{topic}", headers={"Content-Type": V2_BINARY},
                    data=json.dumps({"records": [
                        {"key": b64(b"k"), "value": b64(b"v1")},
                        {"value": b64(b"v2"), "partition": 1},
                        {"value": "*not base64*"},
                    ]}), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    offsets = r.json()["offsets"]
    assert offsets[0]["partition"] == murmur2_partition(b"k", 2) and offsets[0]["error_code"] is None
    assert offsets[1]["partition"] == 1 and offsets[1]["offset"] >= 0
    assert offsets[2]["error_code"] == 42206 and offsets[2]["offset"] is None
    msgs = kafka_records(sluice_module.bootstrap, topic, 2, 2)
    assert sorted((m.partition(), m.offset(), m.key(), m.value()) for m in msgs) == sorted([
        (offsets[0]["partition"], offsets[0]["offset"], b"k", b"v1"),
        (1, offsets[1]["offset"], None, b"v2")])
    r = rest.s.post(f"{rest.url}/topics/no-such-{topic}", headers={"Content-Type": V2_JSON},
                    data=json.dumps({"records": [{"value": 1}]}), timeout=HTTP_TIMEOUT)
    assert_error(r, 404, 40401)


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------


def test_bad_input_gets_confluent_errors(sluice_module, rest, unique_topic):
    topic = unique_topic("rp-bad")
    create_topic(sluice_module.bootstrap, topic, 1)
    url = rest.records_url(topic)
    ok = {"value": {"type": "STRING", "data": "fine"}}

    # Unknown topic: 404 40403, and the topic is not auto-created.
    missing = f"missing-{topic}"
    assert_error(rest.produce(missing, ok), 404, 40403)
    assert_error(rest.s.get(f"{rest.url}/v3/clusters/{rest.cluster_id}/topics/{missing}",
                            timeout=HTTP_TIMEOUT), 404, 40403)
    # Unknown cluster.
    assert_error(rest.s.post(f"{rest.url}/v3/clusters/nope/topics/{topic}/records", json=ok,
                             timeout=HTTP_TIMEOUT), 404, 404)
    # Malformed JSON, truncated JSON, a record that is not an object.
    for body in (b"{not json}", b'{"value": {"type": "STRING", "data": "x"', b"[1, 2]", b"42"):
        r = rest.s.post(url, data=body, headers={"Content-Type": "application/json"},
                        timeout=HTTP_TIMEOUT)
        assert_error(r, 400)
    # Empty body.
    assert_error(rest.s.post(url, data=b"", headers={"Content-Type": "application/json"},
                             timeout=HTTP_TIMEOUT), 400)
    # Bad base64, wrong data type, unknown or schema-based type, bad header, bad timestamp.
    for rec in (
        {"value": {"type": "BINARY", "data": "!!!"}},
        {"key": {"type": "BINARY", "data": 12}},
        {"value": {"type": "STRING", "data": {"a": 1}}},
        {"value": {"type": "PICKLE", "data": "x"}},
        {"value": {"type": "AVRO", "data": {"a": 1}}},
        {"value": {"data": {"a": 1}}},
        {"value": "just a string"},
        {"headers": [{"name": "h", "value": "***"}], "value": {"type": "JSON", "data": 1}},
        {"timestamp": "yesterday", "value": {"type": "JSON", "data": 1}},
    ):
        assert_error(rest.produce(topic, rec), 400, 42206)
    # A partition that does not exist.
    assert_error(rest.produce(topic, {**ok, "partition_id": 7}), 404, 40402)
    # Wrong content type.
    r = rest.s.post(url, data=json.dumps(ok), headers={"Content-Type": "text/plain"},
                    timeout=HTTP_TIMEOUT)
    assert_error(r, 415, 415)
    # A record over the topic's max.message.bytes (1 MiB by default).
    big = {"value": {"type": "BINARY", "data": b64(b"x" * (2 * 1024 * 1024))}}
    assert_error(rest.produce(topic, big), 413, 413)

    # A body declared larger than 16 MiB is refused from its headers alone, without a hang.
    with socket.create_connection(("127.0.0.1", sluice_module.http_port), timeout=10) as s:
        s.sendall((f"POST /v3/clusters/{rest.cluster_id}/topics/{topic}/records HTTP/1.1\r\n"
                   f"Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {17 * 1024 * 1024}\r\n\r\n").encode())
        answer = b""
        while b"}" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert json.loads(body[body.index(b"{"):])["error_code"] == 413

    # Unknown consumer instances.
    gone = f"{rest.url}/consumers/nogroup/instances/nobody"
    assert_error(rest.s.get(f"{gone}/records", headers={"Accept": V2_BINARY},
                            timeout=HTTP_TIMEOUT), 404, 40403)
    assert_error(rest.s.post(f"{gone}/subscription", json={"topics": [topic]},
                             headers={"Content-Type": V2}, timeout=HTTP_TIMEOUT), 404, 40403)
    assert_error(rest.s.delete(gone, timeout=HTTP_TIMEOUT), 404, 40403)
    # Bad consumer settings and bodies.
    group = f"bad-{uuid.uuid4().hex[:6]}"
    for cfg in ({"format": "avro"}, {"auto.offset.reset": "sometimes"}, {"name": "a/b"}):
        r = rest.s.post(f"{rest.url}/consumers/{group}", json=cfg,
                        headers={"Content-Type": V2}, timeout=HTTP_TIMEOUT)
        assert_error(r, 422)
    base = rest.consumer(group, name="b1")
    r = rest.s.post(f"{base}/subscription", data="{oops", headers={"Content-Type": V2},
                    timeout=HTTP_TIMEOUT)
    assert_error(r, 400)
    r = rest.s.post(f"{base}/subscription", data="{}", headers={"Content-Type": V2},
                    timeout=HTTP_TIMEOUT)
    assert_error(r, 422)
    r = rest.s.post(f"{base}/subscription", data=json.dumps({"topics": [topic]}),
                    headers={"Content-Type": "text/plain"}, timeout=HTTP_TIMEOUT)
    assert_error(r, 415)
    r = rest.s.get(f"{base}/records?timeout=abc", headers={"Accept": V2_BINARY},
                   timeout=HTTP_TIMEOUT)
    assert_error(r, 400)
    r = rest.s.get(f"{base}/records?timeout=-1&max_bytes=-1", headers={"Accept": V2_BINARY},
                   timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json() == [], r.text
    assert_error(rest.s.get(f"{base}/offsets", timeout=HTTP_TIMEOUT), 404, 40402)
    assert rest.s.delete(base, timeout=HTTP_TIMEOUT).status_code == 204

    # The broker is alive and the proxy still produces.
    sluice_module.assert_alive()
    r = rest.produce(topic, ok)
    assert r.status_code == 200 and r.json()["error_code"] == 200, r.text


def test_instance_expiry_and_cors_settings(sluice_factory, sluice_module, unique_topic):
    """Confluent's consumer.instance.timeout.ms and access.control.allow.origin settings."""
    broker = sluice_factory(settings={"consumer.instance.timeout.ms": 1000,
                                      "access.control.allow.origin": "http://app.example"})
    rest = Rest(broker)
    base = rest.consumer("expiring", name="idle")
    assert rest.s.get(f"{base}/subscription", timeout=HTTP_TIMEOUT).status_code == 200

    # A browser page from the allowed origin may call the proxy; other origins are not told so.
    topic = unique_topic("rp-cors")
    create_topic(broker.bootstrap, topic, 1)
    url = rest.records_url(topic)
    pre = rest.s.options(url, headers={"Origin": "http://app.example",
                                       "Access-Control-Request-Method": "POST",
                                       "Access-Control-Request-Headers": "content-type"},
                         timeout=HTTP_TIMEOUT)
    assert pre.status_code == 204, pre.text
    assert pre.headers["Access-Control-Allow-Origin"] == "http://app.example"
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert "content-type" in pre.headers["Access-Control-Allow-Headers"]
    r = rest.s.post(url, json={"value": {"type": "STRING", "data": "from a browser"}},
                    headers={"Origin": "http://app.example"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "http://app.example"
    r = rest.s.post(url, json={"value": {"type": "STRING", "data": "x"}},
                    headers={"Origin": "http://evil.example"}, timeout=HTTP_TIMEOUT)
    assert "Access-Control-Allow-Origin" not in r.headers
    # Off by default.
    other = Rest(sluice_module)
    r = other.s.get(f"{other.url}/v3/clusters", headers={"Origin": "http://app.example"},
                    timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers

    # Every request to the instance would reset its idle clock, so watch the broker's log.
    wait_until(lambda: "REST consumer instance expired" in broker.log_text(), 10,
               "the idle instance to expire", interval=0.2)
    assert_error(rest.s.get(f"{base}/subscription", timeout=HTTP_TIMEOUT), 404, 40403)


def test_random_bodies_never_get_a_server_error(sluice_module, rest, unique_topic):
    """Seeded random JSON (and non-JSON) bodies and content types on every endpoint: each answer
    is a 2xx or a 4xx in Confluent's error shape, on a kept-alive connection, never a 5xx."""
    topic = unique_topic("rp-fuzz")
    create_topic(sluice_module.bootstrap, topic, 2)
    group = f"fuzz-{uuid.uuid4().hex[:6]}"
    inst = rest.consumer(group, name="f").removeprefix(rest.url)
    rnd = random.Random(20261126)
    atoms = [None, True, 1, -1, 2**63, 1.5, "", "x", "!!!", [], {}, "AAAA",
             "2024-01-01T00:00:00Z", 2**31, topic]
    keys = ["type", "data", "partition_id", "headers", "key", "value", "timestamp", "name",
            "topics", "partitions", "offsets", "topic", "partition", "offset", "records",
            "format", "auto.offset.reset", "topic_pattern", "schema_id"]

    def value(depth=0):
        c = rnd.random()
        if depth > 2 or c < 0.5:
            return rnd.choice(atoms)
        if c < 0.75:
            return [value(depth + 1) for _ in range(rnd.randint(0, 3))]
        return {rnd.choice(keys): value(depth + 1) for _ in range(rnd.randint(0, 4))}

    endpoints = [("POST", f"/v3/clusters/{rest.cluster_id}/topics/{topic}/records"),
                 ("POST", f"/topics/{topic}"), ("POST", f"/consumers/{group}")]
    endpoints += [(m, f"{inst}{suffix}") for m, suffix in [
        ("POST", "/subscription"), ("POST", "/assignments"), ("POST", "/positions"),
        ("POST", "/positions/beginning"), ("POST", "/positions/end"), ("POST", "/offsets"),
        ("GET", "/offsets"), ("GET", "/records?timeout=10")]]
    types = ["application/json", V2, V2_BINARY, V2_JSON, "text/plain", None]
    for _ in range(300):
        method, path = rnd.choice(endpoints)
        if rnd.random() < 0.1:
            data = bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 40)))
        else:
            data = json.dumps(value()).encode()
        ctype = rnd.choice(types)
        r = rest.s.request(method, rest.url + path, data=data, timeout=HTTP_TIMEOUT,
                           headers={"Content-Type": ctype} if ctype else {})
        assert r.status_code < 500, (method, path, ctype, data, r.status_code, r.text)
        if r.status_code >= 400:
            assert_error(r, r.status_code)
    sluice_module.assert_alive()
