package dev.sluice.interop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

/**
 * An exactly-once consume-transform-produce processor on the Java client's transactional API.
 *
 * <p>Why: tests/python/test_eos.py kills this process with SIGKILL at random points and restarts
 * it, and checks that the output holds each input record's result exactly once. It follows the
 * same contract as tests/python/eos_processor.py (librdkafka), so one driver runs both.
 *
 * <p>Usage: {@code EosProcessor BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID BATCH}. Every record
 * of INPUT partition p goes to OUTPUT partition p with its key and its value + ":done", in
 * transactions of up to BATCH records that also commit the consumed offsets to GROUP. The input
 * is complete before the processor starts, so it exits 0 once its position reaches the input's
 * end offsets. After each commit it prints "committed N", N the sum of the committed offsets.
 */
public final class EosProcessor {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private EosProcessor() {}

    public static void main(String[] args) {
        if (args.length != 6) {
            System.err.println("usage: EosProcessor BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID BATCH");
            System.exit(2);
        }
        String input = args[1];
        String output = args[2];
        int batch = Integer.parseInt(args[5]);
        Clients clients = new Clients(args[0]);

        Properties producerProps = new Properties();
        producerProps.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, args[4]);
        producerProps.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "10000");
        producerProps.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        Properties consumerProps = new Properties();
        consumerProps.put(ConsumerConfig.GROUP_ID_CONFIG, args[3]);
        consumerProps.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        consumerProps.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Integer.toString(batch));

        try (KafkaProducer<byte[], byte[]> producer = clients.producer(producerProps);
                KafkaConsumer<byte[], byte[]> consumer = clients.consumer(consumerProps)) {
            // The producer first: its InitProducerId fences a killed predecessor and ends that
            // instance's transaction before this one reads the group's committed offsets.
            producer.initTransactions();
            List<TopicPartition> partitions = new ArrayList<>();
            for (PartitionInfo info : consumer.partitionsFor(input, TIMEOUT)) {
                partitions.add(new TopicPartition(input, info.partition()));
            }
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, TIMEOUT);
            // Manual assignment with the group's committed offsets: a restarted instance resumes
            // at once instead of waiting for the killed member's session to expire.
            consumer.assign(partitions);
            Map<TopicPartition, Long> next = new HashMap<>();
            for (TopicPartition tp : partitions) {
                next.put(tp, consumer.position(tp, TIMEOUT));
            }
            while (partitions.stream().anyMatch(tp -> next.get(tp) < ends.get(tp))) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofSeconds(1));
                if (records.isEmpty()) {
                    continue;
                }
                producer.beginTransaction();
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    byte[] value = new byte[r.value().length + 5];
                    System.arraycopy(r.value(), 0, value, 0, r.value().length);
                    System.arraycopy(":done".getBytes(), 0, value, r.value().length, 5);
                    producer.send(new ProducerRecord<>(output, r.partition(), r.key(), value));
                    next.put(new TopicPartition(r.topic(), r.partition()), r.offset() + 1);
                }
                Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                next.forEach((tp, o) -> offsets.put(tp, new OffsetAndMetadata(o)));
                producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
                producer.commitTransaction();
                System.out.println("committed " + next.values().stream().mapToLong(Long::longValue).sum());
                System.out.flush();
            }
            System.out.println("done " + next.values().stream().mapToLong(Long::longValue).sum());
        } catch (RuntimeException e) {
            e.printStackTrace();
            System.exit(1);
        }
    }
}
