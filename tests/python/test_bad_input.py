"""Hostile and malformed bytes on the broker's port, encoded by hand.

Why: clients are well behaved; networks, scanners and buggy clients are not. Each case sends
one kind of bad input over a raw socket and asserts Kafka's answer (an error code, or a clean
close where Kafka closes). After every case the broker must still be alive and serve a normal
confluent-kafka producer and consumer (autouse fixture `still_serving`).

The requests are built with `struct` from the Kafka protocol spec (kafka.apache.org/protocol):
request header v1 (non-flexible) / v2 (flexible), ApiVersions v0/v3, Metadata v4, Produce v3
(non-flexible) and v9 (flexible), and record batch v2 with a CRC32C.
"""

from __future__ import annotations

import random
import socket
import struct
import time
import uuid

import crc32c
import pytest

from conftest import confluent_admin, create_topic

API_PRODUCE, API_METADATA, API_VERSIONS = 0, 3, 18
NONE, CORRUPT_MESSAGE, UNKNOWN_TOPIC_OR_PARTITION, MESSAGE_TOO_LARGE = 0, 2, 3, 10
INVALID_TOPIC_EXCEPTION, UNSUPPORTED_VERSION, INVALID_REQUEST, INVALID_RECORD = 17, 35, 42, 87
SOCKET_REQUEST_MAX_BYTES = 104_857_600  # Kafka's default socket.request.max.bytes
DEFAULT_MAX_MESSAGE_BYTES = 1_048_588   # Kafka's default max.message.bytes
RSS_GROWTH_LIMIT = 256 * 1024 * 1024

# ---------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------


def i8(v): return struct.pack(">b", v)
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def i64(v): return struct.pack(">q", v)
def u32(v): return struct.pack(">I", v)


def uvarint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(v: int) -> bytes:  # zigzag, for record fields (32- and 64-bit alike)
    return uvarint((v << 1) ^ (v >> 63))


def string(s: str | None) -> bytes:
    if s is None:
        return i16(-1)
    b = s.encode()
    return i16(len(b)) + b


def compact_string(s: str | None) -> bytes:
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


def array(items: list[bytes]) -> bytes:
    return i32(len(items)) + b"".join(items)


def compact_array(items: list[bytes]) -> bytes:
    return uvarint(len(items) + 1) + b"".join(items)


TAGS = uvarint(0)  # an empty tagged-field section


def request_header(api_key: int, version: int, corr: int, flexible: bool,
                   client_id: str = "sluice-bad-input") -> bytes:
    h = i16(api_key) + i16(version) + i32(corr) + string(client_id)
    return h + TAGS if flexible else h


def frame(payload: bytes) -> bytes:
    return i32(len(payload)) + payload


def record(offset_delta: int, key: bytes | None, value: bytes | None, ts_delta: int = 0,
           headers: list[tuple[bytes, bytes]] = ()) -> bytes:
    body = (i8(0) + varint(ts_delta) + varint(offset_delta)
            + (varint(-1) if key is None else varint(len(key)) + key)
            + (varint(-1) if value is None else varint(len(value)) + value)
            + varint(len(headers))
            + b"".join(varint(len(k)) + k + varint(len(v)) + v for k, v in headers))
    return varint(len(body)) + body


def record_batch(records: list[bytes], *, count: int | None = None, base_ts: int | None = None,
                 crc_xor: int = 0, attributes: int = 0) -> bytes:
    """A magic-2 record batch. `count` overrides the record count field; `crc_xor` corrupts the
    CRC32C (computed over attributes..end, per the spec)."""
    ts = int(time.time() * 1000) if base_ts is None else base_ts
    n = len(records)
    after_crc = (i16(attributes) + i32(max(n - 1, 0)) + i64(ts) + i64(ts)
                 + i64(-1) + i16(-1) + i32(-1)  # producer id, epoch, base sequence: none
                 + i32(n if count is None else count) + b"".join(records))
    crc = crc32c.crc32c(after_crc) ^ crc_xor
    tail = i32(-1) + i8(2) + u32(crc) + after_crc  # partition leader epoch, magic, crc
    return i64(0) + i32(len(tail)) + tail


