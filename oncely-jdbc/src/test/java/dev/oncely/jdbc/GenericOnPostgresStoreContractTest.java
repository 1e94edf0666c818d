package dev.oncely.jdbc;

import dev.oncely.testkit.LeaseContract;

import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The generic (savepoint) dialect against the whole conformance suite, on a real PostgreSQL: the database that
 * aborts a transaction on any error, so a duplicate must be caught inside a savepoint. Its tables live in their
 * own schema, created from generic.sql, apart from the PostgreSQL dialect's.
 */
class GenericOnPostgresStoreContractTest extends JdbcStoreContractTestBase implements LeaseContract {

    static final String SCHEMA = "oncely_generic";

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    @Override
    protected TestDatabase database() {
        return DB.database();
    }

    @Override
    protected JdbcDedupStoreBuilder storeBuilder(DataSource dataSource, String table) {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE SCHEMA IF NOT EXISTS " + SCHEMA);
        } catch (SQLException e) {
            throw new IllegalStateException("Could not create schema " + SCHEMA + ": " + e.getMessage(), e);
        }
        return JdbcDedupStore.builder(dataSource).database(Database.GENERIC).schema(SCHEMA).table(table);
    }

    @Test
    void theGenericDialectIsUsedInItsOwnSchema() throws Exception {
        JdbcDedupStore store = (JdbcDedupStore) store();
        assertThat(store.describe()).isEqualTo("Generic JDBC store on " + SCHEMA + ".processed_events");
        assertThat(count("SELECT count(*) FROM information_schema.columns WHERE table_schema = ?"
                + " AND table_name = 'processed_events' AND column_name = 'event_id'"
                + " AND character_maximum_length = 510", SCHEMA)).as("created from generic.sql").isEqualTo(1);
    }
}
