package dev.oncely.jdbc;

import dev.oncely.testdatabases.TestDatabaseExtension;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The first-claim table check on PostgreSQL, plain layout. */
class PostgresSchemaShapeCheckTest extends SchemaShapeCheckTestBase {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    PostgresSchemaShapeCheckTest() {
        super(DB::database, "dev/oncely/jdbc/postgresql.sql", "shape_plain");
    }
}
