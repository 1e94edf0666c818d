package dev.oncely.jdbc;

import dev.oncely.TransientStoreException;
import dev.oncely.jdbc.internal.Ddl;
import dev.oncely.jdbc.internal.SqlDialect;
import dev.oncely.jdbc.internal.TableName;
import dev.oncely.jdbc.internal.TransactionRunner;
import dev.oncely.spi.ClaimRequest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Operating a {@link JdbcDedupStore}'s table: explain a key, forget one so its next delivery is processed again,
 * count keys per consumer, run a purge or partition maintenance once, print or check the DDL. Get it with
 * {@link JdbcDedupStore#admin()}; the {@code oncely-cli} tool is a thin shell around it (docs/operating.md).
 *
 * <p>Every statement runs through the store's transaction runner, on the store's connections. Nothing here waits
 * on a claim's open transaction for longer than {@link #LOCK_WAIT_MILLIS} (a second on MariaDB/MySQL, whose lock
 * wait is set in whole seconds), so operating the table never holds claims up; the generic dialect cannot bound
 * lock waits, so there it waits as long as the database lets it.
 */
public final class DedupTableAdmin {

    private static final Logger log = LoggerFactory.getLogger(DedupTableAdmin.class);

    /** How long explain and forget wait for a lock before saying the key is in use. */
    static final long LOCK_WAIT_MILLIS = 500;

    private final JdbcDedupStore store;
    private final ConnectionOwner connections;
    private final SqlDialect dialect;
    private final TableName table;
    private final TransactionRunner runner;
    private final String readSql;
    private final String deleteSql;
    private final String countsSql;

    DedupTableAdmin(JdbcDedupStore store, ConnectionOwner connections, SqlDialect dialect, TableName table,
                    TransactionRunner runner) {
        this.store = store;
        this.connections = connections;
        this.dialect = dialect;
        this.table = table;
        this.runner = runner;
        String t = table.qualified();
        String expired = "CASE WHEN expires_at <= " + dialect.expiryClockSql() + " THEN 1 ELSE 0 END";
        // Portable SQL. The time-partitioned layout may hold a key in two partitions, or an expired row of it next
        // to a live one: the live row, then the latest, describes the key.
        this.readSql = "SELECT processed_at, expires_at, CASE WHEN fingerprint IS NULL THEN 0 ELSE 1 END,"
                + " OCTET_LENGTH(result), " + expired + " FROM " + t + " WHERE consumer = ? AND event_id = ?"
                + " ORDER BY 5, 1 DESC";
        this.deleteSql = "DELETE FROM " + t + " WHERE consumer = ? AND event_id = ?";
        // Per key first, so a key in two partitions counts once and is expired only if no row of it is live.
        this.countsSql = "SELECT consumer, COUNT(*), SUM(expired) FROM (SELECT consumer, event_id, MIN(" + expired
                + ") AS expired FROM " + t + " GROUP BY consumer, event_id) k GROUP BY consumer ORDER BY consumer";
    }

    /** The table this admin operates, e.g. {@code public.processed_events}. */
    public String tableName() {
        return table.qualified();
    }

    /**
     * What the table holds for {@code key} of {@code consumer}: its state, when it was first processed, when it
     * expires, the size of its stored result and whether a fingerprint is stored. A key whose claim an open
     * transaction holds is {@link KeyInfo.State#IN_PROGRESS}. Empty if the table holds nothing for it.
     */
    public Optional<KeyInfo> explain(String consumer, String key) {
        checkKey(consumer, key);
        return inTransaction("Explaining key '" + key + "' of consumer '" + consumer + "'", c -> {
            Optional<KeyInfo> committed = read(c, consumer, key);
            if (!heldByOpenTransaction(c, consumer, key)) {
                return committed;
            }
            return Optional.of(committed
                    .map(k -> new KeyInfo(consumer, key, KeyInfo.State.IN_PROGRESS, k.firstProcessedAt(),
                            k.expiresAt(), k.resultBytes(), k.fingerprintPresent()))
                    .orElseGet(() -> new KeyInfo(consumer, key, KeyInfo.State.IN_PROGRESS, Optional.empty(),
                            Optional.empty(), OptionalLong.empty(), false)));
        });
    }

