package dev.oncely.jdbc;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabaseExtension;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The first-claim table check on PostgreSQL, plain layout. */
class PostgresSchemaShapeCheckTest extends SchemaShapeCheckTestBase {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    @Override
    protected TestDatabase database() {
        return DB.database();
    }

    @Override
    protected String ddlResource() {
        return "dev/oncely/jdbc/postgresql.sql";
    }

    @Override
    protected String table() {
        return "shape_plain";
    }
}
