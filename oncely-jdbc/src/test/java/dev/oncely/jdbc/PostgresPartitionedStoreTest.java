package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.MisconfigurationException;
import dev.oncely.OncelyException;
import dev.oncely.Outcome;
import dev.oncely.ProcessingContext;
import dev.oncely.TransientStoreException;
import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The time-partitioned layout where it differs from the plain one: claims racing across partition boundaries,
 * whole partitions dropped once their keys expired (and kept while one is live), the transaction bound, and
 * refusals. Partitions here are one second long, so boundaries come every second.
 */
class PostgresPartitionedStoreTest {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    private static final String EFFECTS = "pbt_effects";
    private static final List<HikariDataSource> POOLS = new ArrayList<>();

    @AfterAll
    static void closePools() {
        POOLS.forEach(HikariDataSource::close);
    }

    /**
     * Each round, 8 threads deliver one new key 10 ms apart, starting somewhere from 100 ms before a partition
     * boundary to 500 ms after it, and the handler holds its transaction open for 30 ms, so later deliveries claim
     * while earlier ones are still open, on both sides of the boundary and inside the overlap (600 ms; transactions
     * may last 240 ms). Partitions are created and dropped concurrently. Exactly one delivery per key may run the
     * handler; one refused as transient (its transaction outlived that bound on a slow machine) is delivered again,
     * as a broker would. The 16 rounds share 4 boundaries: a boundary's 4 rounds start 150 ms apart (a round's
     * deliveries span 70 ms), so the 16 starting points are those of one round per boundary, in a quarter of the
     * time.
     */
    @ParameterizedTest
    @ValueSource(strings = {"TRANSACTION_READ_COMMITTED", "TRANSACTION_REPEATABLE_READ"})
    void concurrentDuplicatesRacingAcrossPartitionBoundariesRunTheHandlerOnce(String isolation) throws Exception {
        String table = "pbt_race_" + (isolation.contains("READ_COMMITTED") ? "rc" : "rr");
        DataSource pool = pool(isolation, 20);
        JdbcDedupStore store = freshStore(pool, table, Duration.ofSeconds(1), Duration.ofMillis(600));
        IdempotentHandler<String, Void, ?> handler = IdempotentHandler.<String, Void>builder(store)
                .consumer("race").key(k -> k).retentionForTestsOnly(Duration.ofSeconds(3)).handler((key, ctx) -> {
                    recordEffect(ctx);
                    Thread.sleep(30);
                    return null;
                }).build();

        int threads = 8;
        int rounds = 16;
        int boundaries = 4;
        for (int i = 0; i < 20; i++) {
            handler.process("warm-up-" + i); // JIT and pool, before any timing matters
        }
        AtomicBoolean maintaining = new AtomicBoolean(true);
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        AtomicInteger redelivered = new AtomicInteger();
        ExecutorService executor = Executors.newFixedThreadPool(threads * rounds / boundaries + 1);
        try {
            // Maintenance as a RetentionPurger would run it: partitions ahead, expired ones dropped, all along.
            Future<?> maintainer = executor.submit(() -> {
                while (maintaining.get()) {
                    store.maintainPartitions();
                    Thread.sleep(100);
                }
                return null;
            });
            int processed = 0;
            int duplicates = 0;
            for (int first = 0; first < boundaries; first++) {
                long boundary = (System.currentTimeMillis() / 1000 + 1) * 1000;
                List<Integer> roundsHere = new ArrayList<>();
                List<Future<Outcome<Void>>> calls = new ArrayList<>();
                for (int round = first; round < rounds; round += boundaries) {
                    roundsHere.add(round);
                    String key = "evt-" + round;
                    for (int t = 0; t < threads; t++) {
                        long at = boundary - 100 + (round * 600L / rounds) + t * 10L;
                        calls.add(executor.submit(() -> {
                            sleepUntil(at);
                            // A transient refusal (a transaction held open past 40% of the overlap on a slow
                            // machine) is redelivered, as a broker would; anything else is a failure.
                            for (int attempt = 1; ; attempt++) {
                                try {
                                    return handler.process(key);
                                } catch (TransientStoreException e) {
                                    redelivered.incrementAndGet();
                                    if (attempt == 5) {
                                        failures.add(e);
                                        throw e;
                                    }
                                } catch (Throwable e) {
                                    failures.add(e);
                                    throw e;
                                }
                            }
                        }));
                    }
                }
                for (Future<Outcome<Void>> call : calls) {
                    try {
                        Outcome<Void> outcome = call.get(30, TimeUnit.SECONDS);
                        if (outcome.isProcessed()) {
                            processed++;
                        } else {
                            duplicates++;
                        }
                    } catch (java.util.concurrent.ExecutionException e) {
                        // collected in failures
                    }
                }
                for (int round : roundsHere) {
                    assertThat(effects("race", "evt-" + round))
                            .as("effects of evt-%d (round %d); redeliveries after a transient refusal: %d;"
                                    + " failures: %s", round, round, redelivered.get(), failures).isEqualTo(1);
                }
            }
            maintaining.set(false);
            maintainer.get(30, TimeUnit.SECONDS);

            assertThat(failures).as("no delivery failed").isEmpty();
            assertThat(processed).isEqualTo(rounds);
            assertThat(duplicates).isEqualTo(rounds * (threads - 1));
            // The race really spanned boundaries: claims were written into two partitions at once, and the keys'
            // first claims landed in more than one partition.
            assertThat(count("SELECT count(*) FROM (SELECT event_id FROM " + table + " WHERE event_id LIKE 'evt-%'"
                    + " GROUP BY consumer, event_id HAVING count(*) > 1) k")).as("keys claimed inside an overlap")
                    .isPositive();
            assertThat(count("SELECT count(DISTINCT bucket) FROM " + table + " WHERE event_id LIKE 'evt-%'"))
                    .isGreaterThan(1);
        } finally {
            maintaining.set(false);
            executor.shutdownNow();
        }
    }

