package dev.sluice.interop;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;

/**
 * The deterministic content of record number {@code i}.
 *
 * <p>Why: the consumer must be able to recompute every key, value and header from the sequence
 * number alone, so any byte the broker changes, loses or duplicates is detected. The content
 * varies in length (including empty and null values, empty header values) to cover edge cases of
 * the record format.
 */
final class Records {
    private Records() {}

    static final String SEQ_HEADER = "seq";
    static final String EVEN_HEADER = "even";

    static byte[] key(long i) {
        return ("key-" + i).getBytes(StandardCharsets.UTF_8);
    }

    /** A null value (tombstone) every 5000 records, an empty one every 997, else 1..299 bytes. */
    static byte[] value(long i) {
        if (i % 5000 == 4999) {
            return null;
        }
        int length = (int) ((i * 31) % 300);
        byte[] out = new byte[length];
        for (int j = 0; j < length; j++) {
            out[j] = (byte) ((i * 7 + j * 13) & 0xff);
        }
        return out;
    }

    static List<Header> headers(long i) {
        List<Header> headers = new ArrayList<>(2);
        headers.add(new RecordHeader(SEQ_HEADER, ByteBuffer.allocate(8).putLong(i).array()));
        if (i % 2 == 0) {
            headers.add(new RecordHeader(EVEN_HEADER, new byte[0]));
        }
        return headers;
    }

    /** Recovers the sequence number from a consumed record's headers. */
    static long seqOf(Iterable<Header> headers) {
        for (Header h : headers) {
            if (h.key().equals(SEQ_HEADER)) {
                Check.that(h.value() != null && h.value().length == 8, "seq header has %s bytes",
                        h.value() == null ? "null" : h.value().length);
                return ByteBuffer.wrap(h.value()).getLong();
            }
        }
        throw new Check.Mismatch("consumed record has no '" + SEQ_HEADER + "' header");
    }

    /** A compressible value for the codec stage: repeated text tagged with the sequence number. */
    static byte[] compressibleValue(String codec, long i) {
        return (codec + "-" + i + "-" + "sluice-compression-check-".repeat((int) (i % 20) + 1))
                .getBytes(StandardCharsets.UTF_8);
    }
}
