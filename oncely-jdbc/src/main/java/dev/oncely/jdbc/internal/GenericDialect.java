package dev.oncely.jdbc.internal;

import dev.oncely.spi.ClaimBatch;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.Savepoint;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Any database with savepoints and a unique primary key, in portable SQL: the claim is a plain {@code INSERT}
 * inside a savepoint. SQLSTATE class 23 (integrity constraint violation, which includes the unique violation)
 * is taken as a possible duplicate: the statement is rolled back to the savepoint, which keeps the transaction
 * usable even on databases that abort it on any error (PostgreSQL), and the row is read back. A row that is
 * still live is a duplicate; an expired one is rewritten with a guarded {@code UPDATE}.
 *
 * <p>Time arithmetic is not portable, so expiry is computed from the database clock in two steps: the row is
 * written with {@code CURRENT_TIMESTAMP}, its {@code processed_at} is read back, and {@code expires_at} is set
 * to that plus the retention. Comparisons use {@code CURRENT_TIMESTAMP} again.
 *
 * <p>A conflicting key that the transaction cannot see (a snapshot older than the other transaction's commit,
 * under REPEATABLE READ or SERIALIZABLE) is reported as SQLSTATE 40001, so the whole transaction is retried.
 */
public class GenericDialect implements SqlDialect {

    private static final int MAX_ATTEMPTS = 3;

    protected final TableName table;
    private final String name;
    private final String ddlResource;
    private final String insertSql;
    private final String insertWithResultSql;
    private final String readOwnSql;
    private final String setExpirySql;
    private final String readExpirySql;
    private final String findSql;
    private final String rewriteExpiredSql;
    private final String saveResultSql;
    private final String findExpiredSql;
    private final String deleteExpiredSql;

    public GenericDialect(TableName table) {
        this(table, "Generic JDBC", "dev/oncely/jdbc/generic.sql");
    }

    protected GenericDialect(TableName table, String name, String ddlResource) {
        this.table = table;
        this.name = name;
        this.ddlResource = ddlResource;
        String t = table.qualified();
        String pk = " WHERE consumer = ? AND event_id = ?";
        this.insertSql = "INSERT INTO " + t + " (consumer, event_id, processed_at, expires_at, fingerprint)"
                + " VALUES (?, ?, CURRENT_TIMESTAMP, NULL, ?)";
        this.insertWithResultSql = "INSERT INTO " + t + " (consumer, event_id, processed_at, expires_at,"
                + " fingerprint, result) VALUES (?, ?, CURRENT_TIMESTAMP, NULL, ?, ?)";
        this.readOwnSql = "SELECT processed_at FROM " + t + pk;
        this.setExpirySql = "UPDATE " + t + " SET expires_at = ?" + pk;
        this.readExpirySql = "SELECT expires_at FROM " + t + pk;
        this.findSql = "SELECT processed_at, fingerprint, result,"
                + " CASE WHEN expires_at <= CURRENT_TIMESTAMP THEN 1 ELSE 0 END FROM " + t + pk;
        this.rewriteExpiredSql = "UPDATE " + t + " SET processed_at = CURRENT_TIMESTAMP, expires_at = NULL,"
                + " fingerprint = ?, result = NULL" + pk + " AND expires_at <= CURRENT_TIMESTAMP";
        this.saveResultSql = "UPDATE " + t + " SET result = ?" + pk;
        this.findExpiredSql = "SELECT consumer, event_id FROM " + t + " WHERE expires_at <= CURRENT_TIMESTAMP";
        this.deleteExpiredSql = "DELETE FROM " + t + pk + " AND expires_at <= CURRENT_TIMESTAMP";
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String ddlResource() {
        return ddlResource;
    }

    @Override
    public ClaimResult claim(Connection connection, ClaimRequest request) throws SQLException {
        SQLException lastConflict = null;
        for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
            Insert insert = inSavepoint(connection, () -> insert(connection, request));
            if (insert instanceof Inserted inserted) {
                return ClaimResult.claimed(inserted.processedAt());
            }
            lastConflict = ((Conflicted) insert).error();
            Optional<JdbcStatements.StoredClaim> existing = JdbcStatements.findStored(connection, findSql, request);
            if (existing.isEmpty()) {
                continue; // purged after expiry, or committed after our snapshot: try again, then give up
            }
            if (!existing.get().expired()) {
                return existing.get().claim();
            }
            Optional<Instant> rewritten = rewriteExpired(connection, request);
            if (rewritten.isPresent()) {
                return ClaimResult.claimed(rewritten.get());
            }
            // Another transaction rewrote it first: go round, and see its claim.
        }
        throw new SQLException("Key '" + request.key() + "' of consumer '" + request.consumer() + "' conflicted "
                + MAX_ATTEMPTS + " times in " + table + " but the conflicting row is not visible to this"
                + " transaction (it committed after this transaction's snapshot, or something deletes live keys)."
                + " Retry the whole transaction. Last error: " + lastConflict.getMessage() + " (SQLState "
                + lastConflict.getSQLState() + ")", "40001", lastConflict);
    }

