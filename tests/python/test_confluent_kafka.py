"""confluent-kafka (librdkafka 2.16) against the broker: produce/consume at volume, codecs,
ListOffsets, and the AdminClient calls a real deployment makes.

Why: librdkafka is the most widely used non-Java client and the strictest about protocol details
(API version negotiation, idempotence, flexible versions). Every answer asserted here is what
Apache Kafka 4.x returns; run `pytest --broker=kafka` to check these expectations against it.
"""

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicCollection, TopicPartition
from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource,
                                   NewPartitions, NewTopic, OffsetSpec, ResourceType)

from conftest import (BASE_TS, assert_partitions_equal, by_partition, confluent_admin,
                      confluent_consume, confluent_produce, create_topic, gen_records, kp_consume, kp_produce,
                      wait_until)

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def kafka_error(exc_info) -> KafkaError:
    err = exc_info.value.args[0]
    assert isinstance(err, KafkaError), f"expected a KafkaError, got {err!r}"
    return err


def source(entry) -> ConfigSource:
    return ConfigSource(entry.source)


def topic_configs(admin, topic) -> dict:
    res = ConfigResource(ResourceType.TOPIC, topic)
    return admin.describe_configs([res])[res].result(timeout=30)


# ---------------------------------------------------------------------------------------------
# Produce / consume
# ---------------------------------------------------------------------------------------------


def test_roundtrip_100k_records_six_partitions(broker, unique_topic):
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 6)
    recs = gen_records(100_000, 6, seed=1, null_header_values=True)

    acks = confluent_produce(broker.bootstrap, topic, recs, **{"compression.type": "lz4"})

    # Delivery reports: each partition's records got offsets 0..n-1 in production order.
    per_partition_offsets: dict[int, list[int]] = {}
    for r, (p, off) in zip(recs, acks):
        assert p == r.partition
        per_partition_offsets.setdefault(p, []).append(off)
    for p, offs in per_partition_offsets.items():
        assert offs == list(range(len(offs))), f"partition {p} acked offsets not 0..n-1"

    expected = by_partition(recs)
    got = confluent_consume(broker.bootstrap, topic, {p: len(v) for p, v in expected.items()})
    assert_partitions_equal(expected, got)


@pytest.mark.parametrize("codec", CODECS)
def test_codec_produced_by_confluent_read_by_kafka_python(broker, unique_topic, codec):
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 3)
    recs = gen_records(3000, 3, seed=10 + CODECS.index(codec), big_every=997)
    confluent_produce(broker.bootstrap, topic, recs, **{"compression.type": codec})
    expected = by_partition(recs)
    got = kp_consume(broker.bootstrap, topic, {p: len(v) for p, v in expected.items()})
    assert_partitions_equal(expected, got)


def test_consume_from_the_middle(broker, unique_topic):
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 2)
    recs = gen_records(2000, 2, seed=3)
    confluent_produce(broker.bootstrap, topic, recs, **{"linger.ms": 0, "batch.num.messages": 7})
    expected = by_partition(recs)
    # Starting inside a batch must return exactly the records from that offset on.
    got = confluent_consume(broker.bootstrap, topic, {0: 1000 - 333, 1: 1000 - 500},
                            start_offsets={0: 333, 1: 500})
    for p, start in ((0, 333), (1, 500)):
        assert [o for o, _ in got[p]] == list(range(start, 1000))
        assert [r for _, r in got[p]] == expected[p][start:]


# ---------------------------------------------------------------------------------------------
# ListOffsets
# ---------------------------------------------------------------------------------------------


