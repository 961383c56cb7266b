"""Exactly-once consume-transform-produce through real transactional clients, with the processor
killed (SIGKILL) at random points and restarted.

Why: exactly-once is the sum of many broker duties (producer fencing by InitProducerId, aborting
the killed instance's open transaction, transactional offsets decided by the markers, read_committed
fetches that skip aborted data, the LSO). A processor that dies mid-transaction, mid-commit or
between transactions and comes back must still leave each input record's result in the output
exactly once, with the group's committed offsets at the input's end.

Processors (same contract, see eos_processor.py): confluent-kafka (librdkafka) and the Apache
Kafka Java client (tests/interop/java EosProcessor). The Rust rdkafka variant lives in
crates/sluice/tests/eos.rs. Input: 100,000 records of ~100 bytes over 3 partitions.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import BASE_TS, Rec, confluent_produce, create_topic, wait_until
from test_java_interop import interop_classpath  # noqa: F401  (fixture: builds the Java project)

RECORDS = int(os.environ.get("SLUICE_EOS_RECORDS", "100000"))
PARTITIONS = 3
BATCH = 250
KILLS = 3
GROUP = "eos-group"
FILLER = "abcdefghijklmnopqrstuvwxyz0123456789" * 3
BROKER_SETTINGS = {"transaction.state.log.num.partitions": 3, "offsets.topic.num.partitions": 3}
FINAL_RUN_TIMEOUT_S = 150


def input_records(n: int) -> list[Rec]:
    """Deterministic ~100-byte records, round-robin over the partitions."""
    return [Rec(i % PARTITIONS, f"k{i:06d}".encode(), f"v{i:06d}-{FILLER}"[:100].encode(), (),
                BASE_TS + i) for i in range(n)]


def processor_command(kind: str, classpath: str | None, bootstrap: str, input_topic: str,
                      output: str) -> list[str]:
    args = [bootstrap, input_topic, output, GROUP, f"eos-{kind}", str(BATCH)]
    if kind == "python":
        return [sys.executable, str(Path(__file__).with_name("eos_processor.py")), *args]
    return ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", classpath,
            "dev.sluice.interop.EosProcessor", *args]


class ProcessorRuns:
    """Starts the processor again and again, killing it at random points, until it finishes."""

    def __init__(self, cmd: list[str], workdir: Path, seed: int):
        self.cmd = cmd
        self.workdir = workdir
        self.rng = random.Random(seed)
        self.runs = 0
        self.kill_points: list[str] = []

    def _start(self) -> tuple[subprocess.Popen, Path, Path]:
        self.runs += 1
        out = self.workdir / f"processor-{self.runs}.out"
        err = self.workdir / f"processor-{self.runs}.err"
        with open(out, "wb") as o, open(err, "wb") as e:
            proc = subprocess.Popen(self.cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
        return proc, out, err

    def context(self) -> str:
        parts = []
        for i in range(1, self.runs + 1):
            out = (self.workdir / f"processor-{i}.out").read_text(errors="replace")
            err = (self.workdir / f"processor-{i}.err").read_text(errors="replace")
            last = out.strip().splitlines()[-1:] or ["<no output>"]
            parts.append(f"run {i}: last line {last[0]!r}; stderr tail:\n{err[-1500:]}")
        return "\n".join(parts)

    def kill_at(self, progress: int) -> None:
        """One run killed with SIGKILL at a random moment once the committed input offsets
        reach `progress` records (mid-transaction, mid-commit or between transactions)."""
        proc, out, _ = self._start()

        def progressed() -> bool:
            if proc.poll() is not None:
                return True
            lines = out.read_text().split()
            return len(lines) >= 2 and lines[-2] == "committed" and int(lines[-1]) >= progress

        try:
            wait_until(progressed, 60, f"processor run {self.runs} to commit {progress} records")
            assert proc.poll() is None, (
                f"run {self.runs} exited ({proc.returncode}) before it could be killed\n"
                + self.context())
            time.sleep(self.rng.uniform(0.0, 0.1))  # the random kill point, not synchronisation
            lines = out.read_text().strip().splitlines()
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        assert proc.returncode == -signal.SIGKILL, (
            f"run {self.runs} ended on its own ({proc.returncode}) before the kill\n"
            + self.context())
        self.kill_points.append(lines[-1] if lines else "before the first commit")

    def finish(self) -> str:
        proc, out, _ = self._start()
        try:
            proc.wait(FINAL_RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"the last run did not finish in {FINAL_RUN_TIMEOUT_S}s\n"
                                 + self.context())
        assert proc.returncode == 0, f"the last run failed\n{self.context()}"
        return out.read_text()


def read_committed_output(bootstrap: str, topic: str, expected_total: int,
                          timeout: float = 90) -> dict[int, list[tuple[bytes, bytes]]]:
    """Everything a read_committed consumer sees in `topic`, to the end of every partition."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "eos-verifier",
                  "isolation.level": "read_committed", "enable.auto.commit": False,
                  "enable.partition.eof": True, "fetch.wait.max.ms": 50})
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        got: dict[int, list[tuple[bytes, bytes]]] = {p: [] for p in range(PARTITIONS)}
        at_end: set[int] = set()
        have = 0
        deadline = time.monotonic() + timeout
        # The processor has finished, so nothing more arrives: end of every partition with at
        # least the expected number of records read means everything was read.
        while len(at_end) < PARTITIONS or have < expected_total:
            assert time.monotonic() < deadline, (
                f"timed out reading {topic}: {have}/{expected_total}, at end: {sorted(at_end)}")
            for m in c.consume(num_messages=10_000, timeout=0.5):
                if m.error() is not None:
                    assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                    at_end.add(m.partition())
                    continue
                at_end.discard(m.partition())
                got[m.partition()].append((m.key(), m.value()))
                have += 1
        return got
    finally:
        c.close()


