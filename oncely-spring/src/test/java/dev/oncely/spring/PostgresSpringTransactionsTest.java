package dev.oncely.spring;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabases;

/** Spring transactions and @Idempotent on PostgreSQL. */
class PostgresSpringTransactionsTest extends SpringTransactionsTestBase {

    @Override
    TestDatabase database() {
        return TestDatabases.postgres();
    }
}
