package dev.oncely.benchmarks;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.http.ClientIdentifier;
import dev.oncely.http.IdempotencyContext;
import dev.oncely.http.IdempotencyFilter;
import dev.oncely.jdbc.JdbcDedupStore;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.catalina.Context;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;

/**
 * Requests per second of a {@code POST /charges} endpoint behind the idempotency filter (in-transaction mode) against
 * the same endpoint doing the same writes by hand in one transaction: the charge row and the key's row holding the
 * response ({@code INSERT} of each, one commit). Both run in one embedded Tomcat on one pool, interleaved in rounds,
 * every request with a fresh key (the cost of a first request; replays are cheaper). A third variant runs the
 * filter's three statements by hand (key, charge, then the response onto the key's row), to tell the cost of the
 * third statement from the filter's own. A fourth variant is the filter's lease mode ({@code /leased/charges}): the
 * key leased in a statement of its own, the charge inserted on its own autocommit connection, the response stored with
 * the completion (three short transactions, no connection held in between). A fifth variant is the in-transaction mode
 * with {@code keyWrittenLast()} ({@code /last/charges}): the charge first, then the key's row with the response in one
 * INSERT, one commit; the same two statements as by hand. The HTTP client runs in the same JVM, so every variant pays
 * for it alike.
 *
 * <pre>
 * mvn -q -Pbenchmarks -pl benchmarks -am -DskipTests verify -Dbench.main=dev.oncely.benchmarks.HttpFilterBenchmark \
 *     -Dbench.args="--url jdbc:postgresql://127.0.0.1:5432/oncely_bench --threads 16 --duration 10 --rounds 3"
 * </pre>
 */
public final class HttpFilterBenchmark {

    private static final Logger TOMCAT_LOGS = Logger.getLogger("org.apache");

    private HttpFilterBenchmark() {
    }

    /** POST /charges and POST /manual/charges: one charge row on the request's (or its own) transaction. */
    static final class ChargesServlet extends HttpServlet {
        private final HikariDataSource pool;

        ChargesServlet(HikariDataSource pool) {
            this.pool = pool;
        }

