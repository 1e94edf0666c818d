package dev.oncely.spring;

import dev.oncely.testkit.TestDatabase;
import dev.oncely.testkit.TestDatabases;

/** Spring transactions and @Idempotent on PostgreSQL. */
class PostgresSpringTransactionsTest extends SpringTransactionsTestBase {

    @Override
    TestDatabase database() {
        return TestDatabases.postgres();
    }
}
