package dev.oncely.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.reliability.LeasedCrashConsumer.Point;
import dev.oncely.testdatabases.TestDatabase;
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Lease mode with a real external effect: a consumer process (a child JVM) charges five keys through a payment
 * service running in this JVM, passing {@code run.downstreamKey("charge")} as the {@code Idempotency-Key}; it is
 * SIGKILLed at one failure point of one key's first run: before the call, during it (the service holds the
 * request), after it (before its step is recorded), after the step's record before the completion, during the
 * completion (its UPDATE waiting at the database for a row lock the test holds); or, for the stalls, it outlives its
 * lease while a second process takes the key over, and its late step record or completion must be refused. A restarted consumer then processes every key until done. Counted by the payment
 * service: every key charged exactly once (0 double, 0 lost); every record COMPLETED in the table.
 */
class LeaseProcessKillTest {

    private static final List<String> KEYS = List.of("k-1", "k-2", "k-3", "k-4", "k-5");
    private static final String FAULT_KEY = "k-3";
    private static final long LEASE_MILLIS = 2_000;
    private static final long DEADLINE_SECONDS = 60;
    private static final Map<String, String> RESULTS = new LinkedHashMap<>();

    static Stream<Arguments> pointsOnEachDatabase() {
        List<Arguments> all = new ArrayList<>();
        for (String db : List.of("PostgreSQL", "MariaDB")) {
            Supplier<TestDatabase> database = db.equals("PostgreSQL") ? Databases::postgres : Databases::mariadb;
            for (Point point : Point.values()) {
                if (point != Point.NONE) {
                    all.add(Arguments.of(db, point, database));
                }
            }
        }
        return all.stream();
    }

