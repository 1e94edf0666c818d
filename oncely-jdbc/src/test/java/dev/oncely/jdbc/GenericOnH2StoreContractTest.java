package dev.oncely.jdbc;

import dev.oncely.testkit.LeaseContract;

import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.testdatabases.TestDatabase;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** The generic (savepoint) dialect against the whole conformance suite, on an in-memory H2. */
class GenericOnH2StoreContractTest extends JdbcStoreContractTestBase implements LeaseContract {

    static final TestDatabase H2 = H2StoreContractTest.inMemoryH2("oncely_generic_contract");

    @Override
    protected TestDatabase database() {
        return H2;
    }

    @Override
    protected String effectsDdl() {
        return H2StoreContractTest.H2_EFFECTS_DDL;
    }

    @Override
    protected JdbcDedupStoreBuilder storeBuilder(DataSource dataSource, String table) {
        return JdbcDedupStore.builder(dataSource).database(Database.GENERIC).table(table);
    }

    @Test
    void theGenericDialectIsUsedWithItsOwnDdl() throws Exception {
        JdbcDedupStore store = (JdbcDedupStore) store();
        assertThat(store.describe()).startsWith("Generic JDBC store on ");
        assertThat(store.ddl()).contains("BYTEA").contains("TIMESTAMP WITH TIME ZONE");
    }
}
