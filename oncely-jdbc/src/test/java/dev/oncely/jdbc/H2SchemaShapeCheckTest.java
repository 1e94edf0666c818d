package dev.oncely.jdbc;

import dev.oncely.testdatabases.TestDatabase;

/** The first-claim table check on an in-memory H2. */
class H2SchemaShapeCheckTest extends SchemaShapeCheckTestBase {

    private static final TestDatabase H2 = H2StoreContractTest.inMemoryH2("oncely_h2_shape");

    @Override
    protected TestDatabase database() {
        return H2;
    }

    @Override
    protected String ddlResource() {
        return "dev/oncely/jdbc/h2.sql";
    }

    @Override
    protected String table() {
        return "shape_check";
    }
}
