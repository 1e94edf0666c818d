package dev.oncely.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.testdatabases.TestDatabaseExtension;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.extension.RegisterExtension;

class PostgresDedupTableAdminTest extends DedupTableAdminTestBase {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    private static HikariDataSource pool;

    @AfterAll
    static void stop() {
        if (pool != null) {
            pool.close();
        }
    }

    @Override
    protected DataSource dataSource() {
        if (pool == null) {
            pool = TestPools.pool(DB.database(), 6, "TRANSACTION_READ_COMMITTED", true);
        }
        return pool;
    }

    @Override
    protected String table() {
        return "oncely_admin";
    }

    @Override
    protected JdbcDedupStore store(String table) {
        return JdbcDedupStore.builder(dataSource()).table(table).build().createSchemaIfMissing();
    }
}
