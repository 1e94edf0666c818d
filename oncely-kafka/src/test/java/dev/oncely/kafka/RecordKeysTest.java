package dev.oncely.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

class RecordKeysTest {

    private static ConsumerRecord<Object, String> record(Object key) {
        return new ConsumerRecord<>("orders", 3, 1042L, key, "value");
    }

    @Test
    void headerReadsUtf8AndTheLastOccurrenceWins() {
        ConsumerRecord<Object, String> record = record("k");
        record.headers().add("event-id", "first".getBytes(StandardCharsets.UTF_8));
        record.headers().add("event-id", "zweitë".getBytes(StandardCharsets.UTF_8));
        assertThat(RecordKeys.<Object, String>header("event-id").apply(record)).isEqualTo("zweitë");
    }

    @Test
    void missingHeaderIsAClearError() {
        assertThatThrownBy(() -> RecordKeys.<Object, String>header("event-id").apply(record("k")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("orders/3/1042")
                .hasMessageContaining("has no header 'event-id'");
        ConsumerRecord<Object, String> nullValue = record("k");
        nullValue.headers().add("event-id", null);
        assertThatThrownBy(() -> RecordKeys.<Object, String>header("event-id").apply(nullValue))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("value");
    }

    @Test
    void blankHeaderNameIsRefusedAtOnce() {
        assertThatThrownBy(() -> RecordKeys.header(" ")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("header name is blank");
        assertThatThrownBy(() -> RecordKeys.header(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("header name is null");
    }

    @Test
    void recordKeyTakesStringsBytesAndOtherTypes() {
        assertThat(RecordKeys.<Object, String>recordKey().apply(record("evt-1"))).isEqualTo("evt-1");
        assertThat(RecordKeys.<Object, String>recordKey().apply(record("évt".getBytes(StandardCharsets.UTF_8)))).isEqualTo("évt");
        assertThat(RecordKeys.<Object, String>recordKey().apply(record(42L))).isEqualTo("42");
        assertThatThrownBy(() -> RecordKeys.<Object, String>recordKey().apply(record(null)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("null key");
    }

    @Test
    void topicPartitionOffsetNamesTheRecordsPosition() {
        assertThat(RecordKeys.<Object, String>topicPartitionOffset().apply(record("k"))).isEqualTo("orders/3/1042");
        assertThat(RecordKeys.<Object, String>topicPartitionOffset().apply(new ConsumerRecord<Object, String>("orders", 3, 1043L, "k", "v")))
                .isEqualTo("orders/3/1043");
    }
}
