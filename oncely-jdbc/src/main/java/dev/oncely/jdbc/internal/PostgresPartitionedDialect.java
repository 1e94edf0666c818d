package dev.oncely.jdbc.internal;

import dev.oncely.spi.ClaimBatch;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PostgreSQL with claims in a table partitioned by the time they were made, so expired keys are removed by
 * dropping whole partitions instead of deleting rows (docs/retention.md#partitioned-layout).
 *
 * <p>PostgreSQL cannot enforce a unique key across partitions unless it contains the partition key, so
 * uniqueness of (consumer, event_id) across partitions rests on three rules:
 * <ol>
 *   <li>A claim first reads the key's live row across all partitions (one index probe per partition); if there
 *       is one, it is a duplicate and nothing is written.</li>
 *   <li>Otherwise it inserts the key into every partition that accepts claims at the statement's time: the
 *       partition of that time and, during the first {@code overlap} of a partition, the previous one too. Two
 *       claims of a key made less than {@code overlap} apart therefore always insert into a common partition,
 *       where the primary key makes the second wait for the first and then see its commit (or a serialization
 *       failure under REPEATABLE READ / SERIALIZABLE, which the store retries).</li>
 *   <li>Every transaction that claims ends (commits or rolls back) within half the overlap; the store asks for 40%,
 *       leaving the rest for the commit itself. A claim made later
 *       than {@code overlap} after another one then finds the other's row committed, under READ COMMITTED by its
 *       statement snapshot, under REPEATABLE READ because its own transaction began after that commit. The store
 *       enforces the bound on the transactions it runs (it rolls back a longer one); a caller's transaction
 *       joined with processIn must keep it (documented).</li>
 * </ol>
 * A partition is dropped only when it stopped accepting claims more than one overlap ago (so no claim can still
 * be writing to it) and holds no live or unexpiring key (checked on its {@code expires_at} index); it is detached
 * with {@code DETACH PARTITION ... CONCURRENTLY}, which never blocks claims, then dropped.
 */
public final class PostgresPartitionedDialect implements SqlDialect {

    private static final Logger log = LoggerFactory.getLogger(PostgresPartitionedDialect.class);
    private static final int MAX_DUPLICATE_LOOKUPS = 3;
    private static final DateTimeFormatter PARTITION_SUFFIX = DateTimeFormatter.ofPattern("'_p'yyyyMMdd'_'HHmmss")
            .withZone(ZoneOffset.UTC);
    /** Partitions are named {@code <table>_pYYYYMMDD_HHMMSS}: 17 characters more, within PostgreSQL's 63. */
    public static final int MAX_TABLE_LENGTH = 40;
    /** Minimum PostgreSQL version: DETACH PARTITION ... CONCURRENTLY. */
    static final int MIN_SERVER_VERSION = 140000;

    private final PostgresDialect plain;
    private final TableName table;
    private final Duration partitionLength;
    private final Duration overlap;
    private final int partitionsAhead;
    private final String claimSql;
    private final String claimAllSql;
    private final String findSql;
    private final String deleteOwnSql;
    private final String saveResultSql;
    private final String lockKey;

    public PostgresPartitionedDialect(TableName table, Duration partitionLength, Duration overlap,
                                      int partitionsAhead) {
        this.plain = new PostgresDialect(table);
        this.table = table;
        this.partitionLength = partitionLength;
        this.overlap = overlap;
        this.partitionsAhead = partitionsAhead;
        String t = table.qualified();
        String parts = table.partitionsTable();
        String pk = table.table() + "_pkey";
        String live = "(e.expires_at IS NULL OR e.expires_at > now())";
        // One round trip for a fresh, live or expired key: the live row if there is one (then nothing is
        // inserted), the partitions accepting claims now, and the rows inserted into them. A conflict in a
        // target partition with an expired row reclaims it; with a row committed after this statement's snapshot
        // it returns nothing for that partition, and the claim reads the row back.
        this.claimSql = "WITH live AS (SELECT e.processed_at, e.fingerprint, CASE WHEN ?::boolean THEN e.result END"
                + " AS result FROM " + t + " e WHERE e.consumer = ? AND e.event_id = ? AND " + live
                // Stable, so partitions made ahead for later times are pruned when the plan starts.
                + " AND e.bucket <= statement_timestamp()"
                + " ORDER BY e.processed_at LIMIT 1),"
                + " target AS (SELECT p.bucket FROM " + parts + " p WHERE p.bucket <= statement_timestamp()"
                + " AND statement_timestamp() < p.accepts_until),"
                + " ins AS (INSERT INTO " + t + " AS e (consumer, event_id, bucket, processed_at, expires_at,"
                + " fingerprint) SELECT ?, ?, g.bucket, now(), now() + (?::bigint * interval '1 millisecond'), ?"
                + " FROM target g WHERE NOT EXISTS (SELECT 1 FROM live) ORDER BY g.bucket"
                + " ON CONFLICT ON CONSTRAINT " + pk + " DO UPDATE SET processed_at = EXCLUDED.processed_at,"
                + " expires_at = EXCLUDED.expires_at, fingerprint = EXCLUDED.fingerprint, result = NULL"
                + " WHERE e.expires_at <= now() RETURNING e.bucket, e.processed_at)"
                + " SELECT 1, processed_at, fingerprint, result, NULL::timestamptz FROM live"
                + " UNION ALL SELECT 2, processed_at, NULL, NULL, bucket FROM ins"
                + " UNION ALL SELECT 3, NULL, NULL, NULL, bucket FROM target";
        // The same for a batch of one consumer and retention: keys distinct and sorted, inserted in that order
        // (and within a key, partitions in time order) so overlapping batches lock alike.
        this.claimAllSql = "WITH w AS (SELECT k.event_id, k.fingerprint, k.ord FROM unnest(?::varchar[],"
                + " ?::varchar[]) WITH ORDINALITY AS k(event_id, fingerprint, ord)),"
                + " live AS (SELECT x.* FROM w, LATERAL (SELECT e.event_id, e.processed_at, e.fingerprint,"
                + " CASE WHEN ?::boolean THEN e.result END AS result FROM " + t + " e WHERE e.consumer = ?"
                + " AND e.event_id = w.event_id AND " + live + " AND e.bucket <= statement_timestamp()"
                + " ORDER BY e.processed_at LIMIT 1) x),"
                + " target AS (SELECT p.bucket FROM " + parts + " p WHERE p.bucket <= statement_timestamp()"
                + " AND statement_timestamp() < p.accepts_until),"
                + " ins AS (INSERT INTO " + t + " AS e (consumer, event_id, bucket, processed_at, expires_at,"
                + " fingerprint) SELECT ?, w.event_id, g.bucket, now(), now() + (?::bigint * interval '1 millisecond'),"
                + " w.fingerprint FROM w CROSS JOIN target g WHERE NOT EXISTS (SELECT 1 FROM live l"
                + " WHERE l.event_id = w.event_id) ORDER BY w.ord, g.bucket"
                + " ON CONFLICT ON CONSTRAINT " + pk + " DO UPDATE SET processed_at = EXCLUDED.processed_at,"
                + " expires_at = EXCLUDED.expires_at, fingerprint = EXCLUDED.fingerprint, result = NULL"
                + " WHERE e.expires_at <= now() RETURNING e.event_id, e.bucket, e.processed_at)"
                + " SELECT 1, event_id, processed_at, fingerprint, result, NULL::text FROM live"
                + " UNION ALL SELECT 2, event_id, processed_at, NULL, NULL, bucket::text FROM ins"
                + " UNION ALL SELECT 3, NULL, NULL, NULL, NULL, bucket::text FROM target";
        this.findSql = "SELECT e.processed_at, e.fingerprint, e.result FROM " + t + " e WHERE e.consumer = ?"
                + " AND e.event_id = ? AND " + live + " ORDER BY e.processed_at LIMIT 1";
        this.deleteOwnSql = "DELETE FROM " + t + " WHERE consumer = ? AND event_id = ? AND bucket = ANY(?::timestamptz[])";
        this.saveResultSql = "UPDATE " + t + " e SET result = ? WHERE e.consumer = ? AND e.event_id = ? AND " + live;
        this.lockKey = "oncely:" + t;
    }

    /** Lease mode needs one row per key that every delivery can find and update; the partitioned layout is not. */
    @Override
    public boolean supportsLeases() {
        return false;
    }

    @Override
    public String name() {
        return "PostgreSQL (time-partitioned: " + partitionLength + " partitions, " + overlap + " overlap)";
    }

    @Override
    public String ddlResource() {
        return "dev/oncely/jdbc/postgresql-partitioned.sql";
    }

    @Override
    public Optional<Duration> maxTransactionDuration() {
        return Optional.of(overlap.multipliedBy(2).dividedBy(5));
    }

    @Override
    public ClaimResult claim(Connection connection, ClaimRequest request) throws SQLException {
        for (int attempt = 1; ; attempt++) {
            ClaimResult live = null;
            List<String> targets = new ArrayList<>(2);
            List<String> inserted = new ArrayList<>(2);
            Instant claimedAt = null;
            try (PreparedStatement ps = connection.prepareStatement(claimSql)) {
                ps.setBoolean(1, request.loadResult());
                ps.setString(2, request.consumer());
                ps.setString(3, request.key());
                ps.setString(4, request.consumer());
                ps.setString(5, request.key());
                JdbcStatements.bindRetention(ps, 6, request.retention(), ChronoUnit.MILLIS);
                ps.setString(7, request.fingerprint().orElse(null));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        switch (rs.getInt(1)) {
                            case 1 -> live = JdbcStatements.storedClaim(rs, 2, true);
                            case 2 -> {
                                inserted.add(rs.getString(5));
                                claimedAt = rs.getTimestamp(2).toInstant();
                            }
                            default -> targets.add(rs.getString(5));
                        }
                    }
                }
            }
            if (live != null) {
                return live;
            }
            if (targets.isEmpty()) {
                throw noPartition();
            }
            if (inserted.size() == targets.size()) {
                return ClaimResult.claimed(claimedAt);
            }
            Optional<ClaimResult> existing = resolveConflict(connection, request, inserted);
            if (existing.isPresent()) {
                return existing.get();
            }
            if (attempt >= MAX_DUPLICATE_LOOKUPS) {
                throw new SQLException("Key '" + request.key() + "' conflicted " + attempt + " times but could not"
                        + " be read back from " + table + "; is something deleting live keys?", "55000");
            }
        }
    }

    private SQLException noPartition() {
        return new SQLException("No partition of " + table + " accepts claims made now: the partitions ahead of"
                + " time were not created. Run JdbcDedupStore#maintainPartitions() (every RetentionPurger run and"
                + " createSchemaIfMissing() do it) at least once per " + partitionLength + "; it creates "
                + partitionsAhead + " partitions ahead.", "55000");
    }

    /**
     * Another transaction's claim of this key, committed after the claim statement's snapshot, holds one of the
     * target partitions: this is a duplicate. Takes back what this claim inserted next to it and reads the other
     * claim back; empty if there is none any more (then claim again).
     */
    private Optional<ClaimResult> resolveConflict(Connection connection, ClaimRequest request, List<String> inserted)
            throws SQLException {
        if (!inserted.isEmpty()) {
            try (PreparedStatement ps = connection.prepareStatement(deleteOwnSql)) {
                ps.setString(1, request.consumer());
                ps.setString(2, request.key());
                ps.setArray(3, connection.createArrayOf("varchar", inserted.toArray()));
                ps.executeUpdate();
            }
        }
        return find(connection, request);
    }

    private Optional<ClaimResult> find(Connection connection, ClaimRequest request) throws SQLException {
        return JdbcStatements.findClaim(connection, findSql, request);
    }

    @Override
    public List<ClaimResult> claimAll(Connection connection, ClaimBatch batch) throws SQLException {
        if (batch.size() <= 1) {
            return claimEach(connection, batch); // one key: the single claim is cheaper than the set-based one
        }
        List<ClaimRequest> requests = batch.requests();
        ClaimRequest first = requests.get(0);
        String[] keys = new String[requests.size()];
        String[] fingerprints = new String[requests.size()];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = requests.get(i).key();
            fingerprints[i] = requests.get(i).fingerprint().orElse(null);
        }
        Map<String, ClaimResult> live = new java.util.HashMap<>();
        Map<String, List<String>> inserted = new java.util.HashMap<>();
        Map<String, Instant> insertedAt = new java.util.HashMap<>();
        int targets = 0;
        try (PreparedStatement ps = connection.prepareStatement(claimAllSql)) {
            ps.setArray(1, connection.createArrayOf("varchar", keys));
            ps.setArray(2, connection.createArrayOf("varchar", fingerprints));
            ps.setBoolean(3, first.loadResult());
            ps.setString(4, first.consumer());
            ps.setString(5, first.consumer());
            JdbcStatements.bindRetention(ps, 6, first.retention(), ChronoUnit.MILLIS);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    switch (rs.getInt(1)) {
                        case 1 -> live.put(rs.getString(2), JdbcStatements.storedClaim(rs, 3, true));
                        case 2 -> {
                            inserted.computeIfAbsent(rs.getString(2), k -> new ArrayList<>(2)).add(rs.getString(6));
                            insertedAt.put(rs.getString(2), rs.getTimestamp(3).toInstant());
                        }
                        default -> targets++;
                    }
                }
            }
        }
        if (targets == 0) {
            throw noPartition();
        }
        List<ClaimResult> results = new ArrayList<>(requests.size());
        for (ClaimRequest request : requests) {
            String key = request.key();
            ClaimResult found = live.get(key);
            List<String> own = inserted.getOrDefault(key, List.of());
            if (found == null && own.size() == targets) {
                found = ClaimResult.claimed(insertedAt.get(key));
            } else if (found == null) {
                // Rare: committed by another transaction after the statement's snapshot. As for one key.
                found = resolveConflict(connection, request, own).orElse(null);
                if (found == null) {
                    found = claim(connection, request);
                }
            }
            results.add(found);
        }
        return results;
    }

    /**
     * Moves the expiry of the key's rows in the partitions they live in; a partition is dropped only once every
     * row in it has expired, so a moved expiry keeps its partition a little longer.
     */
    @Override
    public void extendExpiry(Connection connection, String consumer, java.util.Collection<String> keys, Duration by)
            throws SQLException {
        JdbcStatements.extendExpiry(connection, PostgresDialect.extendExpirySql(table.qualified()), consumer, keys,
                by, ChronoUnit.MILLIS);
    }

    @Override
    public void saveResults(Connection connection, String consumer, Map<String, byte[]> resultsByKey)
            throws SQLException {
        JdbcStatements.saveResults(connection, saveResultSql, consumer, resultsByKey);
    }

    /**
     * Maintenance, then no row deletes: creates the partitions ahead and drops at most one partition whose keys
     * have all expired. Returns the number of keys it held, as PostgreSQL's statistics estimate it (counted when
     * there are none yet). {@code maxRows} does not bound it: a partition goes as a whole.
     */
    @Override
    public int purgeExpired(Connection connection, int maxRows) throws SQLException {
        return (int) Math.min(Integer.MAX_VALUE, maintain(connection, true));
    }

    /** The dedup table with its partition key, and the table of partitions maintenance and claims read. */
    @Override
    public Map<String, List<String>> columnsUsed(TableName table) {
        Map<String, List<String>> used = new java.util.LinkedHashMap<>();
        List<String> columns = new ArrayList<>(plain.columnsUsed(table).get(table.qualified()));
        columns.add("bucket");
        used.put(table.qualified(), List.copyOf(columns));
        used.put(table.partitionsTable(), List.of("bucket", "ends_at", "accepts_until", "partition_name"));
        return used;
    }

    @Override
    public void afterSchemaCreated(Connection connection) throws SQLException {
        maintain(connection, false);
    }

    /**
     * Creates partitions up to {@code partitionsAhead} ahead of the database clock and, if asked, drops the oldest
     * partition that can go. Serialized across processes by an advisory lock; a maintainer that finds it taken
     * does nothing (the other one does the work). Runs on a connection in autocommit mode and leaves it so.
     * Returns the estimated number of keys dropped.
     */
    public long maintain(Connection connection, boolean drop) throws SQLException {
        checkServerVersion(connection);
        if (!tryLock(connection)) {
            log.debug("Partition maintenance of {} is running elsewhere; skipped", table);
            return 0;
        }
        try {
            createAhead(connection);
            return drop ? dropOneExpired(connection) : 0;
        } finally {
            unlock(connection);
        }
    }

    private void checkServerVersion(Connection connection) throws SQLException {
        try (Statement st = connection.createStatement();
             ResultSet rs = st.executeQuery("SELECT current_setting('server_version_num')::int")) {
            rs.next();
            int version = rs.getInt(1);
            if (version < MIN_SERVER_VERSION) {
                throw new SQLException("The time-partitioned layout needs PostgreSQL 14 or later (DETACH PARTITION"
                        + " CONCURRENTLY); this server is version " + version + ". Use the plain layout (no"
                        + " timePartitioned(...)) with RetentionPurger's bounded deletes.", "0A000");
            }
        }
    }

    private boolean tryLock(Connection connection) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("SELECT pg_try_advisory_lock(hashtext(?))")) {
            ps.setString(1, lockKey);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }

    private void unlock(Connection connection) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("SELECT pg_advisory_unlock(hashtext(?))")) {
            ps.setString(1, lockKey);
            ps.executeQuery().close();
        }
    }

    private void createAhead(Connection connection) throws SQLException {
        Instant now;
        Instant lastEnd;
        try (Statement st = connection.createStatement();
             ResultSet rs = st.executeQuery("SELECT statement_timestamp(), max(ends_at) FROM "
                     + table.partitionsTable())) {
            rs.next();
            now = rs.getObject(1, OffsetDateTime.class).toInstant();
            OffsetDateTime end = rs.getObject(2, OffsetDateTime.class);
            lastEnd = end == null ? null : end.toInstant();
        }
        long lengthMillis = partitionLength.toMillis();
        Instant horizon = now.plusMillis(lengthMillis * partitionsAhead);
        // Continue after the last partition. The first time, and after a gap (nothing maintained for longer than
        // a partition: claims in the gap failed and wrote nothing), start at the oldest partition that would accept
        // claims now, so claims made now write where later ones will look.
        long first = Math.floorDiv(now.minus(overlap).toEpochMilli(), lengthMillis) * lengthMillis;
        Instant start = lastEnd != null && !lastEnd.isBefore(now.minusMillis(lengthMillis)) ? lastEnd
                : Instant.ofEpochMilli(first);
        while (start.isBefore(horizon)) {
            Instant end = start.plusMillis(lengthMillis);
            createPartition(connection, start, end);
            start = end;
        }
    }

    private void createPartition(Connection connection, Instant start, Instant end) throws SQLException {
        String name = table.table() + PARTITION_SUFFIX.format(start);
        String qualified = table.sibling(name);
        String bound = "'" + OffsetDateTime.ofInstant(start, ZoneOffset.UTC) + "'";
        connection.setAutoCommit(false);
        try {
            try (Statement st = connection.createStatement()) {
                // CREATE TABLE ... PARTITION OF would lock the parent against claims; ATTACH PARTITION takes
                // only a SHARE UPDATE EXCLUSIVE lock on it, which claims do not conflict with.
                st.execute("CREATE TABLE IF NOT EXISTS " + qualified + " (LIKE " + table.qualified()
                        + " INCLUDING DEFAULTS)");
                if (!isAttached(connection, qualified)) {
                    st.execute("ALTER TABLE " + table.qualified() + " ATTACH PARTITION " + qualified
                            + " FOR VALUES IN (" + bound + ")");
                }
            }
            try (PreparedStatement ps = connection.prepareStatement("INSERT INTO " + table.partitionsTable()
                    + " (bucket, ends_at, accepts_until, partition_name) VALUES (?, ?, ?, ?)")) {
                ps.setObject(1, OffsetDateTime.ofInstant(start, ZoneOffset.UTC));
                ps.setObject(2, OffsetDateTime.ofInstant(end, ZoneOffset.UTC));
                ps.setObject(3, OffsetDateTime.ofInstant(end.plus(overlap), ZoneOffset.UTC));
                ps.setString(4, name);
                ps.executeUpdate();
            }
            connection.commit();
            log.debug("Created partition {} of {} for claims from {} to {} (accepted until {})", name, table, start,
                    end, end.plus(overlap));
        } catch (SQLException e) {
            connection.rollback();
            throw e;
        } finally {
            connection.setAutoCommit(true);
        }
    }

    private long dropOneExpired(Connection connection) throws SQLException {
        List<String[]> candidates = new ArrayList<>();
        // Stopped accepting claims more than its own overlap ago: every transaction that wrote to it has ended.
        try (Statement st = connection.createStatement();
             ResultSet rs = st.executeQuery("SELECT bucket::text, partition_name FROM " + table.partitionsTable()
                     + " WHERE accepts_until + (accepts_until - ends_at) <= statement_timestamp() ORDER BY bucket")) {
            while (rs.next()) {
                candidates.add(new String[] {rs.getString(1), rs.getString(2)});
            }
        }
        for (String[] candidate : candidates) {
            String qualified = table.sibling(candidate[1]);
            boolean exists;
            try (PreparedStatement ps = connection.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
                ps.setString(1, qualified);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    exists = rs.getBoolean(1);
                }
            }
            if (exists && holdsLiveKeys(connection, qualified)) {
                continue;
            }
            long keys = exists ? estimateRows(connection, qualified) : 0;
            if (exists) {
                detach(connection, qualified);
                if (!dropNoWait(connection, qualified)) {
                    log.debug("Partition {} of {} is detached; it is dropped on a later run (in use now)",
                            candidate[1], table);
                    return 0;
                }
            }
            try (PreparedStatement ps = connection.prepareStatement("DELETE FROM " + table.partitionsTable()
                    + " WHERE bucket = ?::timestamptz")) {
                ps.setString(1, candidate[0]);
                ps.executeUpdate();
            }
            log.debug("Dropped partition {} of {} (about {} expired keys)", candidate[1], table, keys);
            return keys;
        }
        return 0;
    }

    /**
     * Drops a detached partition if its lock is free now. A claim planned before the detach still locks the
     * partition when it runs (then replans without it); a DROP waiting for such a claim would queue every later
     * claim behind its exclusive lock, so it never waits: it tries again on the next run.
     */
    private static boolean dropNoWait(Connection connection, String partition) throws SQLException {
        connection.setAutoCommit(false);
        try (Statement st = connection.createStatement()) {
            st.execute("LOCK TABLE " + partition + " IN ACCESS EXCLUSIVE MODE NOWAIT");
            st.execute("DROP TABLE " + partition);
            connection.commit();
            return true;
        } catch (SQLException e) {
            connection.rollback();
            if ("55P03".equals(e.getSQLState())) {
                return false;
            }
            throw e;
        } finally {
            connection.setAutoCommit(true);
        }
    }

    private static boolean holdsLiveKeys(Connection connection, String partition) throws SQLException {
        try (Statement st = connection.createStatement();
             ResultSet rs = st.executeQuery("SELECT EXISTS (SELECT 1 FROM " + partition + " WHERE expires_at IS NULL)"
                     + " OR EXISTS (SELECT 1 FROM " + partition + " WHERE expires_at > now())")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    private static long estimateRows(Connection connection, String partition) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(?)")) {
            ps.setString(1, partition);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next() && rs.getLong(1) >= 0) {
                    return rs.getLong(1);
                }
            }
        }
        // Never analyzed: count it (it no longer takes claims, so this reads without blocking anyone).
        try (Statement st = connection.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM " + partition)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private boolean isAttached(Connection connection, String partition) throws SQLException {
        return detachPending(connection, partition).isPresent();
    }

    /** Empty if the table is not a partition of the claims table, else whether a detach of it is pending. */
    private Optional<Boolean> detachPending(Connection connection, String partition) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("SELECT i.inhdetachpending FROM pg_inherits i"
                + " WHERE i.inhrelid = to_regclass(?) AND i.inhparent = to_regclass(?)")) {
            ps.setString(1, partition);
            ps.setString(2, table.qualified());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(rs.getBoolean(1)) : Optional.empty();
            }
        }
    }

    /** Detaches without blocking claims; finishes a detach an earlier, interrupted run left pending. */
    private void detach(Connection connection, String partition) throws SQLException {
        Optional<Boolean> state = detachPending(connection, partition);
        if (state.isEmpty()) {
            return;
        }
        boolean pending = state.get();
        try (Statement st = connection.createStatement()) {
            st.execute("ALTER TABLE " + table.qualified() + " DETACH PARTITION " + partition
                    + (pending ? " FINALIZE" : " CONCURRENTLY"));
        }
    }

    @Override
    public Optional<String> durabilityWarning(Connection connection) throws SQLException {
        return plain.durabilityWarning(connection);
    }

    @Override
    public boolean isTransient(SQLException e) {
        return plain.isTransient(e);
    }

    @Override
    public boolean isMissingTable(SQLException e) {
        return plain.isMissingTable(e);
    }

    @Override
    public String expiryClockSql() {
        return plain.expiryClockSql();
    }

    @Override
    public Optional<String> limitLockWait(Connection connection, long millis) throws SQLException {
        return plain.limitLockWait(connection, millis);
    }

    @Override
    public boolean isLockWaitTimeout(SQLException e) {
        return plain.isLockWaitTimeout(e);
    }
}
