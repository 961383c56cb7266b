"""Shared pytest fixtures: start real `sluice serve` processes and talk to them over TCP.

Why: every Python suite tests the broker the way users meet it, as a separate process on a
loopback port driven by real Kafka clients. This module owns the process lifecycle (free port,
temporary data dir, readiness poll, SIGKILL / SIGTERM / restart) and shows the broker's stderr
in the report of any test that fails.

Fixtures
  sluice_bin       path of target/debug/sluice (built with `cargo build -p sluice` if missing;
                   override with SLUICE_BIN=/path)
  sluice           a fresh broker for one test
  sluice_module    one broker shared by a test module
  sluice_factory   sluice_factory(durable=True, num_partitions=6, settings={...}, args=[...])
                   -> a new broker with custom flags, stopped at the end of the test
  broker           the broker a module's client tests talk to: `sluice_module`, or a real Apache
                   Kafka when pytest runs with `--broker=kafka` (to validate the tests themselves)
  unique_topic     callable: unique_topic() / unique_topic("prefix") -> a fresh topic name

Helpers (import them: `from conftest import wait_until`)
  wait_until(predicate, timeout, what)   poll a condition with a deadline (never sleep to sync)
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable, TypeVar

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 20.0
T = TypeVar("T")

# The reference Apache Kafka broker (`kafka_ref` fixture) lives in its own module, owned by the
# interop suite. Registering it here makes the fixture visible to every test file.
if (Path(__file__).parent / "reference_kafka.py").exists():
    pytest_plugins = ["reference_kafka"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--broker",
        choices=("sluice", "kafka"),
        default=os.environ.get("SLUICE_TEST_BROKER", "sluice"),
        help="broker behind the `broker` fixture: sluice (default) or a real Apache Kafka, "
        "to check that the client tests themselves encode Kafka's behaviour",
    )


# --------------------------------------------------------------------------------------------
# Small helpers shared by the test files
# --------------------------------------------------------------------------------------------


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Polls `predicate` until it returns something truthy; fails with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            result = predicate()
            if result:
                return result
        except Exception as exc:  # the condition may raise while the system is still settling
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_exc!r})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}{detail}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path: Path, max_bytes: int = 20_000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            return f.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"


# --------------------------------------------------------------------------------------------
# The broker process
# --------------------------------------------------------------------------------------------

PANIC_RE = re.compile(r"panicked at|RUST_BACKTRACE|stack backtrace:")


class SluiceBroker:
    """One `sluice serve` process on a fixed port and data dir, restartable in place."""

    def __init__(self, binary: Path, data_dir: Path, log_path: Path, args: Iterable[str] = (),
                 env: dict[str, str] | None = None):
        self.binary = Path(binary)
        self.data_dir = Path(data_dir)
        self.log_path = Path(log_path)
        self.base_args = list(args)
        self.env = dict(env or {})
        self.port = free_port()
        # Every broker gets its own HTTP (admin API, metrics, REST proxy, console) and schema
        # registry ports, so brokers started side by side never race for the defaults.
        self.http_port = free_port()
        self.registry_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        # Set when the test itself stopped or killed the process, so teardown knows a dead
        # process is expected rather than a crash.
        self.expected_down = False

    # -- addresses ------------------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        """Base URL of the HTTP server: admin API, /metrics, REST proxy, console."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def registry_url(self) -> str:
        """Base URL of the built-in schema registry."""
        return f"http://127.0.0.1:{self.registry_port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def is_alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        return tail(self.log_path, 10_000_000)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, extra_args: Iterable[str] = ()) -> "SluiceBroker":
        assert not self.is_alive(), "broker already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        listener = f"PLAINTEXT://127.0.0.1:{self.port}"
        cmd = [str(self.binary), "serve", "--data-dir", str(self.data_dir),
               "--listeners", listener, "--advertised-listeners", listener,
               "--set", f"http.listeners=http://127.0.0.1:{self.http_port}",
               "--set", f"schema.registry.listeners=http://127.0.0.1:{self.registry_port}",
               *self.base_args, *extra_args]
        env = {**os.environ, "RUST_BACKTRACE": "1", "NO_COLOR": "1", **self.env}
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts}: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL)
        self.expected_down = False
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"sluice exited with code {self.proc.returncode} during startup;"
                    f" log {self.log_path}:\n{tail(self.log_path, 6000)}")
            if port_accepts(self.port):
                return
            time.sleep(0.02)
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError(f"sluice did not accept connections on {self.bootstrap} within "
                           f"{READY_TIMEOUT_S}s; log {self.log_path}:\n{tail(self.log_path, 6000)}")

    def kill(self) -> None:
        """SIGKILL: a crash, no chance to flush anything."""
        assert self.proc is not None
        self.expected_down = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code (SIGKILLs on timeout)."""
        assert self.proc is not None
        self.expected_down = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"sluice did not exit within {timeout}s of SIGTERM")
        return self.proc.returncode

    def restart(self, extra_args: Iterable[str] = ()) -> "SluiceBroker":
        """Stops the broker if it is running (SIGTERM) and starts it again on the same port and
        data dir, with `extra_args` added to the original flags for this run."""
        if self.is_alive():
            self.stop()
        return self.start(extra_args)

    def rss_bytes(self) -> int:
        """Resident set size of the broker process, for unbounded-allocation checks."""
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS in /proc status")

    def assert_alive(self) -> None:
        assert self.is_alive(), (f"sluice process died (exit code {self.proc.returncode}); "
                                 f"log tail:\n{tail(self.log_path, 6000)}")

    # -- teardown -------------------------------------------------------------------------
    def shutdown_and_check(self) -> None:
        """End-of-test checks: the broker did not die on its own, stops on SIGTERM with exit
        code 0, and never panicked."""
        if self.proc is None:
            return
        problems = []
        if not self.expected_down and self.proc.poll() is not None:
            problems.append(f"sluice died during the test with exit code {self.proc.returncode}")
        if self.proc.poll() is None:
            try:
                rc = self.stop()
                if rc != 0:
                    problems.append(f"sluice exited with code {rc} on SIGTERM (expected 0)")
            except AssertionError as exc:
                problems.append(str(exc))
        if PANIC_RE.search(self.log_text()):
            problems.append("sluice panicked (see its log)")
        if problems:
            raise AssertionError("; ".join(problems) + f"\nlog {self.log_path}:\n"
                                 + tail(self.log_path, 8000))

    def force_cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def settings_args(durable: bool = False, settings: dict | None = None, **kw) -> list[str]:
    """Turns broker settings into CLI flags. Keyword names use `_` for Kafka's dots
    (num_partitions=6 -> --set num.partitions=6); `settings` takes exact Kafka names."""
    args: list[str] = ["--durable"] if durable else []
    merged = {k.replace("_", "."): v for k, v in kw.items()}
    merged.update(settings or {})
    for key, value in merged.items():
        if isinstance(value, bool):
            value = str(value).lower()
        args += ["--set", f"{key}={value}"]
    return args


# --------------------------------------------------------------------------------------------
# Showing broker logs on failure
# --------------------------------------------------------------------------------------------

_BROKERS_BY_TEST: dict[str, list[SluiceBroker]] = {}
_ALL_BROKERS: list[SluiceBroker] = []
_CURRENT_TEST: list[str] = []


def _register(broker: SluiceBroker) -> SluiceBroker:
    _ALL_BROKERS.append(broker)
    if _CURRENT_TEST:
        _BROKERS_BY_TEST.setdefault(_CURRENT_TEST[-1], []).append(broker)
    return broker


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _CURRENT_TEST.append(item.nodeid)
    try:
        yield
    finally:
        _CURRENT_TEST.pop()
        _BROKERS_BY_TEST.pop(item.nodeid, None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        # Brokers started for this test plus shared (module-scoped) ones it used.
        seen = list(_BROKERS_BY_TEST.get(item.nodeid, []))
        for name in getattr(item, "fixturenames", ()):
            value = item.funcargs.get(name) if hasattr(item, "funcargs") else None
            if isinstance(value, SluiceBroker) and value not in seen:
                seen.append(value)
        for b in seen:
            report.sections.append((f"sluice log {b.log_path} (tail)", tail(b.log_path, 8000)))


def pytest_sessionfinish(session, exitstatus):
    for b in _ALL_BROKERS:
        b.force_cleanup()


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sluice_bin() -> Path:
    override = os.environ.get("SLUICE_BIN")
    path = Path(override) if override else REPO_ROOT / "target" / "debug" / "sluice"
    if not path.exists() and not override:
        subprocess.run(["cargo", "build", "-p", "sluice"], cwd=REPO_ROOT, check=True, timeout=1800)
    assert path.exists(), f"sluice binary not found at {path}"
    return path


def _new_broker(sluice_bin: Path, tmp_root: Path, args: list[str],
                env: dict[str, str] | None = None, start: bool = True) -> SluiceBroker:
    tmp_root.mkdir(parents=True, exist_ok=True)
    b = SluiceBroker(sluice_bin, tmp_root / "data", tmp_root / "sluice.log", args, env)
    _register(b)
    if start:
        for attempt in range(3):
            try:
                b.start()
                break
            except RuntimeError:
                # The free port may have been taken by someone else between probe and bind.
                if attempt == 2 or "in use" not in tail(b.log_path, 4000).lower():
                    raise
                b.port = free_port()
    return b


@pytest.fixture
def sluice(sluice_bin, tmp_path):
    b = _new_broker(sluice_bin, tmp_path / "sluice", [])
    try:
        yield b
        b.shutdown_and_check()
    finally:
        b.force_cleanup()


@pytest.fixture(scope="module")
def sluice_module(sluice_bin, tmp_path_factory):
    b = _new_broker(sluice_bin, tmp_path_factory.mktemp("sluice_module"), [])
    try:
        yield b
        b.shutdown_and_check()
    finally:
        b.force_cleanup()


@pytest.fixture
def sluice_factory(sluice_bin, tmp_path):
    """sluice_factory(durable=False, settings=None, args=(), env=None, start=True, **kafka_kw)"""
    made: list[SluiceBroker] = []

    def make(durable: bool = False, settings: dict | None = None, args: Iterable[str] = (),
             env: dict[str, str] | None = None, start: bool = True, **kw) -> SluiceBroker:
        flags = settings_args(durable, settings, **kw) + list(args)
        b = _new_broker(sluice_bin, tmp_path / f"sluice{len(made)}", flags, env, start)
        made.append(b)
        return b

    try:
        yield make
        errors = []
        for b in made:
            try:
                b.shutdown_and_check()
            except AssertionError as exc:
                errors.append(str(exc))
        assert not errors, "\n\n".join(errors)
    finally:
        for b in made:
            b.force_cleanup()


class KafkaBrokerHandle:
    """Adapts the reference Apache Kafka broker to what client tests need (.bootstrap)."""

    is_reference_kafka = True

    def __init__(self, ref):
        self.ref = ref
        self.bootstrap = ref.bootstrap

    def assert_alive(self) -> None:
        pass


@pytest.fixture(scope="module")
def broker(request):
    """The broker a module's client tests talk to (see --broker)."""
    if request.config.getoption("--broker") == "kafka":
        return KafkaBrokerHandle(request.getfixturevalue("kafka_ref"))
    return request.getfixturevalue("sluice_module")


