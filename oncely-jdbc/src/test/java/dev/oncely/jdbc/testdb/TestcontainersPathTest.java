package dev.oncely.jdbc.testdb;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabases;
import static org.assertj.core.api.Assertions.assertThatCode;

import org.junit.jupiter.api.Test;

/**
 * oncely-test-databases declares the Testcontainers modules optional, so they reach no test classpath by themselves: this
 * module declares them, so that on a machine with Docker (and no URL or local service) the resolver's
 * Testcontainers step can start PostgreSQL and MariaDB instead of reporting them missing.
 */
class TestcontainersPathTest {

    @Test
    void theContainerClassesTheResolverStartsAreOnThisModulesTestClasspath() {
        for (TestDatabases.Spec spec : new TestDatabases.Spec[] {
                TestDatabases.postgresSpec(), TestDatabases.mariadbSpec()}) {
            assertThatCode(() -> Class.forName(spec.containerClass())).as(spec.containerArtifact())
                    .doesNotThrowAnyException();
        }
        assertThatCode(() -> Class.forName("org.testcontainers.DockerClientFactory")).doesNotThrowAnyException();
    }
}
