package dev.sluice.interop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * (d) The AdminClient calls operators and tools depend on, with Kafka's answers as expectations.
 *
 * <p>Why: kafka-topics, kafka-configs, Cruise Control, Kafka UI etc. are built on these calls; their
 * result shapes, config sources and error types must match a Kafka broker's.
 */
final class AdminChecks {
    private static final long DAY_MS = 86_400_000L;
    private static final long T0 = 1_700_000_000_000L;
    /** Out of order on purpose: the maximum timestamp (T0+5000) is not the last record. */
    private static final long[] TIMESTAMPS = {T0, T0 + 1000, T0 + 2000, T0 + 5000, T0 + 4000};

    private final Clients clients;
    private final String prefix;
    private final List<String> created = new ArrayList<>();

    AdminChecks(Clients clients, String prefix) {
        this.clients = clients;
        this.prefix = prefix;
    }

    /** One admin check; each creates its own topics so a failure does not hide the others. */
    @FunctionalInterface
    private interface AdminCheck {
        void run(Admin admin) throws Exception;
    }

    /**
     * Runs every check even if an earlier one failed, so one run reports all differences; throws
     * a Mismatch naming each failed check.
     */
    String run(Collection<String> alsoDelete) {
        List<String> passed = new ArrayList<>();
        List<String> failed = new ArrayList<>();
        try (Admin admin = clients.admin()) {
            int[] nodeId = {0}; // Sluice and the reference broker both run as node 0
            Map<String, AdminCheck> checks = new LinkedHashMap<>();
            checks.put("describeCluster", a -> nodeId[0] = describeCluster(a));
            checks.put("describeTopics", a -> describeTopics(a, nodeId[0]));
            checks.put("describeConfigs+incrementalAlterConfigs", a -> describeAndAlterConfigs(a, nodeId[0]));
            checks.put("createPartitions", this::createPartitions);
            checks.put("listOffsets", this::listOffsetsByTime);
            checks.put("deleteRecords", this::deleteRecords);
            checks.put("deleteTopics", a -> {
                List<String> toDelete = new ArrayList<>(created);
                toDelete.addAll(alsoDelete);
                deleteTopics(a, toDelete);
            });
            for (Map.Entry<String, AdminCheck> check : checks.entrySet()) {
                try {
                    check.getValue().run(admin);
                    passed.add(check.getKey());
                } catch (Check.Mismatch e) {
                    failed.add(check.getKey() + ": " + e.getMessage());
                } catch (Exception e) {
                    failed.add(check.getKey() + ": " + e);
                }
            }
        }
        Check.that(failed.isEmpty(), "%d admin check(s) failed: %s (passed: %s)", failed.size(),
                String.join(" | ", failed), passed);
        return "admin calls verified: " + passed;
    }

    private String topic(String suffix) {
        String name = prefix + "-" + suffix;
        created.add(name);
        return name;
    }

    private int describeCluster(Admin admin) {
        DescribeClusterResult cluster = admin.describeCluster();
        Collection<Node> nodes = Check.await("describeCluster.nodes", () -> cluster.nodes().get());
        String clusterId = Check.await("describeCluster.clusterId", () -> cluster.clusterId().get());
        Node controller = Check.await("describeCluster.controller", () -> cluster.controller().get());
        Check.equal(1, nodes.size(), "number of nodes in a single-node cluster");
        Check.that(clusterId != null && !clusterId.isEmpty(), "cluster id is empty");
        Check.that(controller != null && !controller.isEmpty(), "describeCluster names no controller");
        Node node = nodes.iterator().next();
        Check.equal("127.0.0.1", node.host(), "advertised host");
        return node.id();
    }