    /**
     * The INSERT with the result in the row, inside a savepoint as {@link #claim}'s. A possible duplicate rolls back
     * to the savepoint and takes {@link #claim}'s way, and then the result is saved if it claimed.
     */
    @Override
    public ClaimResult claimWithResult(Connection connection, ClaimRequest request, byte[] result)
            throws SQLException {
        if (inSavepoint(connection, () -> insertWithResult(connection, request, result)) instanceof Inserted inserted) {
            return ClaimResult.claimed(inserted.processedAt());
        }
        return SqlDialect.super.claimWithResult(connection, request, result);
    }

    /** An INSERT of a fresh claim, returning its processed_at. */
    @FunctionalInterface
    private interface InsertStatement {
        Instant run() throws SQLException;
    }

    /** What {@link #inSavepoint} did: inserted the claim, or met a possible duplicate. */
    private sealed interface Insert permits Inserted, Conflicted {
    }

    private record Inserted(Instant processedAt) implements Insert {
    }

    private record Conflicted(SQLException error) implements Insert {
    }

    /**
     * Runs the INSERT inside a savepoint. A possible duplicate rolls back to the savepoint (the transaction stays
     * usable, also on PostgreSQL) and is returned as {@link Conflicted}; any other error is thrown.
     */
    private Insert inSavepoint(Connection connection, InsertStatement statement) throws SQLException {
        Savepoint savepoint = connection.setSavepoint();
        try {
            Instant processedAt = statement.run();
            release(connection, savepoint);
            return new Inserted(processedAt);
        } catch (SQLException e) {
            if (!isPossibleDuplicate(e)) {
                throw e;
            }
            connection.rollback(savepoint);
            release(connection, savepoint);
            return new Conflicted(e);
        }
    }

