package dev.oncely.benchmarks;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.BatchHandler;
import dev.oncely.IdempotentHandler;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.spring.EnableIdempotent;
import dev.oncely.spring.Idempotent;
import dev.oncely.spring.SpringConnectionOwner;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntConsumer;
import java.util.function.IntFunction;
import javax.sql.DataSource;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.core.SqlParameterValue;
import org.springframework.jdbc.support.JdbcTransactionManager;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.annotation.EnableTransactionManagement;
import org.springframework.transaction.annotation.Transactional;

/**
 * Spring paths on PostgreSQL, in one run, same pool, interleaved rounds: a {@code @Transactional} method issuing
 * the claim and the business insert by hand through {@code JdbcTemplate} ({@code hand}); the same method with
 * {@code @Idempotent} doing only the business insert ({@code annotation}); the same through a programmatic
 * {@code IdempotentHandler} on a {@code SpringConnectionOwner} store ({@code programmatic}); and a batch of 100
 * through {@code processBatch} with a {@code BatchHandler} writing one {@code batchUpdate} ({@code batch}) against
 * 100 annotated per-record calls ({@code annotation}, per record). Every message is fresh (0% duplicates).
 * {@code hand-exact} is the hand-written method with Oncely's own claim statement word for word (its RETURNING of
 * the claim time read from a ResultSet) instead of the lean {@code INSERT ... DO NOTHING}: it tells the cost of the
 * statement from the cost of Oncely's Java.
 *
 * <p>{@code --variants hand,annotation} measures only those (a variant not run shows - in the tables; without
 * both hand and annotation, only each cell's median).
 *
 * <pre>
 * mvn -q -Pbenchmarks -pl benchmarks -am -DskipTests verify -Dbench.main=dev.oncely.benchmarks.SpringHarness \
 *     -Dbench.args="--threads 1,4,16 --duration 3 --rounds 3"
 * </pre>
 */
public final class SpringHarness {

    static final String CLAIMS = "spring_bench_claims";
    static final String BUSINESS = "spring_bench_business";
    static final int BATCH = 100;
    /**
     * PostgresDialect's single-key claim, word for word (table name aside): copied by hand, as a user would write
     * it, so a change to the dialect's statement must be copied here too.
     */
    static final String EXACT_CLAIM = "INSERT INTO " + CLAIMS + " AS e (consumer, event_id, processed_at, expires_at,"
            + " fingerprint) VALUES (?, ?, now(), now() + (?::bigint * interval '1 millisecond'), ?)"
            + " ON CONFLICT ON CONSTRAINT " + CLAIMS + "_pkey DO NOTHING"
            + " RETURNING CAST(EXTRACT(EPOCH FROM processed_at) * 1000000 AS bigint)";

