"""Crash safety: SIGKILL a --durable broker under idempotent acks=all load, again and again.

Why: `--durable` promises that an acknowledged record survives any crash, at the offset it was
acknowledged with, exactly once. Real producers keep retrying through the outage, so the
broker must also rebuild idempotent-producer state after each crash and reject or deduplicate
the retried batches it already wrote. Finally Kafka's own DumpLogSegments must accept every
segment the broker left on disk. Also: a torn write at the tail is cut off by recovery, and a
clean SIGTERM restart keeps everything. `pytest --broker=kafka` runs the same scenarios against
Apache Kafka (log.flush.interval.messages=1 for --durable) to validate the expectations.
"""

from __future__ import annotations

import os
import random
import re
import signal
import struct
import subprocess
import threading
import time
from collections import Counter

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from conftest import (BASE_TS, assert_partitions_equal, confluent_admin, confluent_consume,
                      confluent_produce, create_topic, gen_records, wait_until)
from reference_kafka import (KAFKA_SERVER, ReferenceKafka, dump_log_deep, kafka_command,
                             wait_for_kafka_api)

PARTITIONS = 6
PRODUCERS = 4
IN_FLIGHT_LIMIT = 4000           # records queued per producer before it waits for acks
ACKS_BETWEEN_KILLS = (5000, 15000)
ACKS_AFTER_LAST_RESTART = 5000
VALUE_RE = re.compile(rb"^p(\d+)-(\d{8})-(x*)$")


class ProducerThread(threading.Thread):
    """One idempotent producer sending p<id>-<seq> values round-robin over the partitions and
    recording every acknowledged (partition, offset, value)."""

    def __init__(self, pid: int, bootstrap: str, topic: str, acked: list, lock: threading.Lock):
        super().__init__(name=f"producer-{pid}", daemon=True)
        self.pid, self.topic, self.acked, self.lock = pid, topic, acked, lock
        self.stop_event = threading.Event()
        self.sent = 0
        self.outstanding = 0
        self.delivery_errors: list = []
        self.fatal_errors: list = []
        self.exc: BaseException | None = None
        self.producer = Producer({
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 2,
            "message.timeout.ms": 300_000,     # ride out every outage: never give up a record
            "retry.backoff.ms": 50,
            "reconnect.backoff.ms": 20,
            "reconnect.backoff.max.ms": 250,
            "error_cb": self._on_error,
        })

    def _on_error(self, err):
        if err.fatal():
            self.fatal_errors.append(str(err))

    def _on_delivery(self, err, msg):
        self.outstanding -= 1
        if err is not None:
            self.delivery_errors.append((msg.value(), str(err)))
            return
        with self.lock:
            self.acked.append((msg.partition(), msg.offset(), msg.value()))

    def run(self):
        try:
            while not self.stop_event.is_set():
                if self.outstanding >= IN_FLIGHT_LIMIT:
                    self.producer.poll(0.05)
                    continue
                seq = self.sent
                # Mostly small values, a few larger ones so batches vary in size.
                pad = b"x" * (2000 if seq % 97 == 0 else seq % 50)
                value = b"p%d-%08d-" % (self.pid, seq) + pad
                self.producer.produce(self.topic, value=value, key=b"k%d" % seq,
                                      partition=(self.pid + seq) % PARTITIONS,
                                      on_delivery=self._on_delivery)
                self.sent += 1
                self.outstanding += 1
                self.producer.poll(0)
            left = self.producer.flush(240)
            assert left == 0, f"{self.name}: {left} records never acknowledged"
        except BaseException as exc:  # surfaced by the test after join()
            self.exc = exc
        finally:
            self.producer.close()


