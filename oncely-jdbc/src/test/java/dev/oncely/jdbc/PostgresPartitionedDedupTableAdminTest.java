package dev.oncely.jdbc;

import dev.oncely.testdatabases.TestDatabaseExtension;
import java.time.Duration;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The admin API on the time-partitioned layout, where a key may live in two partitions. */
class PostgresPartitionedDedupTableAdminTest extends DedupTableAdminTestBase {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    @RegisterExtension
    static final TestPools.ClassPool POOL = new TestPools.ClassPool(DB, 6, "TRANSACTION_READ_COMMITTED");

    PostgresPartitionedDedupTableAdminTest() {
        super(POOL::get, "oncely_admin_part");
    }

    @Override
    protected boolean purgesRows() {
        return false;
    }

    @Override
    protected JdbcDedupStore store(String table) {
        // An overlap as long as the partition: every claim writes its key into two partitions.
        return JdbcDedupStore.builder(dataSource()).table(table)
                .timePartitioned(Duration.ofHours(1), Duration.ofHours(1)).build().createSchemaIfMissing();
    }

    @Override
    protected void dropTable(String table) throws Exception {
        sql("DROP TABLE IF EXISTS " + table + " CASCADE");
        sql("DROP TABLE IF EXISTS " + table + "_partitions");
    }
}
