package dev.oncely.jdbc.internal;

import dev.oncely.spi.ClaimBatch;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.temporal.ChronoUnit;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * MariaDB and MySQL (InnoDB). The claim is a plain {@code INSERT}; a duplicate is learned from error 1062, which
 * InnoDB rolls back as a statement only (the transaction stays usable, no savepoint is needed), then the row is
 * read with a <em>locking</em> read.
 *
 * <p>Why this shape, against InnoDB's semantics:
 * <ul>
 *   <li>No affected-row counts are trusted: both drivers report found rows by default, so {@code ON DUPLICATE
 *       KEY UPDATE} cannot tell "inserted" from "already there". The INSERT either succeeds (fresh) or fails
 *       with 1062 (exists): an unambiguous signal under any driver setting.</li>
 *   <li>An INSERT of a key another open transaction inserted waits on its lock: a commit turns it into 1062, a
 *       rollback lets it through, as on PostgreSQL.</li>
 *   <li>After 1062 the row is read with {@code LOCK IN SHARE MODE}, which reads the latest committed version:
 *       a plain read under REPEATABLE READ may use a snapshot older than the row and miss it. The shared lock
 *       is the one the duplicate-key error already holds, so concurrent duplicates do not block each other
 *       (an exclusive {@code FOR UPDATE} here would make two duplicates deadlock upgrading their shared
 *       locks).</li>
 *   <li>Deadlocks remain possible (several waiters when the first claimer rolls back; two claimers rewriting
 *       the same expired key): InnoDB rolls back the whole transaction with 1213, and {@link #isTransient}
 *       makes {@code JdbcDedupStore} re-run it. Lock wait timeouts (1205) are retried as well.</li>
 * </ul>
 * Expiry uses the database clock: {@code expires_at} is a UTC DATETIME compared with {@code UTC_TIMESTAMP(6)}.
 * {@link #findLive} is a non-locking read in autocommit mode, which sees the latest committed row and waits for no
 * lock; the store's {@link ReadBeforeClaim} decides when to read before claiming, and only a live claim is answered
 * that way, everything else is claimed as above.
 */
public final class MariaDbDialect implements SqlDialect {

    private static final int ER_DUP_ENTRY = 1062;
    private static final int ER_LOCK_WAIT_TIMEOUT = 1205;
    private static final int ER_LOCK_DEADLOCK = 1213;
    private static final int ER_NO_SUCH_TABLE = 1146;
    private static final int MAX_ATTEMPTS = 3;
    /** Keys one purge DELETE removes at most: a short transaction, and well under the 65,535 bind parameters. */
    private static final int PURGE_DELETE_KEYS = 500;

    private static final String EXPIRES = "DATE_ADD(UTC_TIMESTAMP(6), INTERVAL ? MICROSECOND)";
    /**
     * processed_at as epoch seconds: a TIMESTAMP reaches JDBC as the session zone's local time, which the driver
     * reads in the JVM's zone, shifting the instant by their difference; UNIX_TIMESTAMP of a TIMESTAMP column
     * returns the stored UTC value as is. (NOW(6) written to a TIMESTAMP column is stored as the statement's
     * instant, also without a detour through the session zone.)
     */
    private static final String PROCESSED_AT = "UNIX_TIMESTAMP(processed_at)";

    private final boolean mariadb;
    private final TableName table;
    private final String insertSql;
    private final String insertWithResultSql;
    private final String readOwnSql;
    private final String findSql;
    private final String findLiveSql;
    private final String rewriteExpiredSql;
    private final String saveResultSql;
    private final String extendExpirySql;
    private final String selectExpiredSql;

    /** @param mariadb true for MariaDB (10.5+: INSERT ... RETURNING), false for MySQL. */
    public MariaDbDialect(TableName table, boolean mariadb) {
        this.mariadb = mariadb;
        this.table = table;
        String t = table.qualified();
        String insert = "INSERT INTO " + t + " (consumer, event_id, processed_at, expires_at, fingerprint)"
                + " VALUES (?, ?, NOW(6), " + EXPIRES + ", ?)";
        // MariaDB returns the timestamp in the same round trip; MySQL has no RETURNING, so it reads its own row.
        this.insertSql = mariadb ? insert + " RETURNING " + PROCESSED_AT : insert;
        String insertWithResult = "INSERT INTO " + t + " (consumer, event_id, processed_at, expires_at, fingerprint,"
                + " result) VALUES (?, ?, NOW(6), " + EXPIRES + ", ?, ?)";
        this.insertWithResultSql = mariadb ? insertWithResult + " RETURNING " + PROCESSED_AT : insertWithResult;
        this.readOwnSql = "SELECT " + PROCESSED_AT + " FROM " + t + " WHERE consumer = ? AND event_id = ?";
        this.findSql = "SELECT " + PROCESSED_AT + ", fingerprint, result, expires_at <= UTC_TIMESTAMP(6) FROM " + t
                + " WHERE consumer = ? AND event_id = ? LOCK IN SHARE MODE";
        // Before a transaction, in autocommit mode: a consistent read of the latest committed row, no lock.
        this.findLiveSql = "SELECT " + PROCESSED_AT + ", fingerprint, result, expires_at <= UTC_TIMESTAMP(6) FROM "
                + t + " WHERE consumer = ? AND event_id = ?";
        this.rewriteExpiredSql = "UPDATE " + t + " SET processed_at = NOW(6), expires_at = " + EXPIRES
                + ", fingerprint = ?, result = NULL WHERE consumer = ? AND event_id = ?"
                + " AND expires_at <= UTC_TIMESTAMP(6)";
        this.saveResultSql = "UPDATE " + t + " SET result = ? WHERE consumer = ? AND event_id = ?";
        this.extendExpirySql = "UPDATE " + t + " SET expires_at = DATE_ADD(expires_at, INTERVAL ? MICROSECOND)"
                + " WHERE consumer = ? AND event_id = ? AND expires_at IS NOT NULL";
        this.selectExpiredSql = selectExpiredSql(t);
    }

    /** The purge's read of at most {@code ?} expired keys of {@code table}, in expiry order (through its index). */
    public static String selectExpiredSql(String table) {
        return "SELECT consumer, event_id FROM " + table + " WHERE expires_at <= UTC_TIMESTAMP(6)"
                + " ORDER BY expires_at LIMIT ?";
    }

    @Override
    public java.util.Optional<String> epochMillisSql() {
        return java.util.Optional.of("CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)");
    }

    @Override
    public String name() {
        return mariadb ? "MariaDB" : "MySQL";
    }

    @Override
    public String ddlResource() {
        return mariadb ? "dev/oncely/jdbc/mariadb.sql" : "dev/oncely/jdbc/mysql.sql";
    }

    /**
     * A duplicate claimed in a transaction costs the failed INSERT, the locking read and the commit (three round
     * trips); {@link #findLive} in autocommit mode before any transaction, one.
     */
    @Override
    public boolean findsLiveClaims() {
        return true;
    }

    @Override
    public Optional<ClaimResult> findLive(Connection connection, ClaimRequest request) throws SQLException {
        Optional<JdbcStatements.StoredClaim> stored = JdbcStatements.findStoredEpoch(connection, findLiveSql, request);
        if (stored.isPresent() && !stored.get().expired()) {
            return Optional.of(stored.get().claim());
        }
        return Optional.empty(); // not there, expired, or not committed yet: the claim decides
    }

    @Override
    public ClaimResult claim(Connection connection, ClaimRequest request) throws SQLException {
        SQLException lastDuplicate = null;
        for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
            try {
                return ClaimResult.claimed(insert(connection, request));
            } catch (SQLException e) {
                if (e.getErrorCode() != ER_DUP_ENTRY) {
                    throw e;
                }
                lastDuplicate = e; // InnoDB rolled back this statement only; the transaction goes on.
            }
            Optional<JdbcStatements.StoredClaim> existing = JdbcStatements.findStoredEpoch(connection, findSql, request);
            if (existing.isEmpty()) {
                continue; // the row expired and was purged between the two statements: insert again
            }
            if (!existing.get().expired()) {
                return existing.get().claim();
            }
            // Expired: we hold a shared lock on it, so nobody else can rewrite it before we do.
            if (rewriteExpired(connection, request)) {
                return ClaimResult.claimed(readOwn(connection, request));
            }
        }
        throw new SQLException("Key '" + request.key() + "' of consumer '" + request.consumer() + "' conflicted "
                + MAX_ATTEMPTS + " times in " + table + " but could not be claimed or read back; is something"
                + " deleting live keys? Last error: " + lastDuplicate.getMessage(), "40001", ER_LOCK_DEADLOCK,
                lastDuplicate);
    }

    /**
     * One statement for a fresh key on MariaDB (two on MySQL, which reads its own row back). A duplicate (live,
     * expired, or inserted by a transaction this INSERT waited for, which committed) takes {@link #claim}'s way, and
     * then the result is saved if it claimed.
     */
    @Override
    public ClaimResult claimWithResult(Connection connection, ClaimRequest request, byte[] result)
            throws SQLException {
        try {
            return ClaimResult.claimed(insert(connection, request, result));
        } catch (SQLException e) {
            if (e.getErrorCode() != ER_DUP_ENTRY) {
                throw e;
            }
            // InnoDB rolled back this statement only; the transaction goes on.
        }
        return SqlDialect.super.claimWithResult(connection, request, result);
    }

    private Instant insert(Connection connection, ClaimRequest request) throws SQLException {
        return insert(connection, request, null);
    }

    /** Inserts a fresh claim, with {@code result} unless it is null, and returns its processed_at. */
    private Instant insert(Connection connection, ClaimRequest request, byte[] result) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(result == null ? insertSql : insertWithResultSql)) {
            ps.setString(1, request.consumer());
            ps.setString(2, request.key());
            JdbcStatements.bindRetention(ps, 3, request.retention(), ChronoUnit.MICROS);
            ps.setString(4, request.fingerprint().orElse(null));
            if (result != null) {
                ps.setBytes(5, result);
            }
            if (mariadb) {
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return JdbcStatements.epochSeconds(rs, 1);
                }
            }
            ps.executeUpdate();
        }
        return readOwn(connection, request);
    }

    private Instant readOwn(Connection connection, ClaimRequest request) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(readOwnSql)) {
            ps.setString(1, request.consumer());
            ps.setString(2, request.key());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("The row just written for key '" + request.key() + "' is not visible"
                            + " to its own transaction in " + table, "55000");
                }
                return JdbcStatements.epochSeconds(rs, 1);
            }
        }
    }

    private boolean rewriteExpired(Connection connection, ClaimRequest request) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(rewriteExpiredSql)) {
            JdbcStatements.bindRetention(ps, 1, request.retention(), ChronoUnit.MICROS);
            ps.setString(2, request.fingerprint().orElse(null));
            ps.setString(3, request.consumer());
            ps.setString(4, request.key());
            // The WHERE holds the expiry test, so "found" and "changed" rows are the same here: the count is
            // reliable whatever the driver's useAffectedRows setting.
            return ps.executeUpdate() == 1;
        }
    }

    /**
     * MariaDB: one multi-row {@code INSERT IGNORE ... RETURNING} in the order given ({@code IdempotentHandler} sorts
     * keys, so overlapping batches take their locks in the same order), then one locking read of the keys it did
     * not insert. An ignored row holds the same shared lock a failed INSERT would, waits for an open claim of its key
     * the same way, and the locking read sees the latest committed row, as in {@link #claim}. {@code IGNORE} turns
     * every error into a warning, truncation included, so the statement must have raised exactly one warning (the
     * duplicate key) per ignored row, or the batch fails before anything is decided: a column narrower than the
     * shipped DDL could otherwise make two keys collide. Expired keys are rewritten one by one, as in
     * {@link #claim}. MySQL has no {@code RETURNING}: there, and for a single key, keys are claimed one by one (a
     * plain multi-row INSERT fails as a whole on the first duplicate).
     */
    @Override
    public List<ClaimResult> claimAll(Connection connection, ClaimBatch batch) throws SQLException {
        if (!mariadb || batch.size() < 2) {
            return claimEach(connection, batch); // MySQL has no RETURNING; one key is cheaper claimed alone
        }
        List<ClaimRequest> requests = batch.requests();
        Map<String, ClaimResult> found = new HashMap<>(requests.size() * 2);
        // Retention and fingerprints are bound per row only when the batch has them: a batch without either sends
        // two parameters a row instead of four, and the server evaluates no expiry per row.
        boolean expires = batch.retention().isPresent();
        boolean fingerprinted = false;
        for (ClaimBatch.Key key : batch.keys()) {
            fingerprinted |= key.fingerprint().isPresent();
        }
        String row = "(?, ?, NOW(6), " + (expires ? EXPIRES : "NULL") + (fingerprinted ? ", ?)" : ", NULL)");
        StringBuilder insert = new StringBuilder(120 + requests.size() * (row.length() + 2)).append("INSERT IGNORE INTO ")
                .append(table.qualified()).append(" (consumer, event_id, processed_at, expires_at, fingerprint) VALUES ");
        for (int i = 0; i < requests.size(); i++) {
            insert.append(i == 0 ? "" : ", ").append(row);
        }
        insert.append(" RETURNING event_id, ").append(PROCESSED_AT);
        boolean warned;
        try (PreparedStatement ps = connection.prepareStatement(insert.toString())) {
            int p = 1;
            for (ClaimBatch.Key key : batch.keys()) {
                ps.setString(p++, batch.consumer());
                ps.setString(p++, key.key());
                if (expires) {
                    JdbcStatements.bindRetention(ps, p++, batch.retention(), ChronoUnit.MICROS);
                }
                if (fingerprinted) {
                    ps.setString(p++, key.fingerprint().orElse(null));
                }
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    found.put(rs.getString(1), ClaimResult.claimed(JdbcStatements.epochSeconds(rs, 2)));
                }
            }
            // An ignored row always warns, so then the count is checked anyway (getWarnings would fetch them all,
            // a round trip of its own); with none ignored, getWarnings costs nothing unless the INSERT warned.
            warned = found.size() < requests.size() || ps.getWarnings() != null;
        }
        int ignored = requests.size() - found.size();
        if (warned) {
            long warnings;
            try (java.sql.Statement st = connection.createStatement();
                 ResultSet rs = st.executeQuery("SELECT @@warning_count")) {
                rs.next();
                warnings = rs.getLong(1);
            }
            if (warnings != ignored || !requestedKeys(requests).containsAll(found.keySet())) {
                throw new SQLException("Claiming a batch of " + requests.size() + " keys in " + table + " raised "
                        + warnings + " warnings for " + ignored + " keys already there: something other than a"
                        + " duplicate key was turned into a warning (a column narrower than Oncely's DDL truncating"
                        + " keys?). Nothing was decided; compare the table with the DDL (JdbcDedupStore#ddl()).",
                        "22001");
            }
        }
        if (ignored > 0) {
            readIgnored(connection, requests, found);
        }
        List<ClaimResult> results = new java.util.ArrayList<>(requests.size());
        for (ClaimRequest r : requests) {
            ClaimResult result = found.get(r.key());
            // Not inserted and not readable (purged between the statements): claim it on its own.
            results.add(result != null ? result : claim(connection, r));
        }
        return results;
    }

    /**
     * For batches expected to be mostly duplicates: a plain (consistent, non-locking) read of the keys' rows first.
     * A committed claim that has not expired is a duplicate with no lock needed: only expired rows are rewritten or
     * purged, and retention outlives the transaction. Only the keys not found live go through {@link #claimAll} (the
     * INSERT IGNORE, the locking read of the keys it ignored, the rewrite of expired ones), so a batch of duplicates
     * costs this one read instead of the INSERT, the warning count and the locking read. A locking read here would
     * take gap locks on absent keys under REPEATABLE READ and deadlock concurrent batches inserting into the gaps.
     */
    @Override
    public List<ClaimResult> claimAllReadingFirst(Connection connection, ClaimBatch batch) throws SQLException {
        if (!mariadb || batch.size() < 2) {
            return claimAll(connection, batch);
        }
        Map<String, ClaimResult> live = readLive(connection, batch);
        List<ClaimBatch.Key> rest = new java.util.ArrayList<>(batch.size() - Math.min(live.size(), batch.size()));
        for (ClaimBatch.Key k : batch.keys()) {
            if (!live.containsKey(k.key())) {
                rest.add(k);
            }
        }
        List<ClaimResult> claimed = rest.isEmpty() ? List.of() : claimAll(connection,
                new ClaimBatch(batch.consumer(), batch.retention(), batch.loadResult(), rest));
        List<ClaimResult> results = new java.util.ArrayList<>(batch.size());
        int next = 0;
        for (ClaimBatch.Key k : batch.keys()) {
            ClaimResult found = live.get(k.key());
            results.add(found != null ? found : claimed.get(next++));
        }
        return results;
    }

    /**
     * The batch's keys' committed claims that have not expired, by key: one plain (consistent, non-locking) read.
     * MariaDB only (the caller checks).
     */
    private Map<String, ClaimResult> readLive(Connection connection, ClaimBatch batch) throws SQLException {
        StringBuilder read = new StringBuilder("SELECT event_id, " + PROCESSED_AT + ", fingerprint,"
                + " CASE WHEN ? THEN result END, expires_at <= UTC_TIMESTAMP(6) FROM ").append(table.qualified())
                .append(" WHERE consumer = ? AND event_id IN (");
        for (int i = 0; i < batch.size(); i++) {
            read.append(i == 0 ? "?" : ", ?");
        }
        read.append(")");
        Map<String, ClaimResult> live = new HashMap<>(batch.size() * 2);
        try (PreparedStatement ps = connection.prepareStatement(read.toString())) {
            ps.setBoolean(1, batch.loadResult());
            ps.setString(2, batch.consumer());
            for (int i = 0; i < batch.size(); i++) {
                ps.setString(i + 3, batch.keys().get(i).key());
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (rs.getInt(5) != 1) {
                        live.put(rs.getString(1), JdbcStatements.storedClaim(JdbcStatements.epochSeconds(rs, 2), rs,
                                2, batch.loadResult()));
                    }
                }
            }
        }
        return live;
    }

    /** MariaDB: {@link #readLive}, when it found every key. (MySQL reads nothing first: no RETURNING there.) */
    @Override
    public Optional<List<ClaimResult>> findAllLive(Connection connection, ClaimBatch batch) throws SQLException {
        if (!mariadb || batch.size() == 0) {
            return Optional.empty();
        }
        Map<String, ClaimResult> live = readLive(connection, batch);
        if (live.size() < batch.size()) {
            return Optional.empty();
        }
        List<ClaimResult> results = new java.util.ArrayList<>(batch.size());
        for (ClaimBatch.Key k : batch.keys()) {
            results.add(live.get(k.key()));
        }
        return Optional.of(results);
    }

    private static java.util.Set<String> requestedKeys(List<ClaimRequest> requests) {
        java.util.Set<String> keys = new java.util.HashSet<>(requests.size() * 2);
        for (ClaimRequest r : requests) {
            keys.add(r.key());
        }
        return keys;
    }

    /** Reads the keys the batch INSERT ignored with one locking read; live ones are duplicates, expired ones rewritten. */
    private void readIgnored(Connection connection, List<ClaimRequest> requests, Map<String, ClaimResult> found)
            throws SQLException {
        List<ClaimRequest> ignored = new java.util.ArrayList<>();
        for (ClaimRequest r : requests) {
            if (!found.containsKey(r.key())) {
                ignored.add(r);
            }
        }
        StringBuilder read = new StringBuilder("SELECT event_id, " + PROCESSED_AT + ", fingerprint, result,"
                + " expires_at <= UTC_TIMESTAMP(6) FROM ").append(table.qualified())
                .append(" WHERE consumer = ? AND event_id IN (");
        for (int i = 0; i < ignored.size(); i++) {
            read.append(i == 0 ? "?" : ", ?");
        }
        read.append(") LOCK IN SHARE MODE");
        Map<String, ClaimRequest> byKey = new HashMap<>(ignored.size() * 2);
        List<ClaimRequest> expired = new java.util.ArrayList<>();
        try (PreparedStatement ps = connection.prepareStatement(read.toString())) {
            ps.setString(1, ignored.get(0).consumer());
            for (int i = 0; i < ignored.size(); i++) {
                ps.setString(i + 2, ignored.get(i).key());
                byKey.put(ignored.get(i).key(), ignored.get(i));
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ClaimRequest r = byKey.get(rs.getString(1));
                    if (r == null) {
                        continue;
                    }
                    if (rs.getInt(5) == 1) {
                        expired.add(r);
                    } else {
                        found.put(r.key(), JdbcStatements.storedClaim(JdbcStatements.epochSeconds(rs, 2), rs, 2,
                                r.loadResult()));
                    }
                }
            }
        }
        for (ClaimRequest r : expired) {
            // We hold a shared lock on it, so nobody else can rewrite it before we do.
            if (rewriteExpired(connection, r)) {
                found.put(r.key(), ClaimResult.claimed(readOwn(connection, r)));
            }
        }
    }

    @Override
    public void saveResults(Connection connection, String consumer, Map<String, byte[]> resultsByKey)
            throws SQLException {
        JdbcStatements.saveResults(connection, saveResultSql, consumer, resultsByKey);
    }

    @Override
    public void extendExpiry(Connection connection, String consumer, java.util.Collection<String> keys,
                             java.time.Duration by) throws SQLException {
        JdbcStatements.extendExpiry(connection, extendExpirySql, consumer, keys, by, ChronoUnit.MICROS);
    }

    /**
     * Reads at most {@code maxRows} expired keys (oldest first, from the expires_at index, no lock), then deletes
     * them by primary key, in primary-key order, at most {@value #PURGE_DELETE_KEYS} per statement, each statement
     * its own autocommit transaction. A {@code DELETE ... ORDER BY expires_at LIMIT n} locks the expires_at index
     * and then rows in expiry order, which is no order at all to batch claims locking keys in primary-key order:
     * the two deadlocked (1213). Locking in the claims' order leaves one deadlock InnoDB cannot avoid (a claim
     * holding a shared lock on an expired key it is about to rewrite while the purge waits for that key); the store
     * retries the purge on it. A key a claim rewrote between the read and the delete is live again and stays: the
     * DELETE tests expiry again.
     */
    @Override
    public int purgeExpired(Connection connection, int maxRows) throws SQLException {
        // Grouped by consumer (primary-key prefix); within a consumer the DELETE walks event_id in index order.
        java.util.TreeMap<String, List<String>> expired = new java.util.TreeMap<>();
        try (PreparedStatement ps = connection.prepareStatement(selectExpiredSql)) {
            ps.setInt(1, maxRows);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    expired.computeIfAbsent(rs.getString(1), c -> new java.util.ArrayList<>()).add(rs.getString(2));
                }
            }
        }
        int deleted = 0;
        for (Map.Entry<String, List<String>> consumer : expired.entrySet()) {
            List<String> keys = consumer.getValue();
            for (int from = 0; from < keys.size(); from += PURGE_DELETE_KEYS) {
                deleted += deleteExpired(connection, consumer.getKey(),
                        keys.subList(from, Math.min(keys.size(), from + PURGE_DELETE_KEYS)));
            }
        }
        return deleted;
    }

    private int deleteExpired(Connection connection, String consumer, List<String> keys) throws SQLException {
        StringBuilder sql = new StringBuilder("DELETE FROM ").append(table.qualified())
                .append(" WHERE consumer = ? AND event_id IN (");
        for (int i = 0; i < keys.size(); i++) {
            sql.append(i == 0 ? "?" : ", ?");
        }
        sql.append(") AND expires_at <= UTC_TIMESTAMP(6) ORDER BY event_id");
        try (PreparedStatement ps = connection.prepareStatement(sql.toString())) {
            ps.setString(1, consumer);
            for (int i = 0; i < keys.size(); i++) {
                ps.setString(i + 2, keys.get(i));
            }
            return ps.executeUpdate();
        }
    }

    @Override
    public boolean isTransient(SQLException e) {
        int code = e.getErrorCode();
        return code == ER_LOCK_DEADLOCK || code == ER_LOCK_WAIT_TIMEOUT || "40001".equals(e.getSQLState());
    }

    @Override
    public boolean isMissingTable(SQLException e) {
        return e.getErrorCode() == ER_NO_SUCH_TABLE || "42S02".equals(e.getSQLState());
    }

    @Override
    public String expiryClockSql() {
        return "UTC_TIMESTAMP(6)";
    }

    /** expires_at is a DATETIME holding UTC (see the DDL), so it is read as a local date-time in UTC. */
    @Override
    public Instant readExpiresAt(ResultSet rs, int column) throws SQLException {
        java.time.LocalDateTime t = rs.getObject(column, java.time.LocalDateTime.class);
        return t == null ? null : t.toInstant(java.time.ZoneOffset.UTC);
    }

    /**
     * innodb_lock_wait_timeout is a session setting in whole seconds (at least 1 on MySQL), so it is restored
     * afterwards.
     */
    @Override
    public Optional<String> limitLockWait(Connection connection, long millis) throws SQLException {
        long previous;
        try (java.sql.Statement st = connection.createStatement();
             ResultSet rs = st.executeQuery("SELECT @@SESSION.innodb_lock_wait_timeout")) {
            rs.next();
            previous = rs.getLong(1);
        }
        try (java.sql.Statement st = connection.createStatement()) {
            st.execute("SET SESSION innodb_lock_wait_timeout = " + Math.max(1, (millis + 999) / 1000));
        }
        return Optional.of("SET SESSION innodb_lock_wait_timeout = " + previous);
    }

    @Override
    public boolean isLockWaitTimeout(SQLException e) {
        return e.getErrorCode() == ER_LOCK_WAIT_TIMEOUT || e.getErrorCode() == 3572; // 3572: NOWAIT
    }
}
