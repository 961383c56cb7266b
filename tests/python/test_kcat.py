"""kcat (Debian's, on librdkafka 2.0.2) against the broker.

Why: kcat is the tool operators reach for first, and its old librdkafka negotiates older API
versions than current clients: a cheap check that the broker still serves them. Covers producing
with a key delimiter and headers, formatted consumption, metadata listing (-L) and offset
queries by timestamp (-Q), plus every codec crossing between kcat and confluent-kafka.
"""

import json
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import (BASE_TS, Rec, by_partition, confluent_consume, confluent_produce,
                      create_topic, gen_records)

KCAT = shutil.which("kcat") or "kcat"
HEADERS = (("origin", b"kcat"), ("run", b"sluice-tests"))
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def kcat(*args: str, input: bytes | None = None, timeout: float = 120) -> bytes:
    """Runs kcat, failing the test on a non-zero exit or an error line on stderr."""
    assert shutil.which(KCAT), "kcat is not installed (scripts/install-test-deps.sh installs it)"
    stdin = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
    proc = subprocess.run([KCAT, *args], capture_output=True, timeout=timeout, **stdin)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, f"kcat {' '.join(args)} exited {proc.returncode}:\n{err[-3000:]}"
    assert "ERROR" not in err, f"kcat {' '.join(args)} reported errors:\n{err[-3000:]}"
    return proc.stdout


def kcat_records(n: int, partitions: int, seed: int) -> list[Rec]:
    """Line-safe records (no '|' or newline) whose partition is chosen explicitly with -p."""
    recs = gen_records(n, partitions, seed, printable=True, headers=False, big_every=4999)
    return [Rec(r.partition, r.key, r.value, HEADERS, 0) for r in recs]


def kcat_produce(bootstrap: str, topic: str, recs: list[Rec], partition: int, codec: str = "none"):
    lines = b"".join(r.key + b"|" + r.value + b"\n" for r in recs)
    header_args = [a for k, v in HEADERS for a in ("-H", f"{k}={v.decode()}")]
    kcat("-P", "-b", bootstrap, "-t", topic, "-p", str(partition), "-K", "|", "-z", codec,
         *header_args, "-X", "message.max.bytes=2000000", "-X", "linger.ms=5", input=lines)


FORMAT = r"%p\t%o\t%T\t%K\t%k\t%S\t%s\t%h\n"


def kcat_consume(bootstrap: str, topic: str, total: int) -> dict[int, list[tuple[int, Rec]]]:
    """Reads the whole topic with -f, parsing one line per record."""
    out = kcat("-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-c", str(total),
               "-f", FORMAT, "-X", "fetch.message.max.bytes=2000000", timeout=180)
    got: dict[int, list[tuple[int, Rec]]] = {}
    lines = out.split(b"\n")
    assert lines[-1] == b"", "output must end with a newline"
    for line in lines[:-1]:
        p, o, ts, klen, key, vlen, value, hdrs = line.split(b"\t")
        assert int(klen) == len(key) and int(vlen) == len(value), f"length mismatch in {line[:200]!r}"
        headers = tuple((h.split(b"=", 1)[0].decode(), h.split(b"=", 1)[1])
                        for h in hdrs.split(b",")) if hdrs else ()
        got.setdefault(int(p), []).append((int(o), Rec(int(p), key, value, headers, int(ts))))
    return got


def assert_same_ignoring_timestamps(expected: dict[int, list[Rec]],
                                    got: dict[int, list[tuple[int, Rec]]], t0: int, t1: int):
    """kcat cannot set timestamps: check they are the producer's clock, then compare the rest."""
    assert sorted(got) == sorted(expected)
    for p, want in expected.items():
        have = got[p]
        assert [o for o, _ in have] == list(range(len(want))), f"partition {p}: offsets"
        for i, ((_, h), w) in enumerate(zip(have, want)):
            assert t0 - 1000 <= h.timestamp <= t1 + 1000, f"p{p}@{i}: timestamp {h.timestamp}"
            assert (h.key, h.value, h.headers) == (w.key, w.value, w.headers), f"p{p}@{i} differs"


