package dev.oncely.benchmarks;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.LeasedHandler;
import dev.oncely.ResultCodec;
import dev.oncely.jdbc.JdbcDedupStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
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

/**
 * Lease mode against the in-transaction mode on PostgreSQL (issue 15's target: lease mode with a no-op external call
 * at least 0.45x the in-transaction throughput, "two short commits instead of one"). Four variants:
 * <ol>
 *   <li>{@code tx}: {@link IdempotentHandler} inserting a business row: the claim and the row in one transaction (one
 *       commit);</li>
 *   <li>{@code lease}: {@link LeasedHandler} with a no-op external call: the lease in its own short transaction, then
 *       the completion (two commits);</li>
 *   <li>{@code lease+row}: the same, and the same business row inserted in autocommit by the handler (three
 *       commits: lease mode has no transaction to put it in);</li>
 *   <li>{@code lease-2-steps}: two no-op external calls as recorded steps ("charge", then "receipt"): each step's
 *       record is one more UPDATE (four commits).</li>
 * </ol>
 * Closed loop at each concurrency, every table emptied before each measured run, rounds interleaved (every variant
 * at every concurrency, then again) so that load from elsewhere on the machine hits all variants alike.
 *
 * <p>Flags: {@code --url --user --password --concurrency 1,4,16 --rounds 3 --duration 2 (s per variant, cell and
 * round) --warmup 2 (s per variant, discarded) --results results --keep}.
 */
public final class LeaseHarness {

    private static final String CLAIMS = "bench_lease_claims";
    private static final String ORDERS = "bench_lease_orders";
    private static final List<String> VARIANTS = List.of("tx", "lease", "lease+row", "lease-2-steps");

    private final Map<String, String> args;
    private final HikariDataSource pool;
    private final JdbcDedupStore store;
    private final StringBuilder report = new StringBuilder();
    private final AtomicLong seq = new AtomicLong();

    private LeaseHarness(Map<String, String> args) {
        this.args = args;
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(args.getOrDefault("url", System.getenv().getOrDefault("ONCELY_BENCH_URL",
                "jdbc:postgresql://127.0.0.1:5432/oncely_bench")));
        config.setUsername(args.getOrDefault("user", "postgres"));
        config.setPassword(args.getOrDefault("password", ""));
        int maxConcurrency = concurrencies().stream().mapToInt(Integer::intValue).max().orElse(16);
        config.setMaximumPoolSize(maxConcurrency + 4);
        config.setPoolName("oncely-lease-bench");
        this.pool = new HikariDataSource(config);
        execute("DROP TABLE IF EXISTS " + CLAIMS);
        this.store = JdbcDedupStore.builder(pool).table(CLAIMS).build().createSchemaIfMissing();
        execute("CREATE TABLE IF NOT EXISTS " + ORDERS + " (consumer varchar(100) NOT NULL, event_id varchar(255)"
                + " NOT NULL, amount bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now())");
    }

    public static void main(String[] argv) throws Exception {
        LeaseHarness harness = new LeaseHarness(BenchArgs.parse(argv, Set.of("keep"), "--rounds 3"));
        try {
            harness.run();
        } finally {
            if (!harness.args.containsKey("keep")) {
                harness.execute("DROP TABLE IF EXISTS " + CLAIMS);
                harness.execute("DROP TABLE IF EXISTS " + ORDERS);
            }
            harness.pool.close();
        }
    }

    /** One message's work; returns nothing, throws on failure. */
    @FunctionalInterface
    private interface Work {
        void run() throws Exception;
    }

    private void run() throws Exception {
        int rounds = Integer.parseInt(args.getOrDefault("rounds", "3"));
        double duration = Double.parseDouble(args.getOrDefault("duration", "2"));
        double warmup = Double.parseDouble(args.getOrDefault("warmup", "2"));
        List<Integer> concurrencies = concurrencies();
        line("Oncely lease harness, " + LocalDateTime.now().withNano(0) + ", " + pool.getJdbcUrl());
        line("machine: " + Runtime.getRuntime().availableProcessors() + " cores, java "
                + System.getProperty("java.version") + ", load average at start " + loadAverage());
        line("args: " + args + "; " + rounds + " interleaved rounds of " + duration + " s per variant and cell, "
                + warmup + " s warm-up per variant discarded; every table emptied before each measured run");

        Map<String, Work> variants = variants();
        for (Map.Entry<String, Work> v : variants.entrySet()) {
            reset();
            closedLoop(4, warmup, v.getValue());
        }
        // done[variant][concurrency][round]
        Map<String, Map<Integer, List<Double>>> rates = new LinkedHashMap<>();
        VARIANTS.forEach(v -> rates.put(v, new LinkedHashMap<>()));
        for (int round = 1; round <= rounds; round++) {
            for (int c : concurrencies) {
                for (String v : VARIANTS) {
                    reset();
                    long n = closedLoop(c, duration, variants.get(v));
                    double rate = n / duration;
                    rates.get(v).computeIfAbsent(c, k -> new ArrayList<>()).add(rate);
                    System.err.printf(Locale.ROOT, "  round %d, concurrency %d, %s: %,.0f msg/s%n", round, c, v,
                            rate);
                }
            }
        }
        line("");
        line("| concurrency | variant | msg/s | ratio to tx | ratio to tx in each round |");
        line("|---|---|---|---|---|");
        for (int c : concurrencies) {
            List<Double> tx = rates.get("tx").get(c);
            for (String v : VARIANTS) {
                List<Double> r = rates.get(v).get(c);
                line(String.format(Locale.ROOT, "| %d | %s | %,.0f | %s | %s |", c, v, mean(r),
                        v.equals("tx") ? "1" : String.format(Locale.ROOT, "%.2f", mean(r) / mean(tx)),
                        v.equals("tx") ? "" : perRound(r, tx)));
            }
        }
        line("");
        line("load average at end " + loadAverage());
        writeReport();
    }

