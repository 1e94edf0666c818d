package dev.oncely.spring;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabases;

/** Spring transactions and @Idempotent on MariaDB. */
class MariaDbSpringTransactionsTest extends SpringTransactionsTestBase {

    @Override
    TestDatabase database() {
        return TestDatabases.mariadb();
    }
}
