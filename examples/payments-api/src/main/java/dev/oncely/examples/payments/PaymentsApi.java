package dev.oncely.examples.payments;

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
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;
import org.apache.catalina.Context;
import org.apache.catalina.LifecycleException;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;

/**
 * A payments API: {@code POST /charges} (form field {@code amount_cents}) behind Oncely's idempotency filter, on an
 * embedded Tomcat and an embedded H2 database. In the in-transaction mode (the default) the charge row, the key and
 * the stored response commit in one transaction; in the lease mode ({@code --mode leased}) the key is leased first
 * and the charge is written as a call to another service would be, on a connection of its own, under the request's
 * downstream key. {@link #main} starts it, runs {@link DemoClient} against it (a request that times out, then a retry
 * with the same key) and prints the charges counted in the database.
 */
public final class PaymentsApi implements AutoCloseable {

    private static final String USAGE = """
            Usage: mvn -q -pl examples/payments-api -am compile exec:java [-Dexec.args="..."]
              --port N            HTTP port (default 0: a free one)
              --delay MILLIS      how long a charge takes on the server, to simulate a slow payment network (default 1500)
              --mode MODE         in-transaction (default) or leased: the filter's mode (docs/http.md)
              --serve             after the demo, keep serving until Ctrl-C (try it with curl, see docs/http.md)
              --help              this text
            """;

    /** Tomcat logs through java.util.logging: only its errors, so the demo's story stays readable. */
    private static final java.util.logging.Logger TOMCAT_LOGS = java.util.logging.Logger.getLogger("org.apache");

    static {
        TOMCAT_LOGS.setLevel(java.util.logging.Level.SEVERE);
    }

    private final HikariDataSource dataSource;
    private final Tomcat tomcat;

    private PaymentsApi(HikariDataSource dataSource, Tomcat tomcat) {
        this.dataSource = dataSource;
        this.tomcat = tomcat;
    }

    /** Starts the API on an in-memory H2 database of its own ({@code name}) and the given port (0: a free one). */
    public static PaymentsApi start(String name, int port, Duration chargeDelay) throws IOException, LifecycleException {
        return start(name, port, chargeDelay, false);
    }

    /**
     * As {@link #start(String, int, Duration)}, in the lease mode if {@code leased}: a lease of 5 seconds, so that a
     * retry arriving while the charge runs is answered 409 with a short Retry-After.
     */
    public static PaymentsApi start(String name, int port, Duration chargeDelay, boolean leased)
            throws IOException, LifecycleException {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl("jdbc:h2:mem:" + name + ";DB_CLOSE_DELAY=-1;LOCK_TIMEOUT=30000");
        config.setUsername("sa");
        config.setMaximumPoolSize(8);
        HikariDataSource dataSource = new HikariDataSource(config);
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS charges (id varchar(36) PRIMARY KEY, client varchar(100) NOT NULL,"
                    + " amount_cents bigint NOT NULL, created_at timestamp DEFAULT CURRENT_TIMESTAMP)");
        } catch (SQLException e) {
            dataSource.close();
            throw new IllegalStateException("Creating the charges table failed: " + e.getMessage(), e);
        }
        JdbcDedupStore store = JdbcDedupStore.builder(dataSource).build().createSchemaIfMissing();

        IdempotencyFilter filter = (leased
                ? IdempotencyFilter.leased(store).lease(Duration.ofSeconds(5))
                : IdempotencyFilter.inTransaction(store))
                .consumer("payments-api")
                .clients(ClientIdentifier.header("X-Api-Key"))
                .paths("/charges")
                .build();

