package dev.oncely.jdbc;

import dev.oncely.testdatabases.TestDatabaseExtension;
import org.junit.jupiter.api.extension.RegisterExtension;

class PostgresDedupTableAdminTest extends DedupTableAdminTestBase {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    @RegisterExtension
    static final TestPools.ClassPool POOL = new TestPools.ClassPool(DB, 6, "TRANSACTION_READ_COMMITTED");

    PostgresDedupTableAdminTest() {
        super(POOL::get, "oncely_admin");
    }
}
