package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.MisconfigurationException;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The first-claim table check on PostgreSQL, time-partitioned layout: its partition key and table of partitions too. */
class PostgresPartitionedSchemaShapeCheckTest extends SchemaShapeCheckTestBase {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    PostgresPartitionedSchemaShapeCheckTest() {
        super(DB::database, "dev/oncely/jdbc/postgresql-partitioned.sql", "shape_part");
    }

    @Override
    protected String[] extraTables() {
        return new String[] {"shape_part_partitions"};
    }

    @Override
    protected JdbcDedupStoreBuilder builder(DataSource dataSource) {
        return super.builder(dataSource).timePartitioned(Duration.ofHours(1), Duration.ofMinutes(1));
    }

    @Override
    protected void afterDdl(JdbcDedupStore store) {
        store.maintainPartitions(); // partitions in place, so only the missing column can stop a claim
    }

    @Test
    void aTableMissingItsPartitionKeyFailsTheFirstProcessBeforeItsEffectCommits() throws Exception {
        JdbcDedupStore store = storeWithoutColumn("bucket");
        assertThatThrownBy(() -> handlerOn(store).process("order-1"))
                .isInstanceOf(MisconfigurationException.class).hasMessageContaining("lacks the column bucket");
        assertThat(effectCount()).isZero();
    }

    @Test
    void aMissingTableOfPartitionsFailsTheFirstProcessBeforeItsEffectCommits() throws Exception {
        JdbcDedupStore store = builder(pool()).build().createSchemaIfMissing();
        execute("DROP TABLE shape_part_partitions");
        assertThatThrownBy(() -> handlerOn(store).process("order-1"))
                .isInstanceOf(MisconfigurationException.class)
                .hasMessageContaining("shape_part_partitions does not exist");
        assertThat(effectCount()).isZero();
    }
}
