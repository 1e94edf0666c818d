package dev.oncely.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.CommitOutcomeUnknownException;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.testdatabases.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Scenario 5: the handler's connection is killed ({@code pg_terminate_backend}) while it is inside the
 * transaction, before COMMIT. Nothing is half-written (no claim without its effect, no effect without its claim)
 * and the redelivery processes the message once.
 */
class ConnectionKilledBeforeCommitTest {

    static TestDatabase db;
    static HikariDataSource pool;
    static EffectsTable tables;
    static JdbcDedupStore store;

    @BeforeAll
    static void start() {
        db = Databases.postgres();
        pool = Databases.pool(db, 2, c -> { });
        tables = new EffectsTable(db, "s5");
        store = tables.recreate(pool);
    }

    @AfterAll
    static void stop() {
        pool.close();
        tables.drop();
    }

    /** A handler that writes its effect, then lets the test kill its backend, then (optionally) writes again. */
    private IdempotentHandler<String, Void, ?> killable(CountDownLatch inside, CountDownLatch killed,
                                                     AtomicInteger pid, boolean writeAfterKill) {
        return IdempotentHandler.<String, Void>builder(store)
                .consumer("s5")
                .key(k -> k)
                .handler((key, ctx) -> {
                    Connection c = ctx.unwrap(Connection.class);
                    tables.insert(c, key, "effect");
                    if (inside != null) {
                        try (Statement st = c.createStatement();
                             ResultSet rs = st.executeQuery("SELECT pg_backend_pid()")) {
                            rs.next();
                            pid.set(rs.getInt(1));
                        }
                        inside.countDown();
                        assertThat(killed.await(10, TimeUnit.SECONDS)).isTrue();
                        if (writeAfterKill) {
                            tables.insert(c, key, "second write");
                        }
                    }
                    return null;
                })
                .build();
    }

    private Throwable deliverAndKill(String key, boolean writeAfterKill) throws Exception {
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch killed = new CountDownLatch(1);
        AtomicInteger pid = new AtomicInteger();
        IdempotentHandler<String, Void, ?> handler = killable(inside, killed, pid, writeAfterKill);
        CompletableFuture<Outcome<Void>> delivery = CompletableFuture.supplyAsync(() -> {
            try {
                return handler.process(key);
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        assertThat(inside.await(10, TimeUnit.SECONDS)).as("the handler started").isTrue();
        terminate(pid.get());
        killed.countDown();
        try {
            delivery.get(20, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable cause = e.getCause() instanceof java.util.concurrent.CompletionException c ? c.getCause()
                    : e.getCause();
            return cause;
        }
        throw new AssertionError("the delivery of " + key + " succeeded although its connection was killed");
    }

    private static void terminate(int pid) throws SQLException, InterruptedException {
        try (Connection c = Databases.connect(db); Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("SELECT pg_terminate_backend(" + pid + ")")) {
                rs.next();
                assertThat(rs.getBoolean(1)).as("pg_terminate_backend(%d)", pid).isTrue();
            }
            for (int i = 0; i < 200; i++) {
                try (ResultSet rs = st.executeQuery("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid)) {
                    rs.next();
                    if (rs.getInt(1) == 0) {
                        return;
                    }
                }
                Thread.sleep(25);
            }
            throw new AssertionError("backend " + pid + " did not terminate");
        }
    }

    @Test
    void aHandlerWhoseConnectionDiesGetsItsSqlExceptionBackAndNothingIsHalfWritten() throws Exception {
        Throwable failure = deliverAndKill("killed-mid-handler", true);
        // The handler's own exception reaches the caller unchanged.
        assertThat(failure).isInstanceOf(SQLException.class);
        assertThat(((SQLException) failure).getSQLState()).as("SQLState of %s", failure).matches("57P01|08.*");
        assertThat(tables.effectCounts()).doesNotContainKey("killed-mid-handler");
        assertThat(tables.claimCounts()).doesNotContainKey("killed-mid-handler");

        Outcome<Void> redelivery = killable(null, null, null, false).process("killed-mid-handler");
        assertThat(redelivery.isProcessed()).isTrue();
        tables.assertExactlyOnce(Set.of("killed-mid-handler"), "killed-mid-handler");
    }

    @Test
    void aConnectionKilledJustBeforeCommitIsAnOncelyExceptionAndTheRedeliveryProcessesOnce() throws Exception {
        Throwable failure = deliverAndKill("killed-before-commit", false);
        assertThat(failure).isInstanceOf(CommitOutcomeUnknownException.class)
                .hasMessageContaining("Commit outcome unknown")
                .hasMessageContaining("Do not acknowledge the message");
        assertThat(tables.effectCounts()).doesNotContainKey("killed-before-commit");
        assertThat(tables.claimCounts()).doesNotContainKey("killed-before-commit");

        IdempotentHandler<String, Void, ?> handler = killable(null, null, null, false);
        assertThat(handler.process("killed-before-commit").isProcessed()).isTrue();
        assertThat(handler.process("killed-before-commit").isDuplicate()).isTrue();
        tables.assertExactlyOnce(Set.of("killed-before-commit"), "killed-before-commit");
        System.out.println("scenario 5: 2 backends terminated inside the transaction; 0 half-written, 0 duplicates,"
                + " 0 losses");
    }
}
