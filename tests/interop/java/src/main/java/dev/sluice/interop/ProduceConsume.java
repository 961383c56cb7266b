package dev.sluice.interop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.record.TimestampType;

/**
 * Stages that move a large, deterministic data set through the broker and check it byte for byte.
 *
 * <p>Why: the idempotent producer, batching across 6 partitions and the consumer's fetch path are
 * what every Kafka application relies on; the consumed records must be exactly the produced ones,
 * in per-partition offset order, with the offsets the broker acknowledged.
 */
final class ProduceConsume {
    static final int PARTITIONS = 6;

    private final Clients clients;
    private final String topic;
    private final int records;

    // Filled by produce(): where the broker put record i.
    private int[] partitionOf;
    private long[] offsetOf;
    private final long[] countPerPartition = new long[PARTITIONS];
    private long produceStartMs;
    private long produceEndMs;

    ProduceConsume(Clients clients, String topic, int records) {
        this.clients = clients;
        this.topic = topic;
        this.records = records;
    }

    boolean produced() {
        return offsetOf != null;
    }

    /** (a) + (b): create a 6-partition topic and produce with the default (idempotent) producer. */
    String produce() {
        try (Admin admin = clients.admin()) {
            Clients.createTopics(admin, List.of(new NewTopic(topic, PARTITIONS, (short) 1)));
        }
        int[] partitions = new int[records];
        long[] offsets = new long[records];
        Arrays.fill(offsets, -1);
        AtomicReference<Exception> firstError = new AtomicReference<>();
        produceStartMs = System.currentTimeMillis();
        try (KafkaProducer<byte[], byte[]> producer = clients.producer(new Properties())) {
            for (int i = 0; i < records; i++) {
                final int seq = i;
                ProducerRecord<byte[], byte[]> rec = new ProducerRecord<>(
                        topic, null, null, Records.key(i), Records.value(i), Records.headers(i));
                producer.send(rec, (md, err) -> {
                    if (err != null) {
                        firstError.compareAndSet(null, err);
                        return;
                    }
                    partitions[seq] = md.partition();
                    offsets[seq] = md.offset();
                });
            }
            producer.flush();
        }
        produceEndMs = System.currentTimeMillis();
        Check.that(firstError.get() == null, "produce failed: %s", firstError.get());

        // Per partition, acknowledged offsets must be 0..n-1 in send order (idempotence keeps order).
        long[] next = new long[PARTITIONS];
        for (int i = 0; i < records; i++) {
            Check.that(offsets[i] >= 0, "record %d was never acknowledged", i);
            int p = partitions[i];
            Check.that(p >= 0 && p < PARTITIONS, "record %d acknowledged on partition %d", i, p);
            Check.that(offsets[i] == next[p], "record %d on partition %d got offset %d, expected %d",
                    i, p, offsets[i], next[p]);
            next[p]++;
        }
        System.arraycopy(next, 0, countPerPartition, 0, PARTITIONS);
        for (int p = 0; p < PARTITIONS; p++) {
            Check.that(countPerPartition[p] > 0, "no record went to partition %d (keys should spread)", p);
        }
        partitionOf = partitions;
        offsetOf = offsets;
        return records + " records acked on " + PARTITIONS + " partitions " + Arrays.toString(countPerPartition)
                + " in " + (produceEndMs - produceStartMs) + " ms";
    }

    /** (c): read everything back by partition assignment and compare byte for byte. */
    String consume() {
        Check.that(produced(), "skipped: the produce stage did not complete");
        List<TopicPartition> tps = new ArrayList<>();
        for (int p = 0; p < PARTITIONS; p++) {
            tps.add(new TopicPartition(topic, p));
        }
        long start = System.currentTimeMillis();
        try (KafkaConsumer<byte[], byte[]> consumer = clients.consumer(new Properties())) {
            consumer.assign(tps);
            Map<TopicPartition, Long> begin = consumer.beginningOffsets(tps, Duration.ofSeconds(30));
            Map<TopicPartition, Long> end = consumer.endOffsets(tps, Duration.ofSeconds(30));
            for (TopicPartition tp : tps) {
                Check.equal(0L, begin.get(tp), "beginning offset of " + tp);
                Check.equal(countPerPartition[tp.partition()], end.get(tp), "end offset of " + tp);
            }
            consumer.seekToBeginning(tps);
            long seen = readAndVerify(consumer, "assign");
            Check.equal((long) records, seen, "records consumed");
        }
        return records + " records verified byte-for-byte in " + (System.currentTimeMillis() - start) + " ms";
    }

