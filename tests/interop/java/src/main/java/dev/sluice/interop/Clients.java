package dev.sluice.interop;

import java.time.Duration;
import java.util.Collection;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Builds the stock Kafka clients with default settings (only what a test must pin is set).
 *
 * <p>Why: interop means "what a normal application does", so everything not named here keeps the
 * Java client's defaults (idempotent producer with acks=all, classic consumer group protocol).
 */
final class Clients {
    static final Duration DEADLINE = Duration.ofSeconds(60);

    private final String bootstrap;

    Clients(String bootstrap) {
        this.bootstrap = bootstrap;
    }

    Admin admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        return Admin.create(p);
    }

    KafkaProducer<byte[], byte[]> producer(Properties overrides) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "60000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.putAll(overrides);
        return new KafkaProducer<>(p);
    }

    KafkaConsumer<byte[], byte[]> consumer(Properties overrides) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.putAll(overrides);
        return new KafkaConsumer<>(p);
    }

    /** Creates topics and waits until every partition has a leader, as clients need before producing. */
    static void createTopics(Admin admin, Collection<NewTopic> topics) {
        Check.await("createTopics " + topics, () -> admin.createTopics(topics).all().get());
        for (NewTopic t : topics) {
            waitForPartitions(admin, t.name(), t.numPartitions());
        }
    }

    static void waitForPartitions(Admin admin, String topic, int partitions) {
        Check.eventually(DEADLINE, topic + " to have " + partitions + " partitions with leaders", () -> {
            try {
                TopicDescription d = admin.describeTopics(Set.of(topic)).allTopicNames().get().get(topic);
                return d.partitions().size() == partitions
                        && d.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty());
            } catch (Exception e) {
                return false; // not visible yet: keep polling until the deadline
            }
        });
    }
}