@pytest.fixture
def unique_topic(request) -> Callable[..., str]:
    base = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:60].strip("-")
    counter = iter(range(1_000_000))

    def make(prefix: str = "") -> str:
        stem = f"{prefix}-{base}" if prefix else base
        return f"{stem}-{next(counter)}-{uuid.uuid4().hex[:8]}"

    return make


# --------------------------------------------------------------------------------------------
# Deterministic record sets and byte-exact comparison, shared by the client suites
# --------------------------------------------------------------------------------------------

import random  # noqa: E402  (kept next to the helpers that use it)
from dataclasses import dataclass  # noqa: E402

Headers = tuple[tuple[str, "bytes | None"], ...]


@dataclass(frozen=True)
class Rec:
    """One record as a client should read it back: everything the producer chose."""

    partition: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp: int


# CreateTime base: one hour before the test run, whole seconds. Recent on purpose: timestamps
# older than retention.ms (7 days) make segments eligible for deletion (and made Kafka 4.1 give
# odd ListOffsets answers), which is not what these tests are about.
BASE_TS = (int(time.time()) - 3600) * 1000


def gen_records(n: int, partitions: int, seed: int, *, base_ts: int = BASE_TS,
                headers: bool = True, null_header_values: bool = False,
                big_every: int = 4999, printable: bool = False) -> list[Rec]:
    """`n` deterministic records, round-robin over `partitions`, timestamps base_ts + i.

    Includes the awkward cases a log must keep exactly: null keys, null values (tombstones),
    empty values, arbitrary bytes (NUL, 0xff, ...), repeated header keys, and now and then a
    large value (`big_every`, ~100 KiB) so batches cross typical buffer sizes.
    `printable=True` keeps keys/values free of tabs and newlines for line-based tools (kcat)."""
    rng = random.Random(seed)
    alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:;!#"
    out = []
    for i in range(n):
        size = rng.choice((0, 1, 7, 31, 64, 100, 150, 255, 300, 1000))
        if big_every and i % big_every == 1:
            size = 100_000 + rng.randrange(1000)
        if printable:
            value = bytes(rng.choices(alphabet, k=max(size, 1)))
        else:
            value = rng.randbytes(size)
        if not printable and i % 101 == 7:
            value = None
        key = f"key-{seed}-{i}".encode()
        if not printable and i % 17 == 5 and value is not None:  # kafka-python needs one of them
            key = None
        hdrs: Headers = ()
        if headers and i % 3:
            hdrs = (("seq", str(i).encode()), ("bin", rng.randbytes(i % 9)), ("seq", b"again"))
            if null_header_values and i % 7 == 0:
                hdrs += (("null", None),)
        out.append(Rec(i % partitions, key, value, hdrs, base_ts + i))
    return out


