"""A real Apache Kafka broker and Kafka's own CLI tools, as the reference for Sluice's behaviour.

Why: Apache Kafka's observable behaviour is the specification Sluice follows. Running the same
scenario against a real single-node KRaft broker makes our expectations correct by construction, and
Kafka's CLI tools (kafka-topics, kafka-configs, console producer/consumer, kafka-dump-log) are clients
Sluice must serve unchanged.

The jars come from scripts/kafka-dist.sh (assembled from Maven Central into .cache/kafka). Nothing here
skips: if Java, Maven or the jars cannot be had, the fixture raises with the reason.

Public surface:
  ReferenceKafka            start()/stop() a single-node KRaft broker on a free loopback port
  kafka_ref                 pytest session fixture yielding a started ReferenceKafka (.bootstrap, ...)
  kafka_tool(cls, args)     run a Kafka main class with the assembled classpath -> CompletedProcess
                            (in one shared warm JVM by default, see ToolServer; fresh_jvm=True for a new one)
  dump_log_deep(path)       kafka.tools.DumpLogSegments --deep-iteration --files path -> (ok, output)
  wait_for_kafka_api(...)   poll until a broker answers a Metadata request listing a live broker
"""

from __future__ import annotations

import atexit
import base64
import functools
import hashlib
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Iterable, Optional, Sequence

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = Path(os.environ.get("SLUICE_CACHE_DIR", REPO_ROOT / ".cache"))
KAFKA_HOME = CACHE_DIR / "kafka"
KAFKA_DIST_SCRIPT = REPO_ROOT / "scripts" / "kafka-dist.sh"
RUN_CLASS = KAFKA_HOME / "bin" / "kafka-run-class"

# Main classes of the tools, named once so tests read like the shell commands they replace.
TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"  # kafka-topics.sh
CONFIG_COMMAND = "kafka.admin.ConfigCommand"  # kafka-configs.sh
CONSOLE_PRODUCER = "org.apache.kafka.tools.ConsoleProducer"  # kafka-console-producer.sh
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"  # kafka-console-consumer.sh
GET_OFFSET_SHELL = "org.apache.kafka.tools.GetOffsetShell"  # kafka-get-offsets.sh
DUMP_LOG_SEGMENTS = "kafka.tools.DumpLogSegments"  # kafka-dump-log.sh
STORAGE_TOOL = "kafka.tools.StorageTool"  # kafka-storage.sh
KAFKA_SERVER = "kafka.Kafka"  # kafka-server-start.sh

# The reference broker uses node id 0 like Sluice, so metadata from both can be compared directly.
REFERENCE_NODE_ID = 0
START_DEADLINE_S = float(os.environ.get("SLUICE_KAFKA_REF_START_TIMEOUT", "120"))
STOP_DEADLINE_S = 30.0