    @Test
    void partitionsGoWholeOnceTheirKeysExpiredAndStayWhileOneIsLive() throws Exception {
        DataSource pool = pool("TRANSACTION_READ_COMMITTED", 4);
        // An overlap of 400 ms bounds a claiming transaction at 160 ms, room for a batch on a loaded test machine.
        JdbcDedupStore store = freshStore(pool, "pbt_drop", Duration.ofSeconds(1), Duration.ofMillis(400));
        IdempotentHandler<String, Void, ?> shortLived = recording(store, Duration.ofMillis(300));
        IdempotentHandler<String, Void, ?> forever = recording(store, null);

        // A partition holding an unexpiring key among expired ones is never dropped.
        String kept = placeInOnePartition(() -> {
            shortLived.processBatch(keys("a-", 20));
            forever.process("kept");
        }, "pbt_drop", "kept");
        // A partition holding only short-lived keys goes once they have expired.
        String dropped = placeInOnePartition(() -> shortLived.processBatch(keys("b-", 30)), "pbt_drop", "b-0");
        assertThat(dropped).isNotEqualTo(kept);
        assertThat(count("SELECT count(*) FROM " + dropped)).isEqualTo(30);

        long droppedKeys = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (exists(dropped) && System.nanoTime() < deadline) {
            droppedKeys += store.maintainPartitions();
            Thread.sleep(100);
        }
        assertThat(exists(dropped)).as("%s was dropped", dropped).isFalse();
        assertThat(droppedKeys).as("keys dropped with it, counted").isGreaterThanOrEqualTo(30);
        assertThat(exists(kept)).as("%s holds a live key", kept).isTrue();
        assertThat(count("SELECT count(*) FROM pbt_drop_partitions WHERE partition_name = '" + dropped + "'"))
                .as("its row in the partition list").isZero();
        assertThat(forever.process("kept").isDuplicate()).isTrue();
        assertThat(shortLived.process("b-0").isProcessed()).as("expired and gone: processed again").isTrue();
        assertThat(effects("drop", "b-0")).isEqualTo(2);
    }

    @Test
    void aTransactionOpenLongerThanTheBoundIsRolledBack() throws Exception {
        JdbcDedupStore store = freshStore(pool("TRANSACTION_READ_COMMITTED", 4), "pbt_slow", Duration.ofSeconds(10),
                Duration.ofMillis(200));
        AtomicBoolean slow = new AtomicBoolean(true);
        IdempotentHandler<String, Void, ?> handler = IdempotentHandler.<String, Void>builder(store).consumer("slow")
                .key(k -> k).handler((key, ctx) -> {
                    recordEffect(ctx);
                    if (slow.get()) {
                        Thread.sleep(150);
                    }
                    return null;
                }).build();

        assertThatThrownBy(() -> handler.process("evt-1")).isInstanceOf(OncelyException.class)
                .hasMessageContaining("longer than 40% of the partition overlap (80 ms)")
                .hasMessageContaining("do not acknowledge");
        assertThat(effects("slow", "evt-1")).isZero();
        assertThat(count("SELECT count(*) FROM pbt_slow")).as("no claim either").isZero();

        slow.set(false);
        assertThat(handler.process("evt-1").isProcessed()).isTrue();
        assertThat(effects("slow", "evt-1")).isEqualTo(1);
    }

    @Test
    void aClaimWithNoPartitionForNowFailsClearlyAndWritesNothing() throws Exception {
        JdbcDedupStore store = freshStore(pool("TRANSACTION_READ_COMMITTED", 4), "pbt_none", Duration.ofMinutes(1),
                Duration.ofSeconds(10));
        IdempotentHandler<String, Void, ?> handler = recording(store, null);
        execute("DELETE FROM pbt_none_partitions");

        assertThatThrownBy(() -> handler.process("evt-1")).isInstanceOf(OncelyException.class)
                .hasMessageContaining("No partition of pbt_none accepts claims made now")
                .hasMessageContaining("maintainPartitions()");
        assertThat(effects("drop", "evt-1")).isZero();
        assertThat(count("SELECT count(*) FROM pbt_none")).isZero();

        store.maintainPartitions();
        assertThat(handler.process("evt-1").isProcessed()).as("partitions back after maintenance").isTrue();
        assertThat(handler.process("evt-1").isDuplicate()).isTrue();
    }

