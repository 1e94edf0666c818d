package dev.oncely.jdbc;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabaseExtension;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The first-claim table check on MariaDB. */
class MariaDbSchemaShapeCheckTest extends SchemaShapeCheckTestBase {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.mariadb();

    @Override
    protected TestDatabase database() {
        return DB.database();
    }

    @Override
    protected String ddlResource() {
        return "dev/oncely/jdbc/mariadb.sql";
    }

    @Override
    protected String table() {
        return "shape_check";
    }
}