def by_partition(recs: Iterable[Rec]) -> dict[int, list[Rec]]:
    out: dict[int, list[Rec]] = {}
    for r in recs:
        out.setdefault(r.partition, []).append(r)
    return out


def _short(x) -> str:
    s = repr(x)
    return s if len(s) < 300 else s[:300] + f"... ({len(s)} chars)"


def assert_partitions_equal(expected: dict[int, list[Rec]],
                            got: dict[int, list[tuple[int, Rec]]]) -> None:
    """`got[p]` is [(offset, Rec)] in consumption order; must equal `expected[p]` exactly,
    at offsets 0, 1, 2, ... (no gaps, duplicates or reordering)."""
    assert sorted(got) == sorted(expected), f"partitions read {sorted(got)} != {sorted(expected)}"
    for p, want in expected.items():
        have = got[p]
        offsets = [o for o, _ in have]
        if offsets != list(range(len(want))):
            bad = next((i for i, o in enumerate(offsets) if o != i), len(offsets))
            raise AssertionError(f"partition {p}: {len(have)} records read, {len(want)} expected; "
                                 f"first unexpected offset at position {bad}: "
                                 f"{offsets[bad:bad + 5]}")
        for i, ((_, h), w) in enumerate(zip(have, want)):
            if h != w:
                raise AssertionError(f"partition {p} offset {i} differs:\n  read     {_short(h)}"
                                     f"\n  produced {_short(w)}")


