package dev.oncely.jdbc.internal;

import dev.oncely.spi.ClaimBatch;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * PostgreSQL. A claim is {@code INSERT ... ON CONFLICT ON CONSTRAINT ... DO NOTHING RETURNING}, as hand-written SQL
 * does; only a key it did not insert is read back, by a second statement (whose snapshot sees a row the INSERT
 * waited for). A batch claim is the same: one INSERT for all keys, then, only if it did not insert some, one read of
 * those keys' rows. No error is raised either way, so the transaction stays usable. An
 * expired key is reclaimed by {@code INSERT ... ON CONFLICT ... DO UPDATE ... WHERE expired RETURNING}. Under READ
 * COMMITTED a claim of a key another open transaction inserted waits for it: a commit makes it a duplicate (read
 * back by a statement of its own, whose snapshot sees that commit), a rollback lets the insert through.
 * {@link #findLive}, the read the store may make before a transaction ({@link ReadBeforeClaim}), never waits: it
 * does not see an uncommitted claim, and leaves that key to the claim. Naming the constraint rather than the
 * columns keeps {@code ON CONFLICT} from raising 23505 while an index is rebuilt concurrently.
 */
public final class PostgresDialect implements SqlDialect {

    private static final int MAX_DUPLICATE_LOOKUPS = 3;
    /**
     * processed_at as microseconds since the epoch: a bigint decodes without pgjdbc's per-result-set timestamp
     * machinery, which was about 13% of the client CPU of an annotated Spring call's claim (JFR).
     */
    private static final String MICROS = "CAST(EXTRACT(EPOCH FROM processed_at) * 1000000 AS bigint)";
    private static final String MICROS_E = "CAST(EXTRACT(EPOCH FROM e.processed_at) * 1000000 AS bigint)";

    private final TableName table;
    private final String insertSql;
    private final String insertWithResultSql;
    private final String claimReadingFirstSql;
    private final String findStoredSql;
    private final String reclaimSql;
    private final String claimAllSql;
    private final String findAllLiveSql;
    private final String lookUpAndClaimAllSql;
    private final String reclaimAllSql;
    private final String findSql;
    private final String findAllSql;
    private final String saveResultSql;
    private final String extendExpirySql;
    private final String purgeSql;

    public PostgresDialect(TableName table) {
        this.table = table;
        String t = table.qualified();
        String pk = table.table() + "_pkey";
        String onConflict = " ON CONFLICT ON CONSTRAINT " + pk + " DO UPDATE"
                + " SET processed_at = EXCLUDED.processed_at, expires_at = EXCLUDED.expires_at,"
                + " fingerprint = EXCLUDED.fingerprint, result = NULL"
                + " WHERE e.expires_at <= now()";
        String existing = " UNION ALL SELECT e.event_id, false, " + MICROS_E + ", e.fingerprint,"
                + " CASE WHEN ?::boolean THEN e.result END, e.expires_at <= now() FROM " + t + " e";
        // claimReadingFirst: a fresh or live key in one round trip. The existing row comes from the statement's snapshot, so a row the
        // INSERT waited for (committed concurrently) is in neither branch and is read back by findSql.
        this.claimReadingFirstSql = "WITH ins AS (INSERT INTO " + t + " AS e (consumer, event_id, processed_at, expires_at,"
                + " fingerprint) VALUES (?, ?, now(), now() + (?::bigint * interval '1 millisecond'), ?)"
                + " ON CONFLICT ON CONSTRAINT " + pk + " DO NOTHING RETURNING event_id, processed_at)"
                + " SELECT event_id, true, " + MICROS + ", NULL::varchar, NULL::bytea, false FROM ins"
                + existing + " WHERE e.consumer = ? AND e.event_id = ?";
        this.reclaimSql = "INSERT INTO " + t + " AS e (consumer, event_id, processed_at, expires_at, fingerprint)"
                + " VALUES (?, ?, now(), now() + (?::bigint * interval '1 millisecond'), ?)"
                + onConflict + " RETURNING " + MICROS;
        // A fresh key costs only the INSERT, as hand-written SQL does; a conflict is read back by findStoredSql,
        // a statement of its own and so with a snapshot that sees a row the INSERT waited for.
        this.insertSql = "INSERT INTO " + t + " AS e (consumer, event_id, processed_at, expires_at, fingerprint)"
                + " VALUES (?, ?, now(), now() + (?::bigint * interval '1 millisecond'), ?)"
                + " ON CONFLICT ON CONSTRAINT " + pk + " DO NOTHING RETURNING " + MICROS;
        // claimWithResult: the key written last, its result in the same row; a conflict goes the way of claim.
        this.insertWithResultSql = "INSERT INTO " + t + " AS e (consumer, event_id, processed_at, expires_at,"
                + " fingerprint, result) VALUES (?, ?, now(), now() + (?::bigint * interval '1 millisecond'), ?, ?)"
                + " ON CONFLICT ON CONSTRAINT " + pk + " DO NOTHING RETURNING " + MICROS;
        this.findStoredSql = "SELECT " + MICROS + ", fingerprint, CASE WHEN ?::boolean THEN result END,"
                + " expires_at <= now() FROM " + t + " WHERE consumer = ? AND event_id = ?";
        // Keys arrive distinct and sorted; WITH ORDINALITY keeps that order so overlapping batches lock alike. The
        // INSERT alone, as hand-written SQL does: the keys it did not return (conflicts) are read back by
        // findAllLiveSql, a statement of its own, only when there are any. A read of the conflicting rows in the
        // same statement (UNION ALL with a hash anti-join on the INSERT's CTE) cost a batch of 100 fresh keys about
        // 0.25 ms of 1.3-1.9 ms whether or not any key conflicted (psql, prepared, 100 runs per variant).
        this.claimAllSql = "INSERT INTO " + t + " AS e (consumer, event_id, processed_at, expires_at, fingerprint)"
                + " SELECT ?, k.event_id, now(), now() + (?::bigint * interval '1 millisecond'), k.fingerprint"
                + " FROM unnest(?::varchar[], ?::varchar[]) WITH ORDINALITY AS k(event_id, fingerprint, ord)"
                + " ORDER BY k.ord ON CONFLICT ON CONSTRAINT " + pk + " DO NOTHING"
                + " RETURNING event_id, true, " + MICROS + ", NULL::varchar, NULL::bytea, false";
        this.findAllLiveSql = "SELECT x.* FROM unnest(?::varchar[]) AS w(event_id), LATERAL (SELECT e.event_id,"
                + " false, " + MICROS_E + ", e.fingerprint, CASE WHEN ?::boolean THEN e.result END,"
                + " e.expires_at <= now() FROM " + t + " e WHERE e.consumer = ? AND e.event_id = w.event_id OFFSET 0) x";
        // claimAllReadingFirst, for batches expected to be mostly duplicates: the existing rows are read first and only
        // the keys not found are inserted, which spares each duplicate the INSERT's own conflict probe (EXPLAIN
        // ANALYZE, 100 keys: 0.21-0.24 ms instead of 0.33-0.45 ms at 100% duplicates, 0.73 instead of 0.65 ms at 0%).
        this.lookUpAndClaimAllSql = "WITH found AS (SELECT x.* FROM unnest(?::varchar[]) AS w(event_id), LATERAL"
                + " (SELECT e.event_id, e.processed_at, e.fingerprint, CASE WHEN ?::boolean THEN e.result END AS result,"
                + " e.expires_at <= now() AS expired FROM " + t + " e WHERE e.consumer = ? AND e.event_id = w.event_id"
                + " OFFSET 0) x), ins AS (INSERT INTO " + t + " AS e (consumer, event_id, processed_at, expires_at,"
                + " fingerprint) SELECT ?, k.event_id, now(), now() + (?::bigint * interval '1 millisecond'),"
                + " k.fingerprint FROM unnest(?::varchar[], ?::varchar[]) WITH ORDINALITY AS k(event_id, fingerprint, ord)"
                + " WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.event_id = k.event_id) ORDER BY k.ord"
                + " ON CONFLICT ON CONSTRAINT " + pk + " DO NOTHING RETURNING event_id, processed_at)"
                + " SELECT event_id, true, " + MICROS + ", NULL::varchar, NULL::bytea, false FROM ins"
                + " UNION ALL SELECT event_id, false, " + MICROS + ", fingerprint, result, expired FROM found";
        this.reclaimAllSql = "INSERT INTO " + t + " AS e (consumer, event_id, processed_at, expires_at, fingerprint)"
                + " SELECT ?, k.event_id, now(), now() + (?::bigint * interval '1 millisecond'), k.fingerprint"
                + " FROM unnest(?::varchar[], ?::varchar[]) WITH ORDINALITY AS k(event_id, fingerprint, ord)"
                + " ORDER BY k.ord"
                + onConflict + " RETURNING event_id, " + MICROS;
        this.findSql = "SELECT processed_at, fingerprint, result FROM " + t + " WHERE consumer = ? AND event_id = ?";
        // Existing rows of a batch are read one key at a time through LATERAL ... OFFSET 0 (which the planner
        // cannot flatten) rather than with event_id = ANY(?): a generic plan cached while the table was small can
        // use only the consumer column of the index for ANY, and then reads every row of the consumer on each
        // batch once the table has grown (seen: 122 ms per batch at 300,000 rows with autovacuum off). The
        // per-key lookup always uses both key columns.
        this.findAllSql = "SELECT x.* FROM unnest(?::varchar[]) AS w(event_id), LATERAL (SELECT e.event_id,"
                + " " + MICROS_E + ", e.fingerprint, e.result FROM " + t + " e WHERE e.consumer = ?"
                + " AND e.event_id = w.event_id OFFSET 0) x";
        this.saveResultSql = "UPDATE " + t + " SET result = ? WHERE consumer = ? AND event_id = ?";
        this.extendExpirySql = extendExpirySql(t);
        this.purgeSql = "DELETE FROM " + t + " WHERE (consumer, event_id) IN (SELECT consumer, event_id FROM " + t
                + " WHERE expires_at <= now() ORDER BY expires_at LIMIT ? FOR UPDATE SKIP LOCKED)";
    }

    @Override
    public java.util.Optional<String> epochMillisSql() {
        return java.util.Optional.of("CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS bigint)");
    }

    @Override
    public String name() {
        return "PostgreSQL";
    }

    @Override
    public String ddlResource() {
        return "dev/oncely/jdbc/postgresql.sql";
    }

    @Override
    public ClaimResult claim(Connection connection, ClaimRequest request) throws SQLException {
        for (int attempt = 1; ; attempt++) {
            try (PreparedStatement ps = connection.prepareStatement(insertSql)) {
                JdbcStatements.bindClaim(ps, request, ChronoUnit.MILLIS);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        return ClaimResult.claimed(instant(rs, 1));
                    }
                }
            }
            boolean expired = false;
            try (PreparedStatement ps = connection.prepareStatement(findStoredSql)) {
                ps.setBoolean(1, request.loadResult());
                ps.setString(2, request.consumer());
                ps.setString(3, request.key());
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        if (!rs.getBoolean(4)) {
                            return storedClaim(rs, 1, true);
                        }
                        expired = true;
                    }
                }
            }
            if (expired) {
                Optional<ClaimResult> settled = afterConflict(connection, request, true);
                if (settled.isPresent()) {
                    return settled.get();
                }
            }
            // The row that conflicted expired and was purged between the statements: claim again.
            if (attempt >= MAX_DUPLICATE_LOOKUPS) {
                throw conflictedButUnreadable(request, attempt);
            }
        }
    }

    /**
     * One statement for a fresh key. A key it did not insert (live, expired, or inserted by a transaction this
     * INSERT waited for, which committed) takes {@link #claim}'s way, and then the result is saved if it claimed.
     */
    @Override
    public ClaimResult claimWithResult(Connection connection, ClaimRequest request, byte[] result)
            throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(insertWithResultSql)) {
            JdbcStatements.bindClaim(ps, request, ChronoUnit.MILLIS);
            ps.setBytes(5, result);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    return ClaimResult.claimed(instant(rs, 1));
                }
            }
        }
        return SqlDialect.super.claimWithResult(connection, request, result);
    }

    /**
     * A duplicate read without a transaction costs one round trip (about 60 us here) and commits nothing, against
     * two (claim, commit) for the cheapest claim of a duplicate.
     */
    @Override
    public boolean findsLiveClaims() {
        return true;
    }

    @Override
    public Optional<ClaimResult> findLive(Connection connection, ClaimRequest request) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(findStoredSql)) {
            ps.setBoolean(1, request.loadResult());
            ps.setString(2, request.consumer());
            ps.setString(3, request.key());
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next() && !rs.getBoolean(4)) {
                    return Optional.of(storedClaim(rs, 1, true));
                }
            }
        }
        return Optional.empty(); // not there, expired, or not committed yet: the claim decides
    }

    @Override
    public Optional<List<ClaimResult>> findAllLive(Connection connection, ClaimBatch batch) throws SQLException {
        int n = batch.size();
        String[] keys = new String[n];
        for (int i = 0; i < n; i++) {
            keys[i] = batch.keys().get(i).key();
        }
        Map<String, ClaimResult> found = new HashMap<>(n * 2);
        try (PreparedStatement ps = connection.prepareStatement(findAllLiveSql)) {
            ps.setArray(1, connection.createArrayOf("varchar", keys));
            ps.setBoolean(2, batch.loadResult());
            ps.setString(3, batch.consumer());
            if (readClaims(ps, found, null) != null || found.size() < n) {
                return Optional.empty(); // one expired or absent: the claim decides
            }
        }
        ClaimResult[] results = new ClaimResult[n];
        for (int i = 0; i < n; i++) {
            results[i] = found.get(keys[i]);
        }
        return Optional.of(java.util.Arrays.asList(results));
    }

    /** processed_at, selected as {@link #MICROS}, as an Instant. */
    private static java.time.Instant instant(ResultSet rs, int column) throws SQLException {
        long micros = rs.getLong(column);
        return java.time.Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L),
                Math.floorMod(micros, 1_000_000L) * 1_000L);
    }

    /** A stored claim from columns {@code column} (processed_at), +1 (fingerprint) and +2 (result). */
    private static ClaimResult storedClaim(ResultSet rs, int column, boolean loadResult) throws SQLException {
        return JdbcStatements.storedClaim(instant(rs, column), rs, column, loadResult);
    }

    /**
     * Binds the batch's fingerprints, or NULL when it has none: unnest(keys, NULL) pads the fingerprint column with
     * NULLs, which spares encoding an array of nulls.
     */
    private static void bindFingerprints(Connection connection, PreparedStatement ps, int index, String[] fingerprints)
            throws SQLException {
        if (fingerprints != null) {
            ps.setArray(index, connection.createArrayOf("varchar", fingerprints));
        } else {
            ps.setNull(index, Types.ARRAY);
        }
    }

    /**
     * The INSERT and a read of the row that was already there, in one statement (a CTE): a duplicate costs one
     * round trip instead of two, a fresh key about 40-60 us more (the CTE and its probe that finds nothing).
     */
    @Override
    public ClaimResult claimReadingFirst(Connection connection, ClaimRequest request) throws SQLException {
        for (int attempt = 1; ; attempt++) {
            ClaimResult live = null;
            boolean expired = false;
            try (PreparedStatement ps = connection.prepareStatement(claimReadingFirstSql)) {
                JdbcStatements.bindClaim(ps, request, ChronoUnit.MILLIS);
                ps.setBoolean(5, request.loadResult());
                ps.setString(6, request.consumer());
                ps.setString(7, request.key());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        if (rs.getBoolean(2)) {
                            return ClaimResult.claimed(instant(rs, 3));
                        }
                        if (rs.getBoolean(6)) {
                            expired = true;
                        } else {
                            live = storedClaim(rs, 3, true);
                        }
                    }
                }
            }
            if (live != null) {
                return live;
            }
            Optional<ClaimResult> settled = afterConflict(connection, request, expired);
            if (settled.isPresent()) {
                return settled.get();
            }
            // The row that conflicted expired and was purged between the statements: claim again.
            if (attempt >= MAX_DUPLICATE_LOOKUPS) {
                throw conflictedButUnreadable(request, attempt);
            }
        }
    }

    /**
     * After a claim found its key's row taken but no live claim in it: reclaims the row if it had expired, else (or
     * if another transaction reclaimed it first) reads the row back, in a statement of its own that sees what
     * committed meanwhile. Empty if the row is gone (purged between the statements): claim again.
     */
    private Optional<ClaimResult> afterConflict(Connection connection, ClaimRequest request, boolean expired)
            throws SQLException {
        if (expired) {
            Optional<ClaimResult> reclaimed = reclaim(connection, request);
            if (reclaimed.isPresent()) {
                return reclaimed;
            }
        }
        return find(connection, request);
    }

    private Optional<ClaimResult> reclaim(Connection connection, ClaimRequest request) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(reclaimSql)) {
            JdbcStatements.bindClaim(ps, request, ChronoUnit.MILLIS);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    return Optional.of(ClaimResult.claimed(instant(rs, 1)));
                }
            }
        }
        return Optional.empty();
    }

    private SQLException conflictedButUnreadable(ClaimRequest request, int attempt) {
        return new SQLException("Key '" + request.key() + "' conflicted " + attempt + " times but could not"
                + " be read back from " + table + "; is something deleting live keys?", "55000");
    }

    private Optional<ClaimResult> find(Connection connection, ClaimRequest request) throws SQLException {
        return JdbcStatements.findClaim(connection, findSql, request);
    }

    /**
     * The INSERT of all keys; then, only if it did not insert some, a read of those keys' rows (a statement of its
     * own, so it sees rows the INSERT waited for). Keys are distinct and sorted, and WITH ORDINALITY keeps that
     * order, so overlapping batches lock alike.
     */
    @Override
    public List<ClaimResult> claimAll(Connection connection, ClaimBatch batch) throws SQLException {
        return claimAll(connection, batch, false);
    }

    /**
     * One statement: a read of the keys' rows, then the INSERT of the keys it did not find; the same answers as
     * {@link #claimAll(Connection, ClaimBatch)}, each duplicate spared the INSERT's conflict probe.
     */
    @Override
    public List<ClaimResult> claimAllReadingFirst(Connection connection, ClaimBatch batch) throws SQLException {
        return claimAll(connection, batch, true);
    }

    private List<ClaimResult> claimAll(Connection connection, ClaimBatch batch, boolean readFirst)
            throws SQLException {
        int n = batch.size();
        if (n == 0) {
            return List.of();
        }
        String[] keys = new String[n];
        String[] fingerprints = null;
        for (int i = 0; i < n; i++) {
            ClaimBatch.Key key = batch.keys().get(i);
            keys[i] = key.key();
            if (key.fingerprint().isPresent()) {
                fingerprints = fingerprints != null ? fingerprints : new String[n];
                fingerprints[i] = key.fingerprint().get();
            }
        }
        Map<String, ClaimResult> found = new HashMap<>(n * 2);
        List<String> expired = null;
        try (PreparedStatement ps = connection.prepareStatement(readFirst ? lookUpAndClaimAllSql : claimAllSql)) {
            Array keyArray = connection.createArrayOf("varchar", keys);
            if (readFirst) {
                ps.setArray(1, keyArray);
                ps.setBoolean(2, batch.loadResult());
                ps.setString(3, batch.consumer());
                ps.setString(4, batch.consumer());
                JdbcStatements.bindRetention(ps, 5, batch.retention(), ChronoUnit.MILLIS);
                ps.setArray(6, keyArray);
                bindFingerprints(connection, ps, 7, fingerprints);
            } else {
                ps.setString(1, batch.consumer());
                JdbcStatements.bindRetention(ps, 2, batch.retention(), ChronoUnit.MILLIS);
                ps.setArray(3, keyArray);
                bindFingerprints(connection, ps, 4, fingerprints);
            }
            expired = readClaims(ps, found, null);
        }
        if (!readFirst && found.size() < n) {
            // The keys the INSERT did not insert: their rows, live or expired, committed before this statement.
            try (PreparedStatement ps = connection.prepareStatement(findAllLiveSql)) {
                ps.setArray(1, connection.createArrayOf("varchar", missing(keys, found, n)));
                ps.setBoolean(2, batch.loadResult());
                ps.setString(3, batch.consumer());
                expired = readClaims(ps, found, expired);
            }
        }
        if (expired != null) {
            reclaimAll(connection, batch, keys, fingerprints, expired, found);
        }
        if (found.size() < n) {
            // Committed by other transactions after the claim's snapshot, or reclaimed by them: read them back.
            try (PreparedStatement ps = connection.prepareStatement(findAllSql)) {
                ps.setArray(1, connection.createArrayOf("varchar", missing(keys, found, n)));
                ps.setString(2, batch.consumer());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        found.put(rs.getString(1), storedClaim(rs, 2, batch.loadResult()));
                    }
                }
            }
        }
        ClaimResult[] results = new ClaimResult[n];
        for (int i = 0; i < n; i++) {
            ClaimResult result = found.get(keys[i]);
            // Purged between the statements (it had expired): claim it on its own.
            results[i] = result != null ? result : claim(connection, batch.request(i));
        }
        return java.util.Arrays.asList(results);
    }

    /**
     * Reads rows of (key, claimed, processed_at, fingerprint, result, expired) into {@code found}, returning the
     * expired keys (added to {@code expired}, created when the first one comes).
     */
    private static List<String> readClaims(PreparedStatement ps, Map<String, ClaimResult> found, List<String> expired)
            throws SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                String key = rs.getString(1);
                if (rs.getBoolean(2)) {
                    found.put(key, ClaimResult.claimed(instant(rs, 3)));
                } else if (rs.getBoolean(6)) {
                    expired = expired != null ? expired : new ArrayList<>();
                    expired.add(key);
                } else {
                    found.putIfAbsent(key, storedClaim(rs, 3, true));
                }
            }
        }
        return expired;
    }

    /** The keys not in {@code found}, in the batch's order. */
    private static String[] missing(String[] keys, Map<String, ClaimResult> found, int n) {
        String[] missing = new String[n - found.size()];
        int m = 0;
        for (String k : keys) {
            if (!found.containsKey(k) && m < missing.length) {
                missing[m++] = k;
            }
        }
        return m == missing.length ? missing : java.util.Arrays.copyOf(missing, m);
    }

    /** Rare: keys whose claim expired but whose row is still there. Reclaims them in the batch's order. */
    private void reclaimAll(Connection connection, ClaimBatch batch, String[] keys, String[] fingerprints,
                            List<String> expired, Map<String, ClaimResult> found) throws SQLException {
        expired.removeIf(found::containsKey);
        if (expired.isEmpty()) {
            return;
        }
        Map<String, Integer> index = new HashMap<>(keys.length * 2);
        for (int i = 0; i < keys.length; i++) {
            index.putIfAbsent(keys[i], i);
        }
        expired.sort(java.util.Comparator.comparing(index::get));
        String[] expiredKeys = expired.toArray(new String[0]);
        String[] expiredFingerprints = new String[expiredKeys.length];
        for (int i = 0; i < expiredKeys.length; i++) {
            expiredFingerprints[i] = fingerprints == null ? null : fingerprints[index.get(expiredKeys[i])];
        }
        try (PreparedStatement ps = connection.prepareStatement(reclaimAllSql)) {
            ps.setString(1, batch.consumer());
            JdbcStatements.bindRetention(ps, 2, batch.retention(), ChronoUnit.MILLIS);
            ps.setArray(3, connection.createArrayOf("varchar", expiredKeys));
            ps.setArray(4, connection.createArrayOf("varchar", expiredFingerprints));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    found.put(rs.getString(1), ClaimResult.claimed(instant(rs, 2)));
                }
            }
        }
    }

    /** Also the time-partitioned layout's: every row of the key (one per partition it was written to) moves. */
    static String extendExpirySql(String table) {
        return "UPDATE " + table + " SET expires_at = expires_at + (?::bigint * interval '1 millisecond')"
                + " WHERE consumer = ? AND event_id = ? AND expires_at IS NOT NULL";
    }

    @Override
    public void extendExpiry(Connection connection, String consumer, java.util.Collection<String> keys,
                             java.time.Duration by) throws SQLException {
        JdbcStatements.extendExpiry(connection, extendExpirySql, consumer, keys, by, ChronoUnit.MILLIS);
    }

    @Override
    public void saveResults(Connection connection, String consumer, Map<String, byte[]> resultsByKey)
            throws SQLException {
        JdbcStatements.saveResults(connection, saveResultSql, consumer, resultsByKey);
    }

    @Override
    public int purgeExpired(Connection connection, int maxRows) throws SQLException {
        return JdbcStatements.deleteAtMost(connection, purgeSql, maxRows);
    }

    @Override
    public Optional<String> durabilityWarning(Connection connection) throws SQLException {
        try (java.sql.Statement st = connection.createStatement();
             ResultSet rs = st.executeQuery("SHOW synchronous_commit")) {
            if (rs.next() && "off".equalsIgnoreCase(rs.getString(1))) {
                return Optional.of("the database reports synchronous_commit=off: a COMMIT returns before it is"
                        + " flushed to disk, so if the PostgreSQL server crashes, transactions it confirmed can"
                        + " vanish, claim and effects alike, while their messages were already acknowledged to the"
                        + " broker: those messages are lost. Set synchronous_commit to on (or local/remote_write)"
                        + " for the role or database Oncely uses (ALTER ROLE ... SET synchronous_commit = on).");
            }
        }
        return Optional.empty();
    }

    @Override
    public boolean isTransient(SQLException e) {
        String state = e.getSQLState();
        return "40001".equals(state) || "40P01".equals(state);
    }

    @Override
    public boolean isMissingTable(SQLException e) {
        return "42P01".equals(e.getSQLState());
    }

    @Override
    public String expiryClockSql() {
        return "now()";
    }

    /** {@code SET LOCAL}: ends with the transaction, so nothing is left to restore. */
    @Override
    public Optional<String> limitLockWait(Connection connection, long millis) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("SELECT set_config('lock_timeout', ?, true)")) {
            ps.setString(1, millis + "ms");
            ps.executeQuery().close();
        }
        return Optional.empty();
    }

    @Override
    public boolean isLockWaitTimeout(SQLException e) {
        return "55P03".equals(e.getSQLState()); // lock_not_available: lock_timeout or NOWAIT
    }
}
