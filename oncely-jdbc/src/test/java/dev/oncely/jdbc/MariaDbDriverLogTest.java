package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The MariaDB driver logs every error packet from the server at WARN (logger
 * {@code org.mariadb.jdbc.message.server.ErrorPacket}), and on MariaDB a duplicate claim is a plain INSERT that
 * fails with 1062: one WARN per duplicate. The tests' logging configuration raises that logger to ERROR, as the
 * README's logging section tells users to; this checks the test log stays free of it.
 */
class MariaDbDriverLogTest {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.mariadb();

    private static final String TABLE = "oncely_driver_log";

    @Test
    void aDuplicateClaimOnMariaDbLeavesNoDriverWarningInTheLog() throws Exception {
        try (HikariDataSource pool = TestPools.pool(DB.database(), 2, "TRANSACTION_REPEATABLE_READ", false)) {
            JdbcDedupStore store = JdbcDedupStore.builder(pool).table(TABLE).build().createSchemaIfMissing();
            try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
                st.execute("TRUNCATE TABLE " + TABLE);
                c.commit();
            }
            IdempotentHandler<String, Void, ?> handler = IdempotentHandler.<String, Void>builder(store)
                    .consumer("driver-log").key(k -> k).handler((k, tx) -> null).build();
            assertThat(handler.process("evt-1").isProcessed()).isTrue();

            // slf4j-simple writes to the System.err of the moment it logs.
            PrintStream original = System.err;
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Outcome<Void> duplicate;
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            try {
                duplicate = handler.process("evt-1");
            } finally {
                System.setErr(original);
            }

            assertThat(duplicate.isDuplicate()).isTrue();
            assertThat(err.toString(StandardCharsets.UTF_8)).as("log lines of the duplicate claim")
                    .doesNotContain("1062").doesNotContain("Duplicate entry");
        } finally {
            try (HikariDataSource pool = TestPools.pool(DB.database(), 1, "TRANSACTION_REPEATABLE_READ", true);
                 Connection c = pool.getConnection(); Statement st = c.createStatement()) {
                st.execute("DROP TABLE IF EXISTS " + TABLE);
            }
        }
    }
}
