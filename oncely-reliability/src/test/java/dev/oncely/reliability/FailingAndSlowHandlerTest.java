package dev.oncely.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.jdbc.JdbcTransactions;
import dev.oncely.IdempotentHandler;
import dev.oncely.OncelyException;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.testdatabases.TestDatabase;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Scenario 8 (a handler that always fails leaves no claim and no effect, on PostgreSQL and MariaDB) and
 * scenario 9 (a slow handler with pool size equal to concurrency: no deadlock; an exhausted pool is a bounded,
 * clear error).
 */
class FailingAndSlowHandlerTest {

    @Test
    void aHandlerThatAlwaysFailsLeavesNoClaimAndNoEffectOnPostgres() throws Exception {
        alwaysFailing(Databases.postgres(), "s8pg");
    }

    @Test
    void aHandlerThatAlwaysFailsLeavesNoClaimAndNoEffectOnMariaDb() throws Exception {
        alwaysFailing(Databases.mariadb(), "s8maria");
    }

    private void alwaysFailing(TestDatabase db, String scenario) throws Exception {
        EffectsTable tables = new EffectsTable(db, scenario);
        try (HikariDataSource pool = Databases.pool(db, 2, c -> { })) {
            JdbcDedupStore store = tables.recreate(pool);
            AtomicInteger runs = new AtomicInteger();
            IdempotentHandler<String, Void, ?> handler = IdempotentHandler.<String, Void>builder(store)
                    .consumer("s8")
                    .key(k -> k)
                    .handler((key, ctx) -> {
                        runs.incrementAndGet();
                        tables.insert(ctx.unwrap(Connection.class), key, "effect before the failure");
                        throw new IllegalStateException("poison " + key);
                    })
                    .build();
            int keys = 5;
            int deliveries = 4;
            for (int d = 0; d < deliveries; d++) {
                for (int k = 0; k < keys; k++) {
                    String key = "poison-" + k;
                    assertThatThrownBy(() -> handler.process(key))
                            .isExactlyInstanceOf(IllegalStateException.class)
                            .hasMessage("poison " + key);
                }
            }
            assertThat(runs.get()).as("every delivery ran the handler: no claim survived").isEqualTo(keys * deliveries);
            assertThat(tables.claimRows()).as("claim rows").isZero();
            assertThat(tables.effectRows()).as("effect rows").isZero();
            System.out.printf("scenario 8 (%s): %d deliveries of %d always-failing messages, 0 claims, 0 effects%n",
                    db.kind(), keys * deliveries, keys);
        } finally {
            tables.drop();
        }
    }

    @Test
    void aSlowHandlerWithPoolSizeEqualToConcurrencyNeverDeadlocks() throws Exception {
        TestDatabase db = Databases.postgres();
        EffectsTable tables = new EffectsTable(db, "s9");
        int concurrency = 4;
        try (HikariDataSource pool = Databases.pool(db, concurrency, c -> c.setConnectionTimeout(10_000))) {
            JdbcDedupStore store = tables.recreate(pool);
            IdempotentHandler<String, Void, ?> handler = IdempotentHandler.<String, Void>builder(store)
                    .consumer("s9")
                    .key(k -> k)
                    .handler((key, ctx) -> {
                        Thread.sleep(50);
                        tables.insert(ctx.unwrap(Connection.class), key, "slow");
                        return null;
                    })
                    .build();
            ExecutorService threads = Executors.newFixedThreadPool(concurrency);
            try {
                List<Future<?>> futures = new ArrayList<>();
                Set<String> expected = new TreeSet<>();
                for (int i = 0; i < 40; i++) {
                    String key = "slow-" + (i % 20); // every key delivered twice, concurrently
                    expected.add(key);
                    futures.add(threads.submit(() -> handler.process(key)));
                }
                for (Future<?> f : futures) {
                    f.get(60, TimeUnit.SECONDS); // a deadlock would time out here
                }
                tables.assertExactlyOnce(expected);
            } finally {
                threads.shutdownNow();
            }
        } finally {
            tables.drop();
        }
    }

    @Test
    void aCallerHoldingTheOnlyConnectionJoinsItWithProcessInAndAnExhaustedPoolIsABoundedClearError()
            throws Exception {
        TestDatabase db = Databases.postgres();
        EffectsTable tables = new EffectsTable(db, "s9b");
        try (HikariDataSource pool = Databases.pool(db, 1, c -> c.setConnectionTimeout(500))) {
            JdbcDedupStore store = tables.recreate(pool);
            IdempotentHandler<String, Void, ?> handler = IdempotentHandler.<String, Void>builder(store)
                    .consumer("s9b")
                    .key(k -> k)
                    .handler((key, ctx) -> {
                        tables.insert(ctx.unwrap(Connection.class), key, "joined");
                        return null;
                    })
                    .build();
            try (Connection held = pool.getConnection()) {
                held.setAutoCommit(false);
                // processIn needs no second connection: the claim and the effect ride on the caller's.
                assertThat(handler.processIn(JdbcTransactions.of(held), "joined-1").isProcessed()).isTrue();
                held.commit();

                long start = System.nanoTime();
                assertThatThrownBy(() -> handler.process("needs-a-second-connection"))
                        .isInstanceOf(OncelyException.class)
                        .hasMessageContaining("Could not get a connection")
                        .hasMessageContaining("every connection was in use")
                        .hasMessageContaining("processIn");
                long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertThat(millis).as("the wait is bounded by the pool's connectionTimeout (500 ms)")
                        .isBetween(400L, 5_000L);
            }
            tables.assertExactlyOnce(Set.of("joined-1"));
        } finally {
            tables.drop();
        }
    }
}
