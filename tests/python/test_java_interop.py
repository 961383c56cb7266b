"""The stock Apache Kafka Java client (4.x) against the broker: tests/interop/java, stage by stage.

Why: the Java client is Kafka's reference client and the strictest about protocol details
(idempotent producer sequence numbers, leader epochs, AdminClient result shapes). The program
creates a 6-partition topic, produces 100,000 deterministic records with the default idempotent
producer, reads them back byte for byte (by assignment and through a consumer group), round-trips
every compression codec, and exercises the AdminClient calls operators use.

Every test runs against a real Apache Kafka broker too (`kafka` ids): those runs prove the
program's expectations are Kafka's behaviour, so a `sluice` failure is a Sluice bug.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reference_kafka import CACHE_DIR, REPO_ROOT

JAVA_DIR = REPO_ROOT / "tests" / "interop" / "java"
RECORDS = int(os.environ.get("SLUICE_INTEROP_RECORDS", "100000"))
STAGES = ["produce", "consume", "group", "codecs", "admin"]
RUN_TIMEOUT_S = 240
STAGE_RE = re.compile(r"^STAGE (\S+) (PASS|FAIL) (.*)$")


@pytest.fixture(scope="session")
def interop_classpath() -> str:
    """Compiles the interop program once per session (offline first, then with Maven Central)."""
    assert shutil.which("java"), "java not found: install a JDK 17+"
    classes = JAVA_DIR / "target" / "classes"
    classpath = f"{classes}:{JAVA_DIR / 'target' / 'dependency'}/*"
    if _build_is_current(classes):
        return classpath
    mvn = shutil.which("mvn")
    assert mvn, "mvn not found: install Maven (scripts/install-test-deps.sh does)"
    goals = ["-B", "-q", f"-Dmaven.repo.local={CACHE_DIR / 'm2'}", "-f", str(JAVA_DIR / "pom.xml"),
             "compile", "dependency:copy-dependencies"]
    proc = subprocess.run([mvn, "-o", *goals], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:  # first build on this machine: dependencies not in .cache/m2 yet
        proc = subprocess.run([mvn, *goals], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"building {JAVA_DIR} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    STAMP.write_text(_sources_digest())
    assert _build_is_current(classes), f"mvn succeeded but left no classes or dependencies in {classes.parent}"
    return classpath


STAMP = JAVA_DIR / "target" / "sources.sha256"


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted([JAVA_DIR / "pom.xml", *(JAVA_DIR / "src").rglob("*")]):
        if path.is_file():
            digest.update(str(path.relative_to(JAVA_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _build_is_current(classes: Path) -> bool:
    """True when the last successful build was of exactly the current pom and sources."""
    marker = classes / "dev" / "sluice" / "interop" / "InteropMain.class"
    deps = list((JAVA_DIR / "target" / "dependency").glob("kafka-clients-*.jar"))
    return (marker.exists() and bool(deps) and STAMP.exists()
            and STAMP.read_text().strip() == _sources_digest())


@pytest.fixture(scope="module", params=["kafka", "sluice"])
def target(request):
    """The broker under test: the reference Apache Kafka, or one Sluice broker for this module."""
    if request.param == "kafka":
        return request.getfixturevalue("kafka_ref")
    return request.getfixturevalue("sluice_module")


class InteropRun:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.proc = proc
        self.stages: dict[str, tuple[str, str]] = {}
        for line in proc.stdout.splitlines():
            m = STAGE_RE.match(line)
            if m:
                self.stages[m.group(1)] = (m.group(2), m.group(3))

    def context(self) -> str:
        return (f"exit code {self.proc.returncode}\n--- stdout ---\n{self.proc.stdout[-4000:]}"
                f"\n--- stderr (tail) ---\n{self.proc.stderr[-4000:]}")


_RUNS: dict[str, InteropRun] = {}


@pytest.fixture(scope="module")
def interop_run(target, interop_classpath) -> InteropRun:
    """Runs all stages once per broker; each test below then checks one stage's verdict."""
    key = target.bootstrap
    if key not in _RUNS:
        proc = subprocess.run(
            ["java", "-Xmx768m", "-XX:+UseSerialGC", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
             "-cp", interop_classpath, "dev.sluice.interop.InteropMain",
             target.bootstrap, str(RECORDS), ",".join(STAGES)],
            capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
        )
        _RUNS[key] = InteropRun(proc)
    return _RUNS[key]


@pytest.mark.parametrize("stage", STAGES)
def test_stage(interop_run: InteropRun, stage: str):
    assert stage in interop_run.stages, f"stage {stage} reported nothing\n{interop_run.context()}"
    verdict, detail = interop_run.stages[stage]
    assert verdict == "PASS", f"stage {stage} failed: {detail}\n{interop_run.context()}"


def test_program_exit_code_and_summary(interop_run: InteropRun):
    summary = [line for line in interop_run.proc.stdout.splitlines() if line.startswith("interop summary:")]
    assert summary, f"no summary line\n{interop_run.context()}"
    assert f"records={RECORDS}" in summary[0]
    assert f"stages_ok={len(STAGES)} stages_failed=0" in summary[0], interop_run.context()
    assert interop_run.proc.returncode == 0, interop_run.context()