def simple_batch(n: int = 3, size: int = 10) -> bytes:
    return record_batch([record(i, b"k%d" % i, bytes([65 + i % 26]) * size) for i in range(n)])


def produce_body(version: int, topic: str, partition: int, records: bytes,
                 acks: int = -1, timeout_ms: int = 10_000) -> bytes:
    if version >= 9:
        part = i32(partition) + uvarint(len(records) + 1) + records + TAGS
        return (compact_string(None) + i16(acks) + i32(timeout_ms)
                + compact_array([compact_string(topic) + compact_array([part]) + TAGS]) + TAGS)
    part = i32(partition) + i32(len(records)) + records
    return string(None) + i16(acks) + i32(timeout_ms) + array([string(topic) + array([part])])


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------


class Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        assert self.pos + n <= len(self.data), f"response truncated at byte {self.pos} (+{n})"
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            b = self.take(1)[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def compact_string(self):
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1).decode()

    def array(self, item):
        n = self.i32()
        return None if n < 0 else [item(self) for _ in range(n)]

    def compact_array(self, item):
        n = self.uvarint()
        return None if n == 0 else [item(self) for _ in range(n - 1)]

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())

    def at_end(self) -> bool:
        return self.pos == len(self.data)


class Conn:
    """One raw TCP connection to the broker."""

    def __init__(self, bootstrap: str, timeout: float = 10.0):
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.corr = 1000

    def close(self):
        self.sock.close()

    def send(self, data: bytes):
        self.sock.sendall(data)

    def request(self, api_key: int, version: int, body: bytes, flexible: bool) -> int:
        self.corr += 1
        self.send(frame(request_header(api_key, version, self.corr, flexible) + body))
        return self.corr

    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            assert chunk, f"broker closed the connection after {len(buf)} of {n} response bytes"
            buf += chunk
        return bytes(buf)

    def response(self, corr: int, flexible_header: bool) -> Reader:
        size = struct.unpack(">i", self._recv_exact(4))[0]
        assert 4 <= size < 64 * 1024 * 1024, f"implausible response size {size}"
        r = Reader(self._recv_exact(size))
        assert r.i32() == corr, "correlation id mismatch"
        if flexible_header:
            r.tags()
        return r

    def wait_closed(self, timeout: float = 10.0) -> bytes:
        """Reads until the broker closes the connection; fails if it is still open after
        `timeout` s. Returns whatever the broker sent before closing."""
        self.sock.settimeout(0.2)
        deadline = time.monotonic() + timeout
        got = bytearray()
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return bytes(got)
            if not chunk:
                return bytes(got)
            got += chunk
        raise AssertionError(f"broker kept the connection open for {timeout}s "
                             f"(received {len(got)} bytes)")


def api_versions_v0(conn: Conn) -> tuple[int, dict[int, tuple[int, int]]]:
    corr = conn.request(API_VERSIONS, 0, b"", flexible=False)
    r = conn.response(corr, flexible_header=False)
    err = r.i16()
    keys = r.array(lambda r: (r.i16(), r.i16(), r.i16()))
    assert r.at_end(), "ApiVersions v0 response has trailing bytes"
    return err, {k: (lo, hi) for k, lo, hi in keys}


