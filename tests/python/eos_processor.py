"""An exactly-once consume-transform-produce processor on confluent-kafka's transactional API.

Why: test_eos.py kills this process with SIGKILL at random points and restarts it; only a
separate process can die that way without taking the test with it. The Java processor
(tests/interop/java EosProcessor) follows the same contract, so one driver runs both.

Usage: eos_processor.py BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID BATCH

Contract: every record of INPUT partition p is written to OUTPUT partition p with the same key
and the value + b":done", in transactions of up to BATCH records that also commit the consumed
offsets to GROUP (send_offsets_to_transaction). The input is complete before the processor
starts, so it stops (exit 0) once its position reaches INPUT's end offsets. After every commit
it prints "committed <n>", n the sum of the committed input offsets, so the driver can pick kill
points spread over the input.
"""

from __future__ import annotations

import sys

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

TIMEOUT_S = 30


def main(bootstrap: str, input_topic: str, output: str, group: str, txn_id: str,
         batch: int) -> int:
    # The producer first: its InitProducerId fences a killed predecessor and ends that
    # instance's transaction before this one reads the group's committed offsets.
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id,
                         "transaction.timeout.ms": 10_000, "linger.ms": 5})
    producer.init_transactions(TIMEOUT_S)
    # Manual assignment with the group's committed offsets: a restarted instance resumes at
    # once, without waiting for the killed member's session to expire.
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "isolation.level": "read_committed", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "fetch.wait.max.ms": 50})
    partitions = sorted(consumer.list_topics(input_topic, timeout=TIMEOUT_S)
                        .topics[input_topic].partitions)
    ends = {p: consumer.get_watermark_offsets(TopicPartition(input_topic, p),
                                              timeout=TIMEOUT_S)[1] for p in partitions}
    consumer.assign([TopicPartition(input_topic, p) for p in partitions])
    committed = {tp.partition: tp.offset for tp in
                 consumer.committed([TopicPartition(input_topic, p) for p in partitions],
                                    timeout=TIMEOUT_S)}
    next_offset = {p: max(committed[p], 0) for p in partitions}
    while any(next_offset[p] < ends[p] for p in partitions):
        msgs = consumer.consume(num_messages=batch, timeout=1.0)
        if not msgs:
            continue
        producer.begin_transaction()
        for m in msgs:
            if m.error() is not None:
                raise KafkaException(m.error())
            while True:
                try:
                    producer.produce(output, key=m.key(), value=m.value() + b":done",
                                     partition=m.partition())
                    break
                except BufferError:
                    producer.poll(0.05)
            next_offset[m.partition()] = m.offset() + 1
        positions = [TopicPartition(input_topic, p, next_offset[p]) for p in partitions]
        producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata(),
                                             TIMEOUT_S)
        producer.commit_transaction(TIMEOUT_S)
        print(f"committed {sum(next_offset.values())}", flush=True)
    consumer.close()
    print(f"done {sum(next_offset.values())}", flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 7:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    b, i, o, g, t, n = sys.argv[1:]
    sys.exit(main(b, i, o, g, t, int(n)))
