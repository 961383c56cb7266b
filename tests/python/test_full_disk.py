"""A full disk: produce requests get KAFKA_STORAGE_ERROR (56), what was acknowledged stays
readable byte for byte, and the broker keeps serving.

The data directory is a small tmpfs mounted for the test (the suite runs as root, as CI does);
if it cannot be mounted the test fails rather than skipping.
"""
import os
import subprocess

from confluent_kafka import Consumer, TopicPartition

from test_bad_input import Conn, metadata_v4, produce, record, record_batch

KAFKA_STORAGE_ERROR = 56
BATCH_VALUE = 64 * 1024


def test_full_disk_answers_kafka_storage_error_and_keeps_serving(sluice_factory, unique_topic):
    b = sluice_factory(start=False)
    b.data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(b.data_dir)], check=True)
    try:
        b.start()
        topic = unique_topic()
        conn = Conn(b.bootstrap)
        assert metadata_v4(conn, [topic], auto_create=True)[topic][0] == 0

        acked = []  # (offset, value) of every acknowledged record
        errors = []
        for i in range(200):  # 200 x 64 KiB is far beyond the 3 MiB the disk has
            value = os.urandom(BATCH_VALUE)
            part = produce(conn, 9, topic, 0, record_batch([record(0, b"k%d" % i, value)]))
            if part["error"] == 0:
                acked.append((part["base_offset"], value))
            else:
                errors.append(part["error"])
                if len(errors) >= 3:
                    break
        assert errors, "the disk never filled up"
        assert set(errors) == {KAFKA_STORAGE_ERROR}, errors
        assert len(acked) >= 10, f"only {len(acked)} batches fit in 3 MiB"
        assert [o for o, _ in acked] == list(range(len(acked)))
        assert b.is_alive()

        # Everything acknowledged reads back intact; nothing half-written follows it.
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "full-disk-reader",
                      "enable.auto.commit": False, "check.crcs": True})
        try:
            c.assign([TopicPartition(topic, 0, 0)])
            got = []
            while len(got) < len(acked):
                batch = c.consume(100, timeout=10)
                assert batch, f"consumer stalled after {len(got)} of {len(acked)} records"
                for m in batch:
                    assert m.error() is None, m.error()
                    got.append((m.offset(), m.value()))
            assert got == acked
            low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
            assert (low, high) == (0, len(acked))
        finally:
            c.close()
        conn.close()
    finally:
        if b.is_alive():
            b.stop()
        subprocess.run(["umount", "-l", str(b.data_dir)], check=False)
