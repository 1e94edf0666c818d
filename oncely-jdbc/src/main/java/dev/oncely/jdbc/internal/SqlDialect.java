package dev.oncely.jdbc.internal;

import dev.oncely.spi.ClaimBatch;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;

/**
 * What differs between databases: the claim statement, how results are saved, the purge, which errors are
 * transient. One instance per store; implementations are immutable and thread-safe.
 */
public interface SqlDialect {

    /** For logs and messages, e.g. "PostgreSQL". */
    String name();

    /** The classpath resource holding the DDL, e.g. dev/oncely/jdbc/postgresql.sql. */
    String ddlResource();

    /** Claims one key, as the first statement of the transaction (or right after the store's read missed it). */
    ClaimResult claim(Connection connection, ClaimRequest request) throws SQLException;

    /**
     * The single-key claim for a key expected to be a duplicate, where no read could precede the transaction (a
     * caller's transaction, or a pool whose connections start with autocommit off): it reads the existing row in
     * the claim's own statement, with exactly the answers of {@link #claim}. The store's {@link ReadBeforeClaim}
     * decides when. Default: {@link #claim}.
     */
    default ClaimResult claimReadingFirst(Connection connection, ClaimRequest request) throws SQLException {
        return claim(connection, request);
    }

    /** Claims the keys of a batch, results in the order of its keys (distinct and sorted, so batches lock alike). */
    List<ClaimResult> claimAll(Connection connection, ClaimBatch batch) throws SQLException;

    /**
     * The batch claim for a batch whose keys are expected to be mostly duplicates (the store's
     * {@link ReadBeforeClaim} decides): reads the keys' existing rows first and inserts only the keys it did not
     * find, with exactly the answers of {@link #claimAll}. Default: {@link #claimAll}.
     */
    default List<ClaimResult> claimAllReadingFirst(Connection connection, ClaimBatch batch) throws SQLException {
        return claimAll(connection, batch);
    }

    /** Claims one key at a time, in the batch's order: the batch claim of a dialect without a set-based one. */
    default List<ClaimResult> claimEach(Connection connection, ClaimBatch batch) throws SQLException {
        List<ClaimResult> results = new java.util.ArrayList<>(batch.size());
        for (int i = 0; i < batch.size(); i++) {
            results.add(claim(connection, batch.request(i)));
        }
        return results;
    }

    void saveResults(Connection connection, String consumer, Map<String, byte[]> resultsByKey) throws SQLException;

    /**
     * Claims one key holding its result from the start, as the last write of the transaction
     * ({@link dev.oncely.spi.StoreTransaction#claimWithResult}), with exactly the answers of {@link #claim}; a key it
     * does not claim is left as it is. Dialects override it with one statement for a fresh key; the default claims,
     * then saves the result (two).
     */
    default ClaimResult claimWithResult(Connection connection, ClaimRequest request, byte[] result)
            throws SQLException {
        ClaimResult claim = claim(connection, request);
        if (claim.claimed()) {
            saveResults(connection, request.consumer(), Map.of(request.key(), result));
        }
        return claim;
    }

    /**
     * Moves the expiry of keys this transaction claimed {@code by} later, just before a slow transaction commits:
     * their retention was counted from the claim, and a transaction open for longer than part of it would otherwise
     * commit a claim that expires soon after (or before) it becomes visible, letting a waiting redelivery reclaim
     * it. Only keys that have an expiry are moved.
     */
    void extendExpiry(Connection connection, String consumer, java.util.Collection<String> keys, java.time.Duration by)
            throws SQLException;

    /**
     * The tables the dialect reads and writes, each with the columns it uses (lower case), as the store checks
     * them once before its first claim. Default: the dedup table with the six columns of the shipped DDL.
     */
    default Map<String, List<String>> columnsUsed(TableName table) {
        return Map.of(table.qualified(), List.of("consumer", "event_id", "processed_at", "expires_at", "fingerprint",
                "result"));
    }

    /**
     * Deletes at most maxRows expired keys; runs on a connection in autocommit mode, and is run again by the store
     * (up to its retry setting) if it fails with a {@linkplain #isTransient transient} error.
     */
    int purgeExpired(Connection connection, int maxRows) throws SQLException;

