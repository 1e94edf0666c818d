package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.OncelyException;
import dev.oncely.Outcome;
import dev.oncely.ResultCodec;
import dev.oncely.jdbc.internal.MariaDbDialect;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * MariaDB claims a batch with one multi-row {@code INSERT IGNORE ... RETURNING} and one locking read of the keys
 * it ignored, not one INSERT per key; and refuses to decide anything when {@code IGNORE} swallowed something other
 * than a duplicate key (here: a column narrower than the shipped DDL truncating keys).
 */
class MariaDbBatchClaimTest {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.mariadb();

    private static HikariDataSource pool;

    @BeforeAll
    static void start() {
        pool = TestPools.pool(DB.database(), 4, "TRANSACTION_REPEATABLE_READ", true);
    }

    @AfterAll
    static void stop() throws Exception {
        execute("DROP TABLE IF EXISTS oncely_batch_claim");
        execute("DROP TABLE IF EXISTS oncely_batch_narrow");
        execute("DROP TABLE IF EXISTS oncely_batch_read_first");
        execute("DROP TABLE IF EXISTS oncely_batch_index");
        pool.close();
    }

    private static void execute(String sql) throws Exception {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private static long count(String sql) throws Exception {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static List<String> keys(String prefix, int n) {
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            keys.add(prefix + "-" + (1000 + i));
        }
        return keys;
    }

    /**
     * A handler that records each key it runs for and returns a receipt, on an empty table of the name, reached
     * through the recording pool.
     */
    private static IdempotentHandler<String, String, ?> receipts(String table, RecordingDataSource recording,
            List<String> runs) throws Exception {
        JdbcDedupStore.builder(pool).table(table).build().createSchemaIfMissing();
        execute("TRUNCATE TABLE " + table);
        return IdempotentHandler.<String, String>builder(JdbcDedupStore.builder(recording).table(table).build())
                .consumer("c").key(k -> k).resultCodec(ResultCodec.utf8()).retention(Duration.ofHours(1))
                .handler((key, ctx) -> {
                    runs.add(key);
                    return "receipt-" + key;
                }).build();
    }

    /** The "b-" keys and a-1007 (its claim expired) ran; every other "a-" key was a duplicate; all got a receipt. */
    private static void assertOnlyTheBKeysAndTheExpiredKeyRan(List<String> keys, List<Outcome<String>> outcomes) {
        for (int i = 0; i < keys.size(); i++) {
            String key = keys.get(i);
            boolean fresh = key.startsWith("b") || key.equals("a-1007");
            assertThat(outcomes.get(i).isProcessed()).as(key).isEqualTo(fresh);
            assertThat(outcomes.get(i).result()).as(key).contains("receipt-" + key);
        }
    }

    @Test
    void aBatchIsOneInsertAndOneReadWhateverItsSizeAndItsAnswersAreRight() throws Exception {
        RecordingDataSource recording = new RecordingDataSource(pool);
        List<String> runs = new ArrayList<>();
        IdempotentHandler<String, String, ?> h = receipts("oncely_batch_claim", recording, runs);
        List<String> first = keys("a", 50);
        assertThat(h.processBatch(first)).allMatch(Outcome::isProcessed);
        execute("UPDATE oncely_batch_claim SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND"
                + " WHERE event_id = 'a-1007'");
        List<String> mixed = new ArrayList<>(first);
        mixed.addAll(keys("b", 50));
        runs.clear();
        recording.calls.clear();

        List<Outcome<String>> outcomes = h.processBatch(mixed);

        assertThat(recording.calls.stream().filter(c -> c.startsWith("prepare")).toList())
                .as("one INSERT for 100 keys, one locking read of the 50 ignored, one rewrite of the expired key and"
                        + " its read-back, one result UPDATE batch")
                .containsExactly("prepare INSERT", "prepare SELECT", "prepare UPDATE", "prepare SELECT",
                        "prepare UPDATE");
        assertOnlyTheBKeysAndTheExpiredKeyRan(mixed, outcomes);
        assertThat(runs).hasSize(51).contains("a-1007");
        assertThat(count("SELECT count(*) FROM oncely_batch_claim")).isEqualTo(100);
    }

    @Test
    void whileMostKeysOfRecentBatchesWereDuplicatesABatchReadsFirstAndInsertsOnlyWhatItDidNotFindLive()
            throws Exception {
        RecordingDataSource recording = new RecordingDataSource(pool);
        List<String> runs = new ArrayList<>();
        IdempotentHandler<String, String, ?> h = receipts("oncely_batch_read_first", recording, runs);
        List<String> first = keys("a", 50);
        assertThat(h.processBatch(first)).allMatch(Outcome::isProcessed);
        for (int i = 0; i < 4; i++) {
            assertThat(h.processBatch(first)).noneMatch(Outcome::isProcessed);
        }
        execute("UPDATE oncely_batch_read_first SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND"
                + " WHERE event_id = 'a-1007'");
        List<String> mixed = new ArrayList<>(first);
        mixed.addAll(keys("b", 10));
        runs.clear();
        recording.calls.clear();

        List<Outcome<String>> outcomes = h.processBatch(mixed);

        assertThat(recording.calls.stream().filter(c -> c.startsWith("prepare")).toList())
                .as("one plain read of the 60 keys, then the claim of the 11 not found live: one INSERT, one locking"
                        + " read of the expired key it ignored, its rewrite and read-back; one result UPDATE batch")
                .containsExactly("prepare SELECT", "prepare INSERT", "prepare SELECT", "prepare UPDATE",
                        "prepare SELECT", "prepare UPDATE");
        assertOnlyTheBKeysAndTheExpiredKeyRan(mixed, outcomes);
        assertThat(runs).hasSize(11).contains("a-1007");
        assertThat(count("SELECT count(*) FROM oncely_batch_read_first")).isEqualTo(60);

        recording.calls.clear();
        assertThat(h.processBatch(mixed)).noneMatch(Outcome::isProcessed);
        assertThat(recording.calls.stream().filter(c -> c.startsWith("prepare")).toList())
                .as("a batch of live duplicates is the one read").containsExactly("prepare SELECT");
    }

    /**
     * The purge's index is (expires_at, processed_at): rows kept forever (expires_at NULL) then go in at the end of
     * the index's NULL entries, in claim order, instead of at a random page ordered by key, which made a batch claim
     * of 100 fresh keys about a third slower (docs/benchmarks.md). The purge still finds expired keys through it.
     */
    @Test
    void theExpiryIndexOrdersRowsByClaimTimeAfterExpirySoRowsKeptForeverAreAppended() throws Exception {
        execute("DROP TABLE IF EXISTS oncely_batch_index");
        JdbcDedupStore.builder(pool).table("oncely_batch_index").build().createSchemaIfMissing();
        List<String> columns = new ArrayList<>();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT column_name FROM information_schema.statistics"
                     + " WHERE table_schema = DATABASE() AND table_name = 'oncely_batch_index'"
                     + " AND index_name = 'oncely_batch_index_expires_at_idx' ORDER BY seq_in_index")) {
            while (rs.next()) {
                columns.add(rs.getString(1).toLowerCase(Locale.ROOT));
            }
        }
        assertThat(columns).as("columns of the purge's index").containsExactly("expires_at", "processed_at");
        // Mostly live and kept-forever rows, a few expired: the purge's own read should range-scan the index.
        execute("INSERT INTO oncely_batch_index (consumer, event_id, expires_at) SELECT 'c', CONCAT('live-', seq),"
                + " UTC_TIMESTAMP(6) + INTERVAL 1 HOUR FROM seq_1_to_1000");
        execute("INSERT INTO oncely_batch_index (consumer, event_id) SELECT 'c', CONCAT('forever-', seq)"
                + " FROM seq_1_to_1000");
        execute("INSERT INTO oncely_batch_index (consumer, event_id, expires_at) SELECT 'c', CONCAT('expired-', seq),"
                + " UTC_TIMESTAMP(6) - INTERVAL 1 HOUR FROM seq_1_to_5");
        execute("ANALYZE TABLE oncely_batch_index");
        try (Connection c = pool.getConnection();
             PreparedStatement ps = c.prepareStatement("EXPLAIN "
                     + MariaDbDialect.selectExpiredSql("oncely_batch_index"))) {
            ps.setInt(1, 10);
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString("key")).as("the purge's read goes through the index")
                        .isEqualTo("oncely_batch_index_expires_at_idx");
                assertThat(rs.getString("type")).as("a range of it: the expired keys only").isEqualTo("range");
                assertThat(rs.getString("Extra")).as("in the index's order, no filesort").doesNotContain("filesort");
            }
        }
        execute("DROP TABLE oncely_batch_index");
    }

    @Test
    void aColumnThatTruncatesKeysFailsTheBatchInsteadOfMakingKeysCollide() throws Exception {
        execute("DROP TABLE IF EXISTS oncely_batch_narrow");
        // The shipped DDL with event_id cut to 8 characters: "order-123-a" and "order-123-b" would both become
        // "order-12" if the INSERT IGNORE's truncation warnings went unnoticed.
        JdbcDedupStore store = JdbcDedupStore.builder(pool).table("oncely_batch_narrow").build();
        String ddl = store.ddl().replace("event_id     varchar(255)", "event_id     varchar(8)");
        assertThat(ddl).contains("varchar(8)");
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            for (String sql : dev.oncely.jdbc.internal.Ddl.statements(ddl)) {
                st.execute(sql);
            }
        }
        IdempotentHandler<String, Void, ?> h = IdempotentHandler.<String, Void>builder(store).consumer("c").key(k -> k)
                .handler((key, ctx) -> null).build();
        assertThatThrownBy(() -> h.processBatch(List.of("order-12x", "zzz")))
                .as("truncated, though no key was there yet").isInstanceOf(OncelyException.class)
                .hasMessageContaining("narrower than Oncely's DDL");
        assertThat(h.processBatch(List.of("order-1", "order-2"))).as("keys that fit").allMatch(Outcome::isProcessed);

        assertThatThrownBy(() -> h.processBatch(List.of("order-123-a", "order-123-b", "order-1")))
                .isInstanceOf(OncelyException.class)
                .hasMessageContaining("narrower than Oncely's DDL");
        assertThat(count("SELECT count(*) FROM oncely_batch_narrow")).as("the failed batches rolled back").isEqualTo(2);
    }
}