def produce(conn: Conn, version: int, topic: str, partition: int, records: bytes) -> dict:
    flexible = version >= 9
    corr = conn.request(API_PRODUCE, version, produce_body(version, topic, partition, records),
                        flexible)
    r = conn.response(corr, flexible_header=flexible)

    def partition_response(r):
        out = {"index": r.i32(), "error": r.i16(), "base_offset": r.i64(), "append_time": r.i64()}
        if version >= 5:
            out["log_start_offset"] = r.i64()
        if version >= 8:
            rec_errors = (lambda r: (r.i32(), r.compact_string(), r.tags())) if flexible else (
                lambda r: (r.i32(), r.string()))
            out["record_errors"] = (r.compact_array if flexible else r.array)(rec_errors)
            out["error_message"] = r.compact_string() if flexible else r.string()
        if flexible:
            r.tags()
        return out

    def topic_response(r):
        if flexible:
            name, parts = r.compact_string(), r.compact_array(partition_response)
            r.tags()
        else:
            name, parts = r.string(), r.array(partition_response)
        return name, parts

    topics = (r.compact_array if flexible else r.array)(topic_response)
    r.i32()  # throttle time
    if flexible:
        r.tags()
    assert r.at_end(), "Produce response has trailing bytes"
    assert [t for t, _ in topics] == [topic] and len(topics[0][1]) == 1, topics
    part = topics[0][1][0]
    assert part["index"] == partition
    return part


def metadata_v4(conn: Conn, topics: list[str] | None, auto_create: bool) -> dict[str, tuple[int, int]]:
    """Returns {topic: (error_code, partition count)}."""
    body = (i32(-1) if topics is None else array([string(t) for t in topics])) + i8(int(auto_create))
    corr = conn.request(API_METADATA, 4, body, flexible=False)
    r = conn.response(corr, flexible_header=False)
    r.i32()  # throttle
    r.array(lambda r: (r.i32(), r.string(), r.i32(), r.string()))
    r.string()  # cluster id
    r.i32()  # controller
    out = {}
    for err, name, _internal, parts in r.array(lambda r: (
            r.i16(), r.string(), r.i8(),
            r.array(lambda r: (r.i16(), r.i32(), r.i32(), r.array(lambda r: r.i32()),
                               r.array(lambda r: r.i32())))) or []):
        out[name] = (err, len(parts or []))
    assert r.at_end(), "Metadata v4 response has trailing bytes"
    return out


# ---------------------------------------------------------------------------------------------
# Fixtures: liveness after every case
# ---------------------------------------------------------------------------------------------


