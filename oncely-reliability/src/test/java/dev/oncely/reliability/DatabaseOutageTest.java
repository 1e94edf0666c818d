package dev.oncely.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.OncelyException;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.testdatabases.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Scenario 7, the database restarted mid-run, simulated with the proxy (the local PostgreSQL is shared, so it is
 * not really restarted): every connection is cut and new ones are refused for two seconds, twice. The consumer
 * gets a clear error while the database is away, recovers without being restarted, loses no acknowledged message
 * (acknowledged = {@code process()} returned normally), and every effect exists once.
 */
class DatabaseOutageTest {

    @Test
    void aConsumerRidesThroughTwoOutagesWithoutLosingOrDoublingAnything() throws Exception {
        TestDatabase db = Databases.postgres();
        Databases.HostPort target = Databases.postgresTarget(db);
        EffectsTable tables = new EffectsTable(db, "s7");
        try (FaultProxy proxy = new FaultProxy(target.host(), target.port());
             HikariDataSource pool = Databases.pool(db, Databases.postgresVia(db, proxy.port()), 2,
                     c -> c.setConnectionTimeout(1_000))) {
            JdbcDedupStore store = tables.recreate(pool);
            IdempotentHandler<String, Void, ?> handler = IdempotentHandler.<String, Void>builder(store)
                    .consumer("s7")
                    .key(k -> k)
                    .handler((key, ctx) -> {
                        tables.insert(ctx.unwrap(Connection.class), key, "effect");
                        Thread.sleep(2);
                        return null;
                    })
                    .build();
            int messages = 600;
            Set<String> acked = ConcurrentHashMap.newKeySet();
            List<Throwable> errors = new CopyOnWriteArrayList<>();
            List<String> errorsWhileDown = new CopyOnWriteArrayList<>();
            Thread consumer = new Thread(() -> {
                for (int i = 0; i < messages; i++) {
                    String key = "m-" + i;
                    int attempts = 0;
                    while (true) {
                        try {
                            handler.process(key);
                            acked.add(key); // the broker ack
                            break;
                        } catch (Exception e) {
                            errors.add(e);
                            if (proxy.down()) {
                                errorsWhileDown.add(e.getMessage());
                            }
                            if (++attempts > 200) {
                                return;
                            }
                            sleep(50); // not acknowledged: the broker redelivers it
                        }
                    }
                }
            }, "s7-consumer");
            consumer.start();
            int outages = 0;
            for (int threshold : new int[] {150, 350}) {
                while (acked.size() < threshold && consumer.isAlive()) {
                    Thread.sleep(5);
                }
                proxy.outage(2_000);
                outages++;
                Thread.sleep(2_100);
            }
            consumer.join(TimeUnit.MINUTES.toMillis(2));
            assertThat(consumer.isAlive()).as("the consumer finished").isFalse();

            Set<String> expected = new TreeSet<>();
            for (int i = 0; i < messages; i++) {
                expected.add("m-" + i);
            }
            assertThat(acked).as("every message was acknowledged in the end, by the same consumer")
                    .hasSize(messages);
            tables.assertExactlyOnce(expected);
            assertThat(errors).as("the outages were noticed").isNotEmpty();
            for (Throwable e : errors) {
                // The store's own failures are OncelyExceptions; the handler's SQLException on a cut connection
                // passes through unchanged.
                boolean clear = e instanceof OncelyException
                        || e instanceof SQLException sql && sql.getSQLState() != null && sql.getSQLState().startsWith("08");
                assertThat(clear).as("a clear error: %s", e).isTrue();
            }
            assertThat(errorsWhileDown).as("errors while the database was away")
                    .anySatisfy(m -> assertThat(m).contains("Could not get a connection")
                            .contains("Check that the database is up"));
            assertThat(errorsWhileDown).as("no pool-exhaustion hint when the database is down")
                    .noneSatisfy(m -> assertThat(m).contains("every connection was in use"));
            System.out.printf("scenario 7: %d messages, %d outages of 2 s (%d connection attempts refused),"
                            + " %d errors seen (%d while down), 0 duplicates, 0 losses%n", messages, outages,
                    proxy.refusedConnections(), errors.size(), errorsWhileDown.size());
        } finally {
            tables.drop();
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