        Path base = Files.createTempDirectory("payments-api-tomcat");
        base.toFile().deleteOnExit();
        Tomcat tomcat = new Tomcat();
        tomcat.setSilent(true);
        tomcat.setBaseDir(base.toString());
        tomcat.setPort(port);
        Context context = tomcat.addContext("", base.toString());
        Tomcat.addServlet(context, "charges", new ChargesServlet(chargeDelay, leased ? dataSource : null));
        context.addServletMappingDecoded("/charges", "charges");
        FilterDef def = new FilterDef();
        def.setFilterName("idempotency");
        def.setFilter(filter);
        context.addFilterDef(def);
        FilterMap map = new FilterMap();
        map.setFilterName("idempotency");
        map.addURLPattern("/*");
        context.addFilterMap(map);
        tomcat.getConnector();
        tomcat.start();
        return new PaymentsApi(dataSource, tomcat);
    }

    public int port() {
        return tomcat.getConnector().getLocalPort();
    }

    public DataSource dataSource() {
        return dataSource;
    }

    /** Charges in the database, counted there. */
    public long charges() {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM charges")) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException("Counting charges failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() throws LifecycleException {
        tomcat.stop();
        tomcat.destroy();
        dataSource.close();
    }

    /**
     * POST /charges: one row in charges, on the idempotency transaction (or, in the lease mode, on a connection of its
     * own, as a payment processor would record it); 201 with the charge.
     */
    static final class ChargesServlet extends HttpServlet {
        private final Duration delay;
        private final DataSource processor;

        ChargesServlet(Duration delay, DataSource processor) {
            this.delay = delay;
            this.processor = processor;
        }

        @Override
        protected void doPost(HttpServletRequest request, HttpServletResponse response) throws IOException {
            String amount = request.getParameter("amount_cents");
            if (amount == null || !amount.matches("[1-9][0-9]{0,9}")) {
                response.setStatus(400);
                response.setContentType("application/problem+json");
                response.getWriter().write("{\"title\":\"Invalid amount\",\"status\":400,"
                        + "\"detail\":\"Send amount_cents, a positive whole number of cents.\"}");
                return;
            }
            String id = processor == null ? "ch_" + UUID.randomUUID().toString().replace("-", "").substring(0, 24)
                    // Lease mode: the charge's id is the request's downstream key, the same for every attempt, so a
                    // second attempt (after a crash) cannot charge twice: the processor's primary key refuses it.
                    : "ch_" + IdempotencyContext.run(request).downstreamKey("charge").substring(0, 24);
            try {
                Thread.sleep(delay.toMillis()); // the card network is slow today
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
            try (Connection own = processor == null ? null : processor.getConnection();
                 PreparedStatement ps = (own != null ? own : IdempotencyContext.connection(request)).prepareStatement(
                    "INSERT INTO charges (id, client, amount_cents) VALUES (?, ?, ?)")) {
                ps.setString(1, id);
                ps.setString(2, request.getHeader("X-Api-Key"));
                ps.setLong(3, Long.parseLong(amount));
                ps.executeUpdate();
            } catch (SQLException e) {
                throw new IOException("Recording the charge failed: " + e.getMessage(), e);
            }
            response.setStatus(201);
            response.setHeader("Location", "/charges/" + id);
            response.setContentType("application/json");
            response.getWriter().write("{\"id\":\"" + id + "\",\"amount_cents\":" + amount + ",\"status\":\"succeeded\"}");
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> options;
        try {
            options = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.err.print(USAGE);
            System.exit(2);
            return;
        }
        if (options.containsKey("--help")) {
            System.out.print(USAGE);
            return;
        }
        int port = Integer.parseInt(options.getOrDefault("--port", "0"));
        Duration delay = Duration.ofMillis(Long.parseLong(options.getOrDefault("--delay", "1500")));
        boolean leased = options.getOrDefault("--mode", "in-transaction").equals("leased");
        try (PaymentsApi api = start("payments", port, delay, leased)) {
            System.out.println("Payments API on http://127.0.0.1:" + api.port() + "/charges (H2 in memory; a charge"
                    + " takes " + delay.toMillis() + " ms; filter in " + (leased ? "lease" : "in-transaction")
                    + " mode)");
            DemoClient.Result result = new DemoClient(api.port(), System.out).run(delay);
            System.out.println();
            System.out.println("Charges in the database: " + api.charges() + " (the client sent the charge "
                    + result.attempts() + " times)");
            if (options.containsKey("--serve")) {
                System.out.println("Serving until Ctrl-C. Try: curl -i -X POST http://127.0.0.1:" + api.port()
                        + "/charges -H 'X-Api-Key: me' -H 'Idempotency-Key: \"my-key-1\"' -d amount_cents=500");
                Thread.currentThread().join();
            }
        }
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> options = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String name = args[i];
            switch (name) {
                case "--help", "-h" -> {
                    return Map.of("--help", "");
                }
                case "--serve" -> options.put(name, "");
                case "--port", "--delay" -> {
                    if (i + 1 >= args.length || !args[i + 1].matches("[0-9]+")) {
                        throw new IllegalArgumentException(name + " needs a whole number");
                    }
                    options.put(name, args[++i]);
                }
                case "--mode" -> {
                    if (i + 1 >= args.length || !args[i + 1].matches("in-transaction|leased")) {
                        throw new IllegalArgumentException("--mode needs in-transaction or leased");
                    }
                    options.put(name, args[++i]);
                }
                default -> throw new IllegalArgumentException("Unknown option " + name);
            }
        }
        return options;
    }
}