    @Test
    void refusesWhatTheLayoutCannotDo() throws Exception {
        DataSource pool = pool("TRANSACTION_READ_COMMITTED", 2);
        assertThatThrownBy(() -> JdbcDedupStore.builder(pool).database(Database.MARIADB)
                .timePartitioned(Duration.ofDays(1), Duration.ofMinutes(30)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("only available on PostgreSQL");
        assertThatThrownBy(() -> JdbcDedupStore.builder(pool).timePartitioned(Duration.ofMillis(500),
                Duration.ofMillis(100))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 1 second");
        assertThatThrownBy(() -> JdbcDedupStore.builder(pool).timePartitioned(Duration.ofHours(1),
                Duration.ofHours(2))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("overlap must be between 100 ms and the partition length");
        assertThatThrownBy(() -> JdbcDedupStore.builder(pool).timePartitioned(Duration.ofHours(1),
                Duration.ofMillis(50))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> JdbcDedupStore.builder(pool).table("a".repeat(41))
                .timePartitioned(Duration.ofDays(1), Duration.ofMinutes(30)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at most 40 characters");
        JdbcDedupStore plain = JdbcDedupStore.builder(pool).table("pbt_plain").build();
        assertThatThrownBy(plain::maintainPartitions).isInstanceOf(MisconfigurationException.class)
                .hasMessageContaining("is not time-partitioned");
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /**
     * Runs {@code claims} early in a partition (past its overlap with the previous one, well before its end), so
     * they land in that partition only, and returns the partition holding {@code key}.
     */
    private String placeInOnePartition(ThrowingRunnable claims, String table, String key) throws Exception {
        // 450 ms into the next second: past the 400 ms overlap with the previous partition, with 550 ms left.
        sleepUntil((System.currentTimeMillis() / 1000 + 1) * 1000 + 450);
        claims.run();
        return text("SELECT tableoid::regclass::text FROM " + table + " WHERE event_id = '" + key + "'");
    }

    private static List<String> keys(String prefix, int n) {
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            keys.add(prefix + i);
        }
        return keys;
    }

    @FunctionalInterface
    interface ThrowingRunnable {
        void run() throws Exception;
    }

    private static IdempotentHandler<String, Void, ?> recording(JdbcDedupStore store, Duration retention) {
        IdempotentHandler.Builder<String, Void, ?> b = IdempotentHandler.<String, Void>builder(store).consumer("drop")
                .key(k -> k).handler((key, ctx) -> {
                    recordEffect(ctx);
                    return null;
                });
        if (retention != null) {
            b.retentionForTestsOnly(retention);
        }
        return b.build();
    }

    private JdbcDedupStore freshStore(DataSource pool, String table, Duration length, Duration overlap)
            throws SQLException {
        execute("DROP TABLE IF EXISTS " + table + " CASCADE");
        execute("DROP TABLE IF EXISTS " + table + "_partitions");
        execute("CREATE TABLE IF NOT EXISTS " + EFFECTS + " (consumer varchar(100) NOT NULL,"
                + " event_id varchar(255) NOT NULL)");
        execute("DELETE FROM " + EFFECTS);
        return JdbcDedupStore.builder(pool).table(table).timePartitioned(length, overlap).build()
                .createSchemaIfMissing();
    }

    private static void recordEffect(ProcessingContext ctx) throws SQLException {
        try (PreparedStatement ps = ctx.unwrap(Connection.class).prepareStatement("INSERT INTO " + EFFECTS
                + " (consumer, event_id) VALUES (?, ?)")) {
            ps.setString(1, ctx.consumer());
            ps.setString(2, ctx.key());
            ps.executeUpdate();
        }
    }

    private static synchronized DataSource pool(String isolation, int size) {
        TestDatabase db = DB.database();
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(db.jdbcUrl());
        config.setUsername(db.user());
        config.setPassword(db.password());
        config.setMaximumPoolSize(size);
        config.setTransactionIsolation(isolation);
        config.setPoolName("pbt-" + isolation);
        HikariDataSource pool = new HikariDataSource(config);
        POOLS.add(pool);
        return pool;
    }

    private static void sleepUntil(long epochMillis) {
        long wait;
        while ((wait = epochMillis - System.currentTimeMillis()) > 0) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(wait));
        }
    }

    private static long effects(String consumer, String key) throws SQLException {
        return count("SELECT count(*) FROM " + EFFECTS + " WHERE consumer = '" + consumer + "' AND event_id = '" + key
                + "'");
    }

    private static boolean exists(String table) throws SQLException {
        return Boolean.parseBoolean(text("SELECT (to_regclass('" + table + "') IS NOT NULL)::text"));
    }

    private static long count(String sql) throws SQLException {
        return Long.parseLong(text(sql));
    }

    private static String text(String sql) throws SQLException {
        try (Connection c = connect(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static Connection connect() throws SQLException {
        TestDatabase db = DB.database();
        return java.sql.DriverManager.getConnection(db.jdbcUrl(), db.user(), db.password());
    }

    private static void execute(String sql) throws SQLException {
        try (Connection c = connect(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }
}
