package dev.oncely.examples.billing;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import javax.sql.DataSource;

/**
 * The demo's tables, in plain SQL that PostgreSQL, MariaDB and H2 all accept. Every table starts with
 * {@code billing_demo_} and is dropped and re-created at the start of each run.
 */
final class BillingTables {

    /** Every event id the producer sent, once: what "lost" and "double" are measured against. */
    static final String EVENTS = "billing_demo_events";
    static final String ONCELY_CLAIMS = "billing_demo_claims";

    private final DataSource dataSource;

    BillingTables(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** Drops and re-creates the events table and a charges table per consumer, then records the events. */
    void recreate(List<ChargeEvent> events, String... chargeTables) throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("DROP TABLE IF EXISTS " + ONCELY_CLAIMS);
            st.execute("DROP TABLE IF EXISTS " + EVENTS);
            st.execute("CREATE TABLE " + EVENTS + " (event_id VARCHAR(40) NOT NULL PRIMARY KEY)");
            for (String charges : chargeTables) {
                st.execute("DROP TABLE IF EXISTS " + charges);
                // No unique key on event_id: a charges table records payments, and one event may pay twice.
                st.execute("CREATE TABLE " + charges
                        + " (event_id VARCHAR(40) NOT NULL, customer VARCHAR(40) NOT NULL, cents BIGINT NOT NULL)");
                st.execute("CREATE INDEX " + charges + "_event_id ON " + charges + " (event_id)");
            }
        }
        try (Connection c = dataSource.getConnection();
                PreparedStatement insert = c.prepareStatement("INSERT INTO " + EVENTS + " (event_id) VALUES (?)")) {
            c.setAutoCommit(false);
            for (int i = 0; i < events.size(); i++) {
                insert.setString(1, events.get(i).eventId());
                insert.addBatch();
                if (i % 1_000 == 999 || i == events.size() - 1) {
                    insert.executeBatch();
                }
            }
            c.commit();
        }
    }

    /** The business write: one row per charge, on whatever connection (and transaction) it is given. */
    static void insertCharge(Connection connection, String charges, ChargeEvent event) throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO " + charges + " (event_id, customer, cents) VALUES (?, ?, ?)")) {
            insert.setString(1, event.eventId());
            insert.setString(2, event.customer());
            insert.setLong(3, event.cents());
            insert.executeUpdate();
        }
    }

    long uniqueEvents() throws SQLException {
        return count("SELECT COUNT(*) FROM " + EVENTS);
    }

    long chargesWritten(String charges) throws SQLException {
        return count("SELECT COUNT(*) FROM " + charges);
    }

    /** Charges beyond the first for the same event: money taken twice. */
    long doubleCharges(String charges) throws SQLException {
        return count("SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM " + charges
                + " GROUP BY event_id HAVING COUNT(*) > 1) twice");
    }

    /** Events the producer sent that were never charged. */
    long lostCharges(String charges) throws SQLException {
        return count("SELECT COUNT(*) FROM " + EVENTS + " e WHERE NOT EXISTS (SELECT 1 FROM " + charges
                + " c WHERE c.event_id = e.event_id)");
    }

    private long count(String sql) throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
