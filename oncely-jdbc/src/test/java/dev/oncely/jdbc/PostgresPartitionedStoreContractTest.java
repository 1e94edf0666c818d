package dev.oncely.jdbc;

import dev.oncely.testkit.StoreCapabilities;
import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.sql.SQLException;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The time-partitioned PostgreSQL layout against the whole conformance suite, with hour-long partitions and a
 * 10-minute overlap (so a run inside the first 10 minutes of an hour writes claims into two partitions). Its tables
 * are prefixed {@code part_} so they never meet the plain layout's tables of the same names.
 */
class PostgresPartitionedStoreContractTest extends JdbcStoreContractTestBase {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    @Override
    protected TestDatabase database() {
        return DB.database();
    }

    @Override
    protected JdbcDedupStoreBuilder storeBuilder(DataSource dataSource, String table) {
        return JdbcDedupStore.builder(dataSource).table(tablePrefix() + table)
                .timePartitioned(Duration.ofHours(1), overlap());
    }

    protected String tablePrefix() {
        return "part_";
    }

    protected Duration overlap() {
        return Duration.ofMinutes(10);
    }

    @Override
    public long claimRows(String table) throws SQLException {
        if (createdStore(table).isEmpty()) {
            return 0;
        }
        // Keys holding a live claim: a key claimed inside an overlap has a row in two partitions, and expired keys
        // stay until their partition is dropped.
        return count("SELECT count(*) FROM (SELECT DISTINCT consumer, event_id FROM "
                + createdStore(table).get().tableName() + " WHERE expires_at IS NULL OR expires_at > now()) k");
    }

    @Override
    public StoreCapabilities capabilities() {
        return StoreCapabilities.database().purgingWholePartitions();
    }
}
