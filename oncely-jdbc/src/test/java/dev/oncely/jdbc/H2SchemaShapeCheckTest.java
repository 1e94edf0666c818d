package dev.oncely.jdbc;

import dev.oncely.testdatabases.TestDatabase;

/** The first-claim table check on an in-memory H2. */
class H2SchemaShapeCheckTest extends SchemaShapeCheckTestBase {

    private static final TestDatabase H2 = H2StoreContractTest.inMemoryH2("oncely_h2_shape");

    H2SchemaShapeCheckTest() {
        super(() -> H2, "dev/oncely/jdbc/h2.sql", "shape_check");
    }
}