    @AfterAll
    static void printResults() {
        System.out.println("Lease mode, consumer SIGKILLed / outliving its lease (charges counted by the payment"
                + " service):");
        RESULTS.forEach((name, line) -> System.out.println("  " + name + ": " + line));
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("pointsOnEachDatabase")
    void aConsumerKilledOrStalledAtThisPointLeavesEveryKeyChargedExactlyOnceAndCompleted(String name, Point point,
            Supplier<TestDatabase> database) throws Exception {
        TestDatabase db = database.get();
        String claims = "rel_lease_kill_claims";
        Databases.execute(db, "DROP TABLE IF EXISTS " + claims);
        try (HikariDataSource pool = Databases.pool(db, 1, c -> { })) {
            JdbcDedupStore.builder(pool).table(claims).build().createSchemaIfMissing();
        }
        Path dir = Files.createDirectories(Path.of("target", "lease-kill"));
        String extra = "";
        try (CountingPaymentService payments = CountingPaymentService.start()) {
            Child first = new Child(db, dir, "first-" + name + "-" + point, claims, payments, FAULT_KEY, point);
            Child restarted = null;
            try {
                if (point == Point.DURING_CALL) {
                    assertThat(payments.awaitHeldRequest(DEADLINE_SECONDS)).as("the held call arrived").isTrue();
                } else {
                    await("the first consumer reached " + point, () -> first.point() == point);
                }
                switch (point) {
                    case BEFORE_CALL, AFTER_CALL, BEFORE_COMPLETION -> first.kill();
                    case DURING_CALL -> {
                        first.kill(); // while the service holds its request, before it charged
                        restarted = new Child(db, dir, "restarted-" + name + "-" + point, claims, payments, "-",
                                Point.NONE);
                        // The restarted consumer takes the key over once the lease ran out and calls with the same
                        // key while the first request is still held: 409, its run fails, the lease is released.
                        await("a call refused with 409 while the first one is held", () -> payments.conflicts() > 0);
                        payments.releaseHeld(); // the service completes the dead caller's charge
                    }
                    case DURING_COMPLETION -> extra = killDuringCompletion(db, claims, first);
                    default -> { } // the stalls: the first consumer keeps running
                }
                if (restarted == null) {
                    restarted = new Child(db, dir, "restarted-" + name + "-" + point, claims, payments, "-",
                            Point.NONE);
                }
                if (point == Point.STALL_AFTER_CALL || point == Point.STALL_BEFORE_COMPLETION) {
                    await("the restarted consumer took " + FAULT_KEY + " over and completed it",
                            () -> state(db, claims, FAULT_KEY).startsWith("COMPLETED"));
                    first.go(); // the stalled run wakes up and tries to record its step or its completion
                    first.awaitExit();
                    assertThat(first.count(LeasedCrashConsumer.LEASES_LOST))
                            .as("the stalled run's late write was refused").isEqualTo(1);
                    extra = "stale run's " + (point == Point.STALL_AFTER_CALL ? "step record" : "completion")
                            + " refused";
                }
                restarted.awaitExit();
                assertThat(restarted.count(LeasedCrashConsumer.FINISHED)).as("restarted consumer finished").isOne();

                Map<String, Integer> charges = new LinkedHashMap<>();
                KEYS.forEach(k -> charges.put(k, payments.chargesFor(k)));
                long doubles = charges.values().stream().filter(n -> n > 1).mapToLong(n -> n - 1).sum();
                long lost = charges.values().stream().filter(n -> n == 0).count();
                RESULTS.put(name + " " + point, String.format("charges %d, double %d, lost %d, replayed %d,"
                                + " 409s %d, record of %s: %s%s", payments.charges(), doubles, lost, payments.replays(),
                        payments.conflicts(), FAULT_KEY, state(db, claims, FAULT_KEY),
                        extra.isEmpty() ? "" : "; " + extra));

                Map<String, Integer> once = new LinkedHashMap<>();
                KEYS.forEach(k -> once.put(k, 1));
                assertThat(charges).as("charges per key, counted by the payment service").isEqualTo(once);
                assertThat(completedRecords(db, claims)).as("records COMPLETED").isEqualTo(KEYS.size());
                if (point == Point.AFTER_CALL || point == Point.STALL_AFTER_CALL || point == Point.DURING_CALL) {
                    assertThat(payments.replays()).as("the repeated call was answered from the first charge")
                            .isPositive();
                }
                if (point == Point.BEFORE_COMPLETION || point == Point.STALL_BEFORE_COMPLETION) {
                    assertThat(payments.replays()).as("the recorded step was replayed without a call").isZero();
                }
            } finally {
                first.destroy();
                if (restarted != null) {
                    restarted.destroy();
                }
            }
        } finally {
            Databases.execute(db, "DROP TABLE IF EXISTS " + claims);
        }
    }

    /**
     * Holds the fault key's row lock in a transaction of the test's own, lets the stopped run go on to its completion
     * UPDATE, waits until that UPDATE waits for the lock (it is at the database), SIGKILLs the process, then lets go
     * of the lock: the dead client's completion then commits or not, as the database decides.
     */
    private static String killDuringCompletion(TestDatabase db, String claims, Child first) throws Exception {
        try (Connection lock = Databases.connect(db)) {
            lock.setAutoCommit(false);
            try (PreparedStatement ps = lock.prepareStatement("SELECT event_id FROM " + claims
                    + " WHERE consumer = 'payments' AND event_id = ? FOR UPDATE")) {
                ps.setString(1, FAULT_KEY);
                ps.executeQuery().close();
            }
            first.go();
            await("the completion UPDATE waits for the row lock", () -> completionWaiting(db));
            first.kill();
            lock.rollback();
        }
        // The server finishes (or drops) the dead client's statement on its own time: wait until it settled.
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (completionWaiting(db) && System.nanoTime() < until) {
            Thread.sleep(20);
        }
        Thread.sleep(200);
        return "the killed process's completion " + (state(db, claims, FAULT_KEY).startsWith("COMPLETED")
                ? "committed at the database after its death" : "did not commit");
    }

    private static boolean completionWaiting(TestDatabase db) {
        // Matched loosely (anywhere in the text): a driver may send the statement with a prefix or other spacing.
        String sql = db.kind().equals("postgresql")
                ? "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type ="
                + " 'Lock' AND query LIKE '%rel_lease_kill_claims%' AND query LIKE '%''COMPLETED''%'"
                // The process list, not INNODB_TRX: an autocommit UPDATE waiting for a row lock is not always listed
                // there as LOCK WAIT (seen on MariaDB 10.11), while the process list shows it running ("Updating").
                : "SELECT count(*) FROM information_schema.PROCESSLIST WHERE command = 'Query' AND info"
                + " LIKE '%rel_lease_kill_claims%' AND info LIKE '%''COMPLETED''%'";
        return Databases.count(db, sql) > 0;
    }

    private static String state(TestDatabase db, String claims, String key) {
        try (Connection c = Databases.connect(db); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT state, attempt FROM " + claims
                     + " WHERE consumer = 'payments' AND event_id = '" + key + "'")) {
            return rs.next() ? rs.getString(1) + " at attempt " + rs.getInt(2) : "absent";
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static long completedRecords(TestDatabase db, String claims) {
        return Databases.count(db, "SELECT count(*) FROM " + claims
                + " WHERE consumer = 'payments' AND state = 'COMPLETED'");
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > until) {
                throw new AssertionError("Not within " + DEADLINE_SECONDS + " s: " + what);
            }
            Thread.sleep(10);
        }
    }

