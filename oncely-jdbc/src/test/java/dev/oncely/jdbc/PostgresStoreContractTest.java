package dev.oncely.jdbc;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabaseExtension;
import javax.sql.DataSource;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The PostgreSQL store against the whole conformance suite, on a real PostgreSQL. */
class PostgresStoreContractTest extends JdbcStoreContractTestBase {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    @Override
    protected TestDatabase database() {
        return DB.database();
    }

    @Override
    protected JdbcDedupStore.Builder storeBuilder(DataSource dataSource, String table) {
        return JdbcDedupStore.builder(dataSource).table(table); // dialect detected from the product name
    }
}