        @Override
        protected void doPost(HttpServletRequest req, HttpServletResponse resp) throws IOException {
            String body = new String(req.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            long amount = Long.parseLong(body.substring(body.indexOf('=') + 1));
            String id = UUID.randomUUID().toString();
            byte[] response = ("{\"id\":\"" + id + "\",\"amount_cents\":" + amount + ",\"status\":\"succeeded\"}")
                    .getBytes(StandardCharsets.UTF_8);
            try {
                if (req.getRequestURI().startsWith("/leased")) {
                    try (Connection own = pool.getConnection()) { // lease mode: no transaction is open
                        insertCharge(own, id, amount);
                    }
                } else if (req.getRequestURI().startsWith("/manual3")) {
                    byHandLikeTheFilter(req, id, amount, response);
                } else if (req.getRequestURI().startsWith("/manual")) {
                    byHand(req, id, amount, response);
                } else {
                    insertCharge(IdempotencyContext.connection(req), id, amount);
                }
            } catch (SQLException e) {
                throw new IOException(e);
            }
            resp.setStatus(201);
            resp.setHeader("Location", "/charges/" + id);
            resp.setContentType("application/json");
            resp.getOutputStream().write(response);
        }

        /** The hand-written equivalent: key row with the response and charge row, one transaction. */
        private void byHand(HttpServletRequest req, String id, long amount, byte[] response) throws SQLException {
            try (Connection c = pool.getConnection()) {
                c.setAutoCommit(false);
                try {
                    try (PreparedStatement ps = c.prepareStatement(
                            "INSERT INTO bench_http_keys (client, idem_key, response) VALUES (?, ?, ?)")) {
                        ps.setString(1, req.getHeader("X-Api-Key"));
                        ps.setString(2, req.getHeader("Idempotency-Key"));
                        ps.setBytes(3, response);
                        ps.executeUpdate();
                    }
                    insertCharge(c, id, amount);
                    c.commit();
                } catch (SQLException | RuntimeException e) {
                    c.rollback();
                    throw e;
                } finally {
                    c.setAutoCommit(true);
                }
            }
        }

        /**
         * The filter's statements by hand: the key first (its response unknown yet), the charge, then the response
         * written onto the key's row, one transaction. Tells the cost of the third statement from the filter's own.
         */
        private void byHandLikeTheFilter(HttpServletRequest req, String id, long amount, byte[] response)
                throws SQLException {
            try (Connection c = pool.getConnection()) {
                c.setAutoCommit(false);
                try {
                    try (PreparedStatement ps = c.prepareStatement(
                            "INSERT INTO bench_http_keys (client, idem_key) VALUES (?, ?)")) {
                        ps.setString(1, req.getHeader("X-Api-Key"));
                        ps.setString(2, req.getHeader("Idempotency-Key"));
                        ps.executeUpdate();
                    }
                    insertCharge(c, id, amount);
                    try (PreparedStatement ps = c.prepareStatement(
                            "UPDATE bench_http_keys SET response = ? WHERE client = ? AND idem_key = ?")) {
                        ps.setBytes(1, response);
                        ps.setString(2, req.getHeader("X-Api-Key"));
                        ps.setString(3, req.getHeader("Idempotency-Key"));
                        ps.executeUpdate();
                    }
                    c.commit();
                } catch (SQLException | RuntimeException e) {
                    c.rollback();
                    throw e;
                } finally {
                    c.setAutoCommit(true);
                }
            }
        }

        private static void insertCharge(Connection c, String id, long amount) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO bench_http_charges (id, amount_cents) VALUES (?, ?)")) {
                ps.setString(1, id);
                ps.setLong(2, amount);
                ps.executeUpdate();
            }
        }
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = BenchArgs.parse(argv, Set.of("keep"), "--threads 16");
        String url = args.getOrDefault("url", System.getenv().getOrDefault("ONCELY_BENCH_URL",
                "jdbc:postgresql://127.0.0.1:5432/oncely_bench"));
        String user = args.getOrDefault("user", url.contains("mariadb") ? "root" : "postgres");
        int threads = Integer.parseInt(args.getOrDefault("threads", "16"));
        double duration = Double.parseDouble(args.getOrDefault("duration", "10"));
        int rounds = Integer.parseInt(args.getOrDefault("rounds", "3"));
        double warmup = Double.parseDouble(args.getOrDefault("warmup", "5"));
        TOMCAT_LOGS.setLevel(Level.SEVERE);

        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(user);
        config.setPassword(args.getOrDefault("password", ""));
        config.setMaximumPoolSize(threads);
        boolean mariadb = url.startsWith("jdbc:mariadb") || url.startsWith("jdbc:mysql");
        String bytes = mariadb ? "longblob" : url.startsWith("jdbc:h2") ? "varbinary" : "bytea";
        try (HikariDataSource pool = new HikariDataSource(config)) {
            try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
                st.execute("DROP TABLE IF EXISTS bench_http_charges");
                st.execute("DROP TABLE IF EXISTS bench_http_keys");
                st.execute("CREATE TABLE bench_http_charges (id varchar(40) PRIMARY KEY, amount_cents bigint NOT NULL)");
                st.execute("CREATE TABLE bench_http_keys (client varchar(100) NOT NULL, idem_key varchar(300) NOT NULL,"
                        + " response " + bytes + ", PRIMARY KEY (client, idem_key))");
            }
            JdbcDedupStore store = JdbcDedupStore.builder(pool).table("bench_http_keys_oncely").build()
                    .createSchemaIfMissing();
            String consumer = "bench-http-" + UUID.randomUUID().toString().substring(0, 8);
            IdempotencyFilter filter = IdempotencyFilter.inTransaction(store).consumer(consumer)
                    .clients(ClientIdentifier.header("X-Api-Key")).paths("/charges").build();
            IdempotencyFilter lastFilter = IdempotencyFilter.inTransaction(store).consumer(consumer + "-last")
                    .clients(ClientIdentifier.header("X-Api-Key")).paths("/last/charges").keyWrittenLast().build();
            IdempotencyFilter leasedFilter = IdempotencyFilter.leased(store).consumer(consumer + "-leased")
                    .clients(ClientIdentifier.header("X-Api-Key")).paths("/leased/charges").build();