    private SpringHarness() {
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = BenchArgs.parse(argv, Set.of(), "--threads 1,4,16");
        String url = args.getOrDefault("url", System.getenv().getOrDefault("ONCELY_BENCH_URL",
                "jdbc:postgresql://127.0.0.1:5432/oncely_bench"));
        String user = args.getOrDefault("user", System.getenv().getOrDefault("ONCELY_BENCH_USER", "postgres"));
        int[] threads = Arrays.stream(args.getOrDefault("threads", "1,4,16").split(","))
                .mapToInt(Integer::parseInt).toArray();
        double seconds = Double.parseDouble(args.getOrDefault("duration", "3"));
        int rounds = Integer.parseInt(args.getOrDefault("rounds", "3"));
        double warmup = Double.parseDouble(args.getOrDefault("warmup", "2"));
        System.setProperty("bench.url", url);
        System.setProperty("bench.user", user);
        int maxThreads = Arrays.stream(threads).max().orElse(1);
        System.setProperty("bench.pool", String.valueOf(maxThreads + 2));

        try (AnnotationConfigApplicationContext context = new AnnotationConfigApplicationContext(Config.class)) {
            Listeners listeners = context.getBean(Listeners.class);
            JdbcTemplate jdbc = context.getBean(JdbcTemplate.class);
            AtomicLong ids = new AtomicLong();
            String run = Long.toString(System.currentTimeMillis(), 36);
            Map<String, IntConsumer> variants = new LinkedHashMap<>();
            variants.put("hand", n -> listeners.hand(run + "-" + ids.incrementAndGet()));
            variants.put("hand-exact", n -> listeners.handExact(run + "-" + ids.incrementAndGet()));
            variants.put("annotation", n -> listeners.annotated(run + "-" + ids.incrementAndGet()));
            variants.put("programmatic", n -> listeners.programmatic(run + "-" + ids.incrementAndGet()));
            variants.put("batch", n -> {
                List<String> batch = new ArrayList<>(BATCH);
                for (int i = 0; i < BATCH; i++) {
                    batch.add(run + "-" + ids.incrementAndGet());
                }
                listeners.batch(batch);
            });
            if (args.containsKey("variants")) {
                List<String> wanted = List.of(args.get("variants").split(","));
                if (!variants.keySet().containsAll(wanted)) {
                    throw new IllegalArgumentException("--variants " + args.get("variants") + " names a variant"
                            + " that does not exist; choose from " + String.join(",", variants.keySet()) + ".");
                }
                variants.keySet().retainAll(wanted);
            }
            System.out.printf("Spring harness on %s: threads %s, %d rounds of %.1f s per cell, messages/s%n", url,
                    Arrays.toString(threads), rounds, seconds);
            for (String v : variants.keySet()) {
                measure(variants.get(v), 1, warmup);
            }
            Map<String, List<Double>> results = new LinkedHashMap<>();
            Map<String, List<Double>> cpu = new LinkedHashMap<>();
            List<String> names = new ArrayList<>(variants.keySet());
            for (int round = 1; round <= rounds; round++) {
                for (int t : threads) {
                    // The order rotates per round, so no variant always runs first or right after another one; the
                    // ratios below pair the variants of one round, which were measured seconds apart.
                    for (int i = 0; i < names.size(); i++) {
                        String v = names.get((i + round) % names.size());
                        Measured m = measure(variants.get(v), t, seconds);
                        double rate = m.callsPerSecond() * (v.equals("batch") ? BATCH : 1);
                        results.computeIfAbsent(v + "@" + t, k -> new ArrayList<>()).add(rate);
                        cpu.computeIfAbsent(v + "@" + t, k -> new ArrayList<>()).add(m.cpuMicrosPerCall());
                        System.out.printf("round %d  c%-3d %-13s %,10.0f msg/s  %6.1f us CPU per call%n", round, t, v,
                                rate, m.cpuMicrosPerCall());
                    }
                }
                jdbc.execute("TRUNCATE " + CLAIMS + ", " + BUSINESS);
            }
            System.out.println();
            System.out.println("CPU per call of the calling threads (user + system, ThreadMXBean; a batch call is"
                    + " 100 messages), median over the rounds: the client's own work, which at one thread adds"
                    + " directly to each call's latency.");
            cpu.forEach((cell, us) -> System.out.printf("%-20s %8.1f us%n", cell, median(us)));
            System.out.println();
            if (!variants.keySet().containsAll(List.of("hand", "annotation"))) {
                results.forEach((cell, rates) -> System.out.printf("%-20s %,10.0f msg/s (median)%n", cell, median(rates)));
                return;
            }
            System.out.println("Rates: median over the rounds. Ratios: median of the rounds' paired ratios (each round's"
                    + " variants measured seconds apart), with the lowest and highest round in parentheses; - for a"
                    + " variant not run.");
            System.out.println();
            table(threads, List.of("hand", "annotation", "programmatic", "batch(100)", "annotation/hand",
                    "annotation/programmatic", "batch/annotation"), t -> {
                        List<Double> hand = results.get("hand@" + t);
                        List<Double> ann = results.get("annotation@" + t);
                        List<Double> prog = results.get("programmatic@" + t);
                        List<Double> batch = results.get("batch@" + t);
                        return List.of(rate(hand), rate(ann), rate(prog), rate(batch), pairedRatio(ann, hand, "%.2f"),
                                pairedRatio(ann, prog, "%.2f"), pairedRatio(batch, ann, "%.1f"));
                    });
            if (results.containsKey("hand-exact@" + threads[0])) {
                System.out.println();
                System.out.println("hand-exact: the hand-written method with Oncely's own claim statement (its columns,"
                        + " its RETURNING of the claim time, read through a ResultSet) instead of the lean"
                        + " INSERT ... DO NOTHING:");
                System.out.println();
                table(threads, List.of("hand-exact", "hand-exact/hand", "annotation/hand-exact",
                        "programmatic/hand-exact"), t -> {
                            List<Double> exact = results.get("hand-exact@" + t);
                            return List.of(rate(exact), pairedRatio(exact, results.get("hand@" + t), "%.2f"),
                                    pairedRatio(results.get("annotation@" + t), exact, "%.2f"),
                                    pairedRatio(results.get("programmatic@" + t), exact, "%.2f"));
                        });
            }
        }
    }

