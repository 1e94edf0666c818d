package dev.oncely.jdbc;

import dev.oncely.testkit.LeaseContract;

import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.testdatabases.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The MariaDB store against the whole conformance suite with every connection at one isolation level: InnoDB's
 * default REPEATABLE READ, READ COMMITTED and SERIALIZABLE, where concurrent claims lock and fail differently.
 */
@ParameterizedClass(name = "{0}")
@ValueSource(strings = {"REPEATABLE-READ", "READ-COMMITTED", "SERIALIZABLE"})
class MariaDbStoreContractTest extends MariaDbStoreContractTestBase implements LeaseContract {

    private final String isolation;

    MariaDbStoreContractTest(String isolation) {
        this.isolation = isolation;
    }

    @Override
    protected TestDatabase database() {
        TestDatabase db = super.database();
        String url = db.jdbcUrl() + (db.jdbcUrl().contains("?") ? "&" : "?")
                + "sessionVariables=tx_isolation='" + isolation + "'";
        return new TestDatabase(db.kind(), url, db.user(), db.password(), db.source() + ", " + isolation);
    }

    @Test
    void connectionsRunAtTheIsolationLevelUnderTest() throws Exception {
        try (Connection c = dataSource().getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT @@tx_isolation")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo(isolation);
        }
    }
}