    /** Inserts a fresh claim holding {@code result} and returns its processed_at, by the database clock. */
    protected Instant insertWithResult(Connection connection, ClaimRequest request, byte[] result)
            throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(insertWithResultSql)) {
            ps.setString(1, request.consumer());
            ps.setString(2, request.key());
            ps.setString(3, request.fingerprint().orElse(null));
            ps.setBytes(4, result);
            ps.executeUpdate();
        }
        return readOwnAndSetExpiry(connection, request);
    }

    /** Inserts a fresh claim and returns its processed_at, by the database clock. */
    protected Instant insert(Connection connection, ClaimRequest request) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(insertSql)) {
            ps.setString(1, request.consumer());
            ps.setString(2, request.key());
            ps.setString(3, request.fingerprint().orElse(null));
            ps.executeUpdate();
        }
        return readOwnAndSetExpiry(connection, request);
    }

    private Instant readOwnAndSetExpiry(Connection connection, ClaimRequest request) throws SQLException {
        Instant processedAt;
        try (PreparedStatement ps = connection.prepareStatement(readOwnSql)) {
            ps.setString(1, request.consumer());
            ps.setString(2, request.key());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("The row just written for key '" + request.key() + "' is not visible"
                            + " to its own transaction in " + table, "55000");
                }
                processedAt = rs.getTimestamp(1).toInstant();
            }
        }
        if (request.retention().isPresent()) {
            try (PreparedStatement ps = connection.prepareStatement(setExpirySql)) {
                ps.setTimestamp(1, Timestamp.from(processedAt.plus(request.retention().get())));
                ps.setString(2, request.consumer());
                ps.setString(3, request.key());
                ps.executeUpdate();
            }
        }
        return processedAt;
    }

    /** Rewrites an expired claim as a fresh one and returns its new processed_at; empty if it is live again. */
    protected Optional<Instant> rewriteExpired(Connection connection, ClaimRequest request) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(rewriteExpiredSql)) {
            ps.setString(1, request.fingerprint().orElse(null));
            ps.setString(2, request.consumer());
            ps.setString(3, request.key());
            if (ps.executeUpdate() != 1) {
                return Optional.empty();
            }
        }
        return Optional.of(readOwnAndSetExpiry(connection, request));
    }

    /** Class 23: integrity constraint violation. Confirmed as a duplicate only by reading the row. */
    protected boolean isPossibleDuplicate(SQLException e) {
        String state = e.getSQLState();
        return state != null && state.startsWith("23");
    }

    private static void release(Connection connection, Savepoint savepoint) throws SQLException {
        try {
            connection.releaseSavepoint(savepoint);
        } catch (SQLFeatureNotSupportedException e) {
            // Some drivers cannot release; the savepoint then ends with the transaction.
        }
    }

    /** One by one, in the order given. */
    @Override
    public List<ClaimResult> claimAll(Connection connection, ClaimBatch batch) throws SQLException {
        return claimEach(connection, batch);
    }

    /** Without portable interval arithmetic: each key's expires_at is read and written back later by {@code by}. */
    @Override
    public void extendExpiry(Connection connection, String consumer, java.util.Collection<String> keys,
                             java.time.Duration by) throws SQLException {
        for (String key : keys) {
            Timestamp expiresAt;
            try (PreparedStatement ps = connection.prepareStatement(readExpirySql)) {
                ps.setString(1, consumer);
                ps.setString(2, key);
                try (ResultSet rs = ps.executeQuery()) {
                    expiresAt = rs.next() ? rs.getTimestamp(1) : null;
                }
            }
            if (expiresAt != null) {
                try (PreparedStatement ps = connection.prepareStatement(setExpirySql)) {
                    ps.setTimestamp(1, Timestamp.from(expiresAt.toInstant().plus(by)));
                    ps.setString(2, consumer);
                    ps.setString(3, key);
                    ps.executeUpdate();
                }
            }
        }
    }

    @Override
    public void saveResults(Connection connection, String consumer, Map<String, byte[]> resultsByKey)
            throws SQLException {
        JdbcStatements.saveResults(connection, saveResultSql, consumer, resultsByKey);
    }

    /**
     * Portable and bounded: reads at most maxRows expired keys ({@code setMaxRows}), then deletes them one by one,
     * each only if it is still expired.
     */
    @Override
    public int purgeExpired(Connection connection, int maxRows) throws SQLException {
        List<String[]> keys = new ArrayList<>();
        try (PreparedStatement ps = connection.prepareStatement(findExpiredSql)) {
            ps.setMaxRows(maxRows);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next() && keys.size() < maxRows) {
                    keys.add(new String[] {rs.getString(1), rs.getString(2)});
                }
            }
        }
        int deleted = 0;
        try (PreparedStatement ps = connection.prepareStatement(deleteExpiredSql)) {
            for (String[] key : keys) {
                ps.setString(1, key[0]);
                ps.setString(2, key[1]);
                deleted += ps.executeUpdate();
            }
        }
        return deleted;
    }

    /** Class 40: transaction rollback (serialization failure 40001, deadlock 40P01 and the like). */
    @Override
    public boolean isTransient(SQLException e) {
        String state = e.getSQLState();
        return state != null && state.startsWith("40");
    }

    /** 42P01 (PostgreSQL), 42S02 (ODBC-style: MySQL, SQL Server, H2), 42102 (H2's own code). */
    @Override
    public boolean isMissingTable(SQLException e) {
        String state = e.getSQLState();
        return "42P01".equals(state) || "42S02".equals(state) || "42102".equals(state) || e.getErrorCode() == 42102;
    }
}