            Path base = Files.createTempDirectory("bench-http-tomcat");
            Tomcat tomcat = new Tomcat();
            tomcat.setSilent(true);
            tomcat.setBaseDir(base.toString());
            tomcat.setPort(0);
            Context context = tomcat.addContext("", base.toString());
            Tomcat.addServlet(context, "charges", new ChargesServlet(pool));
            context.addServletMappingDecoded("/charges", "charges");
            context.addServletMappingDecoded("/manual/charges", "charges");
            context.addServletMappingDecoded("/manual3/charges", "charges");
            context.addServletMappingDecoded("/leased/charges", "charges");
            context.addServletMappingDecoded("/last/charges", "charges");
            FilterDef lastDef = new FilterDef();
            lastDef.setFilterName("idempotency-last");
            lastDef.setFilter(lastFilter);
            context.addFilterDef(lastDef);
            FilterMap lastMap = new FilterMap();
            lastMap.setFilterName("idempotency-last");
            lastMap.addURLPattern("/*");
            context.addFilterMap(lastMap);
            FilterDef leasedDef = new FilterDef();
            leasedDef.setFilterName("idempotency-leased");
            leasedDef.setFilter(leasedFilter);
            context.addFilterDef(leasedDef);
            FilterMap leasedMap = new FilterMap();
            leasedMap.setFilterName("idempotency-leased");
            leasedMap.addURLPattern("/*");
            context.addFilterMap(leasedMap);
            FilterDef def = new FilterDef();
            def.setFilterName("idempotency");
            def.setFilter(filter);
            context.addFilterDef(def);
            FilterMap map = new FilterMap();
            map.setFilterName("idempotency");
            map.addURLPattern("/*");
            context.addFilterMap(map);
            tomcat.getConnector().setProperty("maxThreads", String.valueOf(threads * 2));
            tomcat.start();
            int port = tomcat.getConnector().getLocalPort();
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            ExecutorService clients = Executors.newFixedThreadPool(threads);
            try {
                System.out.printf("HTTP filter benchmark on %s: %d client threads, pool %d, %s s per variant and"
                        + " round, %d rounds%n", url.replaceAll("password=[^&]*", "password=***"), threads, threads,
                        duration, rounds);
                run(http, clients, port, "/manual/charges", threads, warmup);
                run(http, clients, port, "/manual3/charges", threads, warmup);
                run(http, clients, port, "/charges", threads, warmup);
                run(http, clients, port, "/leased/charges", threads, warmup);
                run(http, clients, port, "/last/charges", threads, warmup);
                List<Double> last = new ArrayList<>();
                List<Double> lastRatios = new ArrayList<>();
                List<Double> filtered = new ArrayList<>();
                List<Double> leased = new ArrayList<>();
                List<Double> leasedRatios = new ArrayList<>();
                List<Double> byHand = new ArrayList<>();
                List<Double> byHand3 = new ArrayList<>();
                List<Double> ratios = new ArrayList<>();
                List<Double> ratios3 = new ArrayList<>();
                for (int r = 0; r < rounds; r++) {
                    // Each round starts at another variant: on a shared machine the load drifts within a round, and a
                    // fixed order would hand the same phase of that drift to the same variant every round.
                    List<String> order = List.of("/manual/charges", "/manual3/charges", "/charges", "/leased/charges",
                            "/last/charges");
                    Map<String, Double> rate = new java.util.HashMap<>();
                    for (int v = 0; v < order.size(); v++) {
                        String path = order.get((v + r) % order.size());
                        rate.put(path, run(http, clients, port, path, threads, duration));
                    }
                    double h = rate.get("/manual/charges");
                    double h3 = rate.get("/manual3/charges");
                    double f = rate.get("/charges");
                    double l = rate.get("/leased/charges");
                    double k = rate.get("/last/charges");
                    last.add(k);
                    lastRatios.add(k / h);
                    leased.add(l);
                    leasedRatios.add(l / h);
                    byHand.add(h);
                    byHand3.add(h3);
                    filtered.add(f);
                    ratios.add(f / h);
                    ratios3.add(f / h3);
                    System.out.printf("round %d: by hand (2 statements) %.0f req/s, by hand (the filter's 3) %.0f"
                            + " req/s, filter %.0f req/s (%.2fx, %.2fx), lease mode %.0f req/s (%.2fx), key written last"
                            + " %.0f req/s (%.2fx)%n", r + 1, h, h3, f, f / h, f / h3, l, l / h, k, k / h);
                }
                double h = median(byHand);
                double h3 = median(byHand3);
                double f = median(filtered);
                System.out.printf("median: by hand (2 statements) %.0f req/s, by hand (3) %.0f req/s, filter %.0f"
                        + " req/s; filter / by hand (2) %.2fx, filter / by hand (3) %.2fx%n", h, h3, f, f / h, f / h3);
                System.out.printf("median of the rounds' ratios: filter / by hand (2) %.2fx (range %.2f-%.2f),"
                        + " filter / by hand (3) %.2fx (range %.2f-%.2f)%n", median(ratios),
                        ratios.stream().mapToDouble(Double::doubleValue).min().orElse(0),
                        ratios.stream().mapToDouble(Double::doubleValue).max().orElse(0), median(ratios3),
                        ratios3.stream().mapToDouble(Double::doubleValue).min().orElse(0),
                        ratios3.stream().mapToDouble(Double::doubleValue).max().orElse(0));
                System.out.printf("lease mode: median %.0f req/s; median of the rounds' ratios to by hand (2) %.2fx"
                        + " (range %.2f-%.2f)%n", median(leased), median(leasedRatios),
                        leasedRatios.stream().mapToDouble(Double::doubleValue).min().orElse(0),
                        leasedRatios.stream().mapToDouble(Double::doubleValue).max().orElse(0));
                System.out.printf("key written last: median %.0f req/s; median of the rounds' ratios to by hand (2)"
                        + " %.2fx (range %.2f-%.2f)%n", median(last), median(lastRatios),
                        lastRatios.stream().mapToDouble(Double::doubleValue).min().orElse(0),
                        lastRatios.stream().mapToDouble(Double::doubleValue).max().orElse(0));
                try (Connection c = pool.getConnection(); Statement st = c.createStatement();
                     var rs = st.executeQuery("SELECT count(*) FROM bench_http_charges")) {
                    rs.next();
                    System.out.printf("charges written: %d%n", rs.getLong(1));
                }
            } finally {
                clients.shutdownNow();
                tomcat.stop();
                tomcat.destroy();
                if (!args.containsKey("keep")) {
                    try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
                        st.execute("DROP TABLE IF EXISTS bench_http_charges");
                        st.execute("DROP TABLE IF EXISTS bench_http_keys");
                        st.execute("DROP TABLE IF EXISTS bench_http_keys_oncely");
                    }
                }
            }
        }
    }

    /** Requests per second over {@code seconds}, every request with a fresh key; any non-201 fails the run. */
    private static double run(HttpClient http, ExecutorService clients, int port, String path, int threads,
                              double seconds) throws Exception {
        URI uri = URI.create("http://127.0.0.1:" + port + path);
        long end = System.nanoTime() + (long) (seconds * 1e9);
        AtomicLong done = new AtomicLong();
        long start = System.nanoTime();
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            String client = "client-" + t;
            futures.add(clients.submit(() -> {
                while (System.nanoTime() < end) {
                    HttpRequest request = HttpRequest.newBuilder(uri)
                            .header("X-Api-Key", client)
                            .header("Idempotency-Key", "\"" + UUID.randomUUID() + "\"")
                            .POST(HttpRequest.BodyPublishers.ofString("amount_cents=500")).build();
                    HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
                    if (response.statusCode() != 201) {
                        throw new IllegalStateException(path + " answered " + response.statusCode() + ": "
                                + new String(response.body(), StandardCharsets.UTF_8));
                    }
                    done.incrementAndGet();
                }
                return null;
            }));
        }
        for (Future<?> f : futures) {
            f.get();
        }
        return done.get() / ((System.nanoTime() - start) / 1e9);
    }

    private static double median(List<Double> values) {
        double[] sorted = values.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