    private Map<String, Work> variants() {
        IdempotentHandler<String, Void, ?> tx = IdempotentHandler.<String, Void>builder(store)
                .consumer("bench-tx").key(k -> k)
                .handler((key, ctx) -> {
                    insertOrder(ctx.unwrap(Connection.class), "bench-tx", key);
                    return null;
                }).build();
        LeasedHandler<String, Void, ?> lease = LeasedHandler.<String, Void>builder(store)
                .consumer("bench-lease").key(k -> k)
                .handler((key, run) -> {
                    noOpExternalCall(run.downstreamKey("charge"));
                    return null;
                }).build();
        LeasedHandler<String, Void, ?> leaseAndRow = LeasedHandler.<String, Void>builder(store)
                .consumer("bench-lease-row").key(k -> k)
                .handler((key, run) -> {
                    noOpExternalCall(run.downstreamKey("charge"));
                    try (Connection c = pool.getConnection()) {
                        insertOrder(c, "bench-lease-row", key);
                    }
                    return null;
                }).build();
        LeasedHandler<String, Void, ?> twoSteps = LeasedHandler.<String, Void>builder(store)
                .consumer("bench-lease-steps").key(k -> k)
                .handler((key, run) -> {
                    String charge = run.step("charge", ResultCodec.utf8(),
                            () -> noOpExternalCall(run.downstreamKey("charge")));
                    run.step("receipt", () -> noOpExternalCall(run.downstreamKey("receipt") + charge));
                    return null;
                }).build();
        Map<String, Work> variants = new LinkedHashMap<>();
        variants.put("tx", () -> tx.process("t-" + seq.incrementAndGet()));
        variants.put("lease", () -> lease.process("l-" + seq.incrementAndGet()));
        variants.put("lease+row", () -> leaseAndRow.process("r-" + seq.incrementAndGet()));
        variants.put("lease-2-steps", () -> twoSteps.process("s-" + seq.incrementAndGet()));
        return variants;
    }

    /** The external call of the benchmark: nothing, so that what is measured is Oncely's own cost. */
    private static String noOpExternalCall(String idempotencyKey) {
        return idempotencyKey.substring(0, 8);
    }

    private static void insertOrder(Connection c, String consumer, String key) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + ORDERS
                + " (consumer, event_id, amount) VALUES (?, ?, ?)")) {
            ps.setString(1, consumer);
            ps.setString(2, key);
            ps.setLong(3, key.length());
            ps.executeUpdate();
        }
    }

    private long closedLoop(int threads, double seconds, Work work) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        long end = System.nanoTime() + (long) (seconds * 1e9);
        try {
            List<Future<Long>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                futures.add(pool.submit(() -> {
                    long n = 0;
                    while (System.nanoTime() < end) {
                        work.run();
                        n++;
                    }
                    return n;
                }));
            }
            long total = 0;
            for (Future<Long> f : futures) {
                total += f.get();
            }
            return total;
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    private void reset() {
        execute("TRUNCATE " + CLAIMS);
        execute("TRUNCATE " + ORDERS);
    }

    private List<Integer> concurrencies() {
        List<Integer> list = new ArrayList<>();
        for (String s : args.getOrDefault("concurrency", "1,4,16").split(",")) {
            list.add(Integer.parseInt(s.trim()));
        }
        return list;
    }

    private static double mean(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).average().orElse(0);
    }

    private static String perRound(List<Double> a, List<Double> b) {
        List<String> ratios = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            ratios.add(String.format(Locale.ROOT, "%.2f", a.get(i) / b.get(i)));
        }
        return String.join(", ", ratios);
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (IOException e) {
            return "unknown";
        }
    }

    private void execute(String sql) {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + " failed: " + e.getMessage(), e);
        }
    }

    private void line(String text) {
        System.out.println(text);
        report.append(text).append('\n');
    }

    private void writeReport() throws IOException {
        Path dir = Path.of(args.getOrDefault("results", "results"));
        Files.createDirectories(dir);
        Path file = dir.resolve("lease-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"))
                + ".md");
        Files.writeString(file, report.toString(), StandardCharsets.UTF_8);
        System.out.println("report: " + file.toAbsolutePath());
    }
}
