"""kafka-python (pure Python, idempotent producer by default) against the broker.

Why: kafka-python implements the protocol independently of librdkafka, so it catches answers
that only happen to satisfy one client. It produces every compression codec for confluent-kafka
to read back, and checks the consumer-side offset queries (beginning/end/offsets_for_times).
"""

import pytest
from kafka import KafkaConsumer, TopicPartition

from conftest import (BASE_TS, assert_partitions_equal, by_partition, confluent_consume,
                      create_topic, gen_records, kp_consume, kp_produce)

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def test_roundtrip_100k_records_six_partitions(broker, unique_topic):
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 6)
    # Null header values are a librdkafka extension kafka-python cannot send; everything else
    # (null keys and values, binary, repeated header keys, 100 KiB values) is covered.
    recs = gen_records(100_000, 6, seed=21)

    acks = kp_produce(broker.bootstrap, topic, recs, compression_type="gzip", batch_size=256_000)

    per_partition: dict[int, list[int]] = {}
    for r, (p, off) in zip(recs, acks):
        assert p == r.partition
        per_partition.setdefault(p, []).append(off)
    for p, offs in per_partition.items():
        assert offs == list(range(len(offs))), f"partition {p}: acked offsets not 0..n-1"

    expected = by_partition(recs)
    got = kp_consume(broker.bootstrap, topic, {p: len(v) for p, v in expected.items()})
    assert_partitions_equal(expected, got)


@pytest.mark.parametrize("codec", CODECS)
def test_codec_produced_by_kafka_python_read_by_confluent(broker, unique_topic, codec):
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 3)
    recs = gen_records(3000, 3, seed=30 + CODECS.index(codec), big_every=997)
    kp_produce(broker.bootstrap, topic, recs,
               compression_type=None if codec == "none" else codec)
    expected = by_partition(recs)
    got = confluent_consume(broker.bootstrap, topic, {p: len(v) for p, v in expected.items()})
    assert_partitions_equal(expected, got)


def test_offset_queries(broker, unique_topic):
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 6)
    recs = gen_records(600, 6, seed=22, big_every=0)  # partition p: i = p + 6k, ts = BASE_TS + i
    kp_produce(broker.bootstrap, topic, recs, linger_ms=0, batch_size=1000)

    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                      enable_auto_commit=False, request_timeout_ms=30_000)
    try:
        assert c.partitions_for_topic(topic) == set(range(6))
        tps = [TopicPartition(topic, p) for p in range(6)]
        assert c.beginning_offsets(tps) == {tp: 0 for tp in tps}
        assert c.end_offsets(tps) == {tp: 100 for tp in tps}

        for p in range(6):
            tp = TopicPartition(topic, p)
            for target, want in ((BASE_TS - 5, 0), (BASE_TS + p + 6 * 50, 50),
                                 (BASE_TS + p + 6 * 50 - 1, 50), (BASE_TS + p + 6 * 99, 99)):
                got = c.offsets_for_times({tp: target})[tp]
                assert got is not None, f"p{p} ts={target}: no answer"
                assert got.offset == want, f"p{p} ts={target}"
                assert got.timestamp == recs[p + 6 * want].timestamp
            # Past the newest timestamp there is no such offset.
            assert c.offsets_for_times({tp: BASE_TS + 10_000})[tp] is None
    finally:
        c.close()


def test_consume_respects_seek_and_position(broker, unique_topic):
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 1)
    recs = gen_records(500, 1, seed=23)
    kp_produce(broker.bootstrap, topic, recs, linger_ms=0, batch_size=2000)

    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                      enable_auto_commit=False, fetch_max_wait_ms=50)
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek(tp, 123)
        seen = []
        while len(seen) < 500 - 123:
            batch = c.poll(timeout_ms=2000, max_records=1000)
            assert batch, f"no progress after {len(seen)} records"
            seen += [m for ms in batch.values() for m in ms]
        assert [m.offset for m in seen] == list(range(123, 500))
        assert [(m.key, m.value) for m in seen] == [(r.key, r.value) for r in recs[123:]]
        assert c.position(tp) == 500
    finally:
        c.close()

