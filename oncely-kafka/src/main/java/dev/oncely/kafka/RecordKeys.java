package dev.oncely.kafka;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;

/**
 * Idempotency keys for Kafka records, for {@code IdempotentHandler.Builder#key}.
 *
 * <p>Which one to choose:
 * <ul>
 *   <li>{@link #header(String)}: <b>recommended.</b> The producer assigns an event id when it creates the event
 *       and sends it in a header (e.g. {@code event-id}). It dedups every way an event can arrive twice: a
 *       redelivery after a consumer crash or rebalance, a producer retry that wrote the record twice, and an
 *       upstream system that published the same event again.</li>
 *   <li>{@link #recordKey()}: when the record key identifies the event itself (not an entity such as a
 *       customer id that many events share: then every event after the first would pass as a duplicate).</li>
 *   <li>{@link #topicPartitionOffset()}: needs nothing from the producer. It dedups the redelivery of the same
 *       record (same topic, partition and offset) after a crash or a rebalance, but <b>not</b> a producer retry
 *       that wrote the event twice (without {@code enable.idempotence}), nor an event published twice: those are
 *       two records with two offsets, and both are processed. It also breaks if the topic is deleted and
 *       recreated (offsets start again at 0). Prefer a producer-assigned event id header.</li>
 * </ul>
 *
 * <p>A missing or unusable key makes the key function throw {@link IllegalArgumentException}, which the handler
 * reports as an {@link dev.oncely.InvalidMessageException} before anything is written; the poll loop then hands
 * the record to its poison handler ({@link KafkaPollLoop.Builder#onPoisonRecord}) or stops with that error,
 * never skipping the record silently.
 */
public final class RecordKeys {

    private RecordKeys() {
    }

    /**
     * The value of the header {@code name}, read as UTF-8. If the header occurs more than once, the last one
     * counts (as {@link org.apache.kafka.common.header.Headers#lastHeader} does).
     *
     * @throws IllegalArgumentException if {@code name} is blank (at once), or, when a record is keyed, if the
     *                                  record has no such header or its value is null
     */
    public static <K, V> Function<ConsumerRecord<K, V>, String> header(String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("The header name is " + (name == null ? "null" : "blank")
                    + ": pass the name of the header that carries the event id, e.g. \"event-id\".");
        }
        return new Function<>() {
            @Override
            public String apply(ConsumerRecord<K, V> record) {
                Header header = record.headers().lastHeader(name);
                if (header == null || header.value() == null) {
                    throw new IllegalArgumentException("Record " + position(record) + " has no header '" + name
                            + "'" + (header == null ? "" : " value") + ": make the producer set it on every record,"
                            + " or choose another key strategy.");
                }
                return new String(header.value(), StandardCharsets.UTF_8);
            }

            @Override
            public String toString() {
                return "RecordKeys.header(" + name + ")";
            }
        };
    }

    /**
     * The record key: a {@code String} as it is, a {@code byte[]} read as UTF-8, anything else by its
     * {@code toString()}.
     *
     * @throws IllegalArgumentException when a record is keyed, if its key is null
     */
    public static <K, V> Function<ConsumerRecord<K, V>, String> recordKey() {
        return new Function<>() {
            @Override
            public String apply(ConsumerRecord<K, V> record) {
                Object key = record.key();
                if (key == null) {
                    throw new IllegalArgumentException("Record " + position(record) + " has a null key: make the"
                            + " producer set a key that identifies the event, or choose another key strategy.");
                }
                if (key instanceof byte[] bytes) {
                    return new String(bytes, StandardCharsets.UTF_8);
                }
                return key.toString();
            }

            @Override
            public String toString() {
                return "RecordKeys.recordKey()";
            }
        };
    }

    /**
     * {@code topic/partition/offset}, e.g. {@code orders/3/1042}. Dedups the redelivery of the same record, not
     * a producer retry that wrote the event twice; see the class comment. Topic names are at most 249
     * characters, so with long names the key can exceed the 255-character limit: prefer a header then.
     */
    public static <K, V> Function<ConsumerRecord<K, V>, String> topicPartitionOffset() {
        return new Function<>() {
            @Override
            public String apply(ConsumerRecord<K, V> record) {
                return position(record);
            }

            @Override
            public String toString() {
                return "RecordKeys.topicPartitionOffset()";
            }
        };
    }

    static String position(ConsumerRecord<?, ?> record) {
        Objects.requireNonNull(record, "record");
        return record.topic() + "/" + record.partition() + "/" + record.offset();
    }
}