# --------------------------------------------------------------------------------------------
# confluent-kafka (librdkafka) helpers
# --------------------------------------------------------------------------------------------


def confluent_produce(bootstrap: str, topic: str, recs: list[Rec], timeout: float = 120,
                      **conf) -> list[tuple[int, int]]:
    """Produces `recs` to their partitions; returns (partition, offset) per record from the
    delivery reports and fails on any delivery error."""
    from confluent_kafka import Producer

    # Idempotence keeps each partition's order even when a request is retried (e.g. right after
    # topic creation), so tests can expect offsets 0..n-1 in production order.
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True,
                  "queue.buffering.max.messages": 500_000, "message.max.bytes": 2_000_000,
                  **conf})
    results: list = [None] * len(recs)

    def report(i):
        def cb(err, msg):
            results[i] = err if err is not None else (msg.partition(), msg.offset())
        return cb

    for i, r in enumerate(recs):
        while True:
            try:
                p.produce(topic, value=r.value, key=r.key, partition=r.partition,
                          headers=list(r.headers) or None, timestamp=r.timestamp,
                          on_delivery=report(i))
                break
            except BufferError:
                p.poll(0.05)
        if i % 1000 == 0:
            p.poll(0)
    try:
        remaining = p.flush(timeout)
    finally:
        p.close()
    assert remaining == 0, f"{remaining} records still undelivered after {timeout}s"
    errors = [(i, e) for i, e in enumerate(results) if not isinstance(e, tuple)]
    assert not errors, f"{len(errors)} delivery errors, first: {errors[:3]}"
    return results


def confluent_msg_to_rec(m) -> tuple[int, Rec]:
    return m.offset(), Rec(m.partition(), m.key(), m.value(), tuple(m.headers() or ()),
                           m.timestamp()[1])


