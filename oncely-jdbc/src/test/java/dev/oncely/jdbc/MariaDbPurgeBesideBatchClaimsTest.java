package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.ProcessingContext;
import dev.oncely.RetentionPurger;
import dev.oncely.TransientStoreException;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * MariaDB: a purge running flat out beside batch claims of the same keys. A feeder keeps adding expired keys just
 * ahead of the claimers; three threads claim overlapping batches from the latest few thousand keys (so a batch
 * finds expired rows to rewrite, purged keys to insert afresh and live duplicates); the purger deletes expired keys
 * in chunks of 200 with no pause. The purge used to delete in expiry order, which deadlocked (1213) with the
 * claims' primary-key order, and a failed purge told the caller to roll back a transaction it did not own.
 */
class MariaDbPurgeBesideBatchClaimsTest {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.mariadb();

    private static final String TABLE = "oncely_purge_race";
    private static final String EFFECTS = "oncely_purge_race_effects";
    /**
     * Long enough to provoke the deadlock the purge cannot avoid: with the store's retries off (maxRetries(0)),
     * two runs of 10 s out of two each ended with a failed purge (1213); 30 s proved nothing more.
     */
    private static final Duration RUN_FOR = Duration.ofSeconds(10);

    private static HikariDataSource pool;

    @BeforeAll
    static void start() throws SQLException {
        pool = TestPools.pool(DB.database(), 8, "TRANSACTION_REPEATABLE_READ", true);
        execute("DROP TABLE IF EXISTS " + TABLE);
        execute("DROP TABLE IF EXISTS " + EFFECTS);
        execute("CREATE TABLE " + EFFECTS + " (event_id varchar(255) NOT NULL, KEY (event_id)) ENGINE=InnoDB");
    }

    @AfterAll
    static void stop() throws SQLException {
        execute("DROP TABLE IF EXISTS " + TABLE);
        execute("DROP TABLE IF EXISTS " + EFFECTS);
        pool.close();
    }

    @Test
    void aPurgeAtFullSpeedBesideOverlappingBatchClaimsNeverFailsAndEffectsStayExactlyOnce() throws Exception {
        JdbcDedupStore store = JdbcDedupStore.builder(pool).table(TABLE).build().createSchemaIfMissing();
        IdempotentHandler<String, Void, ?> handler = IdempotentHandler.<String, Void>builder(store)
                .consumer("c").key(k -> k).retention(Duration.ofHours(1))
                .handler((key, ctx) -> {
                    recordEffect(ctx);
                    return null;
                }).build();
        AtomicInteger fed = new AtomicInteger();
        feed(fed, 5_000); // a backlog, so the purger has work from its first run
        RetentionPurger purger = RetentionPurger.builder(store).chunkSize(200).pauseBetweenChunks(Duration.ZERO)
                .interval(Duration.ofMillis(1)).threadName("purge-race").build();

        AtomicBoolean running = new AtomicBoolean(true);
        Set<String> delivered = ConcurrentHashMap.newKeySet();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        AtomicLong batchRetries = new AtomicLong();
        AtomicLong batches = new AtomicLong();
        ExecutorService threads = Executors.newFixedThreadPool(4);
        List<Future<?>> tasks = new ArrayList<>();
        tasks.add(threads.submit(() -> {
            while (running.get()) {
                feed(fed, 200);
                Thread.sleep(5);
            }
            return null;
        }));
        for (int t = 0; t < 3; t++) {
            tasks.add(threads.submit(() -> {
                while (running.get()) {
                    List<String> batch = overlappingBatch(fed.get());
                    // As a broker would: a transient failure means the batch comes again.
                    while (true) {
                        try {
                            handler.processBatch(batch);
                            break;
                        } catch (TransientStoreException e) {
                            batchRetries.incrementAndGet();
                        } catch (Throwable e) {
                            failures.add(e);
                            return null;
                        }
                    }
                    delivered.addAll(batch);
                    batches.incrementAndGet();
                }
                return null;
            }));
        }
        purger.start();
        Thread.sleep(RUN_FOR.toMillis());
        purger.close();
        running.set(false);
        for (Future<?> task : tasks) {
            task.get(60, TimeUnit.SECONDS);
        }
        threads.shutdown();

        assertThat(failures).as("batch failures other than transient ones").isEmpty();
        assertThat(purger.lastFailure()).as("the last purge failure, if any").isEmpty();
        assertThat(purger.failedRuns()).as("failed purge runs out of %d", purger.runs()).isZero();
        assertThat(purger.purgedKeys()).as("the purger deleted expired keys all along").isPositive();
        assertThat(batches.get()).isPositive();

        // Every key a batch delivered ran its effect exactly once (its claim is live for an hour, so every later
        // delivery was a duplicate), and no key ran it without a delivery that succeeded.
        assertThat(query("SELECT event_id FROM " + EFFECTS + " GROUP BY event_id HAVING count(*) > 1"))
                .as("keys whose effect ran twice").isEmpty();
        assertThat(query("SELECT DISTINCT event_id FROM " + EFFECTS)).as("keys with an effect")
                .isEqualTo(new TreeSet<>(delivered));
        assertThat(query("SELECT e.event_id FROM " + EFFECTS + " e LEFT JOIN " + TABLE + " p ON p.consumer = 'c'"
                + " AND p.event_id = e.event_id AND p.expires_at > UTC_TIMESTAMP(6) WHERE p.event_id IS NULL"))
                .as("keys with an effect but no live claim (purged while live?)").isEmpty();
        System.out.printf("purge race: %d purge runs, %d chunks, %d keys purged; %d batches (%d transient"
                + " retries), %d keys delivered%n", purger.runs(), purger.chunks(), purger.purgedKeys(),
                batches.get(), batchRetries.get(), delivered.size());
    }

