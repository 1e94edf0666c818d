package dev.oncely.jdbc;

import java.sql.Connection;
import java.sql.Statement;
import org.h2.jdbcx.JdbcDataSource;

class H2DedupTableAdminTest extends DedupTableAdminTestBase {

    private static final JdbcDataSource H2 = new JdbcDataSource();

    static {
        H2.setURL("jdbc:h2:mem:admin;DB_CLOSE_DELAY=-1");
    }

    H2DedupTableAdminTest() {
        super(() -> H2, "oncely_admin");
    }

    /**
     * The reclaim's own UPDATE, without the failed INSERT the H2 dialect's claim runs before it. H2 2.5.252 spins
     * (100% CPU, past LOCK_TIMEOUT, for good) in a second session's UPDATE of a row the first session updated after
     * rolling a failed statement back to a savepoint (standalone repro: INSERT duplicate in a savepoint, rollback to
     * it, UPDATE; then UPDATE the row from another session). That is the claim path of two concurrent reclaims of one
     * expired key, a store issue of its own; the admin cannot bound a wait H2 does not bound.
     */
    @Override
    protected void reclaimWithoutCommitting(Connection held, String consumer, String key) throws Exception {
        try (Statement st = held.createStatement()) {
            st.executeUpdate("UPDATE " + table() + " SET processed_at = CURRENT_TIMESTAMP, expires_at = NULL"
                    + " WHERE consumer = '" + consumer + "' AND event_id = '" + key + "'");
        }
    }
}
