package dev.oncely.spring;

import dev.oncely.testkit.TestDatabase;
import dev.oncely.testkit.TestDatabases;

/** Spring transactions and @Idempotent on MariaDB. */
class MariaDbSpringTransactionsTest extends SpringTransactionsTestBase {

    @Override
    TestDatabase database() {
        return TestDatabases.mariadb();
    }
}
