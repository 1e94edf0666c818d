package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import dev.oncely.RetentionPurger;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The purge scheduler against a real PostgreSQL, on a table of its own. */
class PostgresRetentionPurgerTest {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    private static final String TABLE = "oncely_purger_test";

    private static HikariDataSource pool;
    private static JdbcDedupStore store;

    @BeforeAll
    static void setUp() {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(DB.database().jdbcUrl());
        config.setUsername(DB.database().user());
        config.setPassword(DB.database().password());
        config.setMaximumPoolSize(4);
        config.setPoolName("oncely-purger-test");
        pool = new HikariDataSource(config);
        store = JdbcDedupStore.builder(pool).table(TABLE).build().createSchemaIfMissing();
    }

    @AfterAll
    static void tearDown() throws SQLException {
        if (pool != null) {
            execute("DROP TABLE IF EXISTS " + TABLE);
            pool.close();
        }
    }

    @BeforeEach
    void emptyTable() throws SQLException {
        execute("TRUNCATE TABLE " + TABLE);
    }

    @Test
    void deletesExactlyTheExpiredKeysInChunks() throws Exception {
        // 2,500 keys that expired an hour ago, 40 that expire tomorrow, 30 kept forever.
        execute("INSERT INTO " + TABLE + " (consumer, event_id, processed_at, expires_at)"
                + " SELECT 'old', 'k-' || g, now() - interval '2 hours', now() - interval '1 hour'"
                + " FROM generate_series(1, 2500) g");
        execute("INSERT INTO " + TABLE + " (consumer, event_id, processed_at, expires_at)"
                + " SELECT 'live', 'k-' || g, now(), now() + interval '1 day' FROM generate_series(1, 40) g");
        execute("INSERT INTO " + TABLE + " (consumer, event_id, processed_at, expires_at)"
                + " SELECT 'forever', 'k-' || g, now(), NULL FROM generate_series(1, 30) g");

        RetentionPurger purger = RetentionPurger.builder(store).chunkSize(1_000)
                .pauseBetweenChunks(Duration.ZERO).build();
        assertThat(purger.purgeNow()).isEqualTo(2_500);
        assertThat(purger.chunks()).as("1000 + 1000 + 500").isEqualTo(3);
        assertThat(count("SELECT count(*) FROM " + TABLE + " WHERE consumer = 'old'")).isZero();
        assertThat(count("SELECT count(*) FROM " + TABLE + " WHERE consumer = 'live'")).isEqualTo(40);
        assertThat(count("SELECT count(*) FROM " + TABLE + " WHERE consumer = 'forever'")).isEqualTo(30);
        assertThat(purger.purgeNow()).isZero();
    }

    @Test
    void theBackgroundThreadPurgesWhileHandlersClaim() throws Exception {
        execute("INSERT INTO " + TABLE + " (consumer, event_id, processed_at, expires_at)"
                + " SELECT 'c', 'old-' || g, now() - interval '2 hours', now() - interval '1 hour'"
                + " FROM generate_series(1, 3000) g");
        IdempotentHandler<String, Void, ?> handler = IdempotentHandler.<String, Void>builder(store)
                .consumer("c").key(k -> k).handler((m, ctx) -> null).retention(Duration.ofHours(1)).build();

        try (RetentionPurger purger = RetentionPurger.builder(store).chunkSize(500)
                .pauseBetweenChunks(Duration.ZERO).interval(Duration.ofMillis(20)).build().start()) {
            for (int i = 0; i < 200; i++) {
                assertThat(handler.process("new-" + i).isProcessed()).isTrue();
            }
            // An expired key redelivered while the purge runs is processed again, whether or not it was purged.
            assertThat(handler.process("old-1").isProcessed()).isTrue();
            awaitUpTo30s(purger, 2_999);
            assertThat(purger.failedRuns()).isZero();
        }
        assertThat(count("SELECT count(*) FROM " + TABLE + " WHERE event_id LIKE 'old-%'"))
                .as("only the re-claimed expired key is left").isEqualTo(1);
        assertThat(count("SELECT count(*) FROM " + TABLE + " WHERE event_id LIKE 'new-%'")).isEqualTo(200);
        List<Outcome<Void>> again = handler.processBatch(List.of("new-0", "new-199", "old-1"));
        assertThat(again).as("live keys survived the purge").allMatch(Outcome::isDuplicate);
    }

    private static void awaitUpTo30s(RetentionPurger purger, long atLeast) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (purger.purgedKeys() < atLeast) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("purged " + purger.purgedKeys() + " keys within 30 s, expected at least "
                        + atLeast + "; last failure: " + purger.lastFailure());
            }
            Thread.sleep(10);
        }
    }

    private static void execute(String sql) throws SQLException {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private static long count(String sql) throws SQLException {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
