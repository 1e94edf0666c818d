package dev.oncely.jdbc.internal;

import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.Optional;

/** JDBC steps every dialect takes the same way. */
final class JdbcStatements {

    private JdbcStatements() {
    }

    /** Binds a retention as a BIGINT count of {@code unit} (what the dialect's interval arithmetic takes), or NULL. */
    static void bindRetention(PreparedStatement ps, int index, Optional<Duration> retention, ChronoUnit unit)
            throws SQLException {
        if (retention.isEmpty()) {
            ps.setNull(index, Types.BIGINT);
        } else if (unit == ChronoUnit.MICROS) {
            ps.setLong(index, Math.multiplyExact(retention.get().toMillis(), 1000L));
        } else if (unit == ChronoUnit.MILLIS) {
            ps.setLong(index, retention.get().toMillis());
        } else {
            throw new IllegalArgumentException("unsupported retention unit " + unit);
        }
    }

    /**
     * Binds a claim's values in the order every dialect's INSERT of a fresh claim takes them: consumer (1), event_id
     * (2), retention as a count of {@code unit} (3), fingerprint (4). Parameters after these are the caller's.
     */
    static void bindClaim(PreparedStatement ps, ClaimRequest request, ChronoUnit unit) throws SQLException {
        ps.setString(1, request.consumer());
        ps.setString(2, request.key());
        bindRetention(ps, 3, request.retention(), unit);
        ps.setString(4, request.fingerprint().orElse(null));
    }

    /**
     * Runs {@code UPDATE ... SET result = ? WHERE consumer = ? AND event_id = ?} for each result: one statement for
     * one result, one JDBC batch (one round trip with most drivers) for several.
     */
    static void saveResults(Connection connection, String updateSql, String consumer, Map<String, byte[]> results)
            throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(updateSql)) {
            for (Map.Entry<String, byte[]> e : results.entrySet()) {
                ps.setBytes(1, e.getValue());
                ps.setString(2, consumer);
                ps.setString(3, e.getKey());
                if (results.size() == 1) {
                    ps.executeUpdate();
                    return;
                }
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    /**
     * Runs {@code UPDATE ... SET expires_at = <expires_at plus ?> WHERE consumer = ? AND event_id = ?} for each key,
     * the amount bound as a BIGINT count of {@code unit}: one statement for one key, one JDBC batch for several.
     */
    static void extendExpiry(Connection connection, String updateSql, String consumer, java.util.Collection<String> keys,
                             Duration by, ChronoUnit unit) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(updateSql)) {
            for (String key : keys) {
                bindRetention(ps, 1, Optional.of(by), unit);
                ps.setString(2, consumer);
                ps.setString(3, key);
                if (keys.size() == 1) {
                    ps.executeUpdate();
                    return;
                }
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    /** Runs a DELETE whose only parameter is its row limit; returns the rows deleted. */
    static int deleteAtMost(Connection connection, String sql, int maxRows) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(sql)) {
            ps.setInt(1, maxRows);
            return ps.executeUpdate();
        }
    }

    /** Reads a stored claim from columns {@code column} (processed_at), +1 (fingerprint) and +2 (result). */
    static ClaimResult storedClaim(ResultSet rs, int column, boolean loadResult) throws SQLException {
        return storedClaim(rs.getTimestamp(column).toInstant(), rs, column, loadResult);
    }

    /**
     * Reads an instant selected as {@code UNIX_TIMESTAMP(column)}: seconds since the epoch with the fraction, a
     * number no time zone touches. (MariaDB and MySQL hand a TIMESTAMP to JDBC as local time of the session's zone,
     * which the driver reads in the JVM's zone: the instant shifts by their difference.)
     */
    static java.time.Instant epochSeconds(ResultSet rs, int column) throws SQLException {
        // Parsed from its text ("1764100000.123456"): BigDecimal's parse and arithmetic were a tenth of the client
        // CPU of a MariaDB batch of duplicates (JFR). Anything else (a sign, an exponent) takes the general path.
        String text = rs.getString(column);
        int dot = text.indexOf('.');
        int end = dot < 0 ? text.length() : dot;
        if (end > 0 && end <= 18 && allDigits(text, 0, end) && (dot < 0 || text.length() - dot - 1 <= 9
                && allDigits(text, dot + 1, text.length()))) {
            long nanos = 0;
            if (dot >= 0) {
                for (int i = dot + 1; i < dot + 10; i++) {
                    nanos = nanos * 10 + (i < text.length() ? text.charAt(i) - '0' : 0);
                }
            }
            return java.time.Instant.ofEpochSecond(Long.parseLong(text, 0, end, 10), nanos);
        }
        java.math.BigDecimal seconds = new java.math.BigDecimal(text);
        java.math.BigDecimal whole = seconds.setScale(0, java.math.RoundingMode.FLOOR);
        return java.time.Instant.ofEpochSecond(whole.longValueExact(),
                seconds.subtract(whole).movePointRight(9).longValue());
    }

    private static boolean allDigits(String text, int from, int to) {
        for (int i = from; i < to; i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    }

    /** The same, with processed_at already read by the dialect. */
    static ClaimResult storedClaim(java.time.Instant processedAt, ResultSet rs, int column, boolean loadResult)
            throws SQLException {
        byte[] result = loadResult ? rs.getBytes(column + 2) : null;
        return ClaimResult.duplicate(processedAt, Optional.ofNullable(rs.getString(column + 1)),
                Optional.ofNullable(result));
    }

    /**
     * Reads the stored claim of a request's key with {@code sql}, which takes consumer and key and selects
     * processed_at, fingerprint and result; empty if there is none.
     */
    static Optional<ClaimResult> findClaim(Connection connection, String sql, ClaimRequest request)
            throws SQLException {
        return readKey(connection, sql, request, rs -> storedClaim(rs, 1, request.loadResult()));
    }

    /** A stored claim, and whether its retention has expired by the database clock. */
    record StoredClaim(ClaimResult claim, boolean expired) {
    }

    /**
     * Reads the stored claim of a request's key with {@code sql}, which takes consumer and key and selects
     * processed_at, fingerprint, result, and 1 when the claim has expired (0 or NULL otherwise).
     */
    static Optional<StoredClaim> findStored(Connection connection, String sql, ClaimRequest request)
            throws SQLException {
        return readKey(connection, sql, request,
                rs -> new StoredClaim(storedClaim(rs, 1, request.loadResult()), rs.getInt(4) == 1));
    }

    /** {@link #findStored}, with processed_at selected as {@code UNIX_TIMESTAMP(processed_at)} ({@link #epochSeconds}). */
    static Optional<StoredClaim> findStoredEpoch(Connection connection, String sql, ClaimRequest request)
            throws SQLException {
        return readKey(connection, sql, request, rs -> new StoredClaim(
                storedClaim(epochSeconds(rs, 1), rs, 1, request.loadResult()), rs.getInt(4) == 1));
    }

    /** Reads one row of {@code sql}, which takes a request's consumer and key; empty if there is none. */
    private static <T> Optional<T> readKey(Connection connection, String sql, ClaimRequest request, RowReader<T> row)
            throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(sql)) {
            ps.setString(1, request.consumer());
            ps.setString(2, request.key());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(row.read(rs)) : Optional.empty();
            }
        }
    }

    @FunctionalInterface
    private interface RowReader<T> {
        T read(ResultSet rs) throws SQLException;
    }
}
