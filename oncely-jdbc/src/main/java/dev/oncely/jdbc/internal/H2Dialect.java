package dev.oncely.jdbc.internal;

import dev.oncely.spi.ClaimRequest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;

/**
 * H2 2.x (embedded, file or in-memory). The generic savepoint-around-INSERT claim, because H2's {@code MERGE}
 * can raise 23505 under concurrency and {@code ON CONFLICT} exists only in its PostgreSQL mode; H2 reports the
 * duplicate as 23505 after waiting for the transaction that holds the key, like PostgreSQL. What H2 adds: one
 * round trip for a fresh claim ({@code SELECT ... FROM FINAL TABLE (INSERT ...)} with {@code DATEADD} on the
 * database clock) and a bounded {@code DELETE ... FETCH FIRST n ROWS ONLY}.
 *
 * <p>H2 waits for a lock at most its {@code LOCK_TIMEOUT} (a URL setting; 2 seconds by default in H2 2.5.252),
 * then fails with 50200; that, a deadlock (40001) and a concurrent update (90131) are retried as transient.
 * H2's {@code CURRENT_TIMESTAMP} is the transaction's start time, so expiry is judged at that instant.
 */
public final class H2Dialect extends GenericDialect {

    private static final int LOCK_TIMEOUT = 50200;
    private static final int CONCURRENT_UPDATE = 90131;
    private static final String EXPIRES = "DATEADD(MILLISECOND, CAST(? AS BIGINT), CURRENT_TIMESTAMP)";

    private final String insertSql;
    private final String insertWithResultSql;
    private final String rewriteExpiredSql;
    private final String purgeSql;
    private final String extendExpirySql;

    public H2Dialect(TableName table) {
        super(table, "H2", "dev/oncely/jdbc/h2.sql");
        String t = table.qualified();
        this.insertSql = "SELECT processed_at FROM FINAL TABLE (INSERT INTO " + t
                + " (consumer, event_id, processed_at, expires_at, fingerprint)"
                + " VALUES (?, ?, CURRENT_TIMESTAMP, " + EXPIRES + ", ?))";
        this.insertWithResultSql = "SELECT processed_at FROM FINAL TABLE (INSERT INTO " + t
                + " (consumer, event_id, processed_at, expires_at, fingerprint, result)"
                + " VALUES (?, ?, CURRENT_TIMESTAMP, " + EXPIRES + ", ?, ?))";
        this.rewriteExpiredSql = "SELECT processed_at FROM FINAL TABLE (UPDATE " + t
                + " SET processed_at = CURRENT_TIMESTAMP, expires_at = " + EXPIRES + ", fingerprint = ?,"
                + " result = NULL WHERE consumer = ? AND event_id = ? AND expires_at <= CURRENT_TIMESTAMP)";
        this.extendExpirySql = "UPDATE " + t + " SET expires_at = DATEADD(MILLISECOND, CAST(? AS BIGINT), expires_at)"
                + " WHERE consumer = ? AND event_id = ? AND expires_at IS NOT NULL";
        this.purgeSql = "DELETE FROM " + t + " WHERE expires_at <= CURRENT_TIMESTAMP FETCH FIRST ? ROWS ONLY";
    }

    @Override
    public java.util.Optional<String> epochMillisSql() {
        return java.util.Optional.of("CAST(EXTRACT(EPOCH FROM CURRENT_TIMESTAMP) * 1000 AS BIGINT)");
    }

    @Override
    protected Instant insert(Connection connection, ClaimRequest request) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(insertSql)) {
            JdbcStatements.bindClaim(ps, request, ChronoUnit.MILLIS);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getTimestamp(1).toInstant();
            }
        }
    }

    /** One statement: the row with its expiry and result. */
    @Override
    protected Instant insertWithResult(Connection connection, ClaimRequest request, byte[] result)
            throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(insertWithResultSql)) {
            JdbcStatements.bindClaim(ps, request, ChronoUnit.MILLIS);
            ps.setBytes(5, result);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getTimestamp(1).toInstant();
            }
        }
    }

    @Override
    protected Optional<Instant> rewriteExpired(Connection connection, ClaimRequest request) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(rewriteExpiredSql)) {
            JdbcStatements.bindRetention(ps, 1, request.retention(), ChronoUnit.MILLIS);
            ps.setString(2, request.fingerprint().orElse(null));
            ps.setString(3, request.consumer());
            ps.setString(4, request.key());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(rs.getTimestamp(1).toInstant()) : Optional.empty();
            }
        }
    }

    @Override
    public void extendExpiry(Connection connection, String consumer, java.util.Collection<String> keys,
                             java.time.Duration by) throws SQLException {
        JdbcStatements.extendExpiry(connection, extendExpirySql, consumer, keys, by, ChronoUnit.MILLIS);
    }

    @Override
    public int purgeExpired(Connection connection, int maxRows) throws SQLException {
        return JdbcStatements.deleteAtMost(connection, purgeSql, maxRows);
    }

    @Override
    public boolean isTransient(SQLException e) {
        int code = e.getErrorCode();
        return super.isTransient(e) || code == LOCK_TIMEOUT || code == CONCURRENT_UPDATE;
    }

    /** H2's LOCK_TIMEOUT is a session setting: restored afterwards. */
    @Override
    public Optional<String> limitLockWait(Connection connection, long millis) throws SQLException {
        String previous;
        try (java.sql.Statement st = connection.createStatement();
             ResultSet rs = st.executeQuery("SELECT SETTING_VALUE FROM INFORMATION_SCHEMA.SETTINGS"
                     + " WHERE SETTING_NAME = 'LOCK_TIMEOUT'")) {
            previous = rs.next() ? rs.getString(1) : null;
        }
        try (java.sql.Statement st = connection.createStatement()) {
            st.execute("SET LOCK_TIMEOUT " + millis);
        }
        return previous == null || !previous.matches("\\d+") ? Optional.empty()
                : Optional.of("SET LOCK_TIMEOUT " + previous);
    }

    @Override
    public boolean isLockWaitTimeout(SQLException e) {
        return e.getErrorCode() == LOCK_TIMEOUT;
    }
}
