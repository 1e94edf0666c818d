package dev.oncely.jdbc;

import dev.oncely.testkit.LeaseContract;

import static org.assertj.core.api.Assertions.assertThat;

import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * The MYSQL dialect's code path (no INSERT ... RETURNING: the fresh claim's timestamp is read back) against the
 * whole conformance suite on the real MariaDB's InnoDB. The table comes from mariadb.sql, because mysql.sql names
 * MySQL 8's utf8mb4_0900_bin collation, which MariaDB 10.11 does not have. MySQL itself is not tested here.
 */
class MySqlDialectOnMariaDbStoreContractTest extends MariaDbStoreContractTestBase implements LeaseContract {

    @Override
    protected JdbcDedupStoreBuilder storeBuilder(DataSource dataSource, String table) {
        return JdbcDedupStore.builder(dataSource).database(Database.MYSQL).table(table);
    }

    @Override
    protected void createSchema(JdbcDedupStore store, String table) {
        JdbcDedupStore.builder(dataSource()).database(Database.MARIADB).table(table).build()
                .createSchemaIfMissing();
    }

    @Override
    @Test
    void theDialectIsDetectedAndTheTableIsInnoDbWithAnExactCollation() throws Exception {
        JdbcDedupStore store = (JdbcDedupStore) store();
        assertThat(store.describe()).startsWith("MySQL store on ");
        assertThat(store.ddl()).contains("utf8mb4_0900_bin").contains("ENGINE=InnoDB")
                .contains("_expires_at_idx (expires_at, processed_at)");
    }
}
