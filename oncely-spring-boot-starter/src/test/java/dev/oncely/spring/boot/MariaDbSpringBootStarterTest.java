package dev.oncely.spring.boot;

import dev.oncely.testkit.TestDatabase;
import dev.oncely.testkit.TestDatabases;

/** The starter with JPA on MariaDB. */
class MariaDbSpringBootStarterTest extends SpringBootStarterTestBase {

    @Override
    TestDatabase database() {
        return TestDatabases.mariadb();
    }
}