    private void describeTopics(Admin admin, int nodeId) {
        String name = topic("describe");
        Clients.createTopics(admin, List.of(new NewTopic(name, 3, (short) 1)));
        TopicDescription d = Check.await("describeTopics",
                () -> admin.describeTopics(Set.of(name)).allTopicNames().get().get(name));
        Check.equal(name, d.name(), "described topic name");
        Check.that(!d.isInternal(), "%s described as internal", name);
        Check.that(d.topicId() != null && !Uuid.ZERO_UUID.equals(d.topicId()), "topic id is zero");
        Check.equal(3, d.partitions().size(), "partition count");
        for (int p = 0; p < 3; p++) {
            TopicPartitionInfo info = d.partitions().get(p);
            Check.equal(p, info.partition(), "partition index at position " + p);
            Check.equal(nodeId, info.leader().id(), "leader of partition " + p);
            Check.equal(List.of(nodeId), info.replicas().stream().map(Node::id).toList(), "replicas of " + p);
            Check.equal(List.of(nodeId), info.isr().stream().map(Node::id).toList(), "isr of " + p);
        }
        Check.fails(TopicExistsException.class, "creating an existing topic",
                () -> admin.createTopics(List.of(new NewTopic(name, 3, (short) 1))).all().get());
        Check.fails(UnknownTopicOrPartitionException.class, "describing an unknown topic",
                () -> admin.describeTopics(Set.of(prefix + "-never-created")).allTopicNames().get());
    }

    private static ConfigEntry entry(Admin admin, ConfigResource res, String name) {
        Config config = Check.await("describeConfigs " + res,
                () -> admin.describeConfigs(List.of(res)).all().get().get(res));
        ConfigEntry e = config.get(name);
        Check.that(e != null, "describeConfigs of %s has no entry %s", res, name);
        return e;
    }

    private static void expectDefault(Admin admin, ConfigResource res, String name, String value) {
        ConfigEntry e = entry(admin, res, name);
        Check.equal(value, e.value(), res + " " + name + " value");
        Check.equal(ConfigEntry.ConfigSource.DEFAULT_CONFIG, e.source(), res + " " + name + " source");
        Check.that(e.isDefault(), "%s %s should be reported as default", res, name);
        Check.that(!e.isSensitive(), "%s %s should not be sensitive", res, name);
    }

    private void describeAndAlterConfigs(Admin admin, int nodeId) {
        String name = topic("configs");
        Clients.createTopics(admin, List.of(new NewTopic(name, 1, (short) 1)));
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, name);
        expectDefault(admin, res, "cleanup.policy", "delete");
        expectDefault(admin, res, "retention.ms", String.valueOf(7 * DAY_MS));
        expectDefault(admin, res, "segment.bytes", "1073741824");
        expectDefault(admin, res, "max.message.bytes", "1048588");
        expectDefault(admin, res, "compression.type", "producer");
        expectDefault(admin, res, "message.timestamp.type", "CreateTime");
        Check.equal("1", entry(admin, res, "min.insync.replicas").value(), "min.insync.replicas");

