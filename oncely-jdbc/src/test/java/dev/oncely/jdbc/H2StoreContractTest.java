package dev.oncely.jdbc;

import dev.oncely.testkit.LeaseContract;

import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.testdatabases.TestDatabase;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * The H2 store against the whole conformance suite, on an in-memory H2 (no service needed). LOCK_TIMEOUT is
 * raised from H2's default so that claims waiting on a held key outlast the suite's slowest winner.
 */
class H2StoreContractTest extends JdbcStoreContractTestBase implements LeaseContract {

    static final TestDatabase H2 = inMemoryH2("oncely_h2_contract");

    /** H2 counts UTF-16 units: the longest key (255 four-byte characters) is 510 of them. */
    static final String H2_EFFECTS_DDL = "CREATE TABLE IF NOT EXISTS " + EFFECTS_TABLE
            + " (consumer varchar(200) NOT NULL, event_id varchar(510) NOT NULL)";

    /** An in-memory H2 kept for the JVM's life, with LOCK_TIMEOUT above the suite's slowest winner. */
    static TestDatabase inMemoryH2(String name) {
        return new TestDatabase("h2", "jdbc:h2:mem:" + name + ";DB_CLOSE_DELAY=-1;LOCK_TIMEOUT=10000", "sa", "",
                "in-memory H2");
    }

    @Override
    protected TestDatabase database() {
        return H2;
    }

    @Override
    protected String effectsDdl() {
        return H2_EFFECTS_DDL;
    }

    @Override
    protected JdbcDedupStoreBuilder storeBuilder(DataSource dataSource, String table) {
        return JdbcDedupStore.builder(dataSource).table(table); // dialect detected from the product name
    }

    @Test
    void theH2DialectIsDetected() throws Exception {
        assertThat(((JdbcDedupStore) store()).describe()).startsWith("H2 store on ");
    }
}
