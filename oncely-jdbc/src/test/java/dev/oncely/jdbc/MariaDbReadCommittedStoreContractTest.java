package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.testdatabases.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/** The MariaDB store against the whole conformance suite with every connection at READ-COMMITTED. */
class MariaDbReadCommittedStoreContractTest extends MariaDbStoreContractTest {

    @Override
    protected TestDatabase database() {
        TestDatabase db = super.database();
        String url = db.jdbcUrl() + (db.jdbcUrl().contains("?") ? "&" : "?")
                + "sessionVariables=tx_isolation='READ-COMMITTED'";
        return new TestDatabase(db.kind(), url, db.user(), db.password(), db.source() + ", READ-COMMITTED");
    }

    @Test
    void connectionsRunAtReadCommitted() throws Exception {
        try (Connection c = dataSource().getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT @@tx_isolation")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("READ-COMMITTED");
        }
    }
}