    /** A consumer group (classic protocol, the 4.x default) reads everything and commits its position. */
    String group() {
        Check.that(produced(), "skipped: the produce stage did not complete");
        String groupId = topic + "-group";
        Properties overrides = new Properties();
        overrides.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        long start = System.currentTimeMillis();
        try (KafkaConsumer<byte[], byte[]> consumer = clients.consumer(overrides)) {
            consumer.subscribe(List.of(topic));
            long seen = readAndVerify(consumer, "group");
            Check.equal((long) records, seen, "records consumed by the group");
            consumer.commitSync(Duration.ofSeconds(30));
        }
        try (Admin admin = clients.admin()) {
            Map<TopicPartition, OffsetAndMetadata> committed = Check.await("listConsumerGroupOffsets",
                    () -> admin.listConsumerGroupOffsets(groupId).partitionsToOffsetAndMetadata().get());
            for (int p = 0; p < PARTITIONS; p++) {
                OffsetAndMetadata om = committed.get(new TopicPartition(topic, p));
                Check.that(om != null, "group %s has no committed offset for partition %d: %s", groupId, p, committed);
                Check.equal(countPerPartition[p], om.offset(), "committed offset of partition " + p);
            }
        }
        return "group " + groupId + " consumed and committed " + records + " records in "
                + (System.currentTimeMillis() - start) + " ms";
    }

    /** Polls until every produced record was seen once, verifying each against its expected content. */
    private long readAndVerify(KafkaConsumer<byte[], byte[]> consumer, String how) {
        long[] nextOffset = new long[PARTITIONS];
        boolean[] seen = new boolean[records];
        long count = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (count < records) {
            Check.that(System.nanoTime() < deadline, "%s: only %d of %d records consumed before the deadline; "
                    + "next offsets %s", how, count, records, Arrays.toString(nextOffset));
            ConsumerRecords<byte[], byte[]> batch = consumer.poll(Duration.ofMillis(500));
            for (ConsumerRecord<byte[], byte[]> r : batch) {
                int p = r.partition();
                Check.that(r.offset() == nextOffset[p], "%s: partition %d delivered offset %d, expected %d",
                        how, p, r.offset(), nextOffset[p]);
                nextOffset[p]++;
                long i = Records.seqOf(r.headers());
                Check.that(i >= 0 && i < records, "%s: unknown sequence number %d", how, i);
                Check.that(!seen[(int) i], "%s: record %d delivered twice", how, i);
                seen[(int) i] = true;
                count++;
                verifyRecord(r, (int) i, how);
            }
        }
        return count;
    }

    private void verifyRecord(ConsumerRecord<byte[], byte[]> r, int i, String how) {
        String at = how + ": record " + i + " at " + r.topic() + "-" + r.partition() + "@" + r.offset();
        Check.equal(partitionOf[i], r.partition(), at + " partition");
        Check.equal(offsetOf[i], r.offset(), at + " offset");
        Check.that(Arrays.equals(Records.key(i), r.key()), "%s key differs", at);
        byte[] expectedValue = Records.value(i);
        if (expectedValue == null) {
            if (r.value() != null) {
                throw new Check.Mismatch(at + " value should be null, got " + r.value().length + " bytes");
            }
        } else {
            Check.that(Arrays.equals(expectedValue, r.value()), "%s value differs (expected %d bytes, got %s)",
                    at, expectedValue.length, r.value() == null ? "null" : r.value().length + " bytes");
        }
        List<Header> expected = Records.headers(i);
        Header[] actual = r.headers().toArray();
        Check.equal(expected.size(), actual.length, at + " header count");
        for (int h = 0; h < actual.length; h++) {
            Check.equal(expected.get(h).key(), actual[h].key(), at + " header " + h + " key");
            Check.that(Arrays.equals(expected.get(h).value(), actual[h].value()), "%s header %s value differs",
                    at, actual[h].key());
        }
        Check.equal(TimestampType.CREATE_TIME, r.timestampType(), at + " timestamp type");
        Check.that(r.timestamp() >= produceStartMs && r.timestamp() <= produceEndMs,
                "%s timestamp %d outside the produce window [%d, %d]", at, r.timestamp(), produceStartMs,
                produceEndMs);
        Check.that(r.leaderEpoch().isPresent(), "%s has no leader epoch", at);
    }
}
