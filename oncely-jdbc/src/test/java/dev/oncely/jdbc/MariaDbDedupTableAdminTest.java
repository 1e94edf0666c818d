package dev.oncely.jdbc;

import dev.oncely.testdatabases.TestDatabaseExtension;
import org.junit.jupiter.api.extension.RegisterExtension;

class MariaDbDedupTableAdminTest extends DedupTableAdminTestBase {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.mariadb();

    @RegisterExtension
    static final TestPools.ClassPool POOL = new TestPools.ClassPool(DB, 6, "TRANSACTION_REPEATABLE_READ");

    MariaDbDedupTableAdminTest() {
        super(POOL::get, "oncely_admin");
    }
}
