"""Answers on one connection leave in request order, and an answer that is ready never waits
for a later one that is still waiting.

Why: Kafka answers a connection's requests in order, and clients pipeline them: a producer keeps
several produce requests in flight, and librdkafka sends heartbeats and commits on the same
connection as its long-polling fetches. Sluice used to keep an answer it had written in its send
buffer while a request queued behind it waited (a fetch for up to its max wait, a durable produce
for its fsync), so that answer waited too. These tests send a quick request and a waiting one
back to back in a single write and time the quick answer.
"""

from __future__ import annotations

import time

from confluent_kafka import Producer

from conftest import create_topic
from test_bad_input import API_VERSIONS, Conn, array, frame, i8, i32, i64, request_header, string

API_FETCH = 1
FETCH_MAX_WAIT_MS = 5_000


def fetch_v4_body(topic: str, offset: int, max_wait_ms: int) -> bytes:
    partition = i32(0) + i64(offset) + i32(1 << 20)
    topics = array([string(topic) + array([partition])])
    # replica_id, max_wait_ms, min_bytes, max_bytes, isolation_level, topics
    return i32(-1) + i32(max_wait_ms) + i32(1) + i32(1 << 20) + i8(0) + topics


def fetched_partition(r) -> tuple[int, int]:
    index, error = r.i32(), r.i16()
    r.i64(), r.i64()  # high watermark, last stable offset
    r.array(lambda r: (r.i64(), r.i64()))  # aborted transactions
    size = r.i32()
    r.take(max(size, 0))  # records
    return index, error


def test_ready_answer_is_not_held_behind_a_long_polling_fetch(broker, unique_topic):
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 1)
    # One acknowledged record: the partition is then served (a Kafka broker answers a fetch of a
    # partition it is still loading at once, with NOT_LEADER_OR_FOLLOWER).
    p = Producer({"bootstrap.servers": broker.bootstrap})
    p.produce(topic, b"one", partition=0)
    assert p.flush(30) == 0
    conn = Conn(broker.bootstrap, timeout=FETCH_MAX_WAIT_MS / 1000 + 10)
    try:
        # One write: ApiVersions (answered at once), then a fetch at the partition's end, which
        # waits up to its max wait for data that never comes.
        versions_corr, fetch_corr = conn.corr + 1, conn.corr + 2
        conn.corr += 2
        conn.send(frame(request_header(API_VERSIONS, 0, versions_corr, False))
                  + frame(request_header(API_FETCH, 4, fetch_corr, False)
                          + fetch_v4_body(topic, 1, FETCH_MAX_WAIT_MS)))
        sent = time.monotonic()
        r = conn.response(versions_corr, flexible_header=False)
        versions_after = time.monotonic() - sent
        assert r.i16() == 0
        r = conn.response(fetch_corr, flexible_header=False)
        fetch_after = time.monotonic() - sent
        r.i32()  # throttle_time_ms
        [(name, [(index, error)])] = r.array(lambda r: (r.string(), r.array(fetched_partition)))
    finally:
        conn.close()
    assert (name, index, error) == (topic, 0, 0)
    # The fetch did wait (so the ApiVersions answer had a waiting request behind it) ...
    assert fetch_after >= FETCH_MAX_WAIT_MS / 1000 * 0.8, f"fetch answered after {fetch_after:.2f}s"
    # ... and the ApiVersions answer did not wait with it.
    assert versions_after < 1.0, (
        f"ApiVersions answered after {versions_after:.2f}s, behind the fetch's "
        f"{FETCH_MAX_WAIT_MS} ms max wait")