    /**
     * Deletes the key's claim, so its next delivery is processed again (its effects happen a second time: use it
     * for a message whose processing you undid or must redo). Logged at INFO with what was forgotten and by whom.
     *
     * @return true if a claim was deleted, false if the table held none for the key
     * @throws KeyInUseException if an open transaction holds the key's claim (it is being processed right now)
     */
    public boolean forget(String consumer, String key) {
        checkKey(consumer, key);
        return inTransaction("Forgetting key '" + key + "' of consumer '" + consumer + "'", c -> {
            if (heldByOpenTransaction(c, consumer, key)) {
                throw inUse(consumer, key);
            }
            Optional<KeyInfo> forgotten = read(c, consumer, key);
            int deleted;
            try (PreparedStatement ps = c.prepareStatement(deleteSql)) {
                ps.setString(1, consumer);
                ps.setString(2, key);
                deleted = ps.executeUpdate();
            } catch (SQLException e) {
                if (dialect.isLockWaitTimeout(e)) {
                    throw inUse(consumer, key); // a committed claim locked by an open transaction (a reclaim)
                }
                throw e;
            }
            if (deleted > 0) {
                String dbUser = c.getMetaData().getUserName();
                log.info("Forgot key '{}' of consumer '{}' in {} at {} (state {}, first processed at {}, expires {}),"
                                + " by OS user '{}' as database user '{}': its next delivery is processed again",
                        key, consumer, table.qualified(), Instant.now(),
                        forgotten.map(KeyInfo::state).map(Enum::name).orElse("unknown"),
                        forgotten.flatMap(KeyInfo::firstProcessedAt).map(Instant::toString).orElse("unknown"),
                        forgotten.flatMap(KeyInfo::expiresAt).map(Instant::toString).orElse("never"),
                        System.getProperty("user.name"), dbUser);
            }
            return deleted > 0;
        });
    }

    /** Keys per consumer, and how many of them have expired (the backlog a purge removes), ordered by consumer. */
    public List<ConsumerCounts> counts() {
        return runner.inAutocommit(connections, "Counting keys", (lease, attempt) -> {
            List<ConsumerCounts> counts = new ArrayList<>();
            try (Statement st = lease.connection().createStatement(); ResultSet rs = st.executeQuery(countsSql)) {
                while (rs.next()) {
                    counts.add(new ConsumerCounts(rs.getString(1), rs.getLong(2), rs.getLong(3)));
                }
            }
            return counts;
        });
    }

    /**
     * One purge: deletes at most {@code maxRows} expired keys (the time-partitioned layout drops at most one
     * expired partition instead) and returns how many went, as {@link JdbcDedupStore#purgeExpired} does.
     */
    public int purgeOnce(int maxRows) {
        return store.purgeExpired(maxRows);
    }

    /** One partition maintenance run, as {@link JdbcDedupStore#maintainPartitions()}; time-partitioned only. */
    public long maintainPartitionsOnce() {
        return store.maintainPartitions();
    }

    /** The table's DDL for this store's dialect and names, as {@link JdbcDedupStore#ddl()}. */
    public String ddl() {
        return store.ddl();
    }

    /**
     * Compares the live table's columns with those of the DDL ({@link #ddl()}): a missing table or column is what
     * an older or hand-made table shows. Column names compare case-insensitively (H2 folds them to upper case).
     */
    public SchemaCheck checkSchema() {
        List<String> expected = ddlColumns(ddl());
        return runner.inAutocommit(connections, "Checking the schema of " + table.qualified(), (lease, attempt) -> {
            Set<String> live = new LinkedHashSet<>();
            try (Statement st = lease.connection().createStatement();
                 ResultSet rs = st.executeQuery("SELECT * FROM " + table.qualified() + " WHERE 1 = 0")) {
                ResultSetMetaData md = rs.getMetaData();
                for (int i = 1; i <= md.getColumnCount(); i++) {
                    live.add(md.getColumnName(i).toLowerCase(Locale.ROOT));
                }
            } catch (SQLException e) {
                if (dialect.isMissingTable(e)) {
                    return new SchemaCheck(table.qualified(), false, expected, List.of());
                }
                throw e;
            }
            List<String> missing = expected.stream().filter(col -> !live.contains(col)).toList();
            List<String> unexpected = live.stream().filter(col -> !expected.contains(col)).toList();
            return new SchemaCheck(table.qualified(), true, missing, unexpected);
        });
    }

