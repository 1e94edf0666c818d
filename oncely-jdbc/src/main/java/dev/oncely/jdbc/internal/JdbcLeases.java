package dev.oncely.jdbc.internal;

import dev.oncely.jdbc.ConnectionOwner;
import dev.oncely.spi.ClaimResult;
import dev.oncely.spi.LeaseAnswer;
import dev.oncely.spi.LeaseRequest;
import dev.oncely.spi.LeaseStore;
import dev.oncely.spi.LeaseToken;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * Lease mode on the dedup table, for every plain-layout dialect: the record's lease columns ({@code state},
 * {@code lease_token}, {@code attempt}, {@code lease_until} in epoch milliseconds by the database clock,
 * {@code steps}, {@code last_error}) next to the claim's.
 *
 * <p>{@link #acquire} is one short transaction: the dialect's own claim (so a new key, a key another transaction is
 * inserting right now, and an expired key behave exactly as for in-transaction claims), then for a new or expired
 * record one UPDATE that marks it leased; for an existing record one read of its lease columns, and, for a takeover
 * or parking, one compare-and-set UPDATE guarded by the state, attempt and lease expiry it read: if another
 * delivery changed the record in between, the guard matches nothing and the acquisition is tried again. Every other
 * operation is one UPDATE in autocommit mode, fenced by the token. No lock is held across the caller's work.
 *
 * <p>Time: {@code lease_until} is compared with the database clock as epoch milliseconds
 * ({@link SqlDialect#epochMillisSql()}), so holders on machines with different clocks agree; a dialect without such
 * an expression (generic JDBC) uses the JVM clock, and its consumers' clocks must then agree to within a fraction
 * of the lease.
 */
public final class JdbcLeases implements LeaseStore {

    static final List<String> COLUMNS = List.of("state", "lease_token", "attempt", "lease_until", "steps",
            "last_error");
    private static final String IN_PROGRESS = "IN_PROGRESS";
    private static final String COMPLETED = "COMPLETED";
    private static final String FAILED = "FAILED";
    private static final String LEASE_EXPIRED = "lease expired";
    private static final int MAX_RACES = 10;

    private final TransactionRunner runner;
    private final ConnectionOwner connections;
    private final SqlDialect dialect;
    private final TableShape shape;
    private final String nowSql;
    private final boolean jvmClock;

    private final String markLeasedSql;
    private final String readSql;
    private final String takeOverSql;
    private final String parkExpiredSql;
    private final String completeSql;
    private final String renewSql;
    private final String recordStepsSql;
    private final String releaseSql;
    private final String retryFailedSql;

    public JdbcLeases(TransactionRunner runner, ConnectionOwner connections, SqlDialect dialect, TableName table,
                      SqlErrors errors, String description) {
        this.runner = runner;
        this.connections = connections;
        this.dialect = dialect;
        this.shape = new TableShape(dialect, table, errors, description + " in lease mode",
                Map.of(table.qualified(), COLUMNS));
        Optional<String> dbNow = dialect.epochMillisSql();
        this.jvmClock = dbNow.isEmpty();
        this.nowSql = dbNow.orElse("?");
        String t = table.qualified();
        String pk = " WHERE consumer = ? AND event_id = ?";
        String held = pk + " AND lease_token = ? AND state = '" + IN_PROGRESS + "'";
        String leaseUntil = jvmClock ? "?" : "(" + nowSql + ") + ?";
        this.markLeasedSql = "UPDATE " + t + " SET lease_until = " + leaseUntil + ", state = '" + IN_PROGRESS + "',"
                + " lease_token = ?, attempt = 1, steps = NULL, last_error = NULL, result = NULL" + pk;
        // The result is read with the state, in one statement: under READ COMMITTED the claim's earlier read may
        // predate a completion that this read sees (state COMPLETED with the claim's stale, empty result).
        this.readSql = "SELECT state, attempt, lease_until, steps, last_error, " + nowSql + ", result FROM " + t + pk;
        String guard = pk + " AND state = '" + IN_PROGRESS + "' AND attempt = ? AND lease_until = ?";
        this.takeOverSql = "UPDATE " + t + " SET lease_until = " + leaseUntil + ", lease_token = ?, attempt = ?"
                + guard;
        this.parkExpiredSql = "UPDATE " + t + " SET state = '" + FAILED + "', lease_token = NULL, last_error = '"
                + LEASE_EXPIRED + "'" + guard;
        this.completeSql = "UPDATE " + t + " SET state = '" + COMPLETED + "', result = ?, lease_token = NULL,"
                + " lease_until = NULL" + held;
        this.renewSql = "UPDATE " + t + " SET lease_until = " + leaseUntil + held;
        this.recordStepsSql = "UPDATE " + t + " SET lease_until = " + leaseUntil + ", steps = ?" + held;
        this.releaseSql = "UPDATE " + t + " SET lease_until = " + nowSql + ", lease_token = NULL, last_error = ?,"
                + " state = ?" + held;
        this.retryFailedSql = "UPDATE " + t + " SET lease_until = " + nowSql + ", state = '" + IN_PROGRESS + "',"
                + " attempt = 0, lease_token = NULL" + pk + " AND state = '" + FAILED + "'";
    }

    @Override
    public LeaseAnswer acquire(LeaseRequest request) {
        checkShape();
        for (int race = 1; ; race++) {
            LeaseAnswer answer = call("Leasing key '" + request.key() + "'",
                    () -> runner.inTransaction(connections, (lease, attempt) -> acquireIn(lease.connection(), request)));
            if (answer != null) {
                return answer;
            }
            if (race >= MAX_RACES) {
                throw new dev.oncely.TransientStoreException("Leasing key '" + request.key() + "' of consumer '"
                        + request.consumer() + "' lost " + race + " races in a row to other deliveries changing the"
                        + " same record; nothing was taken. Requeue the message with a delay.");
            }
        }
    }

    /** One attempt; null when a concurrent delivery changed the record between the read and the guarded write. */
    private LeaseAnswer acquireIn(Connection c, LeaseRequest request) throws SQLException {
        ClaimResult claim = dialect.claim(c, request.asClaim());
        if (claim.claimed()) {
            String token = UUID.randomUUID().toString();
            try (PreparedStatement ps = c.prepareStatement(markLeasedSql)) {
                int i = bindLeaseUntil(ps, 1, request.lease());
                ps.setString(i++, token);
                ps.setString(i++, request.consumer());
                ps.setString(i, request.key());
                ps.executeUpdate();
            }
            return new LeaseAnswer.Acquired(new LeaseToken(request.consumer(), request.key(), token, 1),
                    claim.processedAt(), request.fingerprint(), Optional.empty());
        }
        String state;
        int attempt;
        long leaseUntil;
        byte[] steps;
        String lastError;
        long now;
        Optional<byte[]> result;
        try (PreparedStatement ps = c.prepareStatement(readSql)) {
            int i = bindNow(ps, 1);
            ps.setString(i++, request.consumer());
            ps.setString(i, request.key());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null; // purged since the claim read it
                }
                state = rs.getString(1);
                attempt = rs.getInt(2);
                leaseUntil = rs.getLong(3);
                steps = rs.getBytes(4);
                lastError = rs.getString(5);
                now = jvmClock ? System.currentTimeMillis() : rs.getLong(6);
                result = request.loadResult() ? Optional.ofNullable(rs.getBytes(7)) : Optional.empty();
            }
        }
        if (state == null || COMPLETED.equals(state)) {
            return new LeaseAnswer.Completed(claim.processedAt(), claim.fingerprint(), result);
        }
        if (FAILED.equals(state)) {
            return new LeaseAnswer.Failed(claim.processedAt(), claim.fingerprint(), attempt,
                    lastError == null ? "unknown" : lastError);
        }
        if (leaseUntil > now) {
            return new LeaseAnswer.InProgress(claim.processedAt(), claim.fingerprint(), attempt,
                    Duration.ofMillis(leaseUntil - now));
        }
        if (attempt >= request.maxAttempts()) {
            try (PreparedStatement ps = c.prepareStatement(parkExpiredSql)) {
                bindGuard(ps, 1, request, attempt, leaseUntil);
                if (ps.executeUpdate() == 0) {
                    return null;
                }
            }
            return new LeaseAnswer.Failed(claim.processedAt(), claim.fingerprint(), attempt, LEASE_EXPIRED);
        }
        String token = UUID.randomUUID().toString();
        try (PreparedStatement ps = c.prepareStatement(takeOverSql)) {
            int i = bindLeaseUntil(ps, 1, request.lease());
            ps.setString(i++, token);
            ps.setInt(i++, attempt + 1);
            bindGuard(ps, i, request, attempt, leaseUntil);
            if (ps.executeUpdate() == 0) {
                return null;
            }
        }
        return new LeaseAnswer.Acquired(new LeaseToken(request.consumer(), request.key(), token, attempt + 1),
                claim.processedAt(), claim.fingerprint(), Optional.ofNullable(steps));
    }

    @Override
    public boolean complete(LeaseToken lease, Optional<byte[]> result) {
        return fenced("Completing", lease, (ps, i) -> {
            if (result.isPresent()) {
                ps.setBytes(i, result.get());
            } else {
                ps.setNull(i, Types.VARBINARY);
            }
            return i + 1;
        }, completeSql);
    }

    @Override
    public boolean renew(LeaseToken lease, Duration leaseDuration) {
        return fenced("Renewing the lease of", lease, (ps, i) -> bindLeaseUntil(ps, i, leaseDuration), renewSql);
    }

    @Override
    public boolean recordSteps(LeaseToken lease, byte[] steps, Duration leaseDuration) {
        return fenced("Recording a step of", lease, (ps, i) -> {
            int next = bindLeaseUntil(ps, i, leaseDuration);
            ps.setBytes(next, steps);
            return next + 1;
        }, recordStepsSql);
    }

    @Override
    public boolean release(LeaseToken lease, String error, boolean park) {
        return fenced("Releasing", lease, (ps, i) -> {
            int next = bindNow(ps, i);
            ps.setString(next++, error.length() > 255 ? error.substring(0, 255) : error);
            ps.setString(next++, park ? FAILED : IN_PROGRESS);
            return next;
        }, releaseSql);
    }

    @Override
    public boolean retryFailed(String consumer, String key) {
        checkShape();
        return runner.inAutocommit(connections, "Retrying failed key '" + key + "'", (lease, attempt) -> {
            try (PreparedStatement ps = lease.connection().prepareStatement(retryFailedSql)) {
                int i = bindNow(ps, 1);
                ps.setString(i++, consumer);
                ps.setString(i, key);
                return ps.executeUpdate() == 1;
            }
        });
    }

    // ------------------------------------------------------------------------------------------------------

    @FunctionalInterface
    private interface Binder {
        int bind(PreparedStatement ps, int index) throws SQLException;
    }

    private boolean fenced(String action, LeaseToken lease, Binder values, String sql) {
        return runner.inAutocommit(connections, action + " key '" + lease.key() + "'", (l, attempt) -> {
            try (PreparedStatement ps = l.connection().prepareStatement(sql)) {
                int i = values.bind(ps, 1);
                ps.setString(i++, lease.consumer());
                ps.setString(i++, lease.key());
                ps.setString(i, lease.token());
                return ps.executeUpdate() == 1;
            }
        });
    }

    private int bindNow(PreparedStatement ps, int index) throws SQLException {
        if (jvmClock) {
            ps.setLong(index, System.currentTimeMillis());
            return index + 1;
        }
        return index;
    }

    private int bindLeaseUntil(PreparedStatement ps, int index, Duration lease) throws SQLException {
        ps.setLong(index, jvmClock ? System.currentTimeMillis() + lease.toMillis() : lease.toMillis());
        return index + 1;
    }

    private static void bindGuard(PreparedStatement ps, int index, LeaseRequest request, int attempt, long leaseUntil)
            throws SQLException {
        ps.setString(index, request.consumer());
        ps.setString(index + 1, request.key());
        ps.setInt(index + 2, attempt);
        ps.setLong(index + 3, leaseUntil);
    }

    private void checkShape() {
        if (!shape.checked()) {
            runner.inAutocommit(connections, "Checking the lease columns", (lease, attempt) -> {
                shape.check(lease.connection());
                return null;
            });
        }
    }

    @FunctionalInterface
    private interface Call<T> {
        T call() throws Exception;
    }

    private static <T> T call(String action, Call<T> call) {
        try {
            return call.call();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new dev.oncely.TransientStoreException(action + " failed: " + e, e);
        }
    }
}