def read_partition(bootstrap: str, topic: str, partition: int, deadline_s: float = 120) -> list:
    """Every (offset, value) of a partition, from the start to its high watermark."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"crash-check-{partition}",
                  "enable.auto.commit": False, "fetch.wait.max.ms": 50})
    try:
        _, high = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
        c.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
        out: list = []
        deadline = time.monotonic() + deadline_s
        while (out[-1][0] + 1 if out else 0) < high:
            assert time.monotonic() < deadline, f"partition {partition}: read {len(out)} of {high}"
            for m in c.consume(num_messages=5000, timeout=0.5):
                assert m.error() is None, f"partition {partition}: {m.error()}"
                out.append((m.offset(), m.value()))
        return out
    finally:
        c.close()


class RestartableKafka(ReferenceKafka):
    """The reference Apache Kafka with the same lifecycle as a Sluice broker (kill, start again
    on the same port and data), so `pytest --broker=kafka` validates these scenarios too."""

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def start(self) -> "RestartableKafka":
        if self.port == 0:  # first start: choose ports, format storage
            return super().start()
        env = {**os.environ, "KAFKA_HEAP_OPTS": os.environ.get("KAFKA_HEAP_OPTS", "-Xms256m -Xmx1g")}
        self.proc = subprocess.Popen(kafka_command(KAFKA_SERVER, [str(self.config_file)]),
                                     stdout=self._log_handle, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        wait_for_kafka_api(self.host, self.port, 120, alive=lambda: self.proc.poll() is None)
        return self

    def stop(self) -> int:
        super().stop()
        return 0


@pytest.fixture
def crash_broker(request, sluice_factory):
    """crash_broker(durable) -> a started broker with .bootstrap/.data_dir/.kill/.start/.stop."""
    made = []

    def make(durable: bool):
        if request.config.getoption("--broker") != "kafka":
            return sluice_factory(durable=durable)
        props = {"log.flush.interval.messages": "1"} if durable else {}
        k = RestartableKafka(extra_props=props)
        made.append(k)
        return k.start()

    yield make
    for k in made:
        k.cleanup()


def test_sigkill_during_idempotent_produce_loses_and_duplicates_nothing(crash_broker,
                                                                        unique_topic):
    seed = int(os.environ.get("SLUICE_CRASH_SEED", random.SystemRandom().randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"crash test seed: {seed} (rerun with SLUICE_CRASH_SEED={seed})")
    kills = rng.randint(3, 5)

    broker = crash_broker(durable=True)
    run_crash_scenario(broker, unique_topic(), rng, kills)


def test_sigkill_with_segments_rolling_under_durable_load(crash_broker, unique_topic):
    """The same crashes with 16 KiB segments, so rolls happen all the time: a durable flush
    syncs only the active segment's .log, a segment sealed by a roll whole once, and the
    directory only after a segment was created. Recovery then trusts sealed segments below
    the recovery point and rebuilds the active segment's indexes; acknowledged records must
    survive every kill at their offsets, in order."""
    seed = int(os.environ.get("SLUICE_CRASH_SEED", random.SystemRandom().randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"crash test seed: {seed} (rerun with SLUICE_CRASH_SEED={seed})")
    broker = crash_broker(durable=True)
    topic = unique_topic()
    run_crash_scenario(broker, topic, rng, rng.randint(3, 4),
                       topic_config={"internal.segment.bytes": "16384"})
    segments = list(broker.data_dir.glob(f"{topic}-*/*.log"))
    assert len(segments) > 10 * PARTITIONS, f"only {len(segments)} segments: rolls not exercised"


def run_crash_scenario(broker, topic: str, rng: random.Random, kills: int,
                       topic_config: dict | None = None) -> None:
    """The scenario against any broker with .bootstrap, .data_dir, .kill(), .start(), .stop()."""
    create_topic(broker.bootstrap, topic, PARTITIONS, topic_config)

    acked: list = []
    lock = threading.Lock()
    producers = [ProducerThread(i, broker.bootstrap, topic, acked, lock) for i in range(PRODUCERS)]
    for p in producers:
        p.start()

    def acks() -> int:
        with lock:
            return len(acked)

    in_flight: list[int] = []  # records produced but not yet acknowledged at each kill
    try:
        for k in range(kills):
            target = acks() + rng.randint(*ACKS_BETWEEN_KILLS)
            wait_until(lambda: acks() >= target or any(p.exc for p in producers), 120,
                       f"{target} acknowledged records before kill #{k + 1}")
            assert not any(p.exc for p in producers), [p.exc for p in producers]
            in_flight.append(sum(p.outstanding for p in producers))
            broker.kill()
            print(f"kill #{k + 1} after {acks()} acks, {in_flight[-1]} records in flight")
            broker.start()
        target = acks() + ACKS_AFTER_LAST_RESTART
        wait_until(lambda: acks() >= target, 120, "producers to make progress after the last restart")
    finally:
        for p in producers:
            p.stop_event.set()
        for p in producers:
            p.join(300)
    for p in producers:
        assert not p.is_alive(), f"{p.name} did not finish"
        assert p.exc is None, f"{p.name}: {p.exc!r}"
        assert not p.fatal_errors, f"{p.name} fatal errors: {p.fatal_errors}"
        assert not p.delivery_errors, f"{p.name}: {len(p.delivery_errors)} delivery errors, " \
                                      f"first {p.delivery_errors[:3]}"

    assert max(in_flight) > 0, "no kill hit the broker while records were in flight"

    # Everything that was produced was acknowledged exactly once.
    sent = sum(p.sent for p in producers)
    assert len(acked) == sent, f"{len(acked)} delivery reports for {sent} records"
    assert len({v for _, _, v in acked}) == sent

    # What the log holds now.
    log = {p: read_partition(broker.bootstrap, topic, p) for p in range(PARTITIONS)}
    by_value: Counter = Counter()
    for p, entries in log.items():
        offsets = [o for o, _ in entries]
        assert offsets == list(range(len(entries))), f"partition {p}: offsets have gaps"
        by_value.update(v for _, v in entries)
    dupes = [v for v, n in by_value.items() if n > 1]
    assert not dupes, f"{len(dupes)} values stored more than once, e.g. {dupes[:3]}"

    # Every acknowledged record is at its acknowledged offset.
    lost = [(p, o, v) for p, o, v in acked if o >= len(log[p]) or log[p][o][1] != v]
    assert not lost, (f"{len(lost)} acknowledged records missing or moved, e.g. {lost[:3]}; "
                      f"partition sizes { {p: len(e) for p, e in log.items()} }")

    # Nothing else is stored: every record was produced by us, each producer's records are in
    # send order within a partition, and (all acked) the log is exactly the acked set.
    assert sum(len(e) for e in log.values()) == len(acked)
    for p, entries in log.items():
        last_seq: dict[int, int] = {}
        for off, value in entries:
            m = VALUE_RE.match(value)
            assert m, f"partition {p} offset {off}: foreign value {value[:60]!r}"
            pid, seq = int(m.group(1)), int(m.group(2))
            assert (pid + seq) % PARTITIONS == p, f"value {value[:20]!r} in partition {p}"
            assert seq > last_seq.get(pid, -1), f"partition {p} offset {off}: producer {pid} " \
                                                f"seq {seq} after {last_seq.get(pid)}"
            last_seq[pid] = seq

    # Kafka's own decoder accepts every segment the broker wrote, crashes included.
    assert broker.stop() == 0, "clean SIGTERM shutdown after the crashes"
    segments = sorted(broker.data_dir.glob(f"{topic}-*/*.log"))
    assert len(segments) >= PARTITIONS, f"segments found: {segments}"
    ok, output = dump_log_deep(segments)
    assert ok, f"kafka-dump-log rejected the segments:\n{output[-5000:]}"
    # Every batch the dump lists belongs to the records read above.
    batches = sum(1 for line in output.splitlines() if line.startswith("baseOffset:"))
    assert batches > 0, output[-2000:]


TORN_TAILS = {
    # A batch header announcing 500 bytes, cut off after 32: the write never finished.
    "incomplete-batch": struct.pack(">qi", 10**6, 500) + b"\x00" * 20,
    # A complete-looking batch whose CRC does not match its contents (bytes never synced).
    "bad-crc-batch": struct.pack(">qi", 10**6, 49 + 9) + struct.pack(">ibI", -1, 2, 0xDEADBEEF)
                     + struct.pack(">hiqqqhii", 0, 0, 0, 0, -1, -1, -1, 1) + b"\x12" * 9,
}


@pytest.mark.parametrize("tail", sorted(TORN_TAILS))
def test_torn_tail_is_truncated_on_recovery(crash_broker, unique_topic, tail):
    broker = crash_broker(durable=True)
    run_torn_tail_scenario(broker, unique_topic(), TORN_TAILS[tail])


def run_torn_tail_scenario(broker, topic: str, torn: bytes) -> None:
    """After a crash the last segment ends in bytes that are not a valid batch: recovery must
    cut them off, keep every acknowledged record, and append after them as if they never were."""
    create_topic(broker.bootstrap, topic, 1)
    recs = gen_records(1000, 1, seed=77)
    acks = confluent_produce(broker.bootstrap, topic, recs, acks="all")
    assert [o for _, o in acks] == list(range(1000))
    broker.kill()

    segment = sorted((broker.data_dir / f"{topic}-0").glob("*.log"))[-1]
    with open(segment, "ab") as f:
        f.write(torn)
    broker.start()

    more = gen_records(10, 1, seed=78, base_ts=BASE_TS + 5000)
    acks = confluent_produce(broker.bootstrap, topic, more, acks="all")
    assert [o for _, o in acks] == list(range(1000, 1010)), "appends continue after the cut"
    got = confluent_consume(broker.bootstrap, topic, {0: 1010})
    assert_partitions_equal({0: recs + more}, got)

    assert broker.stop() == 0
    segments = sorted((broker.data_dir / f"{topic}-0").glob("*.log"))
    ok, output = dump_log_deep(segments)
    assert ok, f"kafka-dump-log rejected the recovered segments:\n{output[-5000:]}"


def test_clean_restart_keeps_data_configs_and_offsets(crash_broker, unique_topic):
    broker = crash_broker(durable=False)
    run_clean_restart_scenario(broker, unique_topic())


def run_clean_restart_scenario(broker, topic: str) -> None:
    """SIGTERM, start again: topics, their configs, records and the next offsets all survive."""
    from confluent_kafka.admin import ConfigResource, ResourceType

    create_topic(broker.bootstrap, topic, 3, {"retention.ms": "123456789", "cleanup.policy": "delete"})
    recs = gen_records(3000, 3, seed=79)
    confluent_produce(broker.bootstrap, topic, recs)

    assert broker.stop() == 0, "SIGTERM must end the broker with exit code 0"
    broker.start()

    got = confluent_consume(broker.bootstrap, topic, {p: 1000 for p in range(3)})
    assert_partitions_equal({p: [r for r in recs if r.partition == p] for p in range(3)}, got)
    more = gen_records(3, 3, seed=80, base_ts=BASE_TS + 10_000)
    acks = confluent_produce(broker.bootstrap, topic, more)
    assert sorted(acks) == [(0, 1000), (1, 1000), (2, 1000)]

    admin = confluent_admin(broker.bootstrap)
    res = ConfigResource(ResourceType.TOPIC, topic)
    entries = admin.describe_configs([res])[res].result(timeout=30)
    assert entries["retention.ms"].value == "123456789"