    @Test
    void aPurgeThatKeepsWaitingOnALockIsRetriedAndThenSaysItWasItsOwnTransaction() throws Exception {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(DB.database().jdbcUrl());
        config.setUsername(DB.database().user());
        config.setPassword(DB.database().password());
        config.setMaximumPoolSize(2);
        config.setConnectionInitSql("SET SESSION innodb_lock_wait_timeout = 1");
        try (HikariDataSource impatient = new HikariDataSource(config)) {
            JdbcDedupStore store = JdbcDedupStore.builder(impatient).table("oncely_purge_locked").maxRetries(2).build()
                    .createSchemaIfMissing();
            execute("TRUNCATE TABLE oncely_purge_locked");
            execute("INSERT INTO oncely_purge_locked (consumer, event_id, processed_at, expires_at)"
                    + " VALUES ('c', 'held', NOW(6), UTC_TIMESTAMP(6) - INTERVAL 1 HOUR)");
            try (Connection holder = pool.getConnection(); Statement st = holder.createStatement()) {
                holder.setAutoCommit(false);
                st.executeQuery("SELECT * FROM oncely_purge_locked WHERE consumer = 'c' AND event_id = 'held'"
                        + " FOR UPDATE").close();

                assertThatThrownBy(() -> store.purgeExpired(100))
                        .isInstanceOf(TransientStoreException.class)
                        .hasMessageContaining("error 1205")
                        .hasMessageContaining("tried 3 times (maxRetries 2)")
                        .hasMessageContaining("nothing for you to roll back")
                        .hasMessageNotContaining("roll your transaction back");
                holder.rollback();
                assertThat(store.purgeExpired(100)).as("once the lock is gone").isEqualTo(1);
            } finally {
                execute("DROP TABLE IF EXISTS oncely_purge_locked");
            }
        }
    }

    /** 30 keys from the latest 3,000 fed: expired rows, purged keys and live duplicates alike. */
    private static List<String> overlappingBatch(int fed) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        int from = Math.max(0, fed - 3_000);
        Set<String> keys = new TreeSet<>();
        while (keys.size() < 30) {
            keys.add(key(from + random.nextInt(Math.max(30, fed - from))));
        }
        return new ArrayList<>(keys);
    }

    /** Adds {@code n} keys whose claims expired an hour ago, after those fed so far; never touches a live claim. */
    private static void feed(AtomicInteger fed, int n) throws SQLException {
        int first = fed.get();
        StringBuilder sql = new StringBuilder("INSERT IGNORE INTO " + TABLE
                + " (consumer, event_id, processed_at, expires_at) VALUES ");
        for (int i = 0; i < n; i++) {
            sql.append(i == 0 ? "" : ", ").append("('c', '").append(key(first + i))
                    .append("', NOW(6) - INTERVAL 2 HOUR, UTC_TIMESTAMP(6) - INTERVAL 1 HOUR)");
        }
        while (true) {
            try {
                execute(sql.toString());
                break;
            } catch (SQLException e) {
                if (e.getErrorCode() != 1213 && e.getErrorCode() != 1205) {
                    throw e;
                }
            }
        }
        fed.addAndGet(n);
    }

    private static String key(int i) {
        return String.format("k-%08d", i);
    }

    private static void recordEffect(ProcessingContext ctx) throws SQLException {
        try (PreparedStatement ps = ctx.unwrap(Connection.class).prepareStatement("INSERT INTO " + EFFECTS
                + " (event_id) VALUES (?)")) {
            ps.setString(1, ctx.key());
            ps.executeUpdate();
        }
    }

    private static TreeSet<String> query(String sql) throws SQLException {
        TreeSet<String> rows = new TreeSet<>();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                rows.add(rs.getString(1));
            }
        }
        return rows;
    }

    private static void execute(String sql) throws SQLException {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }
}
