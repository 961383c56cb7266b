"""Prometheus metrics (`GET /metrics`) checked against what real clients did.

Why: operators run Sluice by its metrics. Counters must equal the traffic that actually happened
and the consumer lag must equal what the group really committed, or dashboards and alerts lie.
A confluent-kafka producer sends a known number of records, a consumer group consumes part of
them and commits; the scrape must show exactly those records in, and per partition a lag equal
to the high watermark minus the committed offset (read back through the Kafka API, not from the
metrics). Scrapes are polled with a deadline, never slept for.
"""

from __future__ import annotations

import re
import time

import requests
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from conftest import wait_until

PARTITIONS = 3
RECORDS = 3000
PAYLOAD = 100

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    """OpenMetrics / Prometheus text -> {(name, labels): value}."""
    out: dict[tuple[str, frozenset], float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"unparseable metrics line: {line!r}"
        name, labels, value = m.groups()
        out[(name, frozenset(_LABEL.findall(labels or "")))] = float(value)
    return out


def scrape(base_url: str) -> dict[tuple[str, frozenset], float]:
    r = requests.get(f"{base_url}/metrics", timeout=10)
    assert r.status_code == 200, r.text
    ctype = r.headers["content-type"]
    assert ctype.startswith("application/openmetrics-text") or ctype.startswith("text/plain"), ctype
    assert r.text.rstrip().endswith("# EOF")
    # Prometheus' strict OpenMetrics parser accepts it (names, types, units, histograms).
    families = list(text_string_to_metric_families(r.text))
    assert families
    samples = parse(r.text)
    assert len(samples) == sum(len(f.samples) for f in families)
    return samples


def total(samples, name: str, **labels) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def series(samples, name: str, **labels) -> dict[frozenset, float]:
    want = set(labels.items())
    return {ls: v for (n, ls), v in samples.items() if n == name and want <= set(ls)}


def create_topic(base_url: str, name: str, partitions: int) -> None:
    r = requests.post(f"{base_url}/v1/topics", json={"name": name, "partitions": partitions},
                      timeout=10)
    assert r.status_code == 201, r.text


def produce(bootstrap: str, topic: str, count: int, payload: int = PAYLOAD) -> int:
    """Sends `count` keyed records; returns how many the broker acknowledged."""
    acked = []
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True})
    for i in range(count):
        p.produce(topic, key=f"k{i}".encode(), value=b"v" * payload,
                  on_delivery=lambda err, msg: acked.append(err is None))
        if i % 500 == 0:
            p.poll(0)
    assert p.flush(30) == 0
    assert len(acked) == count
    return sum(acked)


