package dev.oncely.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.LeasedHandler;
import dev.oncely.Outcome;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.testdatabases.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Lease mode holds no pooled connection while the handler makes its external call: with a pool of ONE connection,
 * a second message is leased, processed and completed while the first one's call is still blocked.
 */
class LeaseHoldsNoConnectionTest {

    static Stream<Arguments> databases() {
        return Stream.of(Arguments.of("PostgreSQL", (Supplier<TestDatabase>) Databases::postgres),
                Arguments.of("MariaDB", (Supplier<TestDatabase>) Databases::mariadb));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("databases")
    void aSecondMessageIsLeasedAndCompletedOnAPoolOfOneWhileTheFirstOnesExternalCallIsBlocked(String name,
            Supplier<TestDatabase> database) throws Exception {
        TestDatabase db = database.get();
        EffectsTable tables = new EffectsTable(db, "lease_pool1");
        CountDownLatch aInCall = new CountDownLatch(1);
        CountDownLatch releaseA = new CountDownLatch(1);
        // A connection the store cannot get within 5 s fails the lease of B: the pool is ONE connection.
        try (HikariDataSource pool = Databases.pool(db, 1, c -> c.setConnectionTimeout(5_000))) {
            JdbcDedupStore store = tables.recreate(pool);
            LeasedHandler<String, Void, Exception> handler = LeasedHandler.<String, Void>builder(store)
                    .consumer("payments")
                    .key(k -> k)
                    .handler((key, run) -> {
                        run.step("charge", () -> {
                            if (key.equals("A")) {
                                aInCall.countDown();
                                // The slow external call: nothing of Oncely's may hold the pool's one connection.
                                if (!releaseA.await(60, TimeUnit.SECONDS)) {
                                    throw new IllegalStateException("A was never released");
                                }
                            }
                            try (Connection c = pool.getConnection()) {
                                tables.insert(c, key, "charged");
                            }
                        });
                        return null;
                    })
                    .build();

            CompletableFuture<Outcome<Void>> a = CompletableFuture.supplyAsync(() -> {
                try {
                    return handler.process("A");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            assertThat(aInCall.await(30, TimeUnit.SECONDS)).as("A reached its external call").isTrue();
            assertThat(pool.getHikariPoolMXBean().getActiveConnections())
                    .as("connections in use while A's call is blocked").isZero();

            Outcome<Void> b = handler.process("B");

            assertThat(b.isProcessed()).as("B processed while A's call is blocked").isTrue();
            assertThat(a).as("A still blocked").isNotDone();
            assertThat(state(db, tables, "A")).isEqualTo("IN_PROGRESS");
            assertThat(state(db, tables, "B")).isEqualTo("COMPLETED");
            assertThat(tables.effectCounts()).as("effects while A is blocked").containsExactly(
                    java.util.Map.entry("B", 1));

            releaseA.countDown();
            assertThat(a.get(30, TimeUnit.SECONDS).isProcessed()).as("A processed once released").isTrue();
            assertThat(state(db, tables, "A")).isEqualTo("COMPLETED");
            assertThat(tables.effectCounts()).as("effects at the end").containsOnly(java.util.Map.entry("A", 1),
                    java.util.Map.entry("B", 1));
        } finally {
            releaseA.countDown();
            tables.drop();
        }
    }

    private static String state(TestDatabase db, EffectsTable tables, String key) throws Exception {
        try (Connection c = Databases.connect(db);
             PreparedStatement ps = c.prepareStatement("SELECT state FROM " + tables.claims
                     + " WHERE consumer = 'payments' AND event_id = ?")) {
            ps.setString(1, key);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : "absent";
            }
        }
    }
}