@functools.lru_cache(maxsize=None)
def ensure_kafka_dist() -> Path:
    """Assembles Kafka once per process (the script is a fast no-op when already done)."""
    if shutil.which("java") is None:
        raise RuntimeError("java not found on PATH: a JDK 17+ is required for Kafka's tools and reference broker")
    proc = subprocess.run(
        ["bash", str(KAFKA_DIST_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"scripts/kafka-dist.sh failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    if not RUN_CLASS.exists():
        raise RuntimeError(f"scripts/kafka-dist.sh succeeded but {RUN_CLASS} is missing")
    return KAFKA_HOME


def kafka_command(main_class: str, args: Sequence[str]) -> list[str]:
    """The argv that runs `main_class` with Kafka's classpath (for callers that need Popen)."""
    ensure_kafka_dist()
    return [str(RUN_CLASS), main_class, *[str(a) for a in args]]


def kafka_tool(
    main_class: str,
    args: Sequence[str] = (),
    *,
    timeout: float = 120,
    input: Optional[str] = None,
    env: Optional[dict] = None,
    check: bool = False,
    fresh_jvm: bool = False,
    **kw,
) -> subprocess.CompletedProcess:
    """Runs a Kafka CLI main class to completion; returns the CompletedProcess (text stdout/stderr).

    By default the tool runs inside the shared ToolServer JVM (same classes, same output, ~20x
    faster than a JVM start). `fresh_jvm=True`, an `env`, any other subprocess keyword, or the
    environment variable SLUICE_KAFKA_TOOLS_FRESH_JVM=1 runs it as its own process instead."""
    argv = [str(a) for a in args]
    if not (fresh_jvm or env or kw or os.environ.get("SLUICE_KAFKA_TOOLS_FRESH_JVM") == "1"):
        proc = _tool_server().run(main_class, argv, input or "", timeout)
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, proc.args, proc.stdout, proc.stderr)
        return proc
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    kw.setdefault("capture_output", True)
    return subprocess.run(
        kafka_command(main_class, argv),
        input=input,
        text=True,
        timeout=timeout,
        env=full_env,
        check=check,
        **kw,
    )


TOOL_SERVER_SOURCE = REPO_ROOT / "tests" / "interop" / "java" / "toolserver" / "ToolServer.java"
TOOL_SERVER_CLASS = "dev.sluice.toolserver.ToolServer"
_TOOL_SERVER_READY = 0x5EED


class ToolServer:
    """One JVM that runs Kafka tool main classes on request (see ToolServer.java for why and how).

    Calls are serialised. A call that outlives its timeout kills the JVM (the next call starts a
    new one) and raises subprocess.TimeoutExpired, like subprocess.run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: Optional[subprocess.Popen] = None
        self._stderr = None

    def _classes_dir(self) -> Path:
        """Compiles ToolServer.java once per source version into .cache/kafka-toolserver/<hash>."""
        ensure_kafka_dist()
        source = TOOL_SERVER_SOURCE.read_bytes()
        digest = hashlib.sha256(source + (KAFKA_HOME / "VERSION").read_bytes()).hexdigest()[:16]
        out = CACHE_DIR / "kafka-toolserver" / digest
        marker = out / "dev" / "sluice" / "toolserver" / "ToolServer.class"
        if not marker.exists():
            javac = shutil.which("javac")
            if javac is None:
                raise RuntimeError("javac not found: a JDK 17+ (not just a JRE) is required")
            tmp = Path(tempfile.mkdtemp(prefix="toolserver-", dir=CACHE_DIR))
            proc = subprocess.run(
                [javac, "-nowarn", "-cp", f"{KAFKA_HOME / 'libs'}/*", "-d", str(tmp), str(TOOL_SERVER_SOURCE)],
                capture_output=True, text=True, timeout=300,
            )
            if proc.returncode != 0:
                shutil.rmtree(tmp, ignore_errors=True)
                raise RuntimeError(f"compiling {TOOL_SERVER_SOURCE} failed:\n{proc.stdout}\n{proc.stderr}")
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.exists():  # another process won the race
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                os.replace(tmp, out)
        return out

    def _start(self) -> subprocess.Popen:
        classes = self._classes_dir()
        self._stderr = tempfile.TemporaryFile()
        log4j = KAFKA_HOME / "config" / "log4j2.properties"
        self._proc = subprocess.Popen(
            ["java", "-Xms64m", "-Xmx768m", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
             f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{classes}:{KAFKA_HOME / 'libs'}/*",
             TOOL_SERVER_CLASS],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0,
            start_new_session=True, preexec_fn=_die_with_parent,
        )
        ready = struct.unpack(">i", self._read(4, time.monotonic() + 60))[0]
        if ready != _TOOL_SERVER_READY:
            raise RuntimeError(f"Kafka tool server sent {ready:#x} instead of its ready marker")
        return self._proc

    def _read(self, n: int, deadline: float) -> bytes:
        buf = bytearray()
        fd = self._proc.stdout.fileno()
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(fd, n - len(buf))
            if not chunk:
                self._stderr.seek(0)
                err = self._stderr.read().decode(errors="replace")[-3000:]
                raise RuntimeError(f"Kafka tool server exited unexpectedly:\n{err}")
            buf.extend(chunk)
        return bytes(buf)

    def run(self, main_class: str, args: list[str], stdin: str, timeout: float) -> subprocess.CompletedProcess:
        argv = [main_class, *args]
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            frame = bytearray()
            for item in (main_class.encode(),):
                frame += struct.pack(">i", len(item)) + item
            frame += struct.pack(">i", len(args))
            for a in args:
                b = a.encode()
                frame += struct.pack(">i", len(b)) + b
            data = stdin.encode()
            frame += struct.pack(">i", len(data)) + data
            try:
                self._proc.stdin.write(bytes(frame))
                self._proc.stdin.flush()
                deadline = time.monotonic() + timeout
                code = struct.unpack(">i", self._read(4, deadline))[0]
                out = self._read(struct.unpack(">i", self._read(4, deadline))[0], deadline)
                err = self._read(struct.unpack(">i", self._read(4, deadline))[0], deadline)
            except TimeoutError:
                self.close(kill=True)
                raise subprocess.TimeoutExpired(argv, timeout) from None
            except BaseException:  # incl. pytest-timeout / Ctrl-C mid-call: a half-read reply is unusable
                self.close(kill=True)
                raise
        return subprocess.CompletedProcess(argv, code, out.decode(errors="replace"), err.decode(errors="replace"))

    def close(self, kill: bool = False) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            if not kill:
                try:
                    proc.stdin.close()  # EOF: the server exits by itself
                    proc.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


_TOOL_SERVER: Optional[ToolServer] = None


def _tool_server() -> ToolServer:
    global _TOOL_SERVER
    if _TOOL_SERVER is None:
        _TOOL_SERVER = ToolServer()
        atexit.register(_TOOL_SERVER.close)
    return _TOOL_SERVER


# Lines DumpLogSegments prints when a segment is not what Kafka would have written.
_DUMP_ERROR_MARKERS = (
    "Exception",
    "invalid bytes",
    "Found invalid",
    "is corrupt",
    "Mismatches in",
    "Found timestamp mismatch",
    "Found out of order offset",
    "Index offset",
    "isvalid: false",
)


def dump_log_deep(segment_path, *extra_args: str, timeout: float = 120) -> tuple[bool, str]:
    """Reads a segment with Kafka's own decoder; ok is False on a non-zero exit or any error line."""
    paths = [segment_path] if isinstance(segment_path, (str, os.PathLike)) else list(segment_path)
    proc = kafka_tool(
        DUMP_LOG_SEGMENTS,
        ["--deep-iteration", *extra_args, "--files", ",".join(str(p) for p in paths)],
        timeout=timeout,
    )
    output = proc.stdout + proc.stderr
    ok = (proc.returncode == 0 and "Dumping " in output
          and not any(marker in output for marker in _DUMP_ERROR_MARKERS))
    return ok, output


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _metadata_v1_broker_count(host: str, port: int, timeout: float) -> int:
    """Sends a Metadata v1 request (no topics) and returns how many live brokers the answer lists."""
    client_id = b"sluice-probe"
    body = struct.pack(">hhih", 3, 1, 7, len(client_id)) + client_id + struct.pack(">i", 0)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", _recv_exact(sock, 4))[0]
        if size < 8 or size > 1 << 20:
            raise ConnectionError(f"implausible Metadata response size {size}")
        payload = _recv_exact(sock, size)
    correlation_id, broker_count = struct.unpack_from(">ii", payload, 0)
    if correlation_id != 7:
        raise ConnectionError(f"Metadata response has correlation id {correlation_id}, expected 7")
    return broker_count


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        buf.extend(chunk)
    return bytes(buf)


def wait_for_kafka_api(host: str, port: int, deadline_s: float, alive=lambda: True) -> None:
    """Polls until the broker answers Metadata with at least one live broker, or raises TimeoutError."""
    deadline = time.monotonic() + deadline_s
    last_error: Optional[BaseException] = None
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("broker process exited while waiting for it to become ready")
        try:
            if _metadata_v1_broker_count(host, port, timeout=2.0) >= 1:
                return
            last_error = RuntimeError("Metadata lists no live broker yet")
        except (OSError, ConnectionError, struct.error) as e:
            last_error = e
        time.sleep(0.1)  # poll interval of a deadline-bounded wait, not a fixed delay
    raise TimeoutError(f"broker at {host}:{port} not ready within {deadline_s}s: {last_error}")


def _random_cluster_id() -> str:
    """Kafka's Uuid text form: URL-safe base64 of 16 random bytes without padding.

    Like Kafka's Uuid.randomUuid, never one starting with "-": kafka-storage's argument parser
    would read it as an option and fail with "--cluster-id/-t: expected one argument" (one id
    in 64 did, and took every test on the reference broker down with it).
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class PortTaken(RuntimeError):
    """Another process bound the port between free_port() and the broker's bind."""


def _die_with_parent() -> None:
    """Child-side (preexec_fn): SIGTERM this process if the test process dies without cleaning up,
    so no JVM outlives a killed pytest. Linux prctl(PR_SET_PDEATHSIG); survives exec."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass  # not Linux: rely on explicit cleanup only


class ReferenceKafka:
    """A single-node KRaft Apache Kafka broker (combined broker+controller) with stock settings."""

    def __init__(self, extra_props: Optional[dict] = None, base_dir: Optional[Path] = None):
        self.extra_props = dict(extra_props or {})
        self._own_dir = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="kafka-ref-"))
        self.data_dir = self.base_dir / "data"
        self.log_file = self.base_dir / "server.log"
        self.config_file = self.base_dir / "server.properties"
        self.host = "127.0.0.1"
        self.port = 0
        self.controller_port = 0
        self.node_id = REFERENCE_NODE_ID
        self.cluster_id = _random_cluster_id()
        self.proc: Optional[subprocess.Popen] = None
        self._log_handle = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def _properties(self) -> dict:
        props = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.bootstrap.servers": f"{self.host}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            # A single node cannot host internal topics with Kafka's default replication factor 3;
            # these are the values of Kafka's own config/server.properties sample.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        props.update({k: str(v) for k, v in self.extra_props.items()})
        return props

    def start(self) -> "ReferenceKafka":
        """Formats a fresh data dir and starts the broker; retries on a lost race for a free port."""
        ensure_kafka_dist()
        for attempt in range(3):
            try:
                return self._start_once()
            except PortTaken:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> "ReferenceKafka":
        self.port = free_port()
        self.controller_port = free_port()
        while self.controller_port == self.port:
            self.controller_port = free_port()
        # The standalone quorum records the controller endpoint at format time: format anew each try.
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text("".join(f"{k}={v}\n" for k, v in self._properties().items()))
        fmt = kafka_tool(
            STORAGE_TOOL,
            ["format", "--standalone", "-t", self.cluster_id, "-c", str(self.config_file)],
            timeout=120,
            fresh_jvm=True,
        )
        if fmt.returncode != 0:
            raise RuntimeError(f"kafka-storage format failed (exit {fmt.returncode}):\n{fmt.stdout}\n{fmt.stderr}")
        log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        self._log_handle = open(self.log_file, "ab")
        env = dict(os.environ)
        env.setdefault("KAFKA_HEAP_OPTS", "-Xms256m -Xmx1g")
        self.proc = subprocess.Popen(
            kafka_command(KAFKA_SERVER, [str(self.config_file)]),
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        try:
            wait_for_kafka_api(self.host, self.port, START_DEADLINE_S, alive=lambda: self.proc.poll() is None)
        except Exception as e:
            self.stop()
            log = self.log_file.read_bytes()[log_start:].decode(errors="replace")
            if "Address already in use" in log:
                raise PortTaken(log[-2000:]) from e
            raise RuntimeError(
                f"reference Kafka failed to start: {e}\n--- server log tail ---\n{self.log_tail()}") from e
        return self

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_DEADLINE_S)
        self.proc = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def partition_dir(self, topic: str, partition: int) -> Path:
        return self.data_dir / f"{topic}-{partition}"

    def __enter__(self) -> "ReferenceKafka":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()


@pytest.fixture(scope="session")
def kafka_ref() -> Iterable[ReferenceKafka]:
    """One real Apache Kafka broker shared by the whole test session."""
    broker = ReferenceKafka().start()
    try:
        yield broker
    finally:
        broker.cleanup()


if __name__ == "__main__":
    # Manual use: start a reference broker and keep it up until Ctrl-C or SIGTERM.
    def _stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with ReferenceKafka() as b:
        print(f"reference Kafka up at {b.bootstrap} (cluster {b.cluster_id}, dir {b.base_dir})", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
