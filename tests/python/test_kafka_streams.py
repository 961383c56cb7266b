"""A Kafka Streams application (kafka-streams 4.1, exactly_once_v2) killed mid-stream and restarted.

Why: Kafka Streams leans on every transactional feature at once: a repartition topic between two
sub-topologies (purged with DeleteRecords), a compacted changelog restored with read_committed
after a crash, offsets committed inside the producer's transactions with the group generation
(KIP-447), transactional ids that survive the restart. The application (tests/interop/java
WordCount) counts words with the record cache off, so each occurrence of a word yields one output
record; exactly-once then means every word's committed outputs are exactly 1, 2, ..., n, and the
last value per word equals a batch count of the input.
"""

from __future__ import annotations

import random
import signal
import struct
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

from conftest import create_topic, wait_until
from test_java_interop import interop_classpath  # noqa: F401  (fixture: builds the Java project)

LINES = 4000
WORDS_PER_LINE = 5
PARTITIONS = 3
KILLS = 2
BROKER_SETTINGS = {"transaction.state.log.num.partitions": 3, "offsets.topic.num.partitions": 3,
                   "group.initial.rebalance.delay.ms": 0}
CONVERGE_TIMEOUT_S = 150


def input_lines(rng: random.Random) -> list[str]:
    vocabulary = [f"w{i:03d}" for i in range(300)]
    # Skewed: a few words are very frequent, so some counts run into the hundreds.
    weights = [1.0 / (1 + i) for i in range(len(vocabulary))]
    return [" ".join(rng.choices(vocabulary, weights, k=WORDS_PER_LINE)) for _ in range(LINES)]


class Feeder(threading.Thread):
    """Produces the input lines at a steady pace while the application runs (and is killed),
    so the kills land mid-stream rather than after a burst has been processed."""

    CHUNK = 40
    PAUSE_S = 0.12

    def __init__(self, bootstrap: str, topic: str, lines: list[str]):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.lines = bootstrap, topic, lines
        self.error: BaseException | None = None
        self.stopping = False

    def run(self) -> None:
        from confluent_kafka import Producer

        try:
            p = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True,
                          "linger.ms": 5})
            for start in range(0, len(self.lines), self.CHUNK):
                if self.stopping:
                    return
                for i in range(start, min(start + self.CHUNK, len(self.lines))):
                    p.produce(self.topic, key=f"line-{i}".encode(),
                              value=self.lines[i].encode(), partition=i % PARTITIONS)
                p.poll(0)
                time.sleep(self.PAUSE_S)  # pacing the input, not synchronisation
            assert p.flush(30) == 0, "input records left undelivered"
        except BaseException as exc:  # reported by the test thread
            self.error = exc


class App:
    """The WordCount process: started, killed and restarted on the same state directory."""

    def __init__(self, cmd: list[str], workdir: Path):
        self.cmd = cmd
        self.workdir = workdir
        self.runs = 0
        self.proc: subprocess.Popen | None = None

    def out_path(self, run: int) -> Path:
        return self.workdir / f"wordcount-{run}.out"

    def start(self) -> None:
        self.runs += 1
        with open(self.out_path(self.runs), "wb") as o, \
                open(self.workdir / f"wordcount-{self.runs}.err", "wb") as e:
            self.proc = subprocess.Popen(self.cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL)

    def processed(self) -> int:
        words = self.out_path(self.runs).read_text().split()
        counts = [int(n) for w, n in zip(words, words[1:]) if w == "processed"]
        return counts[-1] if counts else 0

    def context(self) -> str:
        parts = []
        for i in range(1, self.runs + 1):
            out = self.out_path(i).read_text(errors="replace")
            err = (self.workdir / f"wordcount-{i}.err").read_text(errors="replace")
            parts.append(f"run {i} stdout tail:\n{out[-800:]}\nstderr tail:\n{err[-3000:]}")
        return "\n".join(parts)

    def kill_after(self, lines: int, rng: random.Random) -> None:
        def progressed() -> bool:
            assert self.proc.poll() is None, f"WordCount exited\n{self.context()}"
            return self.processed() >= lines

        wait_until(progressed, 90, f"WordCount run {self.runs} to process {lines} lines")
        time.sleep(rng.uniform(0.0, 0.3))  # the random kill point, not synchronisation
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class OutputReader:
    """A read_committed consumer of the output: every word's committed counts, in order."""

    def __init__(self, bootstrap: str, topic: str):
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "wc-verifier",
                                  "isolation.level": "read_committed",
                                  "enable.auto.commit": False, "fetch.wait.max.ms": 50})
        self.consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
                              for p in range(PARTITIONS)])
        self.values: dict[str, list[int]] = {}

    def poll(self) -> None:
        for m in self.consumer.consume(num_messages=10_000, timeout=0.5):
            assert m.error() is None, m.error()
            (count,) = struct.unpack(">q", m.value())
            self.values.setdefault(m.key().decode(), []).append(count)

    def last(self) -> dict[str, int]:
        return {w: v[-1] for w, v in self.values.items()}

    def close(self) -> None:
        self.consumer.close()


def test_word_count_exactly_once_v2_survives_sigkill(sluice_factory, unique_topic, tmp_path,
                                                      interop_classpath):
    broker = sluice_factory(settings=BROKER_SETTINGS)
    input_topic, output = unique_topic("lines"), unique_topic("counts")
    create_topic(broker.bootstrap, input_topic, PARTITIONS)
    create_topic(broker.bootstrap, output, PARTITIONS)
    seed = time.time_ns()
    rng = random.Random(seed)
    lines = input_lines(rng)
    feeder = Feeder(broker.bootstrap, input_topic, lines)
    expected = Counter(w for line in lines for w in line.split(" "))
    assert sum(expected.values()) == LINES * WORDS_PER_LINE

    cmd = ["java", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
           "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", interop_classpath,
           "dev.sluice.interop.WordCount", broker.bootstrap, "wordcount-eos", input_topic, output,
           str(tmp_path / "state")]
    app = App(cmd, tmp_path)
    reader = OutputReader(broker.bootstrap, output)
    feeder.start()
    try:
        kill_points = []
        for _ in range(KILLS):
            app.start()
            at = rng.randrange(200, 700)
            app.kill_after(at, rng)
            kill_points.append(app.processed())
        app.start()
        feeder.join(60)
        assert not feeder.is_alive() and feeder.error is None, f"feeding the input: {feeder.error}"

        def converged() -> bool:
            assert app.proc.poll() is None, f"WordCount exited\n{app.context()}"
            reader.poll()
            return reader.last() == dict(expected)

        try:
            wait_until(converged, CONVERGE_TIMEOUT_S, "the word counts to match the input")
        except AssertionError:
            last = reader.last()
            wrong = {w: (last.get(w), n) for w, n in expected.items() if last.get(w) != n}
            raise AssertionError(f"{len(wrong)} words wrong (got, want), e.g. "
                                 f"{dict(list(wrong.items())[:10])}; seed {seed}\n{app.context()}")
        print(f"seed {seed}: killed after {kill_points} processed lines; "
              f"{sum(len(v) for v in reader.values.values())} output records")
        # Exactly once: no count repeated (a duplicate) or skipped (a lost update).
        for word, values in reader.values.items():
            assert values == list(range(1, expected[word] + 1)), (
                f"{word}: committed counts {values[:20]}... want 1..{expected[word]}")
    finally:
        feeder.stopping = True
        feeder.join(30)
        reader.close()
        app.stop()
    broker.assert_alive()
