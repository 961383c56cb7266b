package dev.sluice.interop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Every compression codec the Java client supports, produced into one partition and read back.
 *
 * <p>Why: the broker must validate and store compressed batches (assigning offsets inside them)
 * and serve them so the client can decompress; each codec has its own framing quirks.
 */
final class Codecs {
    static final List<String> CODECS = List.of("none", "gzip", "snappy", "lz4", "zstd");
    static final int PER_CODEC = 2000;

    private final Clients clients;
    private final String topic;

    Codecs(Clients clients, String topic) {
        this.clients = clients;
        this.topic = topic;
    }

    String run() throws Exception {
        try (Admin admin = clients.admin()) {
            Clients.createTopics(admin, List.of(new NewTopic(topic, 1, (short) 1)));
        }
        long expectedOffset = 0;
        for (String codec : CODECS) {
            Properties p = new Properties();
            p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
            p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
            try (KafkaProducer<byte[], byte[]> producer = clients.producer(p)) {
                List<java.util.concurrent.Future<RecordMetadata>> acks = new ArrayList<>();
                for (int i = 0; i < PER_CODEC; i++) {
                    acks.add(producer.send(new ProducerRecord<>(topic, 0, null,
                            (codec + "-" + i).getBytes(), Records.compressibleValue(codec, i))));
                }
                producer.flush();
                for (int i = 0; i < PER_CODEC; i++) {
                    final int n = i;
                    RecordMetadata md = Check.await(codec + " produce #" + n, () -> acks.get(n).get());
                    Check.equal(expectedOffset + i, md.offset(), codec + " record " + i + " offset");
                }
            }
            expectedOffset += PER_CODEC;
        }

        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<byte[], byte[]> consumer = clients.consumer(new Properties())) {
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long next = 0;
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (next < expectedOffset) {
                Check.that(System.nanoTime() < deadline, "only %d of %d compressed records consumed", next,
                        expectedOffset);
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    Check.equal(next, r.offset(), "offset of the next compressed record");
                    String codec = CODECS.get((int) (next / PER_CODEC));
                    int i = (int) (next % PER_CODEC);
                    Check.that(Arrays.equals((codec + "-" + i).getBytes(), r.key()), "%s record %d key differs",
                            codec, i);
                    Check.that(Arrays.equals(Records.compressibleValue(codec, i), r.value()),
                            "%s record %d value differs", codec, i);
                    next++;
                }
            }
        }
        return CODECS.size() + " codecs x " + PER_CODEC + " records round-tripped " + CODECS;
    }
}