def assert_still_serving(broker) -> None:
    """The broker process is alive and a normal client can produce and read back a record."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    broker.assert_alive()
    topic = "health-" + uuid.uuid4().hex[:12]
    create_topic(broker.bootstrap, topic, 1)
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 15000})
    results = []
    p.produce(topic, b"still-alive", partition=0,
              on_delivery=lambda err, msg: results.append((err, msg.offset())))
    try:
        left = p.flush(20)
    finally:
        p.close()
    assert left == 0 and results == [(None, 0)], f"health produce failed: {results}"
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "health-" + topic,
                  "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + 15
        while True:
            assert time.monotonic() < deadline, "health consume got nothing"
            m = c.poll(0.5)
            if m is not None:
                assert m.error() is None and m.value() == b"still-alive", m.error()
                break
    finally:
        c.close()
    admin = confluent_admin(broker.bootstrap)  # keep the handle alive until the answer arrives
    admin.delete_topics([topic])[topic].result(timeout=30)


@pytest.fixture(autouse=True)
def still_serving(broker):
    rss_before = broker.rss_bytes() if hasattr(broker, "rss_bytes") else None
    yield
    assert_still_serving(broker)
    if rss_before is not None:
        growth = broker.rss_bytes() - rss_before
        assert growth < RSS_GROWTH_LIMIT, f"broker RSS grew by {growth >> 20} MiB during the case"


@pytest.fixture
def conn(broker):
    c = Conn(broker.bootstrap)
    yield c
    c.close()


# ---------------------------------------------------------------------------------------------
# Framing
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [
    pytest.param(random.Random(7).randbytes(4096), id="random-4KiB"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", id="http-request"),
    pytest.param(b"\x00" * 1024, id="zeros"),  # a zero-length frame: no header to parse
    pytest.param(frame(i16(API_METADATA) + i16(4) + i32(1) + string("x") + i32(5) + b"\xff\xff\xff"),
                 id="metadata-truncated-body"),
])
def test_garbage_bytes_close_the_connection(conn, payload):
    conn.send(payload)
    conn.wait_closed()


@pytest.mark.parametrize("payload", [
    pytest.param(i32(100) + b"0123456789", id="body-cut-short"),
    pytest.param(b"\x00\x00", id="length-prefix-cut-short"),
    pytest.param(frame(request_header(API_VERSIONS, 3, 1, True))[:9], id="header-cut-short"),
])
def test_truncated_frame_then_close(broker, payload):
    c = Conn(broker.bootstrap)
    c.send(payload)
    c.sock.shutdown(socket.SHUT_WR)
    # The broker sees EOF mid-frame: it must drop the connection, not wait or answer.
    c.wait_closed()
    c.close()


@pytest.mark.parametrize("size", [SOCKET_REQUEST_MAX_BYTES + 1, 2**31 - 1, -1, -2**31],
                         ids=["max+1", "int32-max", "minus-1", "int32-min"])
def test_oversize_or_negative_length_prefix_closes(conn, size):
    # Only the 4-byte prefix is sent: the broker must refuse it without waiting for (or
    # allocating) the announced body.
    conn.send(i32(size))
    assert conn.wait_closed(timeout=5) == b""


def test_unknown_api_key_closes(conn):
    conn.send(frame(i16(32_000) + i16(0) + i32(7) + string("x") + b"\x00" * 8))
    conn.wait_closed()


def test_unsupported_version_of_other_api_closes(conn):
    conn.send(frame(i16(API_METADATA) + i16(30_000) + i32(7) + string("x") + TAGS + b"\x00" * 8))
    conn.wait_closed()


def test_unknown_api_key_after_a_good_request(conn):
    # A valid request is answered first; the bad one that follows only ends the connection.
    err, _ = api_versions_v0(conn)
    assert err == NONE
    conn.send(frame(i16(-5) + i16(0) + i32(8) + string("x")))
    conn.wait_closed()


# ---------------------------------------------------------------------------------------------
# ApiVersions
# ---------------------------------------------------------------------------------------------


def test_api_versions_v0_and_v3(conn):
    err, v0 = api_versions_v0(conn)
    assert err == NONE
    for key in (API_PRODUCE, 1, 2, API_METADATA, API_VERSIONS, 19, 20):
        assert key in v0, f"ApiVersions must list api key {key}"
    for key, (lo, hi) in v0.items():
        assert 0 <= lo <= hi, f"api key {key}: bad range {lo}..{hi}"
    assert v0[API_VERSIONS][0] == 0 and v0[API_VERSIONS][1] >= 3
    assert v0[API_PRODUCE][0] <= 3 and v0[API_PRODUCE][1] >= 9
    assert v0[API_METADATA][0] <= 4 <= v0[API_METADATA][1]

    corr = conn.request(API_VERSIONS, 3, compact_string("sluice-tests") + compact_string("1.0.0")
                        + TAGS, flexible=True)
    r = conn.response(corr, flexible_header=False)  # ApiVersions responses use header v0
    assert r.i16() == NONE
    v3 = r.compact_array(lambda r: (r.i16(), r.i16(), r.i16(), r.tags()))
    r.i32()  # throttle
    r.tags()  # supported/finalized features live here
    assert r.at_end()
    assert {k: (lo, hi) for k, lo, hi, _ in v3} == v0, "v0 and v3 must list the same versions"


@pytest.mark.parametrize("version_above_max", [1, 1000])
def test_api_versions_unsupported_version_answers_v0(conn, version_above_max):
    _, supported = api_versions_v0(conn)
    version = supported[API_VERSIONS][1] + version_above_max
    # A client newer than the broker sends a version the broker does not know, with a body it
    # cannot parse; Kafka answers in v0 format with UNSUPPORTED_VERSION and its own range.
    corr = conn.request(API_VERSIONS, version, b"\x99" * 20, flexible=True)
    r = conn.response(corr, flexible_header=False)
    assert r.i16() == UNSUPPORTED_VERSION
    keys = r.array(lambda r: (r.i16(), r.i16(), r.i16()))
    assert r.at_end(), "the answer must be in v0 format (no throttle time, no tagged fields)"
    listed = {k: (lo, hi) for k, lo, hi in keys}
    assert listed.get(API_VERSIONS) == supported[API_VERSIONS], listed
    for key, rng in listed.items():
        assert supported.get(key) == rng, f"api key {key}: {rng} vs {supported.get(key)}"
    # The connection stays usable: the client retries with a version the broker supports.
    assert api_versions_v0(conn)[0] == NONE


def test_api_versions_invalid_client_software_name(conn):
    corr = conn.request(API_VERSIONS, 3, compact_string("bad name!") + compact_string("1.0")
                        + TAGS, flexible=True)
    r = conn.response(corr, flexible_header=False)
    assert r.i16() == INVALID_REQUEST


# ---------------------------------------------------------------------------------------------
# Produce: record batch validation
# ---------------------------------------------------------------------------------------------


def high_watermark(bootstrap: str, topic: str, partition: int = 0) -> int:
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    admin = confluent_admin(bootstrap)
    tp = TopicPartition(topic, partition)
    return admin.list_offsets({tp: OffsetSpec.latest()})[tp].result(timeout=30).offset


@pytest.mark.parametrize("version", [3, 9])
@pytest.mark.parametrize("corruption", ["crc-field", "payload-byte"])
def test_produce_corrupt_crc(broker, conn, unique_topic, version, corruption):
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 1)
    assert produce(conn, version, topic, 0, simple_batch())["error"] == NONE
    if corruption == "crc-field":
        batch = record_batch([record(0, b"k", b"v" * 50)], crc_xor=0x1)
    else:
        batch = bytearray(record_batch([record(0, b"k", b"v" * 50)]))
        batch[-10] ^= 0xFF  # inside the record value, covered by the CRC
        batch = bytes(batch)
    part = produce(conn, version, topic, 0, batch)
    assert part["error"] == CORRUPT_MESSAGE, part
    # Nothing was appended, and the connection still takes good batches.
    assert high_watermark(broker.bootstrap, topic) == 3
    assert produce(conn, version, topic, 0, simple_batch())["base_offset"] == 3


@pytest.mark.parametrize("version", [3, 9])
def test_produce_batch_larger_than_max_message_bytes(broker, conn, unique_topic, version):
    small = unique_topic("small")
    create_topic(broker.bootstrap, small, 1, {"max.message.bytes": "10000"})
    part = produce(conn, version, small, 0, record_batch([record(0, None, b"x" * 20_000)]))
    assert part["error"] == MESSAGE_TOO_LARGE, part

    default = unique_topic("default")
    create_topic(broker.bootstrap, default, 1)
    big = record_batch([record(0, None, b"y" * (DEFAULT_MAX_MESSAGE_BYTES + 100))])
    part = produce(conn, version, default, 0, big)
    assert part["error"] == MESSAGE_TOO_LARGE, part

    assert high_watermark(broker.bootstrap, small) == 0
    assert high_watermark(broker.bootstrap, default) == 0
    # Just under the topic's limit is accepted on the same connection.
    part = produce(conn, version, small, 0, record_batch([record(0, None, b"z" * 9_000)]))
    assert (part["error"], part["base_offset"]) == (NONE, 0), part


@pytest.mark.parametrize("name", ["bad/name", "with space", "x" * 250, "..", "ünïcode"])
def test_metadata_for_invalid_topic_name(conn, name):
    for auto_create in (True, False):
        topics = metadata_v4(conn, [name], auto_create)
        assert topics == {name: (INVALID_TOPIC_EXCEPTION, 0)}, (auto_create, topics)


@pytest.mark.parametrize("version", [3, 9])
def test_produce_to_invalid_topic_name(conn, version):
    # Produce never creates topics, so Kafka answers as for any topic it does not have.
    part = produce(conn, version, "bad/name", 0, simple_batch())
    assert part["error"] == UNKNOWN_TOPIC_OR_PARTITION, part


@pytest.mark.parametrize("version", [3, 9])
def test_produce_to_missing_partition_or_topic(broker, conn, unique_topic, version):
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 2)
    for partition in (2, 7, -1):
        part = produce(conn, version, topic, partition, simple_batch())
        assert part["error"] == UNKNOWN_TOPIC_OR_PARTITION, (partition, part)

    missing = unique_topic("missing")
    part = produce(conn, version, missing, 0, simple_batch())
    assert part["error"] == UNKNOWN_TOPIC_OR_PARTITION, part
    # Produce must not auto-create the topic (only Metadata does).
    assert metadata_v4(conn, [missing], auto_create=False) == {missing: (UNKNOWN_TOPIC_OR_PARTITION, 0)}


# ---------------------------------------------------------------------------------------------
# Lengths that promise far more data than the frame holds
# ---------------------------------------------------------------------------------------------

MAXI = 2**31 - 1


@pytest.mark.parametrize("api_key,version,flexible,body", [
    pytest.param(API_METADATA, 4, False, i32(MAXI), id="metadata-topics-count"),
    pytest.param(API_METADATA, 4, False, i32(1) + i16(32_767), id="metadata-topic-name-length"),
    pytest.param(API_METADATA, 12, True, uvarint(MAXI + 1), id="metadata-v12-compact-count"),
    pytest.param(API_PRODUCE, 3, False, string(None) + i16(-1) + i32(1000) + i32(MAXI),
                 id="produce-topics-count"),
    pytest.param(API_PRODUCE, 3, False, string(None) + i16(-1) + i32(1000) + i32(1) + string("t")
                 + i32(MAXI), id="produce-partitions-count"),
    pytest.param(API_PRODUCE, 3, False, string(None) + i16(-1) + i32(1000) + i32(1) + string("t")
                 + i32(1) + i32(0) + i32(MAXI), id="produce-records-length"),
    pytest.param(API_PRODUCE, 9, True, compact_string(None) + i16(-1) + i32(1000)
                 + uvarint(MAXI + 1), id="produce-v9-compact-count"),
    pytest.param(API_PRODUCE, 9, True, compact_string(None) + i16(-1) + i32(1000) + uvarint(2)
                 + uvarint(MAXI), id="produce-v9-compact-string-length"),
    pytest.param(API_VERSIONS, 3, True, uvarint(MAXI) + b"abc", id="apiversions-v3-string-length"),
])
def test_huge_length_in_tiny_frame(conn, api_key, version, flexible, body):
    conn.send(frame(request_header(api_key, version, 99, flexible) + body))
    # Kafka fails to parse the request and closes; an error answer is acceptable too, as long
    # as the broker neither hangs, crashes nor allocates what the length promised.
    data = conn.wait_closed()
    if data:
        size, corr = struct.unpack(">ii", data[:8])
        assert corr == 99 and size == len(data) - 4, "an answer must be one well-formed frame"


@pytest.mark.parametrize("version", [3, 9])
@pytest.mark.parametrize("case", ["record-count", "key-length", "header-count", "record-length"])
def test_huge_counts_inside_a_valid_batch(broker, conn, unique_topic, version, case):
    """The CRC is right but the batch's own fields lie about their sizes: INVALID_RECORD, as
    Apache Kafka 4.1 answers for each of these cases."""
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 1)
    if case == "record-count":
        batch = record_batch([record(0, b"k", b"v")], count=MAXI)
    elif case == "key-length":
        body = i8(0) + varint(0) + varint(0) + varint(MAXI) + b"k" * 14
        batch = record_batch([varint(len(body)) + body])
    elif case == "header-count":
        body = i8(0) + varint(0) + varint(0) + varint(1) + b"k" + varint(1) + b"v" + varint(MAXI)
        batch = record_batch([varint(len(body)) + body])
    else:
        batch = record_batch([varint(MAXI) + i8(0) + varint(0) + varint(0)])
    part = produce(conn, version, topic, 0, batch)
    assert part["error"] == INVALID_RECORD, part
    assert high_watermark(broker.bootstrap, topic) == 0
