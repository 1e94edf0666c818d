package dev.oncely.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import dev.oncely.RetentionPurger;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.testdatabases.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * Scenario 11, retention boundary: a purger deletes expired claims in tight loops while old messages are
 * redelivered by consumers whose JVM clocks are skewed by -10 and +10 minutes. Expiry is decided by the database's
 * now(), never by the application's clock (the skewed Clock is passed to nothing of Oncely's), so duplicates
 * inside the retention window are always caught; only claims past their window are purged and processed again.
 */
class RetentionBoundaryTest {

    @Test
    void duplicatesInsideTheWindowAreCaughtWhileThePurgerRunsAndTheAppClockIsSkewed() throws Exception {
        TestDatabase db = Databases.postgres();
        EffectsTable tables = new EffectsTable(db, "s11");
        try (HikariDataSource pool = Databases.pool(db, 4, c -> { })) {
            JdbcDedupStore store = tables.recreate(pool);
            Clock ahead = Clock.offset(Clock.systemUTC(), Duration.ofMinutes(10));
            Clock behind = Clock.offset(Clock.systemUTC(), Duration.ofMinutes(-10));
            // Window 3 s: a JVM clock 10 minutes ahead would think every claim long expired; one 10 minutes behind,
            // that no claim ever expires. Neither matters.
            IdempotentHandler<String, Void, ?> skewedAhead = handler(store, tables, ahead, Duration.ofSeconds(3));
            IdempotentHandler<String, Void, ?> skewedBehind = handler(store, tables, behind, Duration.ofSeconds(3));

            int keys = 100;
            Instant dbNow = databaseNow(db);
            for (int i = 0; i < keys; i++) {
                Outcome<Void> first = (i % 2 == 0 ? skewedAhead : skewedBehind).process("k-" + i);
                assertThat(first.isProcessed()).isTrue();
                assertThat(Duration.between(dbNow, first.firstProcessedAt()).abs())
                        .as("processed_at comes from the database clock, not the skewed JVM clock")
                        .isLessThan(Duration.ofMinutes(1));
            }
            long redeliveries = 0;
            long caught = 0;
            try (RetentionPurger purger = RetentionPurger.builder(store).chunkSize(7)
                    .pauseBetweenChunks(Duration.ZERO).interval(Duration.ofMillis(10)).build().start()) {
                // Inside the window (well under 3 s since the first delivery): every redelivery is a duplicate.
                long insideUntil = System.nanoTime() + Duration.ofMillis(1_200).toNanos();
                while (System.nanoTime() < insideUntil) {
                    for (int i = 0; i < keys; i += 3) {
                        Outcome<Void> again = (i % 2 == 0 ? skewedBehind : skewedAhead).process("k-" + i);
                        redeliveries++;
                        assertThat(again.isDuplicate()).as("redelivery of k-%d inside its window", i).isTrue();
                        caught++;
                    }
                }
                assertThat(tables.effectRows()).as("one effect per key inside the window").isEqualTo(keys);

                // Past the window: the purger removes the claims (database clock), so a redelivery runs again.
                Thread.sleep(3_500);
                long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (tables.claimRows() > 0 && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(tables.claimRows()).as("expired claims purged").isZero();
                assertThat(purger.purgedKeys()).isEqualTo(keys);
                assertThat(purger.failedRuns()).isZero();
            }
            Outcome<Void> late = skewedAhead.process("k-0");
            assertThat(late.isProcessed()).as("a redelivery after the window is new again (documented)").isTrue();
            assertThat(tables.effectCounts().get("k-0")).isEqualTo(2);
            System.out.printf("scenario 11: %d keys, %d redeliveries inside the window with the purger running and"
                    + " JVM clocks skewed +-10 min, %d caught as duplicates, 0 doubled effects inside the window%n",
                    keys, redeliveries, caught);
        } finally {
            tables.drop();
        }
    }

    private static IdempotentHandler<String, Void, ?> handler(JdbcDedupStore store, EffectsTable tables, Clock clock,
                                                           Duration retention) {
        return IdempotentHandler.<String, Void>builder(store)
                .consumer("s11")
                .key(k -> k)
                .retentionForTestsOnly(retention)
                .handler((key, ctx) -> {
                    // The application's own (skewed) clock, used for its business data only.
                    tables.insert(ctx.unwrap(Connection.class), key, "app time " + clock.instant());
                    return null;
                })
                .build();
    }

    private static Instant databaseNow(TestDatabase db) throws Exception {
        try (Connection c = Databases.connect(db); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT now()")) {
            rs.next();
            return rs.getTimestamp(1).toInstant();
        }
    }
}
