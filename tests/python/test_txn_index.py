"""Kafka's own DumpLogSegments reads the `.txnindex` files Sluice writes beside abort markers.

Why: Sluice keeps the aborted-transaction index in Kafka's on-disk format (34-byte entries,
one file per segment holding abort markers), so Kafka's tools must read it and show exactly
the transactions that were aborted, with the producer id and offsets the log holds.
"""

from __future__ import annotations

import re
import uuid

from confluent_kafka import Producer

from conftest import create_topic
from reference_kafka import DUMP_LOG_SEGMENTS, kafka_tool


def _txn_producer(bootstrap: str) -> Producer:
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"txi-{uuid.uuid4()}",
                  "linger.ms": 0})
    p.init_transactions(30)
    return p


def test_dump_log_segments_reads_txnindex(sluice):
    topic = "txnindex-dump"
    create_topic(sluice.bootstrap, topic, 1)
    p = _txn_producer(sluice.bootstrap)
    for outcome in ["abort", "commit", "abort"]:
        p.begin_transaction()
        for i in range(3):
            p.produce(topic, key=f"k{i}", value=outcome)
        p.flush(30)
        if outcome == "abort":
            p.abort_transaction(30)
        else:
            p.commit_transaction(30)
    sluice.stop()

    seg_dir = sluice.data_dir / f"{topic}-0"
    index = seg_dir / "00000000000000000000.txnindex"
    assert index.stat().st_size == 2 * 34, "two aborts, 34 bytes each"
    proc = kafka_tool(DUMP_LOG_SEGMENTS, ["--files", str(index)], timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    entries = re.findall(r"version: 0 producerId: (\d+) firstOffset: (\d+) lastOffset: (\d+) "
                         r"lastStableOffset: (\d+)", out)
    assert len(entries) == 2, out
    # Data batches 0..2, marker 3; commit 4..6 + marker 7; abort 8..10 + marker 11. Kafka 4.1.2
    # writes exactly these two entries for the same client calls (checked by hand).
    assert [(int(f), int(l), int(s)) for _, f, l, s in entries] == [(0, 3, 4), (8, 11, 12)], out
    assert entries[0][0] == entries[1][0], "one producer"
