package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import dev.oncely.ResultCodec;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * MariaDB, like PostgreSQL: while most messages are duplicates, {@code process()} answers a duplicate with one
 * non-locking read in autocommit mode instead of the failed INSERT, the locking read and the commit; a key it does
 * not find is claimed in a transaction as usual. Checked on the JDBC calls the store makes.
 */
class MariaDbReadFirstTest {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.mariadb();

    private static final String TABLE = "oncely_read_first";
    private static HikariDataSource pool;

    @BeforeAll
    static void start() {
        pool = TestPools.pool(DB.database(), 4, "TRANSACTION_REPEATABLE_READ", true);
    }

    @AfterAll
    static void stop() throws Exception {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute("DROP TABLE IF EXISTS " + TABLE);
            st.execute("DROP TABLE IF EXISTS " + TABLE + "_effects");
        }
        pool.close();
    }

    @BeforeEach
    void emptyTables() throws Exception {
        JdbcDedupStore.builder(pool).table(TABLE).build().createSchemaIfMissing();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS " + TABLE + "_effects (event_id varchar(255) NOT NULL)");
            st.execute("TRUNCATE TABLE " + TABLE);
            st.execute("TRUNCATE TABLE " + TABLE + "_effects");
        }
    }

    @Test
    void duringAStormADuplicateIsOneReadAndAFreshKeyIsStillClaimedInATransaction() throws Exception {
        RecordingDataSource recording = new RecordingDataSource(pool);
        IdempotentHandler<String, String, ?> h = IdempotentHandler.<String, String>builder(
                        JdbcDedupStore.builder(recording).table(TABLE).build())
                .consumer("c").key(k -> k).resultCodec(ResultCodec.utf8())
                .handler((key, ctx) -> {
                    try (PreparedStatement ps = ctx.unwrap(Connection.class).prepareStatement(
                            "INSERT INTO " + TABLE + "_effects (event_id) VALUES (?)")) {
                        ps.setString(1, key);
                        ps.executeUpdate();
                    }
                    return "receipt-" + key;
                }).build();
        Outcome<String> first = h.process("k");
        for (int i = 0; i < 40; i++) {
            assertThat(h.process("k").isDuplicate()).isTrue();
        }
        recording.calls.clear();

        Outcome<String> dup = h.process("k");

        assertThat(dup.isDuplicate()).isTrue();
        assertThat(dup.firstProcessedAt()).isEqualTo(first.firstProcessedAt());
        assertThat(dup.result()).contains("receipt-k");
        assertThat(recording.calls).containsExactly("getConnection", "prepare SELECT", "close");

        recording.calls.clear();
        assertThat(h.process("new").isProcessed()).isTrue();
        assertThat(recording.calls).containsSubsequence("getConnection", "prepare SELECT", "setAutoCommit false",
                "prepare INSERT", "commit", "close");
        assertThat(h.process("new").result()).contains("receipt-new");
        try (Connection c = pool.getConnection(); Statement st = c.createStatement();
             var rs = st.executeQuery("SELECT count(*) FROM " + TABLE + "_effects")) {
            rs.next();
            assertThat(rs.getLong(1)).as("one effect per key").isEqualTo(2);
        }
    }
}
