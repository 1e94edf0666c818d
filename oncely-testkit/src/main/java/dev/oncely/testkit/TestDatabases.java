package dev.oncely.testkit;

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
 *   <li>otherwise an {@link IllegalStateException} that lists these three ways.</li>
 * </ol>
 * The result is cached per JVM.
 */
public final class TestDatabases {

    private static final Map<String, TestDatabase> FOUND = new ConcurrentHashMap<>();

    private TestDatabases() {
    }

    public static TestDatabase postgres() {
        return FOUND.computeIfAbsent("postgresql", k -> resolve(new Spec("postgresql", "POSTGRES",
                "jdbc:postgresql://127.0.0.1:5432/test", List.of("postgres", "root"), "",
                "org.testcontainers.postgresql.PostgreSQLContainer", "postgres:16-alpine")));
    }

    public static TestDatabase mariadb() {
        return FOUND.computeIfAbsent("mariadb", k -> resolve(new Spec("mariadb", "MARIADB",
                "jdbc:mariadb://127.0.0.1:3306/test", List.of("root"), "",
                "org.testcontainers.mariadb.MariaDBContainer", "mariadb:11")));
    }

    private record Spec(String kind, String envName, String localUrl, List<String> localUsers, String localPassword,
                        String containerClass, String image) {
    }

    static TestDatabase resolve(Spec spec) {
        return resolve(spec, System::getenv);
    }

    static TestDatabase resolve(Spec spec, Function<String, String> env) {
        List<String> tried = new ArrayList<>();
        String prefix = "ONCELY_TEST_" + spec.envName();
        String url = env.apply(prefix + "_URL");
        if (url != null && !url.isBlank()) {
            String user = Optional.ofNullable(env.apply(prefix + "_USER")).orElse("");
            String password = Optional.ofNullable(env.apply(prefix + "_PASSWORD")).orElse("");
            // An explicit URL is used as given: if it is wrong the tests must fail on it, not fall back.
            return new TestDatabase(spec.kind(), url, user, password, "environment " + prefix + "_URL");
        }
        tried.add(prefix + "_URL is not set");

        Optional<TestDatabase> container = TestcontainersSupport.start(spec.kind(), spec.containerClass(),
                spec.image(), tried);
        if (container.isPresent()) {
            return container.get();
        }

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
        throw new IllegalStateException("No " + spec.kind() + " database for the tests. Tried: "
                + String.join("; ", tried) + ". Provide one of: (1) " + prefix + "_URL (and " + prefix + "_USER, "
                + prefix + "_PASSWORD) with a JDBC URL; (2) a running Docker engine, for Testcontainers; (3) the"
                + " local service at " + spec.localUrl() + " (start it, e.g. "
                + (spec.kind().equals("postgresql")
                ? "'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'"
                : "'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd'")
                + "). Tests are never skipped for want of a database.");
    }

}
