package dev.oncely.jdbc;

import dev.oncely.CallerTransaction;
import dev.oncely.CommitOutcomeUnknownException;
import dev.oncely.MisconfigurationException;
import dev.oncely.OncelyException;
import dev.oncely.TransientStoreException;
import dev.oncely.jdbc.internal.PostgresPartitionedDialect;
import dev.oncely.jdbc.internal.SqlDialect;
import dev.oncely.jdbc.internal.TableName;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import dev.oncely.spi.DedupStore;
import dev.oncely.spi.StoreTransaction;
import dev.oncely.spi.TransactionWork;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import javax.sql.DataSource;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Handles;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.JdbiException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link DedupStore} in a relational database: claims are rows of {@code processed_events}, written in the
 * same JDBC transaction as the handler's business writes. Brings no connection pool: hand it yours.
 *
 * <pre>{@code
 * JdbcDedupStore store = JdbcDedupStore.builder(dataSource).build();   // dialect detected from the database
 * }</pre>
 *
 * <p>Apply the DDL ({@link #ddl()}, shipped per database as {@code dev/oncely/jdbc/postgresql.sql},
 * {@code mariadb.sql}, {@code mysql.sql}, {@code h2.sql}, {@code generic.sql}) with your migration tool, or call
 * {@link #createSchemaIfMissing()}. Databases, versions and caveats: docs/databases.md.
 */
public final class JdbcDedupStore implements DedupStore {

    private static final Logger log = LoggerFactory.getLogger(JdbcDedupStore.class);

    /** The pool of a store built on a DataSource: its transactions run on plain JDBC. Null if built on a Jdbi. */
    private final DataSource dataSource;
    /** The caller's Jdbi, whose handles the store's transactions run on. Null if built on a DataSource. */
    private final Jdbi jdbi;
    /**
     * Wraps a connection the store already holds into a Jdbi Handle when a handler asks for one: its connection
     * factory hands out the connection lent on this thread and never closes it; the handle never ends the
     * transaction. One per store, so lending costs a Handle, not a Jdbi.
     */
    private final Jdbi lender;
    private final ThreadLocal<Connection> lent = new ThreadLocal<>();
    private final SqlDialect dialect;
    private final JdbcDialect jdbcDialect;
    private final TableName table;
    private final int maxRetries;
    private final String description;
    /** Nanoseconds a claiming transaction may stay open (time-partitioned layout), or 0 for no limit. */
    private final long maxTransactionNanos;
    private volatile boolean durabilityChecked;

    private JdbcDedupStore(DataSource dataSource, Jdbi jdbi, SqlDialect dialect, JdbcDialect jdbcDialect,
                           TableName table, int maxRetries) {
        this.dataSource = dataSource;
        this.jdbcDialect = jdbcDialect;
        this.jdbi = jdbi;
        this.lender = Jdbi.create(new LentConnectionFactory());
        this.lender.getConfig(Handles.class).setForceEndTransactions(false);
        this.dialect = dialect;
        this.table = table;
        this.maxRetries = maxRetries;
        this.description = dialect.name() + " store on " + table.qualified();
        this.maxTransactionNanos = dialect.maxTransactionDuration().map(Duration::toNanos).orElse(0L);
    }

    /** A store on a pooled {@link DataSource}. */
    public static Builder builder(DataSource dataSource) {
        if (dataSource == null) {
            throw new IllegalArgumentException("dataSource is null: pass your connection pool (e.g. HikariDataSource).");
        }
        return new Builder(dataSource, null);
    }

    /** A store on your {@link Jdbi}: its plugins, mappers and connection factory are used as they are. */
    public static Builder builder(Jdbi jdbi) {
        if (jdbi == null) {
            throw new IllegalArgumentException("jdbi is null: pass your Jdbi instance.");
        }
        return new Builder(null, jdbi);
    }

    // ------------------------------------------------------------------------------------------------ tx

    @Override
    public <T> T inTransaction(TransactionWork<T> work) throws Exception {
        return run(null, null, work);
    }

    /**
     * While the dialect expects most keys to be duplicates (PostgreSQL, a redelivery storm or a replay), reads the
     * key first on a connection in autocommit mode: a committed, unexpired claim is answered from that one read,
     * with no transaction begun, nothing written and nothing locked. Otherwise, and on a miss, the transaction
     * runs as in {@link #inTransaction} on the same connection, and its claim decides as always.
     */
    @Override
    public <T> T inClaimingTransaction(ClaimRequest request, Function<ClaimResult, T> ifDuplicate,
                                       TransactionWork<T> work) throws Exception {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(ifDuplicate, "ifDuplicate");
        if (!dialect.readsBeforeClaiming()) {
            return run(null, null, work);
        }
        Lease lease = lease();
        boolean read;
        Optional<ClaimResult> live;
        try {
            // A pool whose connections start transactions by themselves (autocommit off) would give the read a
            // snapshot the transaction then keeps: claim the usual way there.
            read = lease.connection.getAutoCommit();
            live = read ? dialect.findLive(lease.connection, request) : Optional.empty();
        } catch (SQLException e) {
            lease.close();
            throw translate("Looking up key '" + request.key() + "' of consumer '" + request.consumer() + "'", e);
        } catch (RuntimeException e) {
            lease.close();
            throw e;
        }
        if (live.isPresent()) {
            lease.close();
            return ifDuplicate.apply(live.get());
        }
        return run(lease, read ? request : null, work);
    }

    /**
     * Runs work in a transaction of the store's own, on {@code first} (closed when done) for the first attempt;
     * {@code lookedUp}, if not null, is the request whose key was just read and not found.
     */
    private <T> T run(Lease first, ClaimRequest lookedUp, TransactionWork<T> work) throws Exception {
        for (int attempt = 1; ; attempt++) {
            Lease lease = attempt == 1 && first != null ? first : lease();
            try {
                if (!durabilityChecked) {
                    checkDurability(lease.connection);
                }
                begin(lease);
                long started = System.nanoTime();
                T result;
                JdbcTransaction tx = new JdbcTransaction(lease.connection, lease.handle);
                tx.lookedUp = attempt == 1 ? lookedUp : null;
                try {
                    result = work.execute(tx);
                    checkDuration(tx, started, "rolled back");
                } catch (Throwable failure) {
                    tx.closeLazyHandle();
                    rollbackQuietly(lease, failure);
                    if (attempt <= maxRetries && isTransient(failure)) {
                        backOff(attempt, failure);
                        continue;
                    }
                    throw failure;
                }
                tx.closeLazyHandle();
                try {
                    lease.commit();
                } catch (SQLException | JdbiException e) {
                    rollbackQuietly(lease, e);
                    if (attempt <= maxRetries && isTransient(e)) {
                        // The database refused the commit and rolled back: nothing was written, so retrying is safe.
                        backOff(attempt, e);
                        continue;
                    }
                    if (isConnectionLoss(findSql(e), lease.connection)) {
                        throw new CommitOutcomeUnknownException("Commit outcome unknown on " + description
                                + ": the connection was lost during the commit (" + rootMessage(e) + "), so the"
                                + " claim and the business writes either both committed or both did not. Do not"
                                + " acknowledge the message: its redelivery is then processed once or reported as a"
                                + " duplicate.", e);
                    }
                    SQLException sql = findSql(e);
                    if (sql != null) {
                        throw translate("Committing", sql);
                    }
                    throw new TransientStoreException("Commit failed on " + description + ": " + rootMessage(e)
                            + ". The database refused the commit, so nothing was written. Do not acknowledge the"
                            + " message; its redelivery is processed normally.", e);
                }
                return result;
            } finally {
                lease.close();
            }
        }
    }

    @Override
    public <T> T inCallerTransaction(CallerTransaction transaction, TransactionWork<T> work) throws Exception {
        Objects.requireNonNull(transaction, "transaction");
        Optional<Handle> handle = transaction.unwrap(Handle.class);
        Connection connection = handle.map(Handle::getConnection)
                .or(() -> transaction.unwrap(Connection.class))
                .orElseThrow(() -> new MisconfigurationException(description + " can join a transaction on a JDBC"
                        + " Connection or a Jdbi Handle, not " + transaction + ": use CallerTransaction.of(connection)"
                        + " or JdbiCallerTransaction.of(handle)."));
        boolean autoCommit;
        try {
            autoCommit = connection.getAutoCommit();
        } catch (SQLException e) {
            throw new TransientStoreException("Could not read the autocommit mode of the caller's connection: "
                    + e.getMessage(), e);
        }
        if (autoCommit) {
            throw new MisconfigurationException("The caller's connection is in autocommit mode, so the claim would commit on"
                    + " its own, before your business writes. Begin a transaction first"
                    + " (connection.setAutoCommit(false), handle.begin(), or your framework's transaction), then"
                    + " call processIn inside it.");
        }
        JdbcTransaction tx = new JdbcTransaction(connection, handle.orElse(null));
        long started = System.nanoTime();
        try {
            T result = work.execute(tx);
            checkDuration(tx, started, "must be rolled back (roll your transaction back)");
            return result;
        } finally {
            tx.closeLazyHandle();
        }
    }

    @Override
    public int purgeExpired(int maxRows) {
        if (maxRows < 1) {
            throw new IllegalArgumentException("maxRows must be at least 1, was " + maxRows);
        }
        Lease lease = lease();
        try {
            return dialect.purgeExpired(lease.connection, maxRows);
        } catch (SQLException e) {
            throw translate("Purging expired keys", e);
        } finally {
            lease.close();
        }
    }

    /**
     * Time-partitioned layout only: creates the partitions ahead of the database clock and drops at most one
     * partition whose keys have all expired; returns about how many keys it dropped. Every
     * {@link dev.oncely.RetentionPurger} run and {@link #createSchemaIfMissing()} call it, so most applications
     * never do; call it yourself (at least once per partition length) if you run no purger.
     *
     * @throws OncelyException if this store is not time-partitioned, or maintenance failed
     */
    public long maintainPartitions() {
        if (!(dialect instanceof PostgresPartitionedDialect partitioned)) {
            throw new MisconfigurationException(description + " is not time-partitioned: there are no partitions to maintain."
                    + " Build it with .timePartitioned(partitionLength, overlap) to use that layout.");
        }
        Lease lease = lease();
        try {
            return partitioned.maintain(lease.connection, true);
        } catch (SQLException e) {
            throw translate("Maintaining the partitions", e);
        } finally {
            lease.close();
        }
    }

    @Override
    public String describe() {
        return description;
    }

    /** The table's DDL for this store's dialect and names, as {@link #createSchemaIfMissing()} applies it. */
    public String ddl() {
        return table.render(readResource(dialect.ddlResource()));
    }

    /**
     * Creates the table and its index if they do not exist (the DDL of {@link #ddl()}), for those who do not
     * manage their schema with a migration tool. Idempotent. Returns this store.
     */
    public JdbcDedupStore createSchemaIfMissing() {
        Lease lease = lease();
        try {
            Connection connection = lease.connection;
            try (Statement st = connection.createStatement()) {
                for (String sql : statements(ddl())) {
                    st.execute(sql);
                }
            }
            dialect.afterSchemaCreated(connection);
            log.info("Oncely table {} is in place ({})", table.qualified(), dialect.name());
            return this;
        } catch (SQLException e) {
            throw new MisconfigurationException("Creating " + table.qualified() + " failed: " + e.getMessage()
                    + ". Apply the DDL yourself (classpath resource " + dialect.ddlResource() + ") with a user"
                    + " allowed to create tables.", e);
        } finally {
            lease.close();
        }
    }

    /** The database this store's SQL is written for. */
    public JdbcDialect dialect() {
        return jdbcDialect;
    }

    /**
     * Whether {@code failure} (or one of its causes) is an error the database asks to retry the whole transaction
     * for: a serialization failure, a deadlock or a lock wait timeout, by this store's dialect. These are the
     * failures {@link #inTransaction} re-runs its work on; one that reaches you came after the last retry.
     */
    public boolean isRetryable(Throwable failure) {
        return isTransient(failure);
    }

    /**
     * Translates an error of a statement an integration runs on this store's transaction against a table of its
     * own (such as oncely-kafka's offsets table) into the {@link OncelyException} subtype that says what to do,
     * by the same rules as the store's own statements: a missing table or column, a missing privilege or a value
     * that does not fit is a {@link MisconfigurationException} naming {@code table} and {@code ddlResource}; a
     * lost connection, a serialization failure, a deadlock or anything else a {@link TransientStoreException}.
     */
    public OncelyException translate(String action, SQLException e, String table, String ddlResource) {
        return translate(action, e, table, ddlResource, "call its createSchemaIfMissing() once at startup");
    }

    /** The table claims are written to, e.g. {@code public.processed_events}. */
    public String tableName() {
        return table.qualified();
    }

    @Override
    public String toString() {
        return "JdbcDedupStore[" + description + "]";
    }

    // ------------------------------------------------------------------------------------------------ internals

    /**
     * Begins a transaction. A pooled connection whose server side died while it was idle (a terminated backend, a
     * restarted database) fails here: nothing was written yet, so say so instead of leaking Jdbi's exception.
     */
    private void begin(Lease lease) {
        try {
            lease.begin();
        } catch (SQLException | JdbiException e) {
            throw new TransientStoreException("Could not begin a transaction on " + description + ": " + rootMessage(e)
                    + ". The pooled connection was probably lost (database restarted, backend terminated);"
                    + " nothing was written. Do not acknowledge the message: its redelivery is processed normally.", e);
        }
    }

    /** A connection for the store's own work: from the pool directly, or through the caller's Jdbi. */
    private Lease lease() {
        try {
            if (dataSource != null) {
                return new Lease(dataSource.getConnection(), null);
            }
            Handle handle = jdbi.open();
            return new Lease(handle.getConnection(), handle);
        } catch (SQLException | JdbiException e) {
            // A pool timeout with no connection failure behind it (HikariCP's SQLTransientConnectionException
            // without a cause) means every connection was busy, not that the database is down.
            String hint = poolExhausted(e)
                    ? " If the pool timed out because every connection was in use: make the pool larger than the"
                    + " number of threads calling process(), do not hold a connection of the same pool while calling"
                    + " process() (join it with processIn instead), or make handlers faster."
                    : "";
            throw new TransientStoreException("Could not get a connection for " + description + ": " + rootMessage(e)
                    + ". Check that the database is up and the pool's URL and credentials are right." + hint, e);
        }
    }

    /**
     * Once per store: warns if the database acknowledges commits before they are durable (PostgreSQL's
     * synchronous_commit=off), because a message acknowledged after such a commit is lost if the server crashes.
     */
    private void checkDurability(Connection connection) {
        durabilityChecked = true;
        try {
            dialect.durabilityWarning(connection).ifPresent(warning -> log.warn("{}: {}", description, warning));
        } catch (SQLException e) {
            // Checked again next time; if the connection is dead, begin() reports it.
            durabilityChecked = false;
            log.debug("Could not check commit durability on {}: {}", description, e.toString());
        }
    }

    /**
     * Time-partitioned layout: a claiming transaction open longer than 40% of the overlap could let a later claim of
     * the same key in the next partition miss it, so it must not commit.
     */
    private void checkDuration(JdbcTransaction tx, long started, String consequence) {
        if (maxTransactionNanos == 0 || !tx.claimedAny) {
            return; // a transaction that only found duplicates wrote no claim another one could miss
        }
        long elapsed = System.nanoTime() - started;
        if (elapsed > maxTransactionNanos) {
            throw new TransientStoreException("The transaction on " + description + " was open for "
                    + Duration.ofNanos(elapsed).toMillis() + " ms, longer than 40% of the partition overlap ("
                    + Duration.ofNanos(maxTransactionNanos).toMillis() + " ms), the longest a claiming transaction"
                    + " may last in the time-partitioned layout for exactly-once to hold at a partition boundary."
                    + " It " + consequence + ", so nothing it wrote counts: do not acknowledge the message. Make the"
                    + " overlap longer (timePartitioned(partitionLength, overlap)) or the handler faster.");
        }
    }

    private boolean isTransient(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql) {
                for (SQLException s = sql; s != null; s = s.getNextException()) {
                    if (dialect.isTransient(s)) {
                        return true;
                    }
                }
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }

    private void backOff(int attempt, Throwable cause) {
        log.debug("Retrying transaction on {} after a transient failure (attempt {} of {}): {}", description,
                attempt, maxRetries, cause.toString());
        long maxMillis = Math.min(100, 1L << Math.min(attempt + 1, 6));
        try {
            Thread.sleep(ThreadLocalRandom.current().nextLong(maxMillis + 1));
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw new TransientStoreException("Interrupted while retrying a transaction on " + description, ie);
        }
    }

    private static void rollbackQuietly(Lease lease, Throwable primary) {
        try {
            lease.rollback();
        } catch (SQLException | RuntimeException e) {
            primary.addSuppressed(e);
        }
    }

    private static void closeQuietly(Handle handle) {
        try {
            handle.close();
        } catch (RuntimeException e) {
            log.warn("Closing a connection failed: {}", e.toString());
        }
    }

    /**
     * Whether a failed commit failed because the connection went away (SQLState class 08, PostgreSQL's 57P
     * "operator intervention", or a connection no longer valid) rather than because the database refused it.
     */
    private static boolean isConnectionLoss(SQLException sql, Connection connection) {
        String state = sql == null ? null : sql.getSQLState();
        if (state != null && (state.startsWith("08") || state.startsWith("57P"))) {
            return true;
        }
        try {
            return connection.isClosed() || !connection.isValid(1);
        } catch (SQLException | RuntimeException e) {
            return true;
        }
    }

    private static boolean poolExhausted(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof java.sql.SQLTransientConnectionException) {
                return c.getCause() == null;
            }
        }
        return false;
    }

    private static SQLException findSql(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof SQLException sql) {
                return sql;
            }
        }
        return null;
    }

    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() == null ? root.toString() : root.getMessage();
    }

    private OncelyException translate(String action, SQLException e) {
        return translate(action, e, table.qualified(), dialect.ddlResource() + ", also printed by JdbcDedupStore#ddl()",
                "call createSchemaIfMissing() on the store once at startup");
    }

    private OncelyException translate(String action, SQLException e, String tableName, String ddlResource,
                                      String createHint) {
        if (dialect.isMissingTable(e)) {
            return new MisconfigurationException("Table " + tableName + " does not exist. Apply Oncely's DDL"
                    + " (classpath resource " + ddlResource + ") with your migration tool, or " + createHint + ".", e);
        }
        if (dialect.isMissingColumn(e)) {
            return new MisconfigurationException(action + " on " + description + " failed: " + e.getMessage()
                    + " (SQLState " + e.getSQLState() + "). Table " + tableName + " lacks a column this"
                    + " version of Oncely writes: it was created by an older version. Apply the changes listed in"
                    + " docs/upgrading.md, or compare it with the DDL (classpath resource " + ddlResource + ").", e);
        }
        String state = e.getSQLState();
        if (state != null && state.startsWith("08")) {
            return new TransientStoreException(action + " on " + description + " failed: the connection to the"
                    + " database was lost (" + e.getMessage() + ", SQLState " + state + "). Nothing of this"
                    + " transaction was committed. Do not acknowledge the message: its redelivery is processed"
                    + " normally once the database is reachable.", e);
        }
        if (dialect.isTransient(e)) {
            // inTransaction re-runs the work on these first; a caller who owns the transaction must do it.
            return new TransientStoreException(action + " on " + description + " failed with a transient error: "
                    + e.getMessage() + " (SQLState " + state + ", error " + e.getErrorCode() + "). The"
                    + " database asks for the transaction to be retried (deadlock, serialization failure or lock"
                    + " wait timeout): roll your transaction back and run it again.", e);
        }
        if (JdbcDialect.isPermanent(e)) {
            return new MisconfigurationException(action + " on " + description + " failed: " + e.getMessage()
                    + " (SQLState " + state + ", error " + e.getErrorCode() + "). Every message would fail the same"
                    + " way: check the database user's privileges on " + tableName + " and that the table"
                    + " matches the DDL (classpath resource " + ddlResource + ").", e);
        }
        return new TransientStoreException(action + " on " + description + " failed: " + e.getMessage()
                + " (SQLState " + state + ", error " + e.getErrorCode() + "). Nothing of this transaction was"
                + " committed; do not acknowledge the message.", e);
    }

    private static String readResource(String resource) {
        try (InputStream in = JdbcDedupStore.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                throw new MisconfigurationException("The DDL resource " + resource + " is missing from the classpath: is the"
                        + " oncely-jdbc jar complete?");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Splits a DDL file into statements: drops comment lines, splits on semicolons at line ends. */
    static List<String> statements(String ddl) {
        StringBuilder sb = new StringBuilder();
        for (String line : ddl.split("\n")) {
            String trimmed = line.strip();
            if (trimmed.isEmpty() || trimmed.startsWith("--")) {
                continue;
            }
            sb.append(line).append('\n');
        }
        return java.util.Arrays.stream(sb.toString().split(";\\s*\n"))
                .map(String::strip)
                .map(s -> s.endsWith(";") ? s.substring(0, s.length() - 1) : s)
                .filter(s -> !s.isEmpty())
                .toList();
    }

    private final class JdbcTransaction implements StoreTransaction {
        private final Connection connection;
        private Handle handle;
        private boolean lazyHandle;
        private boolean claimedAny;
        /** The request whose key was read and not found just before this transaction began, if any. */
        private ClaimRequest lookedUp;

        JdbcTransaction(Connection connection, Handle handle) {
            this.connection = connection;
            this.handle = handle;
        }

        @Override
        public ClaimResult claim(ClaimRequest request) {
            try {
                ClaimResult result = request == lookedUp
                        ? dialect.claimAfterMiss(connection, request)
                        : dialect.claim(connection, request);
                lookedUp = null;
                claimedAny |= result.claimed();
                return result;
            } catch (SQLException e) {
                throw translate("Claiming key '" + request.key() + "' of consumer '" + request.consumer() + "'", e);
            }
        }

        @Override
        public List<ClaimResult> claimAll(List<ClaimRequest> requests) {
            try {
                List<ClaimResult> results = dialect.claimAll(connection, requests);
                for (ClaimResult r : results) {
                    claimedAny |= r.claimed();
                }
                return results;
            } catch (SQLException e) {
                throw translate("Claiming a batch of " + requests.size() + " keys", e);
            }
        }

        @Override
        public void saveResult(String consumer, String key, byte[] result) {
            saveResults(consumer, Map.of(key, result));
        }

        @Override
        public void saveResults(String consumer, Map<String, byte[]> resultsByKey) {
            try {
                dialect.saveResults(connection, consumer, resultsByKey);
            } catch (SQLException e) {
                throw translate("Saving the results of " + resultsByKey.size() + " keys", e);
            }
        }

        @Override
        public <T> Optional<T> resource(Class<T> type) {
            if (type == Connection.class) {
                return Optional.of(type.cast(connection));
            }
            if (type == Handle.class) {
                return Optional.of(type.cast(handle()));
            }
            return Optional.empty();
        }

        @Override
        public Set<Class<?>> resourceTypes() {
            return Set.of(Connection.class, Handle.class);
        }

        private Handle handle() {
            if (handle == null) {
                // A bare connection (the store's own, or a caller's): a Jdbi handle on it that never closes,
                // commits or rolls it back.
                lent.set(connection);
                try {
                    handle = lender.open();
                } finally {
                    lent.remove();
                }
                lazyHandle = true;
            }
            return handle;
        }

        void closeLazyHandle() {
            if (lazyHandle) {
                lazyHandle = false;
                closeQuietly(handle);
            }
        }
    }

    /** Hands {@link #lender} the connection lent on this thread; whoever lent it closes it. */
    private final class LentConnectionFactory implements org.jdbi.v3.core.ConnectionFactory {
        @Override
        public Connection openConnection() {
            Connection connection = lent.get();
            if (connection == null) {
                throw new IllegalStateException("no connection lent on this thread");
            }
            return connection;
        }

        @Override
        public void closeConnection(Connection toClose) {
            // Its owner closes it.
        }
    }

    /**
     * A connection of the store's own: straight from the pool (transactions on plain JDBC, the cheapest path), or
     * a handle of the caller's Jdbi (transactions through its handle, so its transaction handler applies).
     */
    private static final class Lease {
        final Connection connection;
        final Handle handle;
        /** Autocommit was switched off by {@link #begin} and is to be switched back once the transaction ended. */
        private boolean restoreAutoCommit;
        private boolean inTransaction;

        Lease(Connection connection, Handle handle) {
            this.connection = connection;
            this.handle = handle;
        }

        void begin() throws SQLException {
            if (handle != null) {
                handle.begin();
            } else if (connection.getAutoCommit()) {
                connection.setAutoCommit(false);
                restoreAutoCommit = true;
            }
            inTransaction = true;
        }

        void commit() throws SQLException {
            if (handle != null) {
                handle.commit();
            } else {
                connection.commit();
            }
            inTransaction = false;
        }

        void rollback() throws SQLException {
            if (handle != null) {
                handle.rollback();
            } else {
                connection.rollback();
            }
            inTransaction = false;
        }

        void close() {
            try {
                if (handle != null) {
                    handle.close();
                    return;
                }
                try {
                    // Never while a transaction may be open: switching autocommit on would commit it. A pool rolls
                    // an unfinished transaction back when the connection comes back (HikariCP does).
                    if (restoreAutoCommit && !inTransaction) {
                        connection.setAutoCommit(true);
                    }
                } finally {
                    connection.close();
                }
            } catch (SQLException | RuntimeException e) {
                log.warn("Closing a connection failed: {}", e.toString());
            }
        }
    }

    /** Builds a {@link JdbcDedupStore}. */
    public static final class Builder {
        private final DataSource dataSource;
        private final Jdbi jdbi;
        private JdbcDialect dialect;
        private String schema;
        private String table = TableName.DEFAULT_TABLE;
        private int maxRetries = 5;
        private Duration partitionLength;
        private Duration overlap;

        private Builder(DataSource dataSource, Jdbi jdbi) {
            this.dataSource = dataSource;
            this.jdbi = jdbi;
        }

        /** The database dialect. Default: detected from the database product name at {@link #build()}. */
        public Builder dialect(JdbcDialect dialect) {
            this.dialect = Objects.requireNonNull(dialect, "dialect");
            return this;
        }

        /** The table name. Default {@code processed_events}. Letters, digits and underscores only. */
        public Builder table(String table) {
            this.table = table;
            return this;
        }

        /** The schema of the table. Default: the connection's search path. */
        public Builder schema(String schema) {
            this.schema = schema;
            return this;
        }

        /**
         * How many times a transaction is re-run after the database demands a retry (serialization failure,
         * deadlock): the claim and your handler run again. Default 5; 0 turns retries off.
         */
        public Builder maxRetries(int maxRetries) {
            if (maxRetries < 0 || maxRetries > 100) {
                throw new IllegalArgumentException("maxRetries must be between 0 and 100, was " + maxRetries);
            }
            this.maxRetries = maxRetries;
            return this;
        }

        /**
         * PostgreSQL 14+ only: claims go to a table partitioned by the time they were made (one partition per
         * {@code partitionLength}), and expired keys are removed by dropping whole partitions once all their keys
         * have expired, instead of deleting rows, so a purge costs live claims nothing. The price: a claim reads
         * the key in every partition (one index probe each), a claim made during the first {@code overlap} of a
         * partition writes its key into the previous partition too, and every transaction that claims must end
         * within 40% of the overlap (the store rolls back its own transactions that take longer; a caller's
         * transaction joined with processIn must keep it). DDL: {@code dev/oncely/jdbc/postgresql-partitioned.sql};
         * details in docs/retention.md.
         *
         * @param partitionLength how long each partition takes claims, at least 1 second (e.g. 1 day)
         * @param overlap         at least 100 ms and at most partitionLength; twice the longest transaction that
         *                        claims (e.g. 30 minutes)
         */
        public Builder timePartitioned(Duration partitionLength, Duration overlap) {
            Objects.requireNonNull(partitionLength, "partitionLength");
            Objects.requireNonNull(overlap, "overlap");
            if (partitionLength.compareTo(Duration.ofSeconds(1)) < 0) {
                throw new IllegalArgumentException("partitionLength must be at least 1 second, was " + partitionLength
                        + "; a day suits most retention windows.");
            }
            if (overlap.compareTo(Duration.ofMillis(100)) < 0 || overlap.compareTo(partitionLength) > 0) {
                throw new IllegalArgumentException("overlap must be between 100 ms and the partition length ("
                        + partitionLength + "), was " + overlap + ". Make it twice the longest transaction that"
                        + " claims.");
            }
            this.partitionLength = partitionLength;
            this.overlap = overlap;
            return this;
        }

        public JdbcDedupStore build() {
            TableName name = new TableName(Optional.ofNullable(schema), table);
            JdbcDialect chosen = dialect != null ? dialect : detect();
            SqlDialect sqlDialect;
            if (partitionLength == null) {
                sqlDialect = chosen.create(name);
            } else {
                if (chosen != JdbcDialect.POSTGRESQL) {
                    throw new IllegalArgumentException("timePartitioned(...) is only available on PostgreSQL (14 or later),"
                            + " not on " + chosen + ". Remove it and purge with RetentionPurger's bounded deletes.");
                }
                if (name.table().length() > PostgresPartitionedDialect.MAX_TABLE_LENGTH) {
                    throw new IllegalArgumentException("Table name '" + name.table() + "' is too long for the"
                            + " time-partitioned layout: at most " + PostgresPartitionedDialect.MAX_TABLE_LENGTH
                            + " characters, so its partitions' names (table + _pYYYYMMDD_HHMMSS) fit PostgreSQL's 63.");
                }
                sqlDialect = new PostgresPartitionedDialect(name, partitionLength, overlap,
                        partitionsAhead(partitionLength));
            }
            JdbcDedupStore store = new JdbcDedupStore(dataSource, jdbi, sqlDialect, chosen, name, maxRetries);
            log.info("Oncely {} (retries on serialization failure and deadlock: {})", store.describe(), maxRetries);
            return store;
        }

        /** Partitions created ahead: a day's worth, at least 2 and at most 48. */
        private static int partitionsAhead(Duration partitionLength) {
            long perDay = (Duration.ofDays(1).toMillis() + partitionLength.toMillis() - 1) / partitionLength.toMillis();
            return (int) Math.max(2, Math.min(48, perDay));
        }

        private JdbcDialect detect() {
            String product;
            try {
                if (dataSource != null) {
                    try (Connection connection = dataSource.getConnection()) {
                        product = connection.getMetaData().getDatabaseProductName();
                    }
                } else {
                    try (Handle handle = jdbi.open()) {
                        product = handle.getConnection().getMetaData().getDatabaseProductName();
                    }
                }
            } catch (JdbiException | SQLException e) {
                throw new TransientStoreException("Could not connect to detect the database (" + rootMessage(e) + "). Check"
                        + " that it is up, or name the dialect with .dialect(JdbcDialect.POSTGRESQL) to build the"
                        + " store without connecting.", e);
            }
            return JdbcDialect.detect(product);
        }
    }
}
