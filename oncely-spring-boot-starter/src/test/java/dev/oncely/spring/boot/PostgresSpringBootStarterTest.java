package dev.oncely.spring.boot;

import dev.oncely.testkit.TestDatabase;
import dev.oncely.testkit.TestDatabases;

/** The starter with JPA on PostgreSQL. */
class PostgresSpringBootStarterTest extends SpringBootStarterTestBase {

    @Override
    TestDatabase database() {
        return TestDatabases.postgres();
    }
}
