package dev.oncely.jdbc;

import dev.oncely.testdatabases.TestDatabaseExtension;
import javax.sql.DataSource;
import org.junit.jupiter.api.extension.RegisterExtension;

class PostgresDedupTableAdminTest extends DedupTableAdminTestBase {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    @RegisterExtension
    static final TestPools.ClassPool POOL = new TestPools.ClassPool(DB, 6, "TRANSACTION_READ_COMMITTED");

    @Override
    protected DataSource dataSource() {
        return POOL.get();
    }

    @Override
    protected String table() {
        return "oncely_admin";
    }
}
