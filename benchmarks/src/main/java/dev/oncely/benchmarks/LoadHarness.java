package dev.oncely.benchmarks;

import com.zaxxer.hikari.HikariConfig;
import dev.oncely.jdbc.JdbcTransactions;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import dev.oncely.RetentionPurger;
import dev.oncely.jdbc.JdbcDedupStore;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;

/**
 * Oncely's load harness against a local PostgreSQL. Two parts, run by one command (docs/retention.md):
 *
 * <ol>
 *   <li>throughput: per-message {@code process()} against {@code processBatch()} of 100, closed loop, same pool,
 *       same business table, warm-up discarded;</li>
 *   <li>purge: N expired keys (10 million by default), then the latency of per-message claims at a fixed rate,
 *       without the {@link RetentionPurger} and with it running, for each chunk size asked for. With
 *       {@code --layout partitioned} the store is time-partitioned (daily partitions, 30-minute overlap) and the
 *       expired keys are spread over {@code --partitions} past days; the purger then drops whole partitions, one
 *       per chunk, with the pause between them.</li>
 * </ol>
 *
 * Flags: {@code --url --user --password --only all|throughput|purge --threads 8 --batch 100 --warmup 5
 * --duration 20 --keys 10000000 --rate 400 --latency-threads 4 --rounds 3
 * --purge 1000:0,1000:50,500:50 (chunk size:pause ms, one attempt each) --layout plain|partitioned
 * --partitions 10 --results results --keep}.
 */
public final class LoadHarness {

    private static final String STORE_TABLE = "bench_claims";
    private static final String PARTITIONED_TABLE = "bench_part_claims";
    private static final String BUSINESS_TABLE = "bench_orders";

    private final Map<String, String> args;
    private final StringBuilder report = new StringBuilder();
    private final HikariDataSource pool;
    private final JdbcDedupStore store;

    private LoadHarness(Map<String, String> args) {
        this.args = args;
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(arg("url", System.getenv().getOrDefault("ONCELY_BENCH_URL",
                "jdbc:postgresql://127.0.0.1:5432/oncely_bench")));
        config.setUsername(arg("user", "postgres"));
        config.setPassword(arg("password", ""));
        config.setMaximumPoolSize(intArg("threads", 8) + 4);
        config.setPoolName("oncely-bench");
        try {
            this.pool = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new IllegalStateException("Cannot connect to " + config.getJdbcUrl() + ": " + e.getMessage()
                    + ". Start PostgreSQL and create the database (createdb -h 127.0.0.1 -U postgres oncely_bench),"
                    + " or pass --url jdbc:postgresql://host:port/db.", e);
        }
        this.store = JdbcDedupStore.builder(pool).table(STORE_TABLE).build().createSchemaIfMissing();
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = BenchArgs.parse(argv, Set.of("keep"), "--keys 1000000");
        LoadHarness harness = new LoadHarness(args);
        try {
            harness.run();
        } finally {
            harness.pool.close();
        }
    }

    private void run() throws Exception {
        String only = arg("only", "all");
        line("Oncely load harness, " + LocalDateTime.now().withNano(0) + ", " + pool.getJdbcUrl());
        line("machine: " + Runtime.getRuntime().availableProcessors() + " cores, java "
                + System.getProperty("java.version") + ", " + serverInfo());
        line("data directory file system: " + dataFileSystem());
        line("args: " + args);
        execute("CREATE TABLE IF NOT EXISTS " + BUSINESS_TABLE + " (consumer varchar(100) NOT NULL,"
                + " event_id varchar(255) NOT NULL, amount bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now())");
        try {
            if (only.equals("all") || only.equals("throughput")) {
                throughput();
            }
            if (only.equals("all") || only.equals("purge")) {
                purge();
            }
        } finally {
            if (!args.containsKey("keep")) {
                execute("DROP TABLE IF EXISTS " + STORE_TABLE);
                execute("DROP TABLE IF EXISTS " + PARTITIONED_TABLE + " CASCADE");
                execute("DROP TABLE IF EXISTS " + PARTITIONED_TABLE + "_partitions");
                execute("DROP TABLE IF EXISTS " + BUSINESS_TABLE);
                line("dropped " + STORE_TABLE + " and " + BUSINESS_TABLE + " (pass --keep to keep them)");
            }
            writeReport();
        }
    }