def test_list_offsets_and_offsets_for_times(broker, unique_topic):
    from confluent_kafka import Consumer

    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 6)
    recs = gen_records(600, 6, seed=4, big_every=0)  # partition p holds i = p, p+6, ...; ts = BASE_TS + i
    # Written by kafka-python: over batches written by librdkafka (linger 0, 10 per batch)
    # Apache Kafka 4.1 itself answered some timestamp lookups with an offset one or more batches
    # early (its time index pointed at an earlier batch); kafka-python's batches got exact
    # answers. The expectations below are Kafka's documented ones.
    kp_produce(broker.bootstrap, topic, recs, linger_ms=0, batch_size=1000)

    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "lo-" + topic,
                  "enable.auto.commit": False})
    try:
        for p in range(6):
            assert c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) == (0, 100)
        # Timestamp queries: first offset whose timestamp is >= the target. One partition per
        # call: librdkafka 2.16 mixes up answers of multi-partition timestamp queries (seen
        # against Apache Kafka 4.1 too), which is not what this test is about.
        for p in range(6):
            for ts, want in ((BASE_TS - 1000, 0),              # before everything -> first offset
                             (BASE_TS + p, 0),                 # exact first timestamp
                             (BASE_TS + p + 6 * 42, 42),       # exact match
                             (BASE_TS + p + 6 * 42 - 3, 42),   # between two records
                             (BASE_TS + p + 6 * 99, 99),       # the last record
                             (BASE_TS + 10_000, -1)):          # after everything -> no offset
                [tp] = c.offsets_for_times([TopicPartition(topic, p, ts)], timeout=30)
                assert tp.error is None, f"{tp}"
                assert tp.offset == want, f"offsets_for_times p={p} ts={ts}"
    finally:
        c.close()

    admin = confluent_admin(broker.bootstrap)
    specs = {}
    for p in range(6):
        specs[TopicPartition(topic, p)] = OffsetSpec.earliest()
    answers = admin.list_offsets(specs, request_timeout=30)
    assert {tp.partition: f.result().offset for tp, f in answers.items()} == {p: 0 for p in range(6)}

    answers = admin.list_offsets({TopicPartition(topic, p): OffsetSpec.latest() for p in range(6)})
    assert {tp.partition: f.result().offset for tp, f in answers.items()} == {p: 100 for p in range(6)}

    answers = admin.list_offsets({TopicPartition(topic, 2): OffsetSpec.max_timestamp()})
    info = answers[TopicPartition(topic, 2)].result()
    assert (info.offset, info.timestamp) == (99, BASE_TS + 2 + 6 * 99)

    answers = admin.list_offsets({TopicPartition(topic, 5): OffsetSpec.for_timestamp(BASE_TS + 5 + 6 * 7)})
    info = answers[TopicPartition(topic, 5)].result()
    assert (info.offset, info.timestamp) == (7, BASE_TS + 5 + 6 * 7)


# ---------------------------------------------------------------------------------------------
# AdminClient
# ---------------------------------------------------------------------------------------------


def test_describe_cluster_and_metadata(broker):
    admin = confluent_admin(broker.bootstrap)
    cluster = admin.describe_cluster(request_timeout=30).result()
    assert cluster.cluster_id, "cluster id must be a non-empty string"
    assert [n.id for n in cluster.nodes] == [0]
    host, port = broker.bootstrap.rsplit(":", 1)
    assert (cluster.nodes[0].host, cluster.nodes[0].port) == (host, int(port))
    assert cluster.controller is not None and cluster.controller.id == 0
    md = admin.list_topics(timeout=10)
    assert md.cluster_id == cluster.cluster_id
    assert list(md.brokers) == [0]
    assert md.controller_id == 0


def test_create_topic_with_configs_and_describe(broker, unique_topic):
    admin = confluent_admin(broker.bootstrap)
    topic = unique_topic()
    configs = {"retention.ms": "3600000", "cleanup.policy": "compact", "max.message.bytes": "200000"}
    futs = admin.create_topics([NewTopic(topic, 6, 1, config=configs)], operation_timeout=30)
    assert futs[topic].result(timeout=30) is None

    desc = wait_until(
        lambda: admin.describe_topics(TopicCollection([topic]))[topic].result(timeout=10),
        15, "DescribeTopics to know the new topic")
    assert desc.name == topic and not desc.is_internal
    assert str(desc.topic_id) not in ("", "AAAAAAAAAAAAAAAAAAAAAA"), "topic id must be non-zero"
    assert [p.id for p in desc.partitions] == list(range(6))
    for p in desc.partitions:
        assert p.leader.id == 0
        assert [n.id for n in p.replicas] == [0]
        assert [n.id for n in p.isr] == [0]

    entries = topic_configs(admin, topic)
    for name, value in configs.items():
        assert entries[name].value == value, name
        assert source(entries[name]) == ConfigSource.DYNAMIC_TOPIC_CONFIG, name
        assert not entries[name].is_default
    # Untouched settings report Kafka's defaults.
    assert entries["segment.bytes"].value == "1073741824"
    assert entries["min.insync.replicas"].value == "1"
    assert entries["compression.type"].value == "producer"
    assert entries["retention.bytes"].value == "-1"
    assert source(entries["segment.bytes"]) != ConfigSource.DYNAMIC_TOPIC_CONFIG

    # validate_only creates nothing.
    dry = unique_topic("dry")
    admin.create_topics([NewTopic(dry, 2, 1)], validate_only=True)[dry].result(timeout=30)
    md = admin.list_topics(timeout=10)
    assert dry not in md.topics, "validate_only must not create the topic"


