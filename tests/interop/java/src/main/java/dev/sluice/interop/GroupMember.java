package dev.sluice.interop;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * One member of a consumer group, run as its own process by tests/python/test_groups_mixed.py
 * next to librdkafka and kafka-python members of the same group.
 *
 * <p>Why a separate program: the group tests kill members with SIGKILL and restart them, which
 * needs one process per member, and they compare what every client saw in one format.
 *
 * <p>Usage: {@code GroupMember --bootstrap B --topic T --group G [--name N] [--assignor range|roundrobin|
 * cooperative-sticky|default] [--protocol classic|consumer] [--instance-id ID] [--session-ms MS]
 * [--rate RECORDS_PER_S]}
 *
 * <p>It subscribes, "processes" each record (checks that the value is {@code "<partition>-<offset>"},
 * as the test's producer wrote it), throttled to {@code --rate} records/s until told otherwise,
 * and commits synchronously after every batch (at-least-once). Stdin commands, one per line:
 * {@code fast} (stop throttling), {@code stop} (close the consumer, which leaves the group, and
 * exit 0). Stdout: one JSON object per line, {@code ev} naming the event:
 * {@code ready}, {@code assigned}/{@code revoked}/{@code lost} (partitions of that callback) each
 * followed by {@code owned} (the member's whole assignment), {@code batch} (partition, first and
 * last offset processed), {@code commit} / {@code commit_failed}, {@code bad} (unexpected value),
 * {@code closed}.
 */
public final class GroupMember {
    private final Map<String, String> opts;
    private final TreeSet<Integer> owned = new TreeSet<>();
    private volatile boolean fast;
    private volatile boolean stop;

    private GroupMember(Map<String, String> opts) {
        this.opts = opts;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                System.err.println("unexpected argument " + args[i]);
                System.exit(2);
            }
            opts.put(args[i].substring(2), args[i + 1]);
        }
        for (String required : List.of("bootstrap", "topic", "group")) {
            if (!opts.containsKey(required)) {
                System.err.println("missing --" + required);
                System.exit(2);
            }
        }
        new GroupMember(opts).run();
    }

    private static synchronized void emit(String json) {
        System.out.println(json);
        System.out.flush();
    }

    private static String partitionsJson(Collection<Integer> partitions) {
        StringBuilder b = new StringBuilder("[");
        for (int p : new TreeSet<>(partitions)) {
            if (b.length() > 1) {
                b.append(',');
            }
            b.append(p);
        }
        return b.append(']').toString();
    }

    private static String quote(String s) {
        return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ") + '"';
    }

    private void changed(String event, Collection<TopicPartition> partitions, boolean add) {
        List<Integer> ids = new ArrayList<>();
        for (TopicPartition tp : partitions) {
            ids.add(tp.partition());
        }
        if (add) {
            owned.addAll(ids);
        } else {
            owned.removeAll(ids);
        }
        emit("{\"ev\":\"" + event + "\",\"parts\":" + partitionsJson(ids) + "}");
        emit("{\"ev\":\"owned\",\"parts\":" + partitionsJson(owned) + "}");
    }

    private KafkaConsumer<byte[], byte[]> consumer() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, opts.get("bootstrap"));
        p.put(ConsumerConfig.GROUP_ID_CONFIG, opts.get("group"));
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, opts.getOrDefault("name", "java-member"));
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "500");
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100");
        p.put(ConsumerConfig.RETRY_BACKOFF_MS_CONFIG, "50");
        String protocol = opts.getOrDefault("protocol", "classic");
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        if (protocol.equals("classic")) {
            // The consumer protocol takes both from the broker; setting them there is an error.
            String session = opts.getOrDefault("session-ms", "6000");
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, session);
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "500");
            p.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, "30000");
            String assignor = opts.getOrDefault("assignor", "default");
            switch (assignor) {
                case "default" -> { }
                case "range" -> p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
                        "org.apache.kafka.clients.consumer.RangeAssignor");
                case "roundrobin" -> p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
                        "org.apache.kafka.clients.consumer.RoundRobinAssignor");
                case "cooperative-sticky" -> p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
                        "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
                default -> throw new IllegalArgumentException("unknown assignor " + assignor);
            }
        }
        if (opts.containsKey("instance-id")) {
            p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, opts.get("instance-id"));
        }
        return new KafkaConsumer<>(p);
    }

    private void readCommands(KafkaConsumer<byte[], byte[]> consumer) {
        Thread t = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    switch (line.trim()) {
                        case "fast" -> fast = true;
                        case "stop" -> {
                            stop = true;
                            consumer.wakeup();
                        }
                        default -> { }
                    }
                }
            } catch (Exception e) {
                // stdin closed with the test: nothing more to obey
            }
        }, "commands");
        t.setDaemon(true);
        t.start();
    }

    private void run() throws InterruptedException {
        String topic = opts.get("topic");
        double rate = Double.parseDouble(opts.getOrDefault("rate", "0"));
        KafkaConsumer<byte[], byte[]> consumer = consumer();
        readCommands(consumer);
        consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                changed("revoked", partitions, false);
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                changed("assigned", partitions, true);
            }

            @Override
            public void onPartitionsLost(Collection<TopicPartition> partitions) {
                changed("lost", partitions, false);
            }
        });
        emit("{\"ev\":\"ready\"}");
        try {
            while (!stop) {
                ConsumerRecords<byte[], byte[]> records;
                try {
                    records = consumer.poll(Duration.ofMillis(200));
                } catch (WakeupException e) {
                    break;
                }
                if (records.isEmpty()) {
                    continue;
                }
                Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
                for (TopicPartition tp : records.partitions()) {
                    List<ConsumerRecord<byte[], byte[]>> batch = records.records(tp);
                    for (ConsumerRecord<byte[], byte[]> r : batch) {
                        String expected = tp.partition() + "-" + r.offset();
                        String value = r.value() == null ? "<null>" : new String(r.value(), StandardCharsets.UTF_8);
                        if (!expected.equals(value)) {
                            emit("{\"ev\":\"bad\",\"p\":" + tp.partition() + ",\"o\":" + r.offset()
                                    + ",\"value\":" + quote(value) + "}");
                        }
                    }
                    long first = batch.get(0).offset();
                    long last = batch.get(batch.size() - 1).offset();
                    emit("{\"ev\":\"batch\",\"p\":" + tp.partition() + ",\"first\":" + first + ",\"last\":" + last
                            + ",\"n\":" + batch.size() + "}");
                    next.put(tp, new OffsetAndMetadata(last + 1));
                }
                if (!fast && rate > 0) {
                    Thread.sleep((long) (records.count() * 1000.0 / rate));
                }
                try {
                    consumer.commitSync(next);
                    StringBuilder b = new StringBuilder();
                    for (Map.Entry<TopicPartition, OffsetAndMetadata> e : next.entrySet()) {
                        b.append(b.length() == 0 ? "" : ",").append('"').append(e.getKey().partition()).append("\":")
                                .append(e.getValue().offset());
                    }
                    emit("{\"ev\":\"commit\",\"offsets\":{" + b + "}}");
                } catch (WakeupException e) {
                    break;
                } catch (KafkaException e) {
                    // CommitFailedException / RebalanceInProgressException: another member will
                    // process these records again from the last commit (at-least-once).
                    emit("{\"ev\":\"commit_failed\",\"error\":" + quote(e.toString()) + "}");
                }
            }
        } finally {
            consumer.close();
            emit("{\"ev\":\"closed\"}");
        }
    }
}