def test_counters_and_lag_match_real_traffic(sluice, unique_topic):
    topic, group = unique_topic(), unique_topic("group")
    create_topic(sluice.http_url, topic, PARTITIONS)
    sent = produce(sluice.bootstrap, topic, RECORDS)
    assert sent == RECORDS

    # Records in for the topic equal what was acknowledged; bytes in cover at least the payloads.
    samples = wait_until(
        lambda: (s := scrape(sluice.http_url))
        and total(s, "sluice_records_in_total", topic=topic) == sent and s,
        10, "records_in_total to reach the number of records sent")
    assert len(series(samples, "sluice_records_in_total", topic=topic)) == PARTITIONS
    assert total(samples, "sluice_bytes_in_total", topic=topic) > sent * PAYLOAD
    assert total(samples, "sluice_requests_total", api="Produce") > 0
    assert total(samples, "sluice_request_latency_seconds_count", api="Produce") > 0
    assert total(samples, "sluice_request_queue_time_seconds_count", api="Produce") > 0
    assert total(samples, "sluice_connections_accepted_total") >= 1
    # High watermarks per partition add up to the records sent; log sizes are real.
    assert total(samples, "sluice_high_watermark", topic=topic) == sent
    assert total(samples, "sluice_log_size_bytes", topic=topic) > sent * PAYLOAD
    assert total(samples, "sluice_process_resident_memory_bytes") > 0

    # A group consumes part of the topic and commits.
    consumer = Consumer({
        "bootstrap.servers": sluice.bootstrap, "group.id": group,
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
    })
    try:
        consumer.subscribe([topic])
        consumed = 0
        deadline = time.monotonic() + 30
        while consumed < RECORDS // 2 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                consumed += 1
        assert consumed >= RECORDS // 2
        consumer.commit(asynchronous=False)
        assert total(scrape(sluice.http_url), "sluice_connections_open") >= 1

        # Lag per partition == high watermark - committed offset, as the Kafka API reports them.
        committed = consumer.committed(
            [TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        expected = {}
        for tp in committed:
            _, high = consumer.get_watermark_offsets(tp, timeout=10)
            expected[tp.partition] = high - tp.offset if tp.offset >= 0 else None
        expected = {p: lag for p, lag in expected.items() if lag is not None}
        assert expected, "the group committed nothing"

        def lag_matches():
            s = scrape(sluice.http_url)
            lags = {int(dict(ls)["partition"]): v for ls, v in
                    series(s, "sluice_consumer_group_lag", group=group, topic=topic).items()}
            return s if lags == {p: float(v) for p, v in expected.items()} else None

        samples = wait_until(lag_matches, 10, f"consumer lag metric to equal {expected}")
        # Lag in seconds: the age of the oldest unconsumed record, 0 where caught up.
        for ls, secs in series(samples, "sluice_consumer_group_lag_seconds", group=group,
                               topic=topic).items():
            p = int(dict(ls)["partition"])
            if expected[p] == 0:
                assert secs == 0
            else:
                assert 0 < secs < 600, (p, secs)
        assert total(samples, "sluice_records_out_total", topic=topic) >= consumed
        assert total(samples, "sluice_bytes_out_total", topic=topic) >= consumed * PAYLOAD
        assert total(samples, "sluice_group_rebalances_total") >= 1

        # Consume the rest: lag drops to zero everywhere.
        deadline = time.monotonic() + 30
        while consumed < RECORDS and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                consumed += 1
        assert consumed == RECORDS
        consumer.commit(asynchronous=False)
        wait_until(
            lambda: (s := scrape(sluice.http_url))
            and total(s, "sluice_consumer_group_lag", group=group, topic=topic) == 0
            and total(s, "sluice_consumer_group_lag_seconds", group=group, topic=topic) == 0
            and total(s, "sluice_records_out_total", topic=topic) >= RECORDS,
            10, "lag to reach 0 after consuming everything")
    finally:
        consumer.close()


def test_error_codes_are_counted(sluice, unique_topic):
    """A batch over the topic's max.message.bytes is refused with MESSAGE_TOO_LARGE (10), and the
    metrics count exactly that code for Produce."""
    topic = unique_topic()
    r = requests.post(f"{sluice.http_url}/v1/topics", timeout=10, json={
        "name": topic, "partitions": 1, "configs": {"max.message.bytes": 2000}})
    assert r.status_code == 201, r.text
    label = dict(api="Produce", error_code="10", error="MESSAGE_TOO_LARGE")
    before = total(scrape(sluice.http_url), "sluice_request_errors_total", **label)
    p = Producer({"bootstrap.servers": sluice.bootstrap, "message.send.max.retries": 0,
                  "compression.type": "none"})
    errors = []
    p.produce(topic, value=b"x" * 10_000, on_delivery=lambda e, m: errors.append(e))
    p.flush(10)
    assert len(errors) == 1 and errors[0] is not None and errors[0].code() == 10, errors
    wait_until(lambda: total(scrape(sluice.http_url), "sluice_request_errors_total", **label)
               == before + 1, 10, "the MESSAGE_TOO_LARGE answer to be counted")


def test_fsync_histogram_in_durable_mode(sluice_factory, unique_topic):
    broker = sluice_factory(durable=True)
    topic = unique_topic()
    create_topic(broker.http_url, topic, 1)
    produce(broker.bootstrap, topic, 50)
    s = wait_until(lambda: (s := scrape(broker.http_url))
                   and total(s, "sluice_log_fsync_seconds_count") > 0 and s,
                   10, "fsyncs to be counted")
    buckets = series(s, "sluice_log_fsync_seconds_bucket")
    inf = [v for ls, v in buckets.items() if dict(ls)["le"] == "+Inf"]
    assert inf == [total(s, "sluice_log_fsync_seconds_count")]
    assert total(s, "sluice_log_fsync_seconds_sum") > 0


def test_open_transaction_and_lso_lag(sluice, unique_topic):
    """An open transaction shows as one open transaction and holds the LSO back by exactly its
    records; committing it brings both to zero."""
    topic = unique_topic()
    create_topic(sluice.http_url, topic, 1)
    p = Producer({"bootstrap.servers": sluice.bootstrap, "transactional.id": unique_topic("tx")})
    p.init_transactions(10)
    p.begin_transaction()
    for i in range(5):
        p.produce(topic, value=f"t{i}".encode(), partition=0)
    assert p.flush(10) == 0
    s = wait_until(lambda: (s := scrape(sluice.http_url))
                   and total(s, "sluice_transactions_open") == 1
                   and total(s, "sluice_lso_lag", topic=topic) == 5 and s,
                   10, "one open transaction holding back 5 records")
    assert total(s, "sluice_last_stable_offset", topic=topic) == 0
    assert total(s, "sluice_high_watermark", topic=topic) == 5
    p.commit_transaction(10)
    s = wait_until(lambda: (s := scrape(sluice.http_url))
                   and total(s, "sluice_transactions_open") == 0
                   and total(s, "sluice_lso_lag", topic=topic) == 0 and s,
                   10, "the transaction to complete")
    # The commit marker is not a client record: records in stay at 5.
    assert total(s, "sluice_records_in_total", topic=topic) == 5
    assert total(s, "sluice_high_watermark", topic=topic) == 6