def test_create_topic_errors(broker, unique_topic):
    admin = confluent_admin(broker.bootstrap)
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 1)

    cases = [
        (NewTopic(topic, 1, 1), KafkaError.TOPIC_ALREADY_EXISTS),
        (NewTopic(unique_topic(), 1, 3), KafkaError.INVALID_REPLICATION_FACTOR),
        (NewTopic(unique_topic(), 0, 1), KafkaError.INVALID_PARTITIONS),
        (NewTopic("bad/topic name", 1, 1), KafkaError.TOPIC_EXCEPTION),
        (NewTopic("x" * 250, 1, 1), KafkaError.TOPIC_EXCEPTION),
        (NewTopic(unique_topic(), 1, 1, config={"retention.ms": "not-a-number"}), KafkaError.INVALID_CONFIG),
        (NewTopic(unique_topic(), 1, 1, config={"no.such.config": "1"}), KafkaError.INVALID_CONFIG),
    ]
    for new_topic, code in cases:
        fut = admin.create_topics([new_topic], operation_timeout=30)[new_topic.topic]
        with pytest.raises(KafkaException) as exc:
            fut.result(timeout=30)
        assert kafka_error(exc).code() == code, f"create {new_topic.topic!r:.60}: {kafka_error(exc)}"


def test_alter_configs_replaces_the_dynamic_set(broker, unique_topic):
    admin = confluent_admin(broker.bootstrap)
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 1, {"cleanup.policy": "compact", "retention.ms": "1000"})

    res = ConfigResource(ResourceType.TOPIC, topic, set_config={"retention.ms": "7200000"})
    admin.alter_configs([res])[res].result(timeout=30)

    # Legacy AlterConfigs is a full replacement: cleanup.policy falls back to its default.
    def applied():
        e = topic_configs(admin, topic)
        return e if e["retention.ms"].value == "7200000" else None

    entries = wait_until(applied, 15, "retention.ms=7200000 to be visible")
    assert entries["cleanup.policy"].value == "delete"
    assert source(entries["cleanup.policy"]) == ConfigSource.DEFAULT_CONFIG

    bad = ConfigResource(ResourceType.TOPIC, topic, set_config={"retention.ms": "abc"})
    with pytest.raises(KafkaException) as exc:
        admin.alter_configs([bad])[bad].result(timeout=30)
    assert kafka_error(exc).code() == KafkaError.INVALID_CONFIG