        Map<ConfigResource, Collection<AlterConfigOp>> set = Map.of(res, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", "3600000"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact"), AlterConfigOp.OpType.SET)));
        Check.await("incrementalAlterConfigs SET", () -> admin.incrementalAlterConfigs(set).all().get());
        Check.eventually(Duration.ofSeconds(30), "retention.ms=3600000 to be visible", () ->
                "3600000".equals(entry(admin, res, "retention.ms").value()));
        ConfigEntry retention = entry(admin, res, "retention.ms");
        Check.equal(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, retention.source(), "altered retention.ms source");
        Check.that(!retention.isDefault(), "altered retention.ms still reported as default");
        Check.equal("compact", entry(admin, res, "cleanup.policy").value(), "altered cleanup.policy");

        Map<ConfigResource, Collection<AlterConfigOp>> delete = Map.of(res, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", ""), AlterConfigOp.OpType.DELETE)));
        Check.await("incrementalAlterConfigs DELETE", () -> admin.incrementalAlterConfigs(delete).all().get());
        Check.eventually(Duration.ofSeconds(30), "retention.ms back to its default", () ->
                String.valueOf(7 * DAY_MS).equals(entry(admin, res, "retention.ms").value()));
        expectDefault(admin, res, "retention.ms", String.valueOf(7 * DAY_MS));

        Check.fails(InvalidConfigurationException.class, "setting retention.ms to a non-number",
                () -> admin.incrementalAlterConfigs(Map.of(res, List.of(new AlterConfigOp(
                        new ConfigEntry("retention.ms", "not-a-number"), AlterConfigOp.OpType.SET)))).all().get());
        Check.fails(InvalidConfigurationException.class, "setting an unknown topic config",
                () -> admin.incrementalAlterConfigs(Map.of(res, List.of(new AlterConfigOp(
                        new ConfigEntry("no.such.config", "1"), AlterConfigOp.OpType.SET)))).all().get());
        ConfigResource unknown = new ConfigResource(ConfigResource.Type.TOPIC, prefix + "-never-created");
        Check.fails(UnknownTopicOrPartitionException.class, "describeConfigs of an unknown topic",
                () -> admin.describeConfigs(List.of(unknown)).all().get());

        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, String.valueOf(nodeId));
        for (String key : List.of("num.partitions", "log.retention.hours", "auto.create.topics.enable",
                "default.replication.factor", "message.max.bytes")) {
            ConfigEntry e = entry(admin, broker, key);
            Check.that(e.value() != null && !e.value().isEmpty(), "broker config %s has no value", key);
        }
    }

    private void createPartitions(Admin admin) {
        String name = topic("partitions");
        Clients.createTopics(admin, List.of(new NewTopic(name, 2, (short) 1)));
        Check.await("createPartitions 2->4",
                () -> admin.createPartitions(Map.of(name, NewPartitions.increaseTo(4))).all().get());
        Clients.waitForPartitions(admin, name, 4);
        Check.fails(InvalidPartitionsException.class, "decreasing partitions 4->3",
                () -> admin.createPartitions(Map.of(name, NewPartitions.increaseTo(3))).all().get());
        Check.fails(InvalidPartitionsException.class, "keeping the partition count 4->4",
                () -> admin.createPartitions(Map.of(name, NewPartitions.increaseTo(4))).all().get());
        Check.fails(UnknownTopicOrPartitionException.class, "adding partitions to an unknown topic",
                () -> admin.createPartitions(Map.of(prefix + "-never-created", NewPartitions.increaseTo(4)))
                        .all().get());
    }

    /** Partition 0 gets one batch per record, partition 1 one batch for all: answers must agree. */
    private void listOffsetsByTime(Admin admin) throws Exception {
        String name = topic("timestamps");
        Clients.createTopics(admin, List.of(new NewTopic(name, 2, (short) 1)));
        try (KafkaProducer<byte[], byte[]> producer = clients.producer(new Properties())) {
            for (int i = 0; i < TIMESTAMPS.length; i++) {
                final int n = i;
                Check.await("produce with timestamp", () -> producer.send(new ProducerRecord<>(
                        name, 0, TIMESTAMPS[n], ("k" + n).getBytes(), ("v" + n).getBytes())).get());
            }
            List<java.util.concurrent.Future<?>> acks = new ArrayList<>();
            for (int i = 0; i < TIMESTAMPS.length; i++) {
                acks.add(producer.send(new ProducerRecord<>(
                        name, 1, TIMESTAMPS[i], ("k" + i).getBytes(), ("v" + i).getBytes())));
            }
            producer.flush();
            for (java.util.concurrent.Future<?> f : acks) {
                Check.await("batched produce with timestamp", f::get);
            }
        }
        for (int p = 0; p < 2; p++) {
            TopicPartition tp = new TopicPartition(name, p);
            expectOffset(admin, tp, OffsetSpec.earliest(), 0, -1, "earliest");
            expectOffset(admin, tp, OffsetSpec.latest(), TIMESTAMPS.length, -1, "latest");
            expectOffset(admin, tp, OffsetSpec.forTimestamp(T0), 0, T0, "forTimestamp(T0)");
            expectOffset(admin, tp, OffsetSpec.forTimestamp(T0 + 500), 1, T0 + 1000, "forTimestamp(T0+500)");
            expectOffset(admin, tp, OffsetSpec.forTimestamp(T0 + 4500), 3, T0 + 5000, "forTimestamp(T0+4500)");
            expectOffset(admin, tp, OffsetSpec.forTimestamp(T0 + 10_000), -1, -1, "forTimestamp(after all)");
            expectOffset(admin, tp, OffsetSpec.maxTimestamp(), 3, T0 + 5000, "maxTimestamp");
        }
    }

    private static void expectOffset(Admin admin, TopicPartition tp, OffsetSpec spec, long offset, long timestamp,
            String what) {
        ListOffsetsResultInfo info = Check.await("listOffsets " + what,
                () -> admin.listOffsets(Map.of(tp, spec)).partitionResult(tp).get());
        Check.equal(offset, info.offset(), "listOffsets " + what + " offset on " + tp);
        Check.equal(timestamp, info.timestamp(), "listOffsets " + what + " timestamp on " + tp);
    }

    private void deleteRecords(Admin admin) throws Exception {
        String name = topic("delete-records");
        Clients.createTopics(admin, List.of(new NewTopic(name, 1, (short) 1)));
        TopicPartition tp = new TopicPartition(name, 0);
        try (KafkaProducer<byte[], byte[]> producer = clients.producer(new Properties())) {
            for (int i = 0; i < 60; i++) {
                producer.send(new ProducerRecord<>(name, 0, null, ("k" + i).getBytes(), ("v" + i).getBytes()));
            }
            producer.flush();
        }
        expectOffset(admin, tp, OffsetSpec.latest(), 60, -1, "latest before deleteRecords");
        long low = Check.await("deleteRecords before 10", () -> admin.deleteRecords(
                Map.of(tp, RecordsToDelete.beforeOffset(10))).lowWatermarks().get(tp).get().lowWatermark());
        Check.equal(10L, low, "low watermark after deleteRecords(10)");
        expectOffset(admin, tp, OffsetSpec.earliest(), 10, -1, "earliest after deleteRecords(10)");
        Check.fails(OffsetOutOfRangeException.class, "deleteRecords beyond the high watermark",
                () -> admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(1000))).all().get());
        long all = Check.await("deleteRecords before high watermark (-1)", () -> admin.deleteRecords(
                Map.of(tp, RecordsToDelete.beforeOffset(-1))).lowWatermarks().get(tp).get().lowWatermark());
        Check.equal(60L, all, "low watermark after deleteRecords(-1 = high watermark)");
        expectOffset(admin, tp, OffsetSpec.earliest(), 60, -1, "earliest after deleting everything");
        expectOffset(admin, tp, OffsetSpec.latest(), 60, -1, "latest after deleting everything");
    }

    private static void deleteTopics(Admin admin, List<String> names) {
        Check.await("deleteTopics " + names, () -> admin.deleteTopics(names).all().get());
        Check.eventually(Duration.ofSeconds(30), "deleted topics to disappear from listTopics", () -> {
            try {
                Set<String> listed = admin.listTopics().names().get();
                return names.stream().noneMatch(listed::contains);
            } catch (Exception e) {
                return false;
            }
        });
        Check.fails(UnknownTopicOrPartitionException.class, "describing a deleted topic",
                () -> admin.describeTopics(Set.of(names.get(0))).allTopicNames().get());
        Check.fails(UnknownTopicOrPartitionException.class, "deleting a deleted topic",
                () -> admin.deleteTopics(List.of(names.get(0))).all().get());
    }
}