def committed_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP,
                  "isolation.level": "read_committed", "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=30)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def assert_exactly_once(inputs: list[Rec], output: dict[int, list[tuple[bytes, bytes]]]) -> None:
    for p in range(PARTITIONS):
        want = [(r.key, r.value + b":done") for r in inputs if r.partition == p]
        have = output[p]
        if have == want:
            continue
        seen: dict[tuple[bytes, bytes], int] = {}
        for rec in have:
            seen[rec] = seen.get(rec, 0) + 1
        dups = [rec for rec, n in seen.items() if n > 1]
        missing = [rec for rec in want if rec not in seen]
        first_diff = next((i for i, (a, b) in enumerate(zip(have, want)) if a != b),
                          min(len(have), len(want)))
        raise AssertionError(
            f"output partition {p}: {len(have)} records, want {len(want)}; "
            f"{len(dups)} duplicated (first {dups[:3]}), {len(missing)} missing "
            f"(first {missing[:3]}); first difference at position {first_diff}")


@pytest.mark.parametrize("kind", ["python", "java"])
def test_exactly_once_with_processor_killed_and_restarted(kind, sluice_factory, unique_topic,
                                                         tmp_path, request):
    classpath = request.getfixturevalue("interop_classpath") if kind == "java" else None
    broker = sluice_factory(settings=BROKER_SETTINGS)
    input_topic, output = unique_topic("in"), unique_topic("out")
    create_topic(broker.bootstrap, input_topic, PARTITIONS)
    create_topic(broker.bootstrap, output, PARTITIONS)
    inputs = input_records(RECORDS)
    confluent_produce(broker.bootstrap, input_topic, inputs)

    seed = int(os.environ.get("SLUICE_EOS_SEED", str(time.time_ns())))
    runs = ProcessorRuns(processor_command(kind, classpath, broker.bootstrap, input_topic, output),
                         tmp_path, seed)
    # One kill point in each of the KILLS slices of the input's first 70% (the margin keeps the
    # random delay after the kill point from reaching the end of the input on a fast machine).
    slice_len = RECORDS * 7 // 10 // KILLS
    for i in range(KILLS):
        runs.kill_at(i * slice_len + runs.rng.randrange(slice_len))
    last = runs.finish()
    print(f"{kind}: seed {seed}, killed after {runs.kill_points}; last run: "
          f"{last.strip().splitlines()[-1]}")

    output_records = read_committed_output(broker.bootstrap, output, RECORDS)
    assert_exactly_once(inputs, output_records)
    ends = {p: sum(1 for r in inputs if r.partition == p) for p in range(PARTITIONS)}
    assert committed_offsets(broker.bootstrap, input_topic) == ends
    broker.assert_alive()
