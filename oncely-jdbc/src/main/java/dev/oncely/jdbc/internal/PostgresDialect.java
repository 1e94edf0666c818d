package dev.oncely.jdbc.internal;

import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * PostgreSQL: the claim is one {@code INSERT ... ON CONFLICT ON CONSTRAINT ... DO UPDATE ... WHERE expired
 * RETURNING}. A fresh or expired key returns a row; a live key returns none, and no error is raised, so the
 * transaction stays usable. Under READ COMMITTED a claim of a key another open transaction inserted waits for
 * it: a commit makes it a duplicate, a rollback lets the insert through. Naming the constraint rather than the
 * columns keeps {@code ON CONFLICT} from raising 23505 while an index is rebuilt concurrently.
 */
public final class PostgresDialect implements SqlDialect {

    private static final int MAX_DUPLICATE_LOOKUPS = 3;

    private final TableName table;
    private final String claimSql;
    private final String claimAllSql;
    private final String findSql;
    private final String findAllSql;
    private final String saveResultSql;
    private final String purgeSql;

    public PostgresDialect(TableName table) {
        this.table = table;
        String t = table.qualified();
        String pk = table.table() + "_pkey";
        String onConflict = " ON CONFLICT ON CONSTRAINT " + pk + " DO UPDATE"
                + " SET processed_at = EXCLUDED.processed_at, expires_at = EXCLUDED.expires_at,"
                + " fingerprint = EXCLUDED.fingerprint, result = NULL"
                + " WHERE e.expires_at <= now()";
        this.claimSql = "INSERT INTO " + t + " AS e (consumer, event_id, processed_at, expires_at, fingerprint)"
                + " VALUES (?, ?, now(), now() + (?::bigint * interval '1 millisecond'), ?)"
                + onConflict + " RETURNING processed_at";
        // Keys arrive distinct and sorted; WITH ORDINALITY keeps that order so overlapping batches lock alike.
        this.claimAllSql = "INSERT INTO " + t + " AS e (consumer, event_id, processed_at, expires_at, fingerprint)"
                + " SELECT ?, k.event_id, now(), now() + (?::bigint * interval '1 millisecond'), k.fingerprint"
                + " FROM unnest(?::varchar[], ?::varchar[]) WITH ORDINALITY AS k(event_id, fingerprint, ord)"
                + " ORDER BY k.ord"
                + onConflict + " RETURNING event_id, processed_at";
        this.findSql = "SELECT processed_at, fingerprint, result FROM " + t + " WHERE consumer = ? AND event_id = ?";
        this.findAllSql = "SELECT event_id, processed_at, fingerprint, result FROM " + t
                + " WHERE consumer = ? AND event_id = ANY(?::varchar[])";
        this.saveResultSql = "UPDATE " + t + " SET result = ? WHERE consumer = ? AND event_id = ?";
        this.purgeSql = "DELETE FROM " + t + " WHERE (consumer, event_id) IN (SELECT consumer, event_id FROM " + t
                + " WHERE expires_at <= now() ORDER BY expires_at LIMIT ? FOR UPDATE SKIP LOCKED)";
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
            try (PreparedStatement ps = connection.prepareStatement(claimSql)) {
                ps.setString(1, request.consumer());
                ps.setString(2, request.key());
                setRetention(ps, 3, request.retention());
                ps.setString(4, request.fingerprint().orElse(null));
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        return ClaimResult.claimed(rs.getTimestamp(1).toInstant());
                    }
                }
            }
            Optional<ClaimResult> existing = find(connection, request);
            if (existing.isPresent()) {
                return existing.get();
            }
            // The row that conflicted expired and was purged between the two statements: claim again.
            if (attempt >= MAX_DUPLICATE_LOOKUPS) {
                throw new SQLException("Key '" + request.key() + "' conflicted " + attempt + " times but could not"
                        + " be read back from " + table + "; is something deleting live keys?", "55000");
            }
        }
    }

    private Optional<ClaimResult> find(Connection connection, ClaimRequest request) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(findSql)) {
            ps.setString(1, request.consumer());
            ps.setString(2, request.key());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                return Optional.of(duplicate(rs, 1, request.loadResult()));
            }
        }
    }

    @Override
    public List<ClaimResult> claimAll(Connection connection, List<ClaimRequest> requests) throws SQLException {
        if (requests.isEmpty()) {
            return List.of();
        }
        ClaimRequest first = requests.get(0);
        for (ClaimRequest r : requests) {
            if (!r.consumer().equals(first.consumer()) || !r.retention().equals(first.retention())) {
                // Not what IdempotentHandler sends; stay correct anyway.
                List<ClaimResult> results = new ArrayList<>(requests.size());
                for (ClaimRequest each : requests) {
                    results.add(claim(connection, each));
                }
                return results;
            }
        }
        String[] keys = new String[requests.size()];
        String[] fingerprints = new String[requests.size()];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = requests.get(i).key();
            fingerprints[i] = requests.get(i).fingerprint().orElse(null);
        }
        Map<String, ClaimResult> found = new HashMap<>(keys.length * 2);
        Array keyArray = connection.createArrayOf("varchar", keys);
        Array fingerprintArray = connection.createArrayOf("varchar", fingerprints);
        try (PreparedStatement ps = connection.prepareStatement(claimAllSql)) {
            ps.setString(1, first.consumer());
            setRetention(ps, 2, first.retention());
            ps.setArray(3, keyArray);
            ps.setArray(4, fingerprintArray);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    found.put(rs.getString(1), ClaimResult.claimed(rs.getTimestamp(2).toInstant()));
                }
            }
        }
        if (found.size() < keys.length) {
            boolean loadResult = first.loadResult();
            List<String> missing = new ArrayList<>(keys.length - found.size());
            for (String k : keys) {
                if (!found.containsKey(k)) {
                    missing.add(k);
                }
            }
            try (PreparedStatement ps = connection.prepareStatement(findAllSql)) {
                ps.setString(1, first.consumer());
                ps.setArray(2, connection.createArrayOf("varchar", missing.toArray()));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        found.put(rs.getString(1), duplicate(rs, 2, loadResult));
                    }
                }
            }
        }
        List<ClaimResult> results = new ArrayList<>(requests.size());
        for (ClaimRequest r : requests) {
            ClaimResult result = found.get(r.key());
            // Purged between the statements (it had expired): claim it on its own.
            results.add(result != null ? result : claim(connection, r));
        }
        return results;
    }

    @Override
    public void saveResults(Connection connection, String consumer, Map<String, byte[]> resultsByKey)
            throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(saveResultSql)) {
            if (resultsByKey.size() == 1) {
                Map.Entry<String, byte[]> e = resultsByKey.entrySet().iterator().next();
                bindResult(ps, consumer, e.getKey(), e.getValue());
                ps.executeUpdate();
                return;
            }
            for (Map.Entry<String, byte[]> e : resultsByKey.entrySet()) {
                bindResult(ps, consumer, e.getKey(), e.getValue());
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    @Override
    public int purgeExpired(Connection connection, int maxRows) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(purgeSql)) {
            ps.setInt(1, maxRows);
            return ps.executeUpdate();
        }
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

    private static void bindResult(PreparedStatement ps, String consumer, String key, byte[] result)
            throws SQLException {
        ps.setBytes(1, result);
        ps.setString(2, consumer);
        ps.setString(3, key);
    }

    private static void setRetention(PreparedStatement ps, int index, Optional<Duration> retention)
            throws SQLException {
        if (retention.isPresent()) {
            ps.setLong(index, retention.get().toMillis());
        } else {
            ps.setNull(index, Types.BIGINT);
        }
    }

    private static ClaimResult duplicate(ResultSet rs, int column, boolean loadResult) throws SQLException {
        Timestamp processedAt = rs.getTimestamp(column);
        String fingerprint = rs.getString(column + 1);
        byte[] result = loadResult ? rs.getBytes(column + 2) : null;
        return ClaimResult.duplicate(processedAt.toInstant(), Optional.ofNullable(fingerprint),
                Optional.ofNullable(result));
    }

}