    // ------------------------------------------------------------------------------------------ throughput

    private void throughput() throws Exception {
        int threads = intArg("threads", 8);
        int batchSize = intArg("batch", 100);
        int warmup = intArg("warmup", 5);
        int duration = intArg("duration", 20);
        line("");
        int rounds = intArg("rounds", 3);
        line("== Throughput: " + threads + " threads, closed loop, warm-up " + warmup + " s per mode discarded, then "
                + rounds + " alternating rounds of " + duration + " s per mode; the handler inserts one row per"
                + " message into " + BUSINESS_TABLE);

        IdempotentHandler<String, Void, ?> perRow = rowWriting(IdempotentHandler.<String, Void>builder(store)
                .consumer("bench"));

        AtomicLong seq = new AtomicLong();
        Map<String, Work> modes = new LinkedHashMap<>();
        modes.put("per-message process()", () -> {
            String key = "m-" + seq.incrementAndGet();
            perRow.process(key);
            return 1;
        });
        modes.put("processBatch(" + batchSize + ")", () -> {
            List<String> keys = new ArrayList<>(batchSize);
            for (int i = 0; i < batchSize; i++) {
                keys.add("b-" + seq.incrementAndGet());
            }
            List<Outcome<Void>> outcomes = perRow.processBatch(keys);
            return outcomes.size();
        });

        // The same work with the business rows written as one JDBC batch in the caller's transaction.
        ThreadLocal<List<String>> pendingRows = ThreadLocal.withInitial(ArrayList::new);
        IdempotentHandler<String, Void, ?> collecting = IdempotentHandler.<String, Void>builder(store)
                .consumer("bench").key(k -> k).handler((key, ctx) -> {
                    pendingRows.get().add(key);
                    return null;
                }).build();
        modes.put("processBatchIn(" + batchSize + ") + JDBC-batched rows", () -> {
                    List<String> keys = new ArrayList<>(batchSize);
                    for (int i = 0; i < batchSize; i++) {
                        keys.add("c-" + seq.incrementAndGet());
                    }
                    List<String> rows = pendingRows.get();
                    rows.clear();
                    try (Connection c = pool.getConnection()) {
                        c.setAutoCommit(false);
                        try {
                            collecting.processBatchIn(dev.oncely.jdbc.JdbcTransactions.of(c), keys);
                            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + BUSINESS_TABLE
                                    + " (consumer, event_id, amount) VALUES (?, ?, ?)")) {
                                for (String key : rows) {
                                    ps.setString(1, "bench");
                                    ps.setString(2, key);
                                    ps.setLong(3, key.length());
                                    ps.addBatch();
                                }
                                ps.executeBatch();
                            }
                            c.commit();
                        } catch (Exception e) {
                            c.rollback();
                            throw e;
                        } finally {
                            c.setAutoCommit(true);
                        }
                    }
                    return keys.size();
                });

        // Warm every mode up, then alternate measured rounds so load from elsewhere on the machine hits all alike.
        for (Work work : modes.values()) {
            resetTables();
            closedLoop(threads, warmup, work);
        }
        Map<String, Long> done = new LinkedHashMap<>();
        for (int round = 1; round <= rounds; round++) {
            for (Map.Entry<String, Work> mode : modes.entrySet()) {
                resetTables();
                done.merge(mode.getKey(), closedLoop(threads, duration, mode.getValue()), Long::sum);
            }
        }
        List<Double> rates = new ArrayList<>();
        for (Map.Entry<String, Long> e : done.entrySet()) {
            double perSecond = e.getValue() / (double) (rounds * duration);
            rates.add(perSecond);
            line(String.format(Locale.ROOT, "%-45s %,10.0f msg/s  (%,d messages in %d x %d s)", e.getKey(),
                    perSecond, e.getValue(), rounds, duration));
        }
        double single = rates.get(0);
        double batch = rates.get(1);
        double batchIn = rates.get(2);
        long claims = count("SELECT count(*) FROM " + STORE_TABLE);
        long rows = count("SELECT count(*) FROM " + BUSINESS_TABLE);
        line(String.format(Locale.ROOT, "RESULT per-message %.0f msg/s | processBatch(%d) %.0f msg/s, ratio %.1fx"
                + " | processBatchIn(%d)+JDBC batch %.0f msg/s, ratio %.1fx", single, batchSize, batch,
                batch / single, batchSize, batchIn, batchIn / single));
        line("check: the last mode left " + claims + " claims and " + rows + " business rows (must be equal)");
        if (claims != rows) {
            throw new IllegalStateException("claims and business rows differ: " + claims + " vs " + rows);
        }
    }

    interface Work {
        int run() throws Exception;
    }

    private void resetTables() throws SQLException {
        execute("TRUNCATE TABLE " + STORE_TABLE);
        execute("TRUNCATE TABLE " + BUSINESS_TABLE);
    }

    private static long closedLoop(int threads, int seconds, Work work) throws Exception {
        ExecutorService executor = Executors.newFixedThreadPool(threads);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            List<Future<Long>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                futures.add(executor.submit(() -> {
                    long done = 0;
                    while (System.nanoTime() < deadline) {
                        done += work.run();
                    }
                    return done;
                }));
            }
            long total = 0;
            for (Future<Long> f : futures) {
                total += f.get();
            }
            return total;
        } finally {
            executor.shutdownNow();
        }
    }

    // ------------------------------------------------------------------------------------------ purge

    private void purge() throws Exception {
        boolean partitioned = arg("layout", "plain").equals("partitioned");
        JdbcDedupStore store = partitioned ? partitionedStore() : this.store;
        String table = partitioned ? PARTITIONED_TABLE : STORE_TABLE;
        long keys = longArg("keys", 10_000_000L);
        int rate = intArg("rate", 400);
        int threads = intArg("latency-threads", 4);
        int warmup = intArg("warmup", 5);
        int duration = intArg("duration", 20);
        int rounds = intArg("rounds", 3);
        line("");
        line(String.format(Locale.ROOT, "== Purge (%s): %,d expired keys; foreground: per-message process() at %d msg/s"
                + " from %d threads, latency from the intended start (HdrHistogram), warm-up %d s, then per purge setting %d rounds of"
                + " %d s without and %d s with the purge", store.describe(), keys, rate, threads, warmup, rounds,
                duration, duration));

        execute("TRUNCATE TABLE " + BUSINESS_TABLE);
        long t0 = System.nanoTime();
        if (partitioned) {
            loadExpiredPartitions(keys, intArg("partitions", 10));
        } else {
            loadExpired(keys);
        }
        try {
            // Flush the bulk load's dirty pages now, so its checkpoint does not land inside the measured windows.
            execute("CHECKPOINT");
        } catch (SQLException e) {
            line("CHECKPOINT not allowed for this user (" + e.getMessage().strip() + "); the first windows may"
                    + " include the bulk load's checkpoint");
        }
        line(String.format(Locale.ROOT, "loaded %,d expired keys in %.1f s (table %s)", count("SELECT count(*) FROM "
                + table + " WHERE expires_at <= now()"), (System.nanoTime() - t0) / 1e9,
                text("SELECT pg_size_pretty(sum(pg_total_relation_size(relid))) FROM pg_partition_tree('" + table
                        + "')")));

        measurePurge(store, table, keys, rate, threads, warmup, duration, rounds);
    }

    private void loadExpired(long keys) throws SQLException {
        execute("TRUNCATE TABLE " + STORE_TABLE);
        // Load without indexes, then build them: much faster than maintaining them row by row.
        execute("ALTER TABLE " + STORE_TABLE + " DROP CONSTRAINT " + STORE_TABLE + "_pkey");
        execute("DROP INDEX IF EXISTS " + STORE_TABLE + "_expires_at_idx");
        execute("INSERT INTO " + STORE_TABLE + " (consumer, event_id, processed_at, expires_at)"
                + " SELECT 'old-' || (g % 8), 'evt-' || g, now() - interval '30 days' + g * interval '100 microseconds',"
                + " now() - interval '23 days' + g * interval '100 microseconds'"
                + " FROM generate_series(1, " + keys + ") g");
        execute("SET maintenance_work_mem = '512MB'; ALTER TABLE " + STORE_TABLE + " ADD CONSTRAINT " + STORE_TABLE
                + "_pkey PRIMARY KEY (consumer, event_id)");
        execute("SET maintenance_work_mem = '512MB'; CREATE INDEX " + STORE_TABLE + "_expires_at_idx ON "
                + STORE_TABLE + " (expires_at) WHERE expires_at IS NOT NULL");
        execute("VACUUM (ANALYZE) " + STORE_TABLE);
    }

    /** A fresh time-partitioned store: daily partitions, 30-minute overlap. */
    private JdbcDedupStore partitionedStore() throws SQLException {
        execute("DROP TABLE IF EXISTS " + PARTITIONED_TABLE + " CASCADE");
        execute("DROP TABLE IF EXISTS " + PARTITIONED_TABLE + "_partitions");
        return JdbcDedupStore.builder(pool).table(PARTITIONED_TABLE)
                .timePartitioned(Duration.ofDays(1), Duration.ofMinutes(30)).build().createSchemaIfMissing();
    }

    /**
     * History as a time-partitioned store would have it after running for a while: one partition per past day
     * (ending 8 days ago, keys kept 7 days, so all expired and every partition may be dropped), each loaded
     * without indexes, indexed, then attached and listed like the ones maintenance creates.
     */
    private void loadExpiredPartitions(long keys, int partitions) throws SQLException {
        long perPartition = keys / partitions;
        for (int i = 0; i < partitions; i++) {
            int daysAgo = 8 + partitions - i;
            String bucket = "((date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') - interval '"
                    + daysAgo + " days')";
            String day = text("SELECT to_char(" + bucket + " AT TIME ZONE 'UTC', 'YYYYMMDD')");
            String name = PARTITIONED_TABLE + "_p" + day + "_000000";
            execute("DROP TABLE IF EXISTS " + name);
            execute("CREATE TABLE " + name + " (LIKE " + PARTITIONED_TABLE + " INCLUDING DEFAULTS)");
            execute("INSERT INTO " + name + " (consumer, event_id, bucket, processed_at, expires_at)"
                    + " SELECT 'old-' || (g % 8), 'evt-' || " + i + " || '-' || g, " + bucket + ", " + bucket
                    + " + g * (interval '1 day' / " + perPartition + "), " + bucket + " + g * (interval '1 day' / "
                    + perPartition + ") + interval '7 days' FROM generate_series(1, " + perPartition + ") g");
            execute("SET maintenance_work_mem = '512MB'; ALTER TABLE " + name + " ADD CONSTRAINT " + name
                    + "_pkey PRIMARY KEY (consumer, event_id, bucket)");
            execute("SET maintenance_work_mem = '512MB'; CREATE INDEX " + name + "_expires_at_idx ON " + name
                    + " (expires_at)");
            execute("ALTER TABLE " + PARTITIONED_TABLE + " ATTACH PARTITION " + name + " FOR VALUES IN ("
                    + bucket + ")");
            execute("INSERT INTO " + PARTITIONED_TABLE + "_partitions (bucket, ends_at, accepts_until,"
                    + " partition_name) VALUES (" + bucket + ", " + bucket + " + interval '1 day', " + bucket
                    + " + interval '1 day 30 minutes', '" + name + "')");
            execute("VACUUM (ANALYZE) " + name);
        }
    }

    private void measurePurge(JdbcDedupStore store, String table, long keys, int rate, int threads, int warmup,
                              int duration, int rounds) throws Exception {
        AtomicLong seq = new AtomicLong();
        IdempotentHandler<String, Void, ?> live = rowWriting(IdempotentHandler.<String, Void>builder(store)
                .consumer("live").retention(Duration.ofDays(7)));
        Work one = () -> {
            if (!live.process("live-" + seq.incrementAndGet()).isProcessed()) {
                throw new IllegalStateException("a fresh key came back as a duplicate");
            }
            return 1;
        };

        openLoop(rate, threads, warmup, one);
        List<String> results = new ArrayList<>();
        for (String config : arg("purge", "1000:0,1000:50,500:50").split(",")) {
            String[] parts = config.strip().split(":");
            int chunk = Integer.parseInt(parts[0]);
            long pauseMs = parts.length > 1 ? Long.parseLong(parts[1]) : 0;
            // Alternate windows without and with the purge, so load from elsewhere on the machine hits both alike.
            Histogram without = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
            Histogram with = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
            long purged = 0;
            long purgeNanos = 0;
            long chunkCount = 0;
            long failed = 0;
            for (int round = 1; round <= rounds; round++) {
                without.add(openLoop(rate, threads, duration, one));
                RetentionPurger purger = RetentionPurger.builder(store).chunkSize(chunk)
                        .pauseBetweenChunks(Duration.ofMillis(pauseMs)).interval(Duration.ofSeconds(1))
                        .threadName("bench-purger").build();
                try (purger) {
                    long start = System.nanoTime();
                    purger.start();
                    with.add(openLoop(rate, threads, duration, one));
                    purgeNanos += System.nanoTime() - start;
                }
                purged += purger.purgedKeys();
                chunkCount += purger.chunks();
                failed += purger.failedRuns();
            }
            long left = count("SELECT count(*) FROM " + table + " WHERE expires_at <= now()");
            String name = "chunk " + chunk + ", pause " + pauseMs + " ms";
            line(describe("without purge (" + name + " rounds)", without));
            line(describe("with purge, " + name, with));
            line(String.format(Locale.ROOT, "   purged %,d keys (%,.0f keys/s while running, %d chunks, %d failed runs),"
                    + " %,d expired keys left%s", purged, purged / (purgeNanos / 1e9), chunkCount, failed, left,
                    left == 0 ? ": THE PURGE RAN OUT OF KEYS, the last window is partly without purge" : ""));
            results.add(String.format(Locale.ROOT, "RESULT %s keys=%,d chunk=%d pause=%dms: p50 %.2f -> %.2f ms,"
                    + " p99 %.2f -> %.2f ms, p99 ratio %.2f, p99.9 %.2f -> %.2f ms, max %.2f -> %.2f ms"
                    + " (%,d keys purged, %,.0f keys/s)", table, keys, chunk, pauseMs, ms(without, 50), ms(with, 50),
                    ms(without, 99), ms(with, 99), ms(with, 99) / ms(without, 99), ms(without, 99.9), ms(with, 99.9),
                    without.getMaxValue() / 1e6, with.getMaxValue() / 1e6, purged, purged / (purgeNanos / 1e9)));
        }
        for (String r : results) {
            line(r);
        }
    }

    /**
     * Runs {@code work} at a fixed total rate from {@code threads} threads and records each call's latency from
     * its intended start, so a stall also counts against the calls queued behind it (no coordinated omission).
     */
    private static Histogram openLoop(int rate, int threads, int seconds, Work work) throws Exception {
        ExecutorService executor = Executors.newFixedThreadPool(threads);
        try {
            long intervalNanos = TimeUnit.SECONDS.toNanos(1) * threads / rate;
            long start = System.nanoTime();
            long end = start + TimeUnit.SECONDS.toNanos(seconds);
            List<Future<Histogram>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long offset = intervalNanos * t / threads;
                futures.add(executor.submit(() -> {
                    Histogram h = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
                    for (long intended = start + offset; intended < end; intended += intervalNanos) {
                        long wait;
                        while ((wait = intended - System.nanoTime()) > 0) {
                            LockSupport.parkNanos(wait);
                        }
                        work.run();
                        h.recordValue(Math.min(System.nanoTime() - intended, h.getHighestTrackableValue()));
                    }
                    return h;
                }));
            }
            Histogram total = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
            for (Future<Histogram> f : futures) {
                total.add(f.get());
            }
            return total;
        } finally {
            executor.shutdownNow();
        }
    }

    private static double ms(Histogram h, double percentile) {
        return h.getValueAtPercentile(percentile) / 1e6;
    }

    private static String describe(String name, Histogram h) {
        return String.format(Locale.ROOT, "%-40s n=%,d p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms,"
                + " max %.2f ms", name, h.getTotalCount(), ms(h, 50), ms(h, 90), ms(h, 99), ms(h, 99.9),
                h.getMaxValue() / 1e6);
    }

    // ------------------------------------------------------------------------------------------ plumbing

    private void line(String text) {
        System.out.println(text);
        System.out.flush();
        report.append(text).append('\n');
    }

    private void writeReport() throws IOException {
        Path dir = Paths.get(arg("results", "results"));
        Files.createDirectories(dir);
        Path file = dir.resolve("load-harness-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern(
                "yyyyMMdd-HHmmss")) + ".txt");
        Files.writeString(file, report.toString(), StandardCharsets.UTF_8);
        PrintStream out = System.out;
        out.println("report written to " + file.toAbsolutePath());
    }

    /**
     * The mount options of the file system holding the database's data directory, when the database runs on this
     * machine: ext4's online {@code discard} makes every large file deletion (a dropped partition) stall fsyncs.
     */
    private String dataFileSystem() {
        try {
            String dataDir = text("SHOW data_directory");
            String best = null;
            for (String mount : Files.readAllLines(Paths.get("/proc/mounts"))) {
                String[] f = mount.split(" ");
                if (f.length > 3 && (dataDir.equals(f[1]) || dataDir.startsWith(f[1].endsWith("/") ? f[1] : f[1] + "/"))
                        && (best == null || f[1].length() > best.split(" ")[1].length())) {
                    best = mount;
                }
            }
            return best == null ? "unknown (" + dataDir + " not under a local mount)" : dataDir + " on " + best;
        } catch (SQLException | IOException | RuntimeException e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }

    private String serverInfo() throws SQLException {
        return text("SELECT 'PostgreSQL ' || current_setting('server_version') || ', shared_buffers '"
                + " || current_setting('shared_buffers') || ', synchronous_commit ' || current_setting('synchronous_commit')"
                + " || ', autovacuum ' || current_setting('autovacuum')");
    }

    /** A handler keyed by the message itself that writes one business row per message in the claim's transaction. */
    private static IdempotentHandler<String, Void, ?> rowWriting(IdempotentHandler.Builder<String, Void, ?> builder) {
        return builder.key(k -> k).handler((key, ctx) -> {
            try (PreparedStatement ps = ctx.unwrap(Connection.class).prepareStatement("INSERT INTO " + BUSINESS_TABLE
                    + " (consumer, event_id, amount) VALUES (?, ?, ?)")) {
                ps.setString(1, ctx.consumer());
                ps.setString(2, key);
                ps.setLong(3, key.length());
                ps.executeUpdate();
            }
            return null;
        }).build();
    }

    private void execute(String sql) throws SQLException {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private long count(String sql) throws SQLException {
        return Long.parseLong(text(sql));
    }

    private String text(String sql) throws SQLException {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private String arg(String name, String fallback) {
        return args.getOrDefault(name, fallback);
    }

    private int intArg(String name, int fallback) {
        return Integer.parseInt(arg(name, Integer.toString(fallback)));
    }

    private long longArg(String name, long fallback) {
        return Long.parseLong(arg(name, Long.toString(fallback)).replace("_", ""));
    }

}