    /** A Markdown table with a row per thread count: "threads", then {@code columns}, filled by {@code row}. */
    private static void table(int[] threads, List<String> columns, IntFunction<List<String>> row) {
        System.out.println("| threads | " + String.join(" | ", columns) + " |");
        System.out.println("|---|" + "---|".repeat(columns.size()));
        for (int t : threads) {
            System.out.println("| " + t + " | " + String.join(" | ", row.apply(t)) + " |");
        }
    }

    /** Calls per second, and the calling threads' CPU time (user + system) per call in microseconds. */
    record Measured(double callsPerSecond, double cpuMicrosPerCall) {
    }

    /** Runs {@code op} on {@code threads} threads for {@code seconds}. */
    private static Measured measure(IntConsumer op, int threads, double seconds) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong done = new AtomicLong();
        AtomicLong cpuNanos = new AtomicLong();
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> workers = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            workers.add(pool.submit(() -> {
                start.await();
                long cpuBefore = mx.getCurrentThreadCpuTime();
                while (!stop.get()) {
                    op.accept(0);
                    done.incrementAndGet();
                }
                cpuNanos.addAndGet(mx.getCurrentThreadCpuTime() - cpuBefore);
                return null;
            }));
        }
        long began = System.nanoTime();
        start.countDown();
        Thread.sleep((long) (seconds * 1000));
        stop.set(true);
        for (Future<?> f : workers) {
            f.get(60, TimeUnit.SECONDS);
        }
        double elapsed = (System.nanoTime() - began) / 1e9;
        pool.shutdown();
        return new Measured(done.get() / elapsed, cpuNanos.get() / 1e3 / Math.max(1, done.get()));
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(Double::compare);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    /** The median rate of a variant's rounds, or - if it did not run. */
    private static String rate(List<Double> rates) {
        return rates == null ? "-" : String.format("%,.0f", median(rates));
    }

    /**
     * The median of the rounds' ratios of a to b (round i's a over round i's b), then the lowest and highest of them:
     * the run-to-run spread of the ratio.
     */
    private static String pairedRatio(List<Double> a, List<Double> b, String format) {
        if (a == null || b == null) {
            return "-";
        }
        List<Double> ratios = new ArrayList<>(a.size());
        for (int i = 0; i < a.size(); i++) {
            ratios.add(a.get(i) / b.get(i));
        }
        return String.format(format + " (" + format + "-" + format + ")", median(ratios),
                ratios.stream().mapToDouble(Double::doubleValue).min().orElse(0),
                ratios.stream().mapToDouble(Double::doubleValue).max().orElse(0));
    }

    /** The listener methods, as an application would write them. */
    public static class Listeners {
        private final JdbcTemplate jdbc;
        private final IdempotentHandler<String, Void, RuntimeException> programmatic;
        private final IdempotentHandler<String, Void, RuntimeException> batch;

        public Listeners(JdbcTemplate jdbc, JdbcDedupStore store) {
            this.jdbc = jdbc;
            this.programmatic = IdempotentHandler.<String, Void>builder(store).consumer("bench-programmatic")
                    .key(id -> id).handler((id, ctx) -> {
                        insert(id);
                        return null;
                    }).build();
            BatchHandler<String, Void, RuntimeException> rows = (ids, ctx) -> {
                jdbc.batchUpdate("INSERT INTO " + BUSINESS + " (event_id, amount) VALUES (?, 1)",
                        ids.stream().map(id -> new Object[] {id}).toList());
                return List.of();
            };
            this.batch = IdempotentHandler.<String, Void>builder(store).consumer("bench-batch").key(id -> id)
                    .batchHandler(rows).build();
        }

        private void insert(String id) {
            jdbc.update("INSERT INTO " + BUSINESS + " (event_id, amount) VALUES (?, 1)", id);
        }

        /** The claim and the business row by hand, the same two statements Oncely issues. */
        @Transactional
        public void hand(String id) {
            int claimed = jdbc.update("INSERT INTO " + CLAIMS + " (consumer, event_id, expires_at, fingerprint)"
                    + " VALUES ('bench-hand', ?, NULL, NULL) ON CONFLICT ON CONSTRAINT " + CLAIMS + "_pkey DO NOTHING",
                    id);
            if (claimed == 1) {
                insert(id);
            }
        }

        /**
         * The same, with Oncely's own claim statement: its columns, the claim time returned (RETURNING) and read
         * from a ResultSet, the expiry and fingerprint bound as typed NULLs, as PostgresDialect binds them.
         */
        @Transactional
        public void handExact(String id) {
            Long claimedAt = jdbc.query(EXACT_CLAIM, rs -> rs.next() ? rs.getLong(1) : null, "bench-hand-exact", id,
                    new SqlParameterValue(Types.BIGINT, null), new SqlParameterValue(Types.VARCHAR, null));
            if (claimedAt != null) {
                insert(id);
            }
        }

        @Transactional
        @Idempotent(consumer = "bench-annotation", key = "#p0")
        public void annotated(String id) {
            insert(id);
        }

        @Transactional
        public void programmatic(String id) {
            programmatic.process(id);
        }

        @Transactional
        public void batch(List<String> ids) {
            batch.processBatch(ids);
        }
    }

    @Configuration(proxyBeanMethods = false)
    @EnableTransactionManagement
    @EnableIdempotent
    public static class Config {
        @Bean(destroyMethod = "close")
        public HikariDataSource dataSource() {
            HikariConfig config = new HikariConfig();
            config.setJdbcUrl(System.getProperty("bench.url"));
            config.setUsername(System.getProperty("bench.user"));
            config.setMaximumPoolSize(Integer.parseInt(System.getProperty("bench.pool")));
            return new HikariDataSource(config);
        }

        @Bean
        public JdbcTransactionManager transactionManager(DataSource dataSource) {
            return new JdbcTransactionManager(dataSource);
        }

        @Bean
        public JdbcTemplate jdbcTemplate(DataSource dataSource) {
            return new JdbcTemplate(dataSource);
        }

        @Bean
        public JdbcDedupStore dedupStore(DataSource dataSource, PlatformTransactionManager transactionManager) {
            JdbcDedupStore store = SpringConnectionOwner.storeBuilder(dataSource, transactionManager).table(CLAIMS)
                    .build().createSchemaIfMissing();
            JdbcTemplate jdbc = new JdbcTemplate(dataSource);
            jdbc.execute("CREATE TABLE IF NOT EXISTS " + BUSINESS
                    + " (event_id varchar(255) NOT NULL, amount bigint NOT NULL)");
            jdbc.execute("TRUNCATE " + CLAIMS + ", " + BUSINESS);
            return store;
        }

        @Bean
        public Listeners listeners(JdbcTemplate jdbc, JdbcDedupStore store) {
            return new Listeners(jdbc, store);
        }
    }
}