    /** Whether the database asks for the whole transaction to be retried (serialization failure, deadlock). */
    boolean isTransient(SQLException e);

    /** Whether the error says the dedup table does not exist. */
    boolean isMissingTable(SQLException e);

    /**
     * Whether the error says a column does not exist: the table was created by an older version. Standard
     * SQLState 42S22 (MariaDB/MySQL), PostgreSQL's 42703, H2's 42122.
     */
    default boolean isMissingColumn(SQLException e) {
        String state = e.getSQLState();
        return "42S22".equals(state) || "42703".equals(state) || "42122".equals(state);
    }

    /**
     * A warning to log once if the database acknowledges commits before they are durable, checked on a connection
     * of the store's own transactions. Default: none.
     */
    default java.util.Optional<String> durabilityWarning(Connection connection) throws SQLException {
        return java.util.Optional.empty();
    }

    /**
     * The longest a transaction that claims may stay open for the dialect's guarantees to hold, if there is a
     * limit (the time-partitioned layout). Default: none.
     */
    default java.util.Optional<java.time.Duration> maxTransactionDuration() {
        return java.util.Optional.empty();
    }

    /**
     * Whether {@link #findLive} reads a key's live claim (a constant of the dialect). The store's
     * {@link ReadBeforeClaim} decides when to use it. Default: no.
     */
    default boolean findsLiveClaims() {
        return false;
    }

    /**
     * The key's committed claim if it is still live (not expired), read on a connection in autocommit mode: no
     * transaction, no write, no lock. Empty if there is none, or it expired, or it is not committed yet; the claim
     * then decides. Only called if {@link #findsLiveClaims()}.
     */
    default java.util.Optional<ClaimResult> findLive(Connection connection, ClaimRequest request) throws SQLException {
        return java.util.Optional.empty();
    }

    /**
     * The claims of all the batch's keys, in its key order, if every key has a committed claim that is still live;
     * empty otherwise (one is absent, expired or not committed yet: the claim then decides). Read on a connection in
     * autocommit mode: no transaction, no write, no lock. Only called if {@link #findsLiveClaims()}. Default: empty.
     */
    default java.util.Optional<List<ClaimResult>> findAllLive(Connection connection, ClaimBatch batch)
            throws SQLException {
        return java.util.Optional.empty();
    }

    /**
     * An SQL expression for the database clock's current time in epoch milliseconds (a BIGINT), which lease mode
     * compares {@code lease_until} with; empty to use the JVM clock instead. Default: empty.
     */
    default java.util.Optional<String> epochMillisSql() {
        return java.util.Optional.empty();
    }

    /** Whether lease mode ({@link JdbcLeases}) works on this dialect's table layout. Default: true. */
    default boolean supportsLeases() {
        return true;
    }

    /** Runs after the DDL was applied by createSchemaIfMissing(), on a connection in autocommit mode. */
    default void afterSchemaCreated(Connection connection) throws SQLException {
    }

    /**
     * The SQL expression {@code expires_at} is compared with to tell an expired claim: the database clock, in the
     * time zone {@code expires_at} is written in. Used by the admin's reads. Default: {@code CURRENT_TIMESTAMP}.
     */
    default String expiryClockSql() {
        return "CURRENT_TIMESTAMP";
    }

    /** {@code expires_at} at {@code column} as an instant, or null if it is NULL (never expires). */
    default java.time.Instant readExpiresAt(java.sql.ResultSet rs, int column) throws SQLException {
        java.sql.Timestamp t = rs.getTimestamp(column);
        return t == null ? null : t.toInstant();
    }

    /**
     * Makes lock waits on {@code connection} fail after about {@code millis} instead of the database's default, for
     * admin work that must never queue behind a claim's open transaction (nor hold claims up behind it). Called
     * inside a transaction. Returns the statement that restores the previous setting, to run on the same
     * connection before it is given back, if the setting outlives the transaction. Default: no limit can be set.
     */
    default java.util.Optional<String> limitLockWait(Connection connection, long millis) throws SQLException {
        return java.util.Optional.empty();
    }

    /** Whether the error is a lock wait that gave up ({@link #limitLockWait}'s limit, NOWAIT). */
    default boolean isLockWaitTimeout(SQLException e) {
        return false;
    }
}
