package dev.oncely.benchmarks;

import com.zaxxer.hikari.HikariConfig;
import dev.oncely.jdbc.JdbcTransactions;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.jdbc.JdbcDedupStore;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.sql.Types;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.HdrHistogram.Histogram;
import org.apache.camel.processor.idempotent.jdbc.JdbcMessageIdRepository;
import org.springframework.integration.jdbc.metadata.JdbcMetadataStore;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Oncely against the physical limit (the same SQL by hand) and against its peers (Apache Camel's
 * {@code JdbcMessageIdRepository}, Spring Integration's {@code JdbcMetadataStore}), side by side in one run on
 * one HikariCP pool and one business table. See docs/benchmarks.md for the command, the variants and the figures.
 *
 * <p>For every concurrency and duplicate rate: a short warm-up per variant (discarded), then several rounds in
 * which every variant runs in turn (the order rotates per round), so noise from elsewhere on the machine hits all
 * variants alike. Then a concurrent-duplicate run per variant (each key delivered from several threads at the
 * same instant: business rows beyond one per key are leaks, exceptions reaching the caller are errors), and the
 * table-growth run (Oncely per message on tables preloaded with 0, 1M and 10M keys, also interleaved).
 *
 * <p>Flags: {@code --url --user --password --quick --concurrency 1,4,16 --dups 0,10,100 --batches 1,10,100,1000
 * --duration 3 (measured seconds per variant and cell) --rounds 3 --warmup 0.5 (s per variant and cell)
 * --jit-warmup 2 (s per variant, half at 10% and half at 100% duplicates) --seeds 10000 --dup-threads 8
 * --dup-keys 200 --growth 0,1000000,10000000 --growth-threads 4 --growth-duration 6
 * --only all|throughput|correctness|growth --results results --keep}.
 */
public final class PeerHarness {

    static final String BUSINESS = "peer_orders";
    /** Each calling thread's own CPU time, for {@link Cell#cpuNanos}. */
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    static final String ONCELY_TABLE = "peer_oncely";
    static final String HAND_TABLE = "peer_hand";
    static final String CAMEL_TABLE = "CAMEL_MESSAGEPROCESSED";
    static final String SI_TABLE = "INT_METADATA_STORE";
    static final String BUSINESS_INSERT = "INSERT INTO " + BUSINESS + " (consumer, event_id, amount) VALUES (?, ?, ?)";
    static final String BUSINESS_INSERT_ALL = "INSERT INTO " + BUSINESS + " (consumer, event_id, amount)"
            + " SELECT ?, k, length(k) FROM unnest(?::varchar[]) AS k";

    private final Map<String, String> args;
    private final HikariDataSource pool;
    private final StringBuilder report = new StringBuilder();
    private final boolean quick;
    private final int seeds;

    /** One way of processing messages; {@link #run} processes one call's keys and returns how many messages. */
    abstract static class Variant {
        final String id;
        final String label;
        final int batch;

        Variant(String id, String label, int batch) {
            this.id = id;
            this.label = label;
            this.batch = batch;
        }

        /** SQL inserting the seed keys 's-1'..'s-n' as already processed, or null if nothing is deduplicated. */
        abstract String seedSql();

        abstract int run(List<String> keys) throws Exception;
    }

    /**
     * One variant's measurement in one cell. {@code cpuNanos}: the CPU time (user + system) of the threads that made
     * the calls, over the measured window, the harness's key generation included.
     */
    record Cell(long messages, long calls, long errors, long nanos, Histogram latency, long cpuNanos) {
        double perSecond() {
            return nanos == 0 ? 0 : messages * 1e9 / nanos;
        }

        /** The calling threads' CPU per call, in microseconds. */
        double cpuMicrosPerCall() {
            return calls == 0 ? 0 : cpuNanos / 1e3 / calls;
        }
    }

    record Correctness(int keys, int threads, long leaks, long errors, String firstError) {
    }

    /** A process death after a variant's claim step and before its business commit, as the database sees it. */
    interface Crash {
        void afterClaim(String key) throws Exception;
    }

    record CrashResult(int keys, long processed, long lost) {
    }

    private PeerHarness(Map<String, String> args) {
        this.args = args;
        String url = arg("url", System.getenv().getOrDefault("ONCELY_BENCH_URL",
                "jdbc:postgresql://127.0.0.1:5432/oncely_bench"));
        this.mariadb = url.startsWith("jdbc:mariadb:") || url.startsWith("jdbc:mysql:");
        this.quick = args.containsKey("quick");
        this.seeds = intArg("seeds", 10_000);
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(arg("user", mariadb ? "root" : "postgres"));
        config.setPassword(arg("password", ""));
        int maxThreads = Math.max(ints("concurrency", "1,4,16").stream().max(Integer::compare).orElse(16),
                Math.max(intArg("dup-threads", 8), intArg("growth-threads", 4)));
        config.setMaximumPoolSize(maxThreads + 2);
        config.setMinimumIdle(maxThreads + 2);
        config.setPoolName("oncely-peers");
        try {
            this.pool = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new IllegalStateException("Cannot connect to " + config.getJdbcUrl() + ": " + e.getMessage()
                    + ". Start PostgreSQL and create the database (createdb -h 127.0.0.1 -U postgres oncely_bench),"
                    + " or pass --url jdbc:postgresql://host:port/db.", e);
        }
    }

    public static void main(String[] argv) throws Exception {
        PeerHarness harness = new PeerHarness(BenchArgs.parse(argv, Set.of("keep", "quick"), "--duration 3"));
        try {
            harness.run();
        } finally {
            harness.pool.close();
        }
    }

    // ------------------------------------------------------------------------------------------------ setup

    /**
     * MariaDB (a {@code jdbc:mariadb:} URL): the same variants with MariaDB's SQL where PostgreSQL's has no
     * equivalent: {@code INSERT IGNORE} for the hand-written claim, a multi-row {@code INSERT IGNORE ... RETURNING}
     * then a multi-row business {@code INSERT} for set-based SQL (MariaDB has no data-modifying CTE, so it takes
     * two statements), the sequence engine for seeds, Spring Integration's MySQL schema.
     */
    private final boolean mariadb;
    private final List<Variant> perMessage = new ArrayList<>();
    private final Map<String, Crash> crashes = new LinkedHashMap<>();
    private final Map<String, CrashResult> crashResults = new LinkedHashMap<>();
    private final List<Variant> batched = new ArrayList<>();
    private JdbcDedupStore oncelyStore;

    private void run() throws Exception {
        String only = arg("only", "all");
        line("# Oncely peer comparison, " + LocalDateTime.now().withNano(0));
        line("");
        line("- database: " + pool.getJdbcUrl() + ", " + serverInfo());
        line("- machine: " + Runtime.getRuntime().availableProcessors() + " cores, java "
                + System.getProperty("java.version") + ", load average at start " + loadAverage());
        line("- args: " + args + (quick ? " (quick)" : ""));
        createTables();
        buildVariants();
        keepOnly(arg("variants", "all"));
        Map<String, Map<String, Cell>> results = new LinkedHashMap<>();
        Map<String, Correctness> correctness = new LinkedHashMap<>();
        Map<Long, Cell> growth = new LinkedHashMap<>();
        try {
            if (only.equals("all") || only.equals("throughput")) {
                throughput(results);
            }
            if (only.equals("all") || only.equals("correctness")) {
                correctness(correctness);
            }
            if (only.equals("all") || only.equals("growth")) {
                growth(growth);
            }
            line("");
            line("- load average at end " + loadAverage());
            summary(results, correctness, growth);
        } finally {
            if (!args.containsKey("keep")) {
                dropTables();
                line("");
                line("(dropped the benchmark tables; pass --keep to keep them)");
            }
            writeReport(results);
        }
    }

    private void createTables() throws Exception {
        dropTables();
        if (mariadb) {
            execute("CREATE TABLE " + BUSINESS + " (id bigint AUTO_INCREMENT PRIMARY KEY, consumer varchar(100) NOT NULL,"
                    + " event_id varchar(255) NOT NULL, amount bigint NOT NULL,"
                    + " created_at timestamp(6) NOT NULL DEFAULT current_timestamp(6)) ENGINE=InnoDB");
            // The same charset and binary collation as Oncely's MariaDB DDL, so both compare keys alike.
            execute("CREATE TABLE " + HAND_TABLE + " (consumer varchar(100) NOT NULL, event_id varchar(255) NOT NULL,"
                    + " processed_at timestamp(6) NOT NULL DEFAULT current_timestamp(6), PRIMARY KEY (consumer, event_id))"
                    + " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin");
        } else {
            execute("CREATE TABLE " + BUSINESS + " (id bigserial PRIMARY KEY, consumer varchar(100) NOT NULL,"
                    + " event_id varchar(255) NOT NULL, amount bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now())");
            // Hand-written claims: the minimal table for the pattern, (consumer, event_id) primary key.
            execute("CREATE TABLE " + HAND_TABLE + " (consumer varchar(100) NOT NULL, event_id varchar(255) NOT NULL,"
                    + " processed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (consumer, event_id))");
        }
        oncelyStore = JdbcDedupStore.builder(pool).table(ONCELY_TABLE).build().createSchemaIfMissing();
        // Spring Integration: its own DDL as shipped in the jar.
        execute(siDdl(mariadb));
    }

    private void dropTables() throws SQLException {
        for (String t : List.of(BUSINESS, HAND_TABLE, ONCELY_TABLE, CAMEL_TABLE, SI_TABLE, "peer_growth_0",
                "peer_growth_1", "peer_growth_2", "peer_growth_3")) {
            execute("DROP TABLE IF EXISTS " + t);
        }
    }

    private static String siDdl(boolean mariadb) throws IOException {
        String resource = "org/springframework/integration/jdbc/schema-" + (mariadb ? "mysql" : "postgresql") + ".sql";
        try (InputStream in = JdbcMetadataStore.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException(resource + " is missing from spring-integration-jdbc");
            }
            String ddl = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            int start = ddl.indexOf("CREATE TABLE INT_METADATA_STORE");
            int end = ddl.indexOf(';', start); // PostgreSQL's ends with ");", MySQL's with ") ENGINE=InnoDB;"
            return ddl.substring(start, end);
        }
    }

    /**
     * {@code --variants hand,oncely,oncely-b100}: runs only the named variants (ids as in the report's brief
     * lines), for a focused measurement; variant 2 ("hand"), the base of every ratio, always runs. Targets whose
     * variants did not run are left out of the summary.
     */
    private void keepOnly(String ids) {
        if (ids.equals("all") && mariadb) {
            // Seen here (MariaDB 10.11, REPEATABLE READ, 16 threads): its putIfAbsent, INSERT ... SELECT ... FROM
            // the same table HAVING COUNT(*) = 0, queues on InnoDB's next-key locks; one such statement had run
            // for 429 s when the run was stopped.
            perMessage.removeIf(v -> v.id.equals("si"));
            line("- Spring Integration's JdbcMetadataStore is left out on MariaDB: its putIfAbsent (INSERT ... SELECT"
                    + " ... HAVING COUNT(*) = 0 on the same table) stalled on InnoDB locks at 16 threads here; name it"
                    + " in --variants to run it anyway");
            return;
        }
        if (ids.equals("all")) {
            return;
        }
        Set<String> keep = new java.util.HashSet<>(List.of(ids.split(",")));
        keep.add("hand");
        Set<String> known = new java.util.HashSet<>();
        perMessage.forEach(v -> known.add(v.id));
        batched.forEach(v -> known.add(v.id));
        for (String id : keep) {
            if (!known.contains(id)) {
                throw new IllegalArgumentException("--variants: no variant '" + id + "'; known: " + known);
            }
        }
        perMessage.removeIf(v -> !keep.contains(v.id));
        batched.removeIf(v -> !keep.contains(v.id));
        crashes.keySet().retainAll(keep);
    }

    private void buildVariants() throws Exception {
        TransactionTemplate springTx = new TransactionTemplate(new DataSourceTransactionManager(pool));
        JdbcTemplate jdbc = new JdbcTemplate(pool);

        perMessage.add(new Variant("bare", "1 bare business tx (no dedup)", 1) {
            String seedSql() {
                return null;
            }

            int run(List<String> keys) throws Exception {
                try (Connection c = pool.getConnection()) {
                    c.setAutoCommit(false);
                    try {
                        business(c, id, keys.get(0));
                        c.commit();
                    } catch (Exception e) {
                        c.rollback();
                        throw e;
                    }
                }
                return 1;
            }
        });
        // MariaDB: INSERT IGNORE reports 0 rows for a key that is already there (and waits for an open claim of it).
        String handClaim = mariadb
                ? "INSERT IGNORE INTO " + HAND_TABLE + " (consumer, event_id) VALUES (?, ?)"
                : "INSERT INTO " + HAND_TABLE + " (consumer, event_id) VALUES (?, ?) ON CONFLICT DO NOTHING";
        perMessage.add(new Variant("hand", mariadb ? "2 hand JDBC INSERT IGNORE" : "2 hand JDBC ON CONFLICT", 1) {
            String seedSql() {
                return handSeed(id);
            }

            int run(List<String> keys) throws Exception {
                try (Connection c = pool.getConnection()) {
                    c.setAutoCommit(false);
                    try {
                        int claimed;
                        try (PreparedStatement ps = c.prepareStatement(handClaim)) {
                            ps.setString(1, id);
                            ps.setString(2, keys.get(0));
                            claimed = ps.executeUpdate();
                        }
                        if (claimed == 1) {
                            business(c, id, keys.get(0));
                        }
                        c.commit();
                    } catch (Exception e) {
                        c.rollback();
                        throw e;
                    }
                }
                return 1;
            }
        });
        IdempotentHandler<String, Void, ?> oncely = IdempotentHandler.<String, Void>builder(oncelyStore)
                .consumer("oncely").key(k -> k).handler((key, ctx) -> {
                    business(ctx.unwrap(Connection.class), "oncely", key);
                    return null;
                }).build();
        perMessage.add(new Variant("oncely", "3 Oncely process()", 1) {
            String seedSql() {
                return oncelySeed(ONCELY_TABLE, id);
            }

            int run(List<String> keys) throws Exception {
                oncely.process(keys.get(0));
                return 1;
            }
        });
        // A dying process's open transaction is rolled back by the server when its connection drops; closing the
        // connection uncommitted (HikariCP rolls it back) leaves the database in the same state.
        crashes.put("oncely", key -> {
            try (Connection c = pool.getConnection()) {
                c.setAutoCommit(false);
                oncely.processIn(JdbcTransactions.of(c), key);
            }
        });
        // Camel, as its docs configure it: new JdbcMessageIdRepository(dataSource, processorName); the repository
        // creates its table on start. Its add() and remove() each run in the repository's own TransactionTemplate
        // (PROPAGATION_REQUIRED, a DataSourceTransactionManager on the same DataSource).
        //
        // Default route: from(...).idempotentConsumer(key, repo).to(business write), not transacted. The idempotent
        // consumer is eager by default: add() runs first and, with no transaction around it, commits on its own;
        // a duplicate (add() false) is skipped; the business write then commits in a transaction of its own; if it
        // fails, the consumer's on-completion calls remove() (removeOnFailure, default true), a third transaction,
        // and the exception reaches the caller. confirm() is a no-op returning true in the JDBC repository.
        JdbcMessageIdRepository camel = new JdbcMessageIdRepository(pool, "camel");
        camel.start();
        perMessage.add(new Variant("camel", "5 Camel JdbcMessageIdRepository, default", 1) {
            String seedSql() {
                return camelSeed(id);
            }

            int run(List<String> keys) {
                String key = keys.get(0);
                if (!camel.add(key)) {
                    return 1;
                }
                try {
                    springTx.executeWithoutResult(status -> jdbc.update(BUSINESS_INSERT, id, key, (long) key.length()));
                } catch (RuntimeException e) {
                    camel.remove(key);
                    throw e;
                }
                camel.confirm(key);
                return 1;
            }
        });
        // The default route's add() has committed before the business write begins: a death in between leaves the
        // key recorded and no business row.
        crashes.put("camel", camel::add);
        // Transacted route (.transacted() on a DataSourceTransactionManager, not Camel's default): add() joins the
        // route's transaction, so claim and business write commit together.
        JdbcMessageIdRepository camelTx = new JdbcMessageIdRepository(pool, "camel-tx");
        camelTx.start();
        perMessage.add(new Variant("camel-tx", "5t Camel JdbcMessageIdRepository, transacted", 1) {
            String seedSql() {
                return camelSeed(id);
            }

            int run(List<String> keys) {
                springTx.executeWithoutResult(status -> {
                    if (camelTx.add(keys.get(0))) {
                        jdbc.update(BUSINESS_INSERT, id, keys.get(0), (long) keys.get(0).length());
                    }
                });
                return 1;
            }
        });
        crashes.put("camel-tx", key -> springTx.executeWithoutResult(status -> {
            if (camelTx.add(key)) {
                jdbc.update(BUSINESS_INSERT, "camel-tx", key, (long) key.length());
            }
            status.setRollbackOnly();
        }));
        // Spring Integration: new JdbcMetadataStore(dataSource) as its docs declare it; its docs require a
        // transaction manager, so putIfAbsent and the business write run in one Spring-managed transaction.
        JdbcMetadataStore si = new JdbcMetadataStore(pool);
        si.setRegion("si");
        si.afterPropertiesSet();
        si.start();
        perMessage.add(new Variant("si", "6 Spring Integration putIfAbsent", 1) {
            String seedSql() {
                return "INSERT INTO " + SI_TABLE + " (METADATA_KEY, METADATA_VALUE, REGION) SELECT " + seedKey()
                        + ", '1', 'si' FROM " + series(seeds);
            }

            int run(List<String> keys) {
                springTx.executeWithoutResult(status -> {
                    if (si.putIfAbsent(keys.get(0), "1") == null) {
                        jdbc.update(BUSINESS_INSERT, id, keys.get(0), (long) keys.get(0).length());
                    }
                });
                return 1;
            }
        });
        perMessage.add(new Variant("savepoint", "7 insert-and-catch, savepoint", 1) {
            String seedSql() {
                return handSeed(id);
            }

            int run(List<String> keys) throws Exception {
                try (Connection c = pool.getConnection()) {
                    c.setAutoCommit(false);
                    try {
                        boolean claimed;
                        Savepoint sp = c.setSavepoint();
                        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + HAND_TABLE
                                + " (consumer, event_id) VALUES (?, ?)")) {
                            ps.setString(1, id);
                            ps.setString(2, keys.get(0));
                            ps.executeUpdate();
                            c.releaseSavepoint(sp);
                            claimed = true;
                        } catch (SQLException e) {
                            if (!"23505".equals(e.getSQLState()) && e.getErrorCode() != 1062) {
                                throw e;
                            }
                            c.rollback(sp);
                            claimed = false;
                        }
                        if (claimed) {
                            business(c, id, keys.get(0));
                        }
                        c.commit();
                    } catch (Exception e) {
                        c.rollback();
                        throw e;
                    }
                }
                return 1;
            }
        });

        // Batches: the claim, then the fresh messages' business rows as one set-based INSERT, one transaction.
        for (int size : ints("batches", "1,10,100,1000")) {
            String consumer = "oncely-b" + size;
            // A batch handler: the fresh keys of the batch arrive together and go in one multi-row INSERT, in the
            // claim's transaction (the store's own), as an application would write them.
            IdempotentHandler<String, Void, SQLException> batchHandler = IdempotentHandler.<String, Void>builder(
                            oncelyStore)
                    .consumer(consumer).key(k -> k).batchHandler((keys, ctx) -> {
                        businessAll(ctx.unwrap(Connection.class), consumer, keys);
                        return List.of();
                    }).build();
            batched.add(new Variant(consumer, "4 Oncely processBatch(" + size + "), batch handler", size) {
                String seedSql() {
                    return oncelySeed(ONCELY_TABLE, id);
                }

                int run(List<String> keys) throws Exception {
                    batchHandler.processBatch(keys);
                    return keys.size();
                }
            });
            String setId = "set-b" + size;
            batched.add(new Variant(setId, "4 hand set-based SQL(" + size + ")", size) {
                String seedSql() {
                    return handSeed(id);
                }

                int run(List<String> keys) throws Exception {
                    // Distinct and sorted, so overlapping batches lock in the same order (no 40P01).
                    String[] sorted = new TreeSet<>(keys).toArray(new String[0]);
                    if (mariadb) {
                        return setBasedMariaDb(id, sorted, keys.size());
                    }
                    try (Connection c = pool.getConnection()) {
                        c.setAutoCommit(false);
                        try (PreparedStatement ps = c.prepareStatement("WITH claimed AS (INSERT INTO " + HAND_TABLE
                                + " (consumer, event_id) SELECT ?, k FROM unnest(?::varchar[]) WITH ORDINALITY AS u(k, o)"
                                + " ORDER BY o ON CONFLICT DO NOTHING RETURNING event_id)"
                                + " INSERT INTO " + BUSINESS + " (consumer, event_id, amount)"
                                + " SELECT ?, event_id, length(event_id) FROM claimed")) {
                            Array array = c.createArrayOf("varchar", sorted);
                            ps.setString(1, id);
                            ps.setArray(2, array);
                            ps.setString(3, id);
                            ps.executeUpdate();
                            c.commit();
                        } catch (Exception e) {
                            c.rollback();
                            throw e;
                        }
                    }
                    return keys.size();
                }
            });
            if (!mariadb) {
                batched.add(fusedVariant(size));
            }
        }
    }

    /**
     * What a batch handler fused into the claim statement could reach, written by hand (PostgreSQL only: MariaDB has
     * no data-modifying CTE): Oncely's table and claim columns, the business rows in the claim's statement (a CTE),
     * then, only when some key conflicted, Oncely's read-back of those keys' rows (first-processing time,
     * fingerprint, expiry), and the commit. Not an Oncely feature: it measures the ceiling of one before anyone
     * builds it (docs/benchmarks.md). The claim and read-back are PostgresDialect's claimAllSql and findAllLiveSql,
     * copied by hand; a change there must be copied here.
     */
    private Variant fusedVariant(int size) {
        String id = "fused-b" + size;
        String claimAndWrite = "WITH claimed AS (INSERT INTO " + ONCELY_TABLE + " AS e (consumer, event_id,"
                + " processed_at, expires_at, fingerprint) SELECT ?, k.event_id, now(),"
                + " now() + (?::bigint * interval '1 millisecond'), k.fingerprint"
                + " FROM unnest(?::varchar[], ?::varchar[]) WITH ORDINALITY AS k(event_id, fingerprint, ord)"
                + " ORDER BY k.ord ON CONFLICT ON CONSTRAINT " + ONCELY_TABLE + "_pkey DO NOTHING"
                + " RETURNING event_id, processed_at), written AS (INSERT INTO " + BUSINESS
                + " (consumer, event_id, amount) SELECT ?, event_id, length(event_id) FROM claimed)"
                + " SELECT event_id, CAST(EXTRACT(EPOCH FROM processed_at) * 1000000 AS bigint) FROM claimed";
        String readBack = "SELECT x.* FROM unnest(?::varchar[]) AS w(event_id), LATERAL (SELECT e.event_id,"
                + " CAST(EXTRACT(EPOCH FROM e.processed_at) * 1000000 AS bigint), e.fingerprint,"
                + " e.expires_at <= now() FROM " + ONCELY_TABLE + " e WHERE e.consumer = ?"
                + " AND e.event_id = w.event_id OFFSET 0) x";
        return new Variant(id, "4 hand: Oncely's claim with the business rows in its statement(" + size + ")",
                size) {
            String seedSql() {
                return oncelySeed(ONCELY_TABLE, id);
            }

            int run(List<String> keys) throws Exception {
                String[] sorted = new TreeSet<>(keys).toArray(new String[0]);
                try (Connection c = pool.getConnection()) {
                    c.setAutoCommit(false);
                    try {
                        Set<String> claimed = new HashSet<>(sorted.length * 2);
                        try (PreparedStatement ps = c.prepareStatement(claimAndWrite)) {
                            ps.setString(1, id);
                            ps.setNull(2, Types.BIGINT);
                            ps.setArray(3, c.createArrayOf("varchar", sorted));
                            ps.setNull(4, Types.ARRAY);
                            ps.setString(5, id);
                            try (ResultSet rs = ps.executeQuery()) {
                                while (rs.next()) {
                                    claimed.add(rs.getString(1));
                                    rs.getLong(2);
                                }
                            }
                        }
                        if (claimed.size() < sorted.length) {
                            List<String> missing = new ArrayList<>();
                            for (String k : sorted) {
                                if (!claimed.contains(k)) {
                                    missing.add(k);
                                }
                            }
                            try (PreparedStatement ps = c.prepareStatement(readBack)) {
                                ps.setArray(1, c.createArrayOf("varchar", missing.toArray()));
                                ps.setString(2, id);
                                try (ResultSet rs = ps.executeQuery()) {
                                    while (rs.next()) {
                                        rs.getString(1);
                                        rs.getLong(2);
                                        rs.getString(3);
                                        rs.getBoolean(4);
                                    }
                                }
                            }
                        }
                        c.commit();
                    } catch (Exception e) {
                        c.rollback();
                        throw e;
                    }
                }
                return keys.size();
            }
        };
    }

    private String handSeed(String consumer) {
        return "INSERT INTO " + HAND_TABLE + " (consumer, event_id) SELECT '" + consumer + "', " + seedKey()
                + " FROM " + series(seeds);
    }

    private String camelSeed(String processorName) {
        return "INSERT INTO " + CAMEL_TABLE + " (processorName, messageId, createdAt) SELECT '" + processorName + "',"
                + " " + seedKey() + ", now() FROM " + series(seeds);
    }

    private String oncelySeed(String table, String consumer) {
        return "INSERT INTO " + table + " (consumer, event_id, processed_at) SELECT '" + consumer + "', " + seedKey()
                + ", now() FROM " + series(seeds);
    }

    /** Rows numbered 1..n as {@code g}: generate_series on PostgreSQL, the sequence engine on MariaDB. */
    private String series(long n) {
        return mariadb ? "(SELECT seq AS g FROM seq_1_to_" + n + ") s" : "generate_series(1, " + n + ") g";
    }

    /** The seed key of row g: 's-' followed by g. */
    private String seedKey() {
        return mariadb ? "CONCAT('s-', g)" : "'s-' || g";
    }

    /**
     * The fresh messages' business rows in one statement: {@code unnest} of an array on PostgreSQL, a multi-row
     * {@code VALUES} on MariaDB. Nothing when there are none.
     */
    private void businessAll(Connection c, String consumer, List<String> keys) throws SQLException {
        if (keys.isEmpty()) {
            return;
        }
        if (!mariadb) {
            try (PreparedStatement ps = c.prepareStatement(BUSINESS_INSERT_ALL)) {
                ps.setString(1, consumer);
                ps.setArray(2, c.createArrayOf("varchar", keys.toArray()));
                ps.executeUpdate();
            }
            return;
        }
        StringBuilder sql = new StringBuilder("INSERT INTO " + BUSINESS + " (consumer, event_id, amount) VALUES ");
        for (int i = 0; i < keys.size(); i++) {
            sql.append(i == 0 ? "(?, ?, ?)" : ", (?, ?, ?)");
        }
        try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
            int p = 1;
            for (String k : keys) {
                ps.setString(p++, consumer);
                ps.setString(p++, k);
                ps.setLong(p++, k.length());
            }
            ps.executeUpdate();
        }
    }

    /**
     * Set-based SQL on MariaDB: no data-modifying CTE, so one multi-row {@code INSERT IGNORE ... RETURNING} claims
     * the batch (in key order) and returns the keys it inserted, then one multi-row business INSERT for them.
     */
    private int setBasedMariaDb(String consumer, String[] sorted, int messages) throws SQLException {
        StringBuilder sql = new StringBuilder("INSERT IGNORE INTO " + HAND_TABLE + " (consumer, event_id) VALUES ");
        for (int i = 0; i < sorted.length; i++) {
            sql.append(i == 0 ? "(?, ?)" : ", (?, ?)");
        }
        sql.append(" RETURNING event_id");
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            try {
                List<String> claimed = new ArrayList<>(sorted.length);
                try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
                    int p = 1;
                    for (String k : sorted) {
                        ps.setString(p++, consumer);
                        ps.setString(p++, k);
                    }
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            claimed.add(rs.getString(1));
                        }
                    }
                }
                businessAll(c, consumer, claimed);
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        }
        return messages;
    }

    static void business(Connection c, String consumer, String key) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(BUSINESS_INSERT)) {
            ps.setString(1, consumer);
            ps.setString(2, key);
            ps.setLong(3, key.length());
            ps.executeUpdate();
        }
    }

    // ------------------------------------------------------------------------------------------- throughput

    private void throughput(Map<String, Map<String, Cell>> results) throws Exception {
        List<Integer> concurrencies = ints("concurrency", "1,4,16");
        List<Integer> dups = ints("dups", "0,10,100");
        double duration = doubleArg("duration", quick ? 1 : 3);
        int rounds = intArg("rounds", quick ? 2 : 3);
        double warmup = doubleArg("warmup", quick ? 0.3 : 0.5);
        double jit = doubleArg("jit-warmup", 2);
        List<Variant> all = new ArrayList<>(perMessage);
        all.addAll(batched);
        line("");
        line("## Throughput");
        line("");
        line("Closed loop; per cell (concurrency x duplicate rate): " + warmup + " s warm-up per variant (discarded),"
                + " then " + rounds + " rounds of " + fmt(duration / rounds) + " s per variant, the variant order"
                + " rotating per round. JIT warm-up first: " + jit + " s per variant at concurrency 4, half of it at 10%"
                + " and half at 100% duplicates, so that every variant's duplicate path is compiled before any cell.");
        resetTables(all);
        for (Variant v : all) {
            // A variant whose duplicate path is code of its own (reading and mapping the existing row) would
            // otherwise run it interpreted or C1-compiled through the first 100%-duplicate cell: measured here,
            // Oncely made 0.53x hand-written in whichever 100% cell came first and 0.71x in the next.
            closedLoop(v, 4, 0.10, (long) (jit * 500));
            closedLoop(v, 4, 1.0, (long) (jit * 500));
        }
        for (int c : concurrencies) {
            for (int d : dups) {
                String cell = "c=" + c + " dup=" + d + "%";
                long started = System.nanoTime();
                resetTables(all);
                for (Variant v : all) {
                    closedLoop(v, c, d / 100.0, (long) (warmup * 1000));
                }
                Map<String, Cell> merged = new LinkedHashMap<>();
                for (int r = 0; r < rounds; r++) {
                    List<Variant> order = new ArrayList<>(all);
                    java.util.Collections.rotate(order, r * all.size() / rounds + r);
                    if (r % 2 == 1) {
                        java.util.Collections.reverse(order);
                    }
                    for (Variant v : order) {
                        Cell part = closedLoop(v, c, d / 100.0, (long) (duration * 1000 / rounds));
                        merged.merge(v.id, part, PeerHarness::add);
                    }
                }
                Map<String, Cell> ordered = new LinkedHashMap<>();
                for (Variant v : all) {
                    ordered.put(v.id, merged.get(v.id));
                }
                results.put(cell, ordered);
                System.out.printf(Locale.ROOT, "%s done in %.0f s: %s%n", cell, (System.nanoTime() - started) / 1e9,
                        brief(ordered));
            }
        }
    }

    private static Cell add(Cell a, Cell b) {
        Histogram h = a.latency().copy();
        h.add(b.latency());
        return new Cell(a.messages() + b.messages(), a.calls() + b.calls(), a.errors() + b.errors(),
                a.nanos() + b.nanos(), h, a.cpuNanos() + b.cpuNanos());
    }

    private String brief(Map<String, Cell> cells) {
        StringBuilder sb = new StringBuilder();
        cells.forEach((id, cell) -> sb.append(id).append('=').append(Math.round(cell.perSecond())).append(' '));
        return sb.toString();
    }

    private void resetTables(List<Variant> variants) throws SQLException {
        List<String> tables = List.of(BUSINESS, HAND_TABLE, ONCELY_TABLE, CAMEL_TABLE, SI_TABLE);
        if (mariadb) {
            for (String t : tables) {
                execute("TRUNCATE TABLE " + t);
            }
        } else {
            execute("TRUNCATE " + String.join(", ", tables));
        }
        for (Variant v : variants) {
            if (v.seedSql() != null) {
                execute(v.seedSql());
            }
        }
        execute(mariadb ? "ANALYZE TABLE " + String.join(", ", tables) : "ANALYZE");
    }

    /**
     * Runs {@code threads} callers in a closed loop for {@code millis}; every call's latency is recorded, and the
     * callers' CPU time over the loop.
     */
    private Cell closedLoop(Variant v, int threads, double dupRate, long millis) throws Exception {
        ExecutorService exec = Executors.newFixedThreadPool(threads);
        try {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            List<Future<Cell>> futures = new ArrayList<>();
            long start = System.nanoTime();
            for (int t = 0; t < threads; t++) {
                futures.add(exec.submit(() -> {
                    Histogram h = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
                    long messages = 0;
                    long calls = 0;
                    long errors = 0;
                    List<String> keys = new ArrayList<>(v.batch);
                    long cpuBefore = THREADS.getCurrentThreadCpuTime();
                    while (System.nanoTime() < deadline) {
                        keys.clear();
                        for (int i = 0; i < v.batch; i++) {
                            keys.add(nextKey(dupRate));
                        }
                        long t0 = System.nanoTime();
                        try {
                            messages += v.run(keys);
                        } catch (Exception e) {
                            errors++;
                            if (errors <= 1) {
                                System.err.println(v.id + ": " + e);
                            }
                        }
                        h.recordValue(Math.min(System.nanoTime() - t0, TimeUnit.SECONDS.toNanos(60)));
                        calls++;
                    }
                    return new Cell(messages, calls, errors, 0, h, THREADS.getCurrentThreadCpuTime() - cpuBefore);
                }));
            }
            Histogram all = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
            long messages = 0;
            long calls = 0;
            long errors = 0;
            long cpu = 0;
            for (Future<Cell> f : futures) {
                Cell c = f.get();
                all.add(c.latency());
                messages += c.messages();
                calls += c.calls();
                errors += c.errors();
                cpu += c.cpuNanos();
            }
            return new Cell(messages, calls, errors, System.nanoTime() - start, all, cpu);
        } finally {
            exec.shutdownNow();
        }
    }

    private String nextKey(double dupRate) {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        if (dupRate > 0 && r.nextDouble() < dupRate) {
            return "s-" + (1 + r.nextInt(seeds));
        }
        return randomKey(r);
    }

    /** 32 hex digits, like a UUID without dashes: keys land all over the index, as real event ids do. */
    static String randomKey(ThreadLocalRandom r) {
        return Long.toHexString(r.nextLong() | Long.MIN_VALUE) + Long.toHexString(r.nextLong() | Long.MIN_VALUE);
    }

    // ------------------------------------------------------------------------------------------ correctness

    private void correctness(Map<String, Correctness> out) throws Exception {
        int threads = intArg("dup-threads", 8);
        int keys = intArg("dup-keys", quick ? 100 : 200);
        List<Variant> variants = new ArrayList<>(perMessage);
        for (Variant v : batched) {
            if (v.batch == 10) {
                variants.add(v);
            }
        }
        resetTables(List.of());
        for (Variant v : variants) {
            out.put(v.id, duplicateStorm(v, threads, keys));
        }
        for (Variant v : perMessage) {
            Crash crash = crashes.get(v.id);
            if (crash != null) {
                crashResults.put(v.id, crashThenRedeliver(v, crash, keys));
            }
        }
    }

    /**
     * For each key: the variant's claim step, then the process 'dies' before the business commit, then the broker
     * redelivers the message to a healthy process (the variant's normal path). Lost = keys without a business row.
     */
    private CrashResult crashThenRedeliver(Variant v, Crash crash, int keys) throws Exception {
        for (int i = 0; i < keys; i++) {
            String key = "crash-" + i;
            crash.afterClaim(key);
            v.run(List.of(key));
        }
        long processed;
        try (Connection c = pool.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT count(DISTINCT event_id) FROM " + BUSINESS
                     + " WHERE consumer = ? AND event_id LIKE 'crash-%'")) {
            ps.setString(1, v.id);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                processed = rs.getLong(1);
            }
        }
        System.out.printf(Locale.ROOT, "crash then redelivery %s: %d keys, %d processed, %d lost%n", v.id, keys,
                processed, keys - processed);
        return new CrashResult(keys, processed, keys - processed);
    }

    /** Every key (or batch of 10 keys) is delivered by {@code threads} callers released at the same instant. */
    private Correctness duplicateStorm(Variant v, int threads, int keys) throws Exception {
        int deliveries = keys / v.batch;
        CyclicBarrier barrier = new CyclicBarrier(threads);
        ExecutorService exec = Executors.newFixedThreadPool(threads);
        long errors = 0;
        java.util.concurrent.atomic.AtomicReference<String> firstError = new java.util.concurrent.atomic.AtomicReference<>();
        try {
            List<Future<long[]>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                futures.add(exec.submit(() -> {
                    long err = 0;
                    for (int d = 0; d < deliveries; d++) {
                        List<String> batch = new ArrayList<>(v.batch);
                        for (int i = 0; i < v.batch; i++) {
                            batch.add("storm-" + (d * v.batch + i));
                        }
                        barrier.await(30, TimeUnit.SECONDS);
                        try {
                            v.run(batch);
                        } catch (Exception e) {
                            err++;
                            firstError.compareAndSet(null, e.getClass().getSimpleName() + ": "
                                    + String.valueOf(e.getMessage()).lines().findFirst().orElse(""));
                        }
                    }
                    return new long[] {err};
                }));
            }
            for (Future<long[]> f : futures) {
                errors += f.get()[0];
            }
        } finally {
            exec.shutdownNow();
        }
        long rows;
        long distinct;
        try (Connection c = pool.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT count(*), count(DISTINCT event_id) FROM " + BUSINESS
                     + " WHERE consumer = ?")) {
            ps.setString(1, v.id);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                rows = rs.getLong(1);
                distinct = rs.getLong(2);
            }
        }
        System.out.printf(Locale.ROOT, "duplicate storm %s: %d keys x %d threads: %d business rows for %d keys,"
                + " %d errors%n", v.id, deliveries * v.batch, threads, rows, distinct, errors);
        return new Correctness(deliveries * v.batch, threads, rows - distinct, errors,
                firstError.get() == null ? "" : firstError.get());
    }

    // ---------------------------------------------------------------------------------------------- growth

    private void growth(Map<Long, Cell> out) throws Exception {
        List<Long> sizes = new ArrayList<>();
        for (String s : arg("growth", quick ? "0,100000,1000000" : "0,1000000,10000000").split(",")) {
            sizes.add(Long.parseLong(s.strip()));
        }
        int threads = intArg("growth-threads", 4);
        double duration = doubleArg("growth-duration", quick ? 2 : 6);
        int rounds = intArg("rounds", quick ? 2 : 3);
        List<Variant> variants = new ArrayList<>();
        for (int i = 0; i < sizes.size(); i++) {
            long size = sizes.get(i);
            String table = "peer_growth_" + i;
            JdbcDedupStore store = JdbcDedupStore.builder(pool).table(table).build().createSchemaIfMissing();
            if (size > 0) {
                long t0 = System.nanoTime();
                // One INSERT ... SELECT generate_series; the key index is built after the load (a sort, not
                // 10M random inserts), then the table is vacuumed and analysed as a long-lived one would be.
                if (mariadb) {
                    execute("ALTER TABLE " + table + " DROP PRIMARY KEY");
                    execute("INSERT INTO " + table + " (consumer, event_id, processed_at) SELECT 'oncely', md5(g),"
                            + " now() FROM " + series(size));
                    execute("ALTER TABLE " + table + " ADD PRIMARY KEY (consumer, event_id)");
                    execute("ANALYZE TABLE " + table);
                } else {
                    execute("ALTER TABLE " + table + " DROP CONSTRAINT " + table + "_pkey");
                    execute("INSERT INTO " + table + " (consumer, event_id, processed_at) SELECT 'oncely', md5(g::text),"
                            + " now() FROM " + series(size));
                    execute("ALTER TABLE " + table + " ADD CONSTRAINT " + table + "_pkey PRIMARY KEY (consumer, event_id)");
                    execute("VACUUM ANALYZE " + table);
                }
                System.out.printf(Locale.ROOT, "loaded %,d keys into %s in %.0f s%n", size, table,
                        (System.nanoTime() - t0) / 1e9);
            }
            IdempotentHandler<String, Void, ?> handler = IdempotentHandler.<String, Void>builder(store)
                    .consumer("oncely").key(k -> k).handler((key, ctx) -> {
                        business(ctx.unwrap(Connection.class), "growth", key);
                        return null;
                    }).build();
            variants.add(new Variant(String.valueOf(size), "Oncely process(), " + size + " keys", 1) {
                String seedSql() {
                    return null;
                }

                int run(List<String> keys) throws Exception {
                    handler.process(keys.get(0));
                    return 1;
                }
            });
        }
        for (Variant v : variants) {
            closedLoop(v, threads, 0, 1000);
        }
        Map<String, Cell> merged = new LinkedHashMap<>();
        for (int r = 0; r < rounds; r++) {
            List<Variant> order = new ArrayList<>(variants);
            java.util.Collections.rotate(order, r);
            for (Variant v : order) {
                merged.merge(v.id, closedLoop(v, threads, 0, (long) (duration * 1000 / rounds)), PeerHarness::add);
            }
        }
        for (Variant v : variants) {
            out.put(Long.parseLong(v.id), merged.get(v.id));
        }
        for (int i = 0; i < sizes.size(); i++) {
            execute("DROP TABLE IF EXISTS peer_growth_" + i);
        }
        line("");
        line("## Table growth");
        line("");
        line("Oncely process() with 0% duplicates, " + threads + " threads, fresh random keys, tables preloaded by one"
                + " INSERT ... SELECT generate_series (md5 keys), interleaved in " + rounds + " rounds of "
                + fmt(duration / rounds) + " s; tables dropped afterwards.");
        line("");
        line("| existing keys | msg/s | vs 0 keys | p50 ms | p99 ms | errors |");
        line("|---:|---:|---:|---:|---:|---:|");
        Cell base = out.get(sizes.get(0));
        for (Map.Entry<Long, Cell> e : out.entrySet()) {
            Cell c = e.getValue();
            line(String.format(Locale.ROOT, "| %,d | %,.0f | %.2fx | %s | %s | %d |", e.getKey(), c.perSecond(),
                    c.perSecond() / base.perSecond(), ms(c.latency(), 50), ms(c.latency(), 99), c.errors()));
        }
    }

    // --------------------------------------------------------------------------------------------- report

    /** A table of one row per variant and one column per cell: {@code value} of (the variant's cell, hand's). */
    private void table(String top, List<Variant> variants, List<String> cells, Map<String, Map<String, Cell>> results,
                       BiFunction<Cell, Cell, String> value) {
        line(top);
        for (Variant v : variants) {
            StringBuilder row = new StringBuilder("| " + v.label + " |");
            for (String cell : cells) {
                row.append(' ').append(value.apply(results.get(cell).get(v.id), results.get(cell).get("hand")))
                        .append(" |");
            }
            line(row.toString());
        }
    }

    private void summary(Map<String, Map<String, Cell>> results, Map<String, Correctness> correctness,
                         Map<Long, Cell> growth) {
        List<Variant> all = new ArrayList<>(perMessage);
        all.addAll(batched);
        if (!results.isEmpty()) {
            List<String> cells = new ArrayList<>(results.keySet());
            line("");
            line("## Messages per second (and ratio to variant 2, hand-written JDBC)");
            line("");
            StringBuilder header = new StringBuilder("| variant |");
            StringBuilder sep = new StringBuilder("|---|");
            for (String cell : cells) {
                header.append(' ').append(cell).append(" |");
                sep.append("---:|");
            }
            String top = header + "\n" + sep;
            table(top, all, cells, results, (c, hand) -> String.format(Locale.ROOT, "%,.0f (%.2fx)%s", c.perSecond(),
                    c.perSecond() / hand.perSecond(), c.errors() > 0 ? " E" + c.errors() : ""));
            line("");
            line("E<n>: calls that threw during the measured window (counted, not in msg/s).");
            line("");
            line("## Latency per call (p50 / p99 ms; a batch variant's call is one whole batch)");
            line("");
            table(top, all, cells, results, (c, hand) -> ms(c.latency(), 50) + " / " + ms(c.latency(), 99));
            line("");
            line("## CPU per call of the calling threads (µs, user + system; a batch variant's call is one whole batch)");
            line("");
            line("The threads' own CPU time (ThreadMXBean) over the measured window divided by their calls, the"
                    + " harness's key generation included. Blocking on the socket and being woken again is counted"
                    + " here (kernel time), so a variant that waits for the database more often per call shows it.");
            line("");
            table(top, all, cells, results, (c, hand) -> String.format(Locale.ROOT, "%,.0f", c.cpuMicrosPerCall()));
        }
        if (!correctness.isEmpty()) {
            line("");
            line("## Correctness: concurrent duplicates");
            line("");
            line("Each key (batch variants: each batch of 10 keys) delivered by " + intArg("dup-threads", 8)
                    + " threads released together by a barrier. Leaked = business rows beyond one per key;"
                    + " errors = calls that threw to the caller (each one a rollback and a redelivery).");
            line("");
            line("| variant | keys | threads | duplicates leaked | errors thrown | first error |");
            line("|---|---:|---:|---:|---:|---|");
            List<Variant> vs = new ArrayList<>(perMessage);
            vs.addAll(batched);
            for (Variant v : vs) {
                Correctness c = correctness.get(v.id);
                if (c != null) {
                    String error = c.firstError().replace("|", "/");
                    line(String.format(Locale.ROOT, "| %s | %d | %d | %d | %d | %s |", v.label, c.keys(), c.threads(),
                            c.leaks(), c.errors(), error.length() > 140 ? error.substring(0, 137) + "..." : error));
                }
            }
        }
        if (!crashResults.isEmpty()) {
            line("");
            line("## Correctness: a process death between the claim and the business commit (simulated)");
            line("");
            line("For each key the variant's claim step runs, then the process 'dies' before the business commit"
                    + " (modelled as the database sees it: an open transaction is rolled back, a committed one stays),"
                    + " then the message is redelivered to the variant's normal path. Lost = keys that never got"
                    + " their business row.");
            line("");
            line("| variant | keys | processed after redelivery | lost |");
            line("|---|---:|---:|---:|");
            for (Variant v : perMessage) {
                CrashResult c = crashResults.get(v.id);
                if (c != null) {
                    line(String.format(Locale.ROOT, "| %s | %d | %d | %d |", v.label, c.keys(), c.processed(),
                            c.lost()));
                }
            }
        }
        if (!results.isEmpty()) {
            targets(results, correctness, growth);
        }
    }

    private void targets(Map<String, Map<String, Cell>> results, Map<String, Correctness> correctness,
                         Map<Long, Cell> growth) {
        line("");
        line("## Targets (ratio per cell: geometric mean over the cells, min, max; met = geometric mean meets it)");
        line("");
        line("| target | geo mean | min | max | cells meeting it | verdict |");
        line("|---|---:|---:|---:|---:|---|");
        target(results, "Oncely per message >= 0.95x hand-written (3/2)", "oncely", "hand", 0.95);
        target(results, "Oncely batch(100) >= 10x Oncely per message", "oncely-b100", "oncely", 10);
        target(results, "Oncely batch(100) >= 0.8x set-based SQL(100)", "oncely-b100", "set-b100", 0.8);
        target(results, "Oncely per message >= 1.0x Spring Integration", "oncely", "si", 1.0);
        target(results, "Oncely per message >= 1.5x Camel (default route: eager, own tx)", "oncely", "camel", 1.5);
        target(results, "Oncely per message vs Camel, transacted route (for comparison, not the issue's target)",
                "oncely", "camel-tx", 1.5, true);
        target(results, "Oncely batch(100) >= 10x the fastest peer", "oncely-b100", "peer-max", 10);
        if (growth.size() >= 2) {
            List<Long> sizes = new ArrayList<>(growth.keySet());
            double r = growth.get(sizes.get(sizes.size() - 1)).perSecond() / growth.get(sizes.get(0)).perSecond();
            line(String.format(Locale.ROOT, "| throughput at %,d keys >= 0.9x at 0 keys | %.2f | | | | %s |",
                    sizes.get(sizes.size() - 1), r, r >= 0.9 ? "met" : "missed"));
        }
        Correctness oc = correctness.get("oncely");
        if (oc != null) {
            line(String.format(Locale.ROOT, "| Oncely: zero errors and zero leaks in the duplicate storm | %d leaked,"
                    + " %d errors | | | | %s |", oc.leaks(), oc.errors(), oc.leaks() == 0 && oc.errors() == 0 ? "met"
                    : "missed"));
        }
    }

    private static boolean has(Map<String, Map<String, Cell>> results, String id) {
        return results.values().iterator().next().containsKey(id);
    }

    private void target(Map<String, Map<String, Cell>> results, String name, String a, String b, double goal) {
        target(results, name, a, b, goal, false);
    }

    private void target(Map<String, Map<String, Cell>> results, String name, String a, String b, double goal,
                        boolean forComparison) {
        List<String> peers = new ArrayList<>();
        for (String peer : List.of("camel", "camel-tx", "si")) {
            if (has(results, peer)) {
                peers.add(peer);
            }
        }
        if (!has(results, a) || (b.equals("peer-max") ? peers.isEmpty() : !has(results, b))) {
            return; // not run (--variants)
        }
        double logSum = 0;
        double min = Double.MAX_VALUE;
        double max = 0;
        int met = 0;
        for (Map<String, Cell> cell : results.values()) {
            double denominator = 0;
            if (b.equals("peer-max")) {
                for (String peer : peers) { // the fastest peer that ran
                    denominator = Math.max(denominator, cell.get(peer).perSecond());
                }
            } else {
                denominator = cell.get(b).perSecond();
            }
            double r = cell.get(a).perSecond() / denominator;
            logSum += Math.log(r);
            min = Math.min(min, r);
            max = Math.max(max, r);
            if (r >= goal) {
                met++;
            }
        }
        double geo = Math.exp(logSum / results.size());
        line(String.format(Locale.ROOT, "| %s | %.2f | %.2f | %.2f | %d of %d | %s |", name, geo, min, max, met,
                results.size(), forComparison ? (geo >= goal ? "(would be met)" : "(would be missed)")
                        : geo >= goal ? "met" : "missed"));
    }

    private void writeReport(Map<String, Map<String, Cell>> results) throws IOException {
        Path dir = Paths.get(arg("results", "results"));
        Files.createDirectories(dir);
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path md = dir.resolve("peers-" + stamp + ".md");
        Files.writeString(md, report.toString());
        System.out.println("report written to " + md.toAbsolutePath());
        if (!results.isEmpty()) {
            List<Variant> all = new ArrayList<>(perMessage);
            all.addAll(batched);
            Path svg = dir.resolve("peers-" + stamp + ".svg");
            Files.writeString(svg, Chart.svg(results, all));
            System.out.println("chart written to " + svg.toAbsolutePath());
        }
    }

    // ------------------------------------------------------------------------------------------------ util

    private static String ms(Histogram h, double percentile) {
        if (h.getTotalCount() == 0) {
            return "-";
        }
        double v = h.getValueAtPercentile(percentile) / 1e6;
        return String.format(Locale.ROOT, v < 10 ? "%.2f" : "%.0f", v);
    }

    private static String fmt(double d) {
        return String.format(Locale.ROOT, "%.2f", d);
    }

    private static String loadAverage() {
        try {
            return Files.readString(Paths.get("/proc/loadavg")).strip().split(" ")[0];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    private String serverInfo() throws SQLException {
        String sql = mariadb
                ? "SELECT CONCAT('MariaDB ', VERSION(), ', innodb_buffer_pool_size ', @@innodb_buffer_pool_size DIV 1048576,"
                + " 'MB, innodb_flush_log_at_trx_commit ', @@innodb_flush_log_at_trx_commit, ', sync_binlog ', @@sync_binlog,"
                + " ', log_bin ', @@log_bin, ', isolation ', @@tx_isolation)"
                : "SELECT 'PostgreSQL ' || current_setting('server_version') || ', shared_buffers '"
                + " || current_setting('shared_buffers') || ', synchronous_commit ' || current_setting('synchronous_commit')"
                + " || ', isolation ' || current_setting('default_transaction_isolation')";
        try (Connection c = pool.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private void line(String s) {
        System.out.println(s);
        report.append(s).append('\n');
    }

    private void execute(String sql) throws SQLException {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private String arg(String name, String def) {
        String v = args.get(name);
        return v == null ? def : v;
    }

    private int intArg(String name, int def) {
        return Integer.parseInt(arg(name, String.valueOf(def)));
    }

    private double doubleArg(String name, double def) {
        return Double.parseDouble(arg(name, String.valueOf(def)));
    }

    private List<Integer> ints(String name, String def) {
        return Arrays.stream(arg(name, def).split(",")).map(String::strip).map(Integer::parseInt).toList();
    }
}