    /** The column names of the DDL's first CREATE TABLE (the claims table), lower case, in order. */
    static List<String> ddlColumns(String ddl) {
        String create = Ddl.statements(ddl).stream()
                .filter(s -> s.regionMatches(true, 0, "CREATE TABLE", 0, 12))
                .findFirst()
                .orElseThrow(() -> new IllegalStateException("The DDL has no CREATE TABLE statement:\n" + ddl));
        // The column list is the first parenthesis, up to its match (a partitioned table's DDL goes on after it).
        int open = create.indexOf('(');
        int close = open;
        for (int depth = 0; close < create.length(); close++) {
            char ch = create.charAt(close);
            depth += ch == '(' ? 1 : ch == ')' ? -1 : 0;
            if (depth == 0) {
                break;
            }
        }
        String body = create.substring(open + 1, close);
        List<String> columns = new ArrayList<>();
        for (String line : body.split("\n")) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("--")) {
                continue;
            }
            String first = l.split("\\s+")[0].toUpperCase(Locale.ROOT);
            if (List.of("CONSTRAINT", "PRIMARY", "KEY", "UNIQUE", "INDEX", "CHECK", "FOREIGN").contains(first)) {
                continue;
            }
            columns.add(first.toLowerCase(Locale.ROOT));
        }
        return columns;
    }

    @Override
    public String toString() {
        return "DedupTableAdmin[" + store.describe() + "]";
    }

    private Optional<KeyInfo> read(Connection c, String consumer, String key) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(readSql)) {
            ps.setString(1, consumer);
            ps.setString(2, key);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                Instant processedAt = rs.getTimestamp(1).toInstant();
                Optional<Instant> expiresAt = Optional.ofNullable(dialect.readExpiresAt(rs, 2));
                boolean fingerprint = rs.getInt(3) == 1;
                long size = rs.getLong(4);
                OptionalLong resultBytes = rs.wasNull() ? OptionalLong.empty() : OptionalLong.of(size);
                KeyInfo.State state = rs.getInt(5) == 1 ? KeyInfo.State.EXPIRED : KeyInfo.State.PROCESSED;
                return Optional.of(new KeyInfo(consumer, key, state, Optional.of(processedAt), expiresAt,
                        resultBytes, fingerprint));
            }
        }
    }

    /**
     * Whether an open transaction holds the key's claim. An uncommitted claim is invisible to a read, so this asks
     * the way a redelivery would: it claims the key with the dialect's own claim (inside a savepoint, rolled back
     * at once, so nothing is ever written) with lock waits bounded; a claim that has to wait for the lock is
     * held.
     */
    private boolean heldByOpenTransaction(Connection c, String consumer, String key) throws SQLException {
        Savepoint savepoint = c.setSavepoint();
        try {
            dialect.claim(c, new ClaimRequest(consumer, key, Optional.empty(), Optional.empty(), false));
            return false;
        } catch (SQLException e) {
            if (dialect.isLockWaitTimeout(e)) {
                return true;
            }
            throw e;
        } finally {
            c.rollback(savepoint);
        }
    }

    private KeyInUseException inUse(String consumer, String key) {
        return new KeyInUseException("Key '" + key + "' of consumer '" + consumer + "' in " + table.qualified()
                + " is held by an open transaction (it is being processed right now), so it was not forgotten:"
                + " that transaction could still commit it. Try again after it ends.");
    }

    private static void checkKey(String consumer, String key) {
        if (consumer == null || consumer.isBlank()) {
            throw new IllegalArgumentException("consumer is blank: name the consumer whose key to look at.");
        }
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("key is empty: name the key (event id) to look at.");
        }
    }

    @FunctionalInterface
    private interface ConnectionWork<T> {
        T run(Connection connection) throws SQLException;
    }

    /**
     * Runs {@code work} in a transaction of the store's runner, with lock waits bounded (restored before the
     * connection goes back). A lock wait that still escapes becomes a {@link TransientStoreException}, never
     * retried here: the runner would otherwise re-run it as a deadlock-like transient error.
     */
    private <T> T inTransaction(String action, ConnectionWork<T> work) {
        try {
            return runner.inTransaction(connections, (lease, attempt) -> {
                Connection c = lease.connection();
                Optional<String> restore = dialect.limitLockWait(c, LOCK_WAIT_MILLIS);
                try {
                    return work.run(c);
                } catch (SQLException e) {
                    if (dialect.isLockWaitTimeout(e)) {
                        throw new TransientStoreException(action + " on " + store.describe() + " waited longer than "
                                + LOCK_WAIT_MILLIS + " ms for a lock held by an open transaction (" + e.getMessage()
                                + "). Try again after it ends.");
                    }
                    throw e;
                } finally {
                    if (restore.isPresent()) {
                        try (Statement st = c.createStatement()) {
                            st.execute(restore.get());
                        }
                    }
                }
            });
        } catch (RuntimeException e) {
            throw e;
        } catch (SQLException e) {
            throw runner.errors().translate(action, e);
        } catch (Exception e) {
            throw new TransientStoreException(action + " on " + store.describe() + " failed: " + e, e);
        }
    }
}