def confluent_consume(bootstrap: str, topic: str, counts: dict[int, int], timeout: float = 120,
                      start_offsets: dict[int, int] | None = None,
                      **conf) -> dict[int, list[tuple[int, Rec]]]:
    """Reads partitions from their start (or `start_offsets`) until `counts[p]` records each
    arrived, then checks that nothing beyond them exists (high watermark)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex}",
                  "enable.auto.commit": False, "auto.offset.reset": "error",
                  "fetch.wait.max.ms": 50, **conf})
    try:
        starts = start_offsets or {}
        c.assign([TopicPartition(topic, p, starts.get(p, OFFSET_BEGINNING)) for p in counts])
        got: dict[int, list[tuple[int, Rec]]] = {p: [] for p in counts}
        need = sum(counts.values())
        have = 0
        deadline = time.monotonic() + timeout
        while have < need:
            assert time.monotonic() < deadline, (
                f"timed out reading {topic}: {have}/{need} records; per partition "
                f"{ {p: len(v) for p, v in got.items()} } of {counts}")
            for m in c.consume(num_messages=10_000, timeout=0.5):
                assert m.error() is None, f"consumer error: {m.error()}"
                got[m.partition()].append(confluent_msg_to_rec(m))
                have += 1
        for p, n in counts.items():
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            first = starts.get(p, lo)
            assert hi - first == n, f"partition {p}: high watermark {hi}, low {lo}, read {n}"
        return got
    finally:
        c.close()


def confluent_admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap: str, topic: str, partitions: int, config: dict | None = None) -> None:
    """Creates a topic with AdminClient and waits until its metadata shows every partition
    with a leader (so producers never race topic creation)."""
    from confluent_kafka.admin import NewTopic

    admin = confluent_admin(bootstrap)
    fut = admin.create_topics([NewTopic(topic, partitions, 1, config=config or {})],
                              operation_timeout=30)[topic]
    fut.result(timeout=30)

    def ready():
        md = admin.list_topics(topic, timeout=5).topics.get(topic)
        return (md is not None and md.error is None and len(md.partitions) == partitions
                and all(pm.leader >= 0 for pm in md.partitions.values()))

    wait_until(ready, 15, f"topic {topic} to show {partitions} partitions with leaders")


# --------------------------------------------------------------------------------------------
# kafka-python helpers
# --------------------------------------------------------------------------------------------


def kp_msg_to_rec(m) -> tuple[int, Rec]:
    hdrs = tuple((k, v) for k, v in (m.headers or ()))
    return m.offset, Rec(m.partition, m.key, m.value, hdrs, m.timestamp)


def kp_consume(bootstrap: str, topic: str, counts: dict[int, int],
               timeout: float = 120) -> dict[int, list[tuple[int, Rec]]]:
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="earliest", fetch_max_wait_ms=50,
                      max_partition_fetch_bytes=2_000_000, request_timeout_ms=30_000)
    try:
        tps = [TopicPartition(topic, p) for p in counts]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        got: dict[int, list[tuple[int, Rec]]] = {p: [] for p in counts}
        need, have = sum(counts.values()), 0
        deadline = time.monotonic() + timeout
        while have < need:
            assert time.monotonic() < deadline, (
                f"timed out reading {topic} with kafka-python: {have}/{need}")
            for tp, msgs in c.poll(timeout_ms=500, max_records=10_000).items():
                for m in msgs:
                    got[tp.partition].append(kp_msg_to_rec(m))
                    have += 1
        ends = c.end_offsets(tps)
        for tp in tps:
            assert ends[tp] == counts[tp.partition], f"{tp}: end offset {ends[tp]}"
        return got
    finally:
        c.close()


def kp_produce(bootstrap: str, topic: str, recs: list[Rec], timeout: float = 180,
               **conf) -> list[tuple[int, int]]:
    from kafka import KafkaProducer

    settings = dict(linger_ms=5, max_request_size=2_000_000, request_timeout_ms=30_000)
    settings.update(conf)
    p = KafkaProducer(bootstrap_servers=bootstrap, **settings)
    try:
        futs = [p.send(topic, value=r.value, key=r.key, partition=r.partition,
                       headers=[(k, v) for k, v in r.headers], timestamp_ms=r.timestamp)
                for r in recs]
        p.flush(timeout=timeout)
        out = []
        for f in futs:
            md = f.get(timeout=10)
            out.append((md.partition, md.offset))
        return out
    finally:
        p.close(timeout=10)
