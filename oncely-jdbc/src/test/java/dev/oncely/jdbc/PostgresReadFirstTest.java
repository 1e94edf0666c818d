package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import dev.oncely.PayloadConflictException;
import dev.oncely.ResultCodec;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import javax.sql.DataSource;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * While most messages are duplicates, {@code process()} on PostgreSQL answers a duplicate with one read on a
 * connection in autocommit mode, no transaction; a key that read does not find goes through the usual claim on
 * the same connection. Checked on the JDBC calls the store makes, through a recording DataSource.
 */
class PostgresReadFirstTest {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    private static final String TABLE = "oncely_read_first";
    private static HikariDataSource pool;
    private List<String> calls = List.of();

    @BeforeAll
    static void start() {
        pool = pool(true);
    }

    @AfterAll
    static void stop() throws Exception {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute("DROP TABLE IF EXISTS " + TABLE);
            st.execute("DROP TABLE IF EXISTS " + TABLE + "_effects");
        }
        pool.close();
    }

    private static HikariDataSource pool(boolean autoCommit) {
        return TestPools.pool(DB.database(), 4, "TRANSACTION_READ_COMMITTED", autoCommit);
    }

    @BeforeEach
    void emptyTables() throws Exception {
        JdbcDedupStore.builder(pool).table(TABLE).build().createSchemaIfMissing();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS " + TABLE + "_effects (event_id varchar(255) NOT NULL)");
            st.execute("TRUNCATE " + TABLE + ", " + TABLE + "_effects");
        }
    }

    private IdempotentHandler<String, String, ?> handler(JdbcDedupStore store) {
        // "k!" is key "k" with another payload.
        return IdempotentHandler.<String, String>builder(store).consumer("c").key(k -> k.replace("!", ""))
                .resultCodec(ResultCodec.utf8())
                .fingerprint(k -> ("payload-" + k).getBytes(StandardCharsets.UTF_8))
                .handler((key, ctx) -> {
                    try (PreparedStatement ps = ctx.unwrap(Connection.class).prepareStatement(
                            "INSERT INTO " + TABLE + "_effects (event_id) VALUES (?)")) {
                        ps.setString(1, key);
                        ps.executeUpdate();
                    }
                    return "receipt-" + key;
                }).build();
    }

    /** A store on a DataSource that records the calls this test cares about. */
    private JdbcDedupStore recordedStore(DataSource target) {
        return JdbcDedupStore.builder(recording(target)).table(TABLE).build();
    }

    /** Processes a key {@code times} times after its first run, each a duplicate: the store now expects more. */
    private static Outcome<String> storm(IdempotentHandler<String, String, ?> h, String key, int times) throws Exception {
        Outcome<String> first = h.process(key);
        Outcome<String> last = first;
        for (int i = 0; i < times; i++) {
            last = h.process(key);
            assertThat(last.isDuplicate()).isTrue();
        }
        return last;
    }

    @Test
    void duringAStormADuplicateIsOneReadAndNoTransaction() throws Exception {
        IdempotentHandler<String, String, ?> h = handler(recordedStore(pool));
        Outcome<String> first = h.process("k");
        storm(h, "k", 40);
        calls.clear();

        Outcome<String> dup = h.process("k");

        assertThat(dup.isDuplicate()).isTrue();
        assertThat(dup.firstProcessedAt()).isEqualTo(first.firstProcessedAt());
        assertThat(dup.result()).contains("receipt-k");
        assertThat(calls).containsExactly("getConnection", "prepare SELECT", "close");
        assertThat(effects("k")).isEqualTo(1);
    }

    @Test
    void aFreshKeyDuringAStormIsReadThenClaimedInOneTransactionOnTheSameConnection() throws Exception {
        IdempotentHandler<String, String, ?> h = handler(recordedStore(pool));
        storm(h, "k", 40);
        calls.clear();

        Outcome<String> fresh = h.process("new");

        assertThat(fresh.isProcessed()).isTrue();
        assertThat(calls).containsExactly("getConnection", "prepare SELECT", "setAutoCommit false",
                "prepare INSERT", "prepare INSERT", "prepare UPDATE", "commit", "setAutoCommit true", "close");
        assertThat(effects("new")).isEqualTo(1);
        assertThat(h.process("new").result()).contains("receipt-new");
    }

    @Test
    void onceFreshKeysDominateAgainDuplicatesAreClaimedInATransactionAgain() throws Exception {
        IdempotentHandler<String, String, ?> h = handler(recordedStore(pool));
        storm(h, "k", 40);
        for (int i = 0; i < 40; i++) {
            assertThat(h.process("fresh-" + i).isProcessed()).isTrue();
        }
        calls.clear();

        assertThat(h.process("k").isDuplicate()).isTrue();

        assertThat(calls).as("the INSERT first, then the read of the row it conflicted with, in a transaction")
                .containsExactly("getConnection", "setAutoCommit false", "prepare INSERT", "prepare SELECT", "commit",
                        "setAutoCommit true", "close");
    }

    @Test
    void aDifferentPayloadDuringAStormIsAConflictAndAnExpiredKeyIsProcessedAgain() throws Exception {
        IdempotentHandler<String, String, ?> h = handler(recordedStore(pool));
        storm(h, "k", 40);
        assertThatThrownBy(() -> h.process("k!")).isInstanceOf(PayloadConflictException.class);
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.executeUpdate("UPDATE " + TABLE + " SET expires_at = now() - interval '1 second' WHERE event_id = 'k'");
        }
        calls.clear();

        Outcome<String> again = h.process("k");

        assertThat(again.isProcessed()).as("expired: the read passes it on to the claim").isTrue();
        assertThat(calls).containsSubsequence("prepare SELECT", "setAutoCommit false", "prepare INSERT", "commit");
        assertThat(effects("k")).isEqualTo(2);
    }

    @Test
    void aPoolThatBeginsTransactionsItselfIsNotReadOutsideOne() throws Exception {
        try (HikariDataSource manual = pool(false)) {
            IdempotentHandler<String, String, ?> h = handler(recordedStore(manual));
            storm(h, "k", 40);
            calls.clear();

            assertThat(h.process("k").isDuplicate()).isTrue();

            assertThat(calls).as("no read before the claim (it would open the transaction with its snapshot): the"
                    + " claim reads the existing row in its own statement").containsExactly("getConnection",
                    "prepare WITH", "commit", "close");
        }
    }

    @Test
    void aStoreOnJdbiReadsFirstTooAndStillCommitsThroughItsHandle() throws Exception {
        JdbcDedupStore store = JdbcDedupStore.builder(Jdbi.create(recording(pool))).table(TABLE).build();
        IdempotentHandler<String, String, ?> h = handler(store);
        storm(h, "k", 40);
        calls.clear();

        assertThat(h.process("k").isDuplicate()).isTrue();
        assertThat(calls).containsExactly("getConnection", "prepare SELECT", "close");
        calls.clear();
        assertThat(h.process("other").isProcessed()).isTrue();
        assertThat(calls).containsSubsequence("getConnection", "prepare SELECT", "setAutoCommit false",
                "prepare INSERT", "commit", "close");
        assertThat(effects("other")).isEqualTo(1);
    }

    @Test
    void aBatchOfFreshKeysIsClaimedByOneInsertAloneAndItsConflictsAreReadBackOnlyWhenThereAreAny() throws Exception {
        IdempotentHandler<String, String, ?> h = handler(recordedStore(pool));
        calls.clear();

        assertThat(h.processBatch(List.of("a", "b", "c"))).allMatch(Outcome::isProcessed);

        assertThat(calls).as("no read of existing rows when every key was inserted").containsExactly("getConnection",
                "setAutoCommit false", "prepare INSERT", "prepare INSERT", "prepare INSERT", "prepare INSERT",
                "prepare UPDATE", "commit", "setAutoCommit true", "close");
        calls.clear();

        List<Outcome<String>> mixed = h.processBatch(List.of("b", "d"));

        assertThat(mixed).extracting(Outcome::isDuplicate).containsExactly(true, false);
        assertThat(mixed.get(0).result()).contains("receipt-b");
        assertThat(calls).as("the INSERT, then one read of the key it did not insert").containsSubsequence(
                "setAutoCommit false", "prepare INSERT", "prepare SELECT", "commit");
        assertThat(effects("b")).isEqualTo(1);
        assertThat(effects("d")).isEqualTo(1);
    }

    @Test
    void duringAStormOfRedeliveredBatchesABatchOfDuplicatesIsOneReadAndNoTransaction() throws Exception {
        IdempotentHandler<String, String, ?> h = handler(recordedStore(pool));
        List<Outcome<String>> first = h.processBatch(List.of("c", "a", "b"));
        for (int i = 0; i < 10; i++) {
            assertThat(h.processBatch(List.of("c", "a", "b"))).allMatch(Outcome::isDuplicate);
        }
        calls.clear();

        List<Outcome<String>> again = h.processBatch(List.of("c", "a", "b"));

        assertThat(calls).containsExactly("getConnection", "prepare SELECT", "close");
        assertThat(again).extracting(Outcome::result).containsExactly(first.get(0).result(), first.get(1).result(),
                first.get(2).result());
        assertThat(again).extracting(Outcome::firstProcessedAt).containsExactly(first.get(0).firstProcessedAt(),
                first.get(1).firstProcessedAt(), first.get(2).firstProcessedAt());
        assertThatThrownBy(() -> h.processBatch(List.of("c", "a!"))).isInstanceOf(PayloadConflictException.class);
        calls.clear();

        List<Outcome<String>> withFresh = h.processBatch(List.of("a", "new"));

        assertThat(withFresh).extracting(Outcome::isProcessed).containsExactly(false, true);
        assertThat(calls).as("read, then claimed plainly in a transaction on the same connection").containsExactly(
                "getConnection", "prepare SELECT", "setAutoCommit false", "prepare INSERT", "prepare SELECT",
                "prepare INSERT", "prepare UPDATE", "commit", "setAutoCommit true", "close");
        assertThat(effects("new")).isEqualTo(1);
        assertThat(effects("a")).isEqualTo(1);
    }

    private static long effects(String key) throws SQLException {
        try (Connection c = pool.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM " + TABLE + "_effects WHERE event_id = ?")) {
            ps.setString(1, key);
            try (var rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private DataSource recording(DataSource target) {
        RecordingDataSource recording = new RecordingDataSource(target);
        calls = recording.calls;
        return recording;
    }
}