def test_produce_100k_with_keys_and_headers_consume_formatted(broker, unique_topic):
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 6)
    recs = kcat_records(100_000, 6, seed=41)
    expected = by_partition(recs)

    t0 = int(time.time() * 1000)
    # One kcat per partition, all at once: six concurrent producer connections.
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda p: kcat_produce(broker.bootstrap, topic, expected[p], p, "lz4"),
                      sorted(expected)))
    t1 = int(time.time() * 1000)

    got = kcat_consume(broker.bootstrap, topic, len(recs))
    assert_same_ignoring_timestamps(expected, got, t0, t1)


def test_metadata_listing(broker, unique_topic):
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 6)
    md = json.loads(kcat("-L", "-J", "-b", broker.bootstrap, "-t", topic))
    host, port = broker.bootstrap.rsplit(":", 1)
    assert md["brokers"] == [{"id": 0, "name": f"{host}:{port}"}]
    assert md["controllerid"] == 0
    [t] = md["topics"]
    assert t["topic"] == topic
    assert "error" not in t, t
    assert [p["partition"] for p in t["partitions"]] == list(range(6))
    for p in t["partitions"]:
        assert p["leader"] == 0
        assert p["replicas"] == [{"id": 0}] and p["isrs"] == [{"id": 0}]

    text = kcat("-L", "-b", broker.bootstrap).decode()
    assert f'topic "{topic}" with 6 partitions' in text
    assert f"broker 0 at {host}:{port}" in text


def test_query_offsets_by_timestamp(broker, unique_topic):
    topic = unique_topic()
    create_topic(broker.bootstrap, topic, 2)
    recs = gen_records(200, 2, seed=42, big_every=0)  # partition p: i = p + 2k, ts = BASE_TS + i
    confluent_produce(broker.bootstrap, topic, recs, **{"linger.ms": 0, "batch.num.messages": 9})

    queries = {0: (BASE_TS + 2 * 30 - 1, 30), 1: (BASE_TS + 1 + 2 * 77, 77)}
    args = [a for p, (ts, _) in queries.items() for a in ("-t", f"{topic}:{p}:{ts}")]
    out = kcat("-Q", "-b", broker.bootstrap, *args).decode()
    for p, (_, want) in queries.items():
        assert f"{topic} [{p}] offset {want}" in out, out


@pytest.mark.parametrize("codec", CODECS)
def test_codec_crossing_with_confluent(broker, unique_topic, codec):
    # kcat compresses, confluent-kafka reads.
    topic = unique_topic("kcat-writes")
    create_topic(broker.bootstrap, topic, 2)
    recs = kcat_records(4000, 2, seed=50 + CODECS.index(codec))
    expected = by_partition(recs)
    t0 = int(time.time() * 1000)
    for p in sorted(expected):
        kcat_produce(broker.bootstrap, topic, expected[p], p, codec)
    t1 = int(time.time() * 1000)
    got = confluent_consume(broker.bootstrap, topic, {p: len(v) for p, v in expected.items()})
    assert_same_ignoring_timestamps(expected, got, t0, t1)

    # confluent-kafka compresses, kcat reads.
    topic = unique_topic("confluent-writes")
    create_topic(broker.bootstrap, topic, 2)
    recs = [Rec(r.partition, r.key, r.value, HEADERS, r.timestamp)
            for r in gen_records(4000, 2, seed=60 + CODECS.index(codec), printable=True,
                                 headers=False, big_every=1999)]
    confluent_produce(broker.bootstrap, topic, recs, **{"compression.type": codec})
    expected = by_partition(recs)
    got = kcat_consume(broker.bootstrap, topic, len(recs))
    assert {p: [o for o, _ in v] for p, v in got.items()} == {
        p: list(range(len(v))) for p, v in expected.items()}
    assert {p: [r for _, r in v] for p, v in got.items()} == expected