    /** One consumer process and its status file. */
    private static final class Child {
        final Process process;
        final MappedByteBuffer status;
        final File log;

        Child(TestDatabase db, Path dir, String name, String claims, CountingPaymentService payments,
                String faultKey, Point point) throws IOException {
            String file = name.replaceAll("[^A-Za-z0-9_-]", "_");
            File statusFile = dir.resolve(file + ".status").toFile();
            Files.deleteIfExists(statusFile.toPath());
            try (RandomAccessFile raf = new RandomAccessFile(statusFile, "rw");
                 FileChannel channel = raf.getChannel()) {
                status = channel.map(FileChannel.MapMode.READ_WRITE, 0, LeasedCrashConsumer.STATUS_SIZE);
            }
            log = dir.resolve(file + ".log").toFile();
            ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx96m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto",
                    "-cp", System.getProperty("java.class.path"), LeasedCrashConsumer.class.getName(), claims,
                    payments.uri().toString(), statusFile.getAbsolutePath(), faultKey, point.name(),
                    Long.toString(LEASE_MILLIS), String.join(",", KEYS));
            pb.environment().put("ONCELY_CHILD_URL", db.jdbcUrl());
            pb.environment().put("ONCELY_CHILD_USER", db.user());
            pb.environment().put("ONCELY_CHILD_PASSWORD", db.password());
            pb.redirectErrorStream(true);
            pb.redirectOutput(log);
            process = pb.start();
        }

        Point point() {
            if (!process.isAlive() && process.exitValue() != 0) {
                throw new AssertionError("the consumer exited with " + process.exitValue() + "; see " + log);
            }
            return Point.of(status.get(0));
        }

        long count(int offset) {
            return status.getLong(offset);
        }

        void go() {
            status.put(LeasedCrashConsumer.GO, (byte) 1);
        }

        void kill() throws InterruptedException {
            process.destroyForcibly(); // SIGKILL
            assertThat(process.waitFor(10, TimeUnit.SECONDS)).as("killed").isTrue();
        }

        void awaitExit() throws InterruptedException {
            if (!process.waitFor(DEADLINE_SECONDS, TimeUnit.SECONDS)) {
                throw new AssertionError("the consumer did not finish within " + DEADLINE_SECONDS + " s; see " + log);
            }
            assertThat(process.exitValue()).as("exit status; see " + log).isZero();
        }

        void destroy() {
            process.destroyForcibly();
        }
    }
}
