package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import dev.oncely.PayloadConflictException;
import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabases;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.TimeZone;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link Outcome#firstProcessedAt()} is the database's own instant whatever the JVM's default time zone and the
 * database session's time zone, on every database (MariaDB read it shifted by their difference), and expiry
 * agrees with it. The JVM zone is set before the pool connects (drivers read it per connection) and restored.
 */
class FirstProcessedAtTimeZoneTest {

    /** The database runs on this host: its clock and the JVM's agree far closer than this. */
    private static final Duration CLOCK_SLACK = Duration.ofSeconds(2);
    private static final Duration SHORT = Duration.ofSeconds(1);

    static Stream<Arguments> databasesAndZones() {
        List<Arguments> cases = new ArrayList<>();
        for (String database : List.of("h2", "postgresql", "mariadb")) {
            for (String jvmZone : List.of("UTC", "Asia/Kathmandu", "America/St_Johns")) {
                for (String sessionZone : List.of("+00:00", "+05:45", "-03:30")) {
                    cases.add(Arguments.of(database, jvmZone, sessionZone));
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}, JVM in {1}, session at {2}")
    @MethodSource("databasesAndZones")
    void firstProcessedAtIsTheDatabaseInstantWhateverTheJvmAndSessionTimeZones(String database, String jvmZone,
                                                                               String sessionZone) throws Exception {
        TimeZone original = TimeZone.getDefault();
        TimeZone.setDefault(TimeZone.getTimeZone(jvmZone));
        try (HikariDataSource pool = pool(database, sessionZone)) {
            JdbcDedupStore store = JdbcDedupStore.builder(pool).table("oncely_tz_probe").build()
                    .createSchemaIfMissing();
            try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
                st.executeUpdate("DELETE FROM oncely_tz_probe");
            }
            IdempotentHandler<String, Void, ?> shortLived = handler(store, SHORT);
            IdempotentHandler<String, Void, ?> longLived = handler(store, Duration.ofHours(1));

            Instant before = Instant.now();
            Outcome<Void> processed = shortLived.process("short");
            assertThat(longLived.process("long").isProcessed()).isTrue();
            Instant after = Instant.now();

            assertThat(processed.firstProcessedAt()).as("the instant the database wrote")
                    .isBetween(before.minus(CLOCK_SLACK), after.plus(CLOCK_SLACK));
            Outcome<Void> duplicate = shortLived.process("short");
            assertThat(duplicate.isDuplicate()).as("inside the retention").isTrue();
            assertThat(duplicate.firstProcessedAt()).isEqualTo(processed.firstProcessedAt());
            PayloadConflictException conflict = catchThrowableOfType(PayloadConflictException.class,
                    () -> shortLived.process("short other payload"));
            assertThat(conflict.firstProcessedAt()).isEqualTo(processed.firstProcessedAt());
            assertThat(store.purgeExpired(100)).as("nothing has expired yet").isZero();

            Thread.sleep(SHORT.plusMillis(200).toMillis());

            assertThat(store.purgeExpired(100)).as("exactly the short-lived key has expired").isEqualTo(1);
            assertThat(longLived.process("long").isDuplicate()).isTrue();
            assertThat(shortLived.process("short").isProcessed()).as("expired, purged: new again").isTrue();
        } finally {
            TimeZone.setDefault(original);
        }
    }

    /** Keys are the message's first word; the whole message is the fingerprinted payload. */
    private static IdempotentHandler<String, Void, ?> handler(JdbcDedupStore store, Duration retention) {
        IdempotentHandler.Builder<String, Void, ?> builder = IdempotentHandler.<String, Void>builder(store)
                .consumer("tz").key(m -> m.split(" ")[0])
                .fingerprint(m -> m.getBytes(StandardCharsets.UTF_8))
                .handler((m, ctx) -> null);
        return builder.retentionForTestsOnly(retention).build();
    }

    private static HikariDataSource pool(String database, String sessionZone) {
        TestDatabase db = switch (database) {
            case "h2" -> H2StoreContractTest.inMemoryH2("oncely_tz");
            case "postgresql" -> TestDatabases.postgres();
            default -> TestDatabases.mariadb();
        };
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(db.jdbcUrl());
        config.setUsername(db.user());
        config.setPassword(db.password());
        config.setMaximumPoolSize(2);
        config.setConnectionInitSql(switch (database) {
            case "h2" -> "SET TIME ZONE '" + sessionZone + "'";
            // A bare '+05:45' would be read as a POSIX zone, whose sign is inverted.
            case "postgresql" -> "SET TIME ZONE INTERVAL '" + sessionZone + "' HOUR TO MINUTE";
            default -> "SET time_zone = '" + sessionZone + "'";
        });
        return new HikariDataSource(config);
    }
}