def test_incremental_alter_configs(broker, unique_topic):
    admin = confluent_admin(broker.bootstrap)
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 1, {"max.message.bytes": "100000", "retention.ms": "5000"})

    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "86400000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
        ConfigEntry("max.message.bytes", None, incremental_operation=AlterConfigOpType.DELETE),
        ConfigEntry("segment.ms", "600000", incremental_operation=AlterConfigOpType.SET),
    ])
    admin.incremental_alter_configs([res])[res].result(timeout=30)

    def applied():
        e = topic_configs(admin, topic)
        return e if e["retention.ms"].value == "86400000" else None

    entries = wait_until(applied, 15, "incremental changes to be visible")
    assert entries["segment.ms"].value == "600000"
    assert source(entries["segment.ms"]) == ConfigSource.DYNAMIC_TOPIC_CONFIG
    assert sorted(entries["cleanup.policy"].value.split(",")) == ["compact", "delete"]
    assert entries["max.message.bytes"].value == "1048588"  # back to Kafka's default
    assert source(entries["max.message.bytes"]) != ConfigSource.DYNAMIC_TOPIC_CONFIG

    # SUBTRACT removes a list element; an unknown config name is INVALID_CONFIG.
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("cleanup.policy", "delete", incremental_operation=AlterConfigOpType.SUBTRACT)])
    admin.incremental_alter_configs([res])[res].result(timeout=30)
    wait_until(lambda: topic_configs(admin, topic)["cleanup.policy"].value == "compact", 15,
               "cleanup.policy=compact after SUBTRACT")

    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("no.such.config", "1", incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(KafkaException) as exc:
        admin.incremental_alter_configs([res])[res].result(timeout=30)
    assert kafka_error(exc).code() == KafkaError.INVALID_CONFIG

    missing = ConfigResource(ResourceType.TOPIC, unique_topic("missing"), incremental_configs=[
        ConfigEntry("retention.ms", "1", incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(KafkaException) as exc:
        admin.incremental_alter_configs([missing])[missing].result(timeout=30)
    assert kafka_error(exc).code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_create_partitions(broker, unique_topic):
    admin = confluent_admin(broker.bootstrap)
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 6)
    admin.create_partitions([NewPartitions(topic, 8)], operation_timeout=30)[topic].result(timeout=30)

    wait_until(lambda: len(admin.list_topics(topic, timeout=5).topics[topic].partitions) == 8, 15,
               "metadata to show 8 partitions")
    desc = admin.describe_topics(TopicCollection([topic]))[topic].result(timeout=30)
    assert [p.id for p in desc.partitions] == list(range(8))

    # The new partitions take writes and reads like the old ones.
    recs = [r for r in gen_records(80, 8, seed=5) if r.partition >= 6]
    acks = confluent_produce(broker.bootstrap, topic, recs)
    assert sorted(set(p for p, _ in acks)) == [6, 7]
    got = confluent_consume(broker.bootstrap, topic, {6: 10, 7: 10})
    assert_partitions_equal(by_partition(recs), got)

    for count, code in ((4, KafkaError.INVALID_PARTITIONS), (8, KafkaError.INVALID_PARTITIONS)):
        with pytest.raises(KafkaException) as exc:
            admin.create_partitions([NewPartitions(topic, count)])[topic].result(timeout=30)
        assert kafka_error(exc).code() == code, f"create_partitions to {count}"
    missing = unique_topic("missing")
    with pytest.raises(KafkaException) as exc:
        admin.create_partitions([NewPartitions(missing, 3)])[missing].result(timeout=30)
    assert kafka_error(exc).code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_delete_records(broker, unique_topic):
    admin = confluent_admin(broker.bootstrap)
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 3)
    recs = gen_records(300, 3, seed=6)  # 100 per partition
    confluent_produce(broker.bootstrap, topic, recs, **{"batch.num.messages": 8, "linger.ms": 0})

    answers = admin.delete_records([TopicPartition(topic, 0, 37), TopicPartition(topic, 1, -1)],
                                   operation_timeout=30)
    low = {tp.partition: f.result(timeout=30).low_watermark for tp, f in answers.items()}
    assert low == {0: 37, 1: 100}, "offset -1 means 'up to the high watermark'"

    answers = admin.list_offsets({TopicPartition(topic, p): OffsetSpec.earliest() for p in range(3)})
    assert {tp.partition: f.result().offset for tp, f in answers.items()} == {0: 37, 1: 100, 2: 0}

    # Reading from the beginning starts at the new log start offset, mid-batch included.
    expected = by_partition(recs)
    got = confluent_consume(broker.bootstrap, topic, {0: 63, 1: 0, 2: 100})
    assert [o for o, _ in got[0]] == list(range(37, 100))
    assert [r for _, r in got[0]] == expected[0][37:]
    assert_partitions_equal({2: expected[2]}, {2: got[2]})

    # Deleting before the current start is a no-op; beyond the high watermark is out of range.
    answers = admin.delete_records([TopicPartition(topic, 0, 10)])
    assert answers[TopicPartition(topic, 0, 10)].result(timeout=30).low_watermark == 37
    answers = admin.delete_records([TopicPartition(topic, 2, 101)])
    with pytest.raises(KafkaException) as exc:
        answers[TopicPartition(topic, 2, 101)].result(timeout=30)
    assert kafka_error(exc).code() == KafkaError.OFFSET_OUT_OF_RANGE


def test_delete_topics(broker, unique_topic):
    admin = confluent_admin(broker.bootstrap)
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 2)
    confluent_produce(broker.bootstrap, topic, gen_records(50, 2, seed=7))

    admin.delete_topics([topic], operation_timeout=30)[topic].result(timeout=30)
    wait_until(lambda: topic not in admin.list_topics(timeout=5).topics, 15,
               "deleted topic to leave the metadata")
    with pytest.raises(KafkaException) as exc:
        admin.describe_topics(TopicCollection([topic]))[topic].result(timeout=30)
    assert kafka_error(exc).code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    with pytest.raises(KafkaException) as exc:
        admin.delete_topics([topic], operation_timeout=30)[topic].result(timeout=30)
    assert kafka_error(exc).code() == KafkaError.UNKNOWN_TOPIC_OR_PART

    # The name can be reused, and the new topic starts empty.
    create_topic(broker.bootstrap, topic, 1)
    fresh = confluent_admin(broker.bootstrap)  # no cached metadata of the deleted topic
    tp = TopicPartition(topic, 0)
    assert fresh.list_offsets({tp: OffsetSpec.latest()})[tp].result(timeout=30).offset == 0
    acks = confluent_produce(broker.bootstrap, topic, gen_records(3, 1, seed=8))
    assert [o for _, o in acks] == [0, 1, 2]
