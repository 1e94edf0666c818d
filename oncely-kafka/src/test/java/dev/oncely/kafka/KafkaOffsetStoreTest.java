package dev.oncely.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.jdbc.Database;
import java.sql.Connection;
import java.util.EnumMap;
import java.util.Map;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The fence statement itself, on PostgreSQL, MariaDB and H2 (each with its own DDL resource), including two
 * transactions racing for the same offset.
 */
class KafkaOffsetStoreTest {

    private static final Map<TestDbs, HikariDataSource> POOLS = new EnumMap<>(TestDbs.class);

    private HikariDataSource dataSource;
    private KafkaOffsetStore offsets;

    private void on(TestDbs db) {
        dataSource = POOLS.computeIfAbsent(db, d -> d.pool(4));
        offsets = KafkaOffsetStore.builder(dataSource).build().createSchemaIfMissing();
    }

    @AfterAll
    static void stop() {
        POOLS.values().forEach(HikariDataSource::close);
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void eachDatabaseGetsItsOwnDdlResource(TestDbs db) {
        on(db);
        Database expected = switch (db) {
            case POSTGRESQL -> Database.POSTGRESQL;
            case MARIADB -> Database.MARIADB;
            case H2 -> Database.H2;
        };
        assertThat(offsets.database()).isEqualTo(expected);
        assertThat(offsets.ddlResource()).isEqualTo("dev/oncely/kafka/" + db.name().toLowerCase(java.util.Locale.ROOT)
                + "-offsets.sql");
        assertThat(offsets.ddl()).contains("CREATE TABLE IF NOT EXISTS oncely_kafka_offsets");
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void advancesOnlyFromTheExpectedOffset(TestDbs db) throws Exception {
        on(db);
        String group = "g-" + UUID.randomUUID();
        TopicPartition tp = new TopicPartition("t", 2);
        assertThat(advance(group, tp, OptionalLong.empty(), 5)).as("first insert").isTrue();
        assertThat(advance(group, tp, OptionalLong.empty(), 7)).as("a second insert is fenced").isFalse();
        assertThat(advance(group, tp, OptionalLong.of(3), 9)).as("stale expected offset").isFalse();
        assertThat(offsets.read(group, tp)).hasValue(5);
        assertThat(advance(group, tp, OptionalLong.of(5), 9)).isTrue();
        assertThat(offsets.read(group, tp)).hasValue(9);
        assertThat(offsets.read("other-" + group, tp)).isEmpty();
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void ofTwoTransactionsAdvancingFromTheSameOffsetOnlyTheFirstToCommitWins(TestDbs db) throws Exception {
        on(db);
        String group = "g-" + UUID.randomUUID();
        TopicPartition tp = new TopicPartition("t", 0);
        assertThat(advance(group, tp, OptionalLong.empty(), 10)).isTrue();
        try (Connection first = dataSource.getConnection(); Connection second = dataSource.getConnection()) {
            first.setAutoCommit(false);
            second.setAutoCommit(false);
            assertThat(offsets.advance(first, group, tp, OptionalLong.of(10), 20)).isTrue();
            CompletableFuture<Boolean> racing = CompletableFuture.supplyAsync(() -> {
                try {
                    return offsets.advance(second, group, tp, OptionalLong.of(10), 15);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Thread.sleep(300);
            assertThat(racing).as("the second waits on the row lock of the first").isNotDone();
            first.commit();
            assertThat(racing.get(10, TimeUnit.SECONDS)).as("and then re-checks against the committed 20")
                    .isFalse();
            second.rollback();
        }
        assertThat(offsets.read(group, tp)).hasValue(20);
    }

    @Test
    void badTableNamesAreRefused() {
        on(TestDbs.H2);
        assertThatThrownBy(() -> KafkaOffsetStore.builder(dataSource).table("offsets; DROP TABLE x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not allowed");
        assertThatThrownBy(() -> KafkaOffsetStore.builder(null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dataSource is null");
    }

    private boolean advance(String group, TopicPartition tp, OptionalLong expected, long next)
            throws Exception {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            boolean moved = offsets.advance(c, group, tp, expected, next);
            c.commit();
            return moved;
        }
    }
}
