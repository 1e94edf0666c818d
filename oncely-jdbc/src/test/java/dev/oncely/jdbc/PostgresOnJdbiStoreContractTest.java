package dev.oncely.jdbc;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabaseExtension;
import javax.sql.DataSource;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The PostgreSQL store built on a caller's {@link Jdbi} (its transactions run through Jdbi handles, where a store
 * built on a DataSource uses plain JDBC) against the whole conformance suite.
 */
class PostgresOnJdbiStoreContractTest extends JdbcStoreContractTestBase {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    @Override
    protected TestDatabase database() {
        return DB.database();
    }

    @Override
    protected JdbcDedupStore.Builder storeBuilder(DataSource dataSource, String table) {
        return JdbcDedupStore.builder(Jdbi.create(dataSource)).table(table);
    }
}
