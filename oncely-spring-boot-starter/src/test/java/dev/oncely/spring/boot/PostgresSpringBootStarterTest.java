package dev.oncely.spring.boot;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabases;

/** The starter with JPA on PostgreSQL. */
class PostgresSpringBootStarterTest extends SpringBootStarterTestBase {

    @Override
    TestDatabase database() {
        return TestDatabases.postgres();
    }
}
