package dev.oncely.jdbc;

import dev.oncely.testkit.LeaseContract;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.util.function.Function;
import javax.sql.DataSource;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The PostgreSQL store against the whole conformance suite, on a real PostgreSQL, built both ways a user can build
 * it: on a DataSource (plain JDBC transactions) and on the caller's {@link Jdbi} (transactions through Jdbi handles).
 */
@ParameterizedClass(name = "built on {0}")
@EnumSource(PostgresStoreContractTest.BuiltOn.class)
class PostgresStoreContractTest extends JdbcStoreContractTestBase implements LeaseContract {

    /** What the store is built on. */
    enum BuiltOn {
        DATA_SOURCE(JdbcDedupStore::builder),
        JDBI(dataSource -> JdbcDedupStore.builder(Jdbi.create(dataSource)));

        private final Function<DataSource, JdbcDedupStoreBuilder> builder;

        BuiltOn(Function<DataSource, JdbcDedupStoreBuilder> builder) {
            this.builder = builder;
        }
    }

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    private final BuiltOn builtOn;

    PostgresStoreContractTest(BuiltOn builtOn) {
        this.builtOn = builtOn;
    }

    @Override
    protected TestDatabase database() {
        return DB.database();
    }

    @Override
    protected JdbcDedupStoreBuilder storeBuilder(DataSource dataSource, String table) {
        return builtOn.builder.apply(dataSource).table(table); // dialect detected from the product name
    }
}
