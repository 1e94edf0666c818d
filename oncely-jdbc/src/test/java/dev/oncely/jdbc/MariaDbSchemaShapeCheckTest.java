package dev.oncely.jdbc;

import dev.oncely.testdatabases.TestDatabaseExtension;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The first-claim table check on MariaDB. */
class MariaDbSchemaShapeCheckTest extends SchemaShapeCheckTestBase {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.mariadb();

    MariaDbSchemaShapeCheckTest() {
        super(DB::database, "dev/oncely/jdbc/mariadb.sql", "shape_check");
    }
}
