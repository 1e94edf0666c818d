package dev.oncely.jdbc;

import dev.oncely.CallerTransaction;
import dev.oncely.DedupStore;
import dev.oncely.MisconfigurationException;
import dev.oncely.OncelyException;
import dev.oncely.jdbc.internal.ConnectionOwners;
import dev.oncely.jdbc.internal.Ddl;
import dev.oncely.jdbc.internal.JdbcLeases;
import dev.oncely.jdbc.internal.PostgresPartitionedDialect;
import dev.oncely.jdbc.internal.SqlDialect;
import dev.oncely.jdbc.internal.SqlErrors;
import dev.oncely.jdbc.internal.TableName;
import dev.oncely.jdbc.internal.TableShape;
import dev.oncely.jdbc.internal.TransactionRunner;
import dev.oncely.spi.ClaimBatch;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import dev.oncely.spi.LeaseStore;
import dev.oncely.spi.TransactionWork;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import javax.sql.DataSource;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
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
 *
 * <p>Thread-safe; its configuration is fixed at {@code build()}. The one thing it changes at runtime is its
 * read-before-claim strategy: while most recent claims were duplicates (a redelivery storm), {@code process()} and
 * {@code processBatch()} read keys before beginning a transaction (docs/benchmarks.md, "Which adaptive paths
 * stayed"). Either way the answers are the same.
 */
public final class JdbcDedupStore implements DedupStore {

    private static final Logger log = LoggerFactory.getLogger(JdbcDedupStore.class);

    /** Who owns the connections of the store's transactions: by default the same as {@link #ownConnections}. */
    private final ConnectionOwner connections;
    /**
     * The store's own connections, the pool's (plain JDBC) or the caller's Jdbi's: purges, partition maintenance
     * and schema creation run on them in autocommit mode, whoever owns the transactions.
     */
    private final ConnectionOwner ownConnections;
    private final SqlDialect dialect;
    private final Database jdbcDialect;
    private final TableName table;
    private final String description;
    private final TransactionRunner runner;
    private final Optional<LeaseStore> leases;

    JdbcDedupStore(ConnectionOwner connections, ConnectionOwner ownConnections, SqlDialect dialect,
                   Database jdbcDialect, TableName table, int maxRetries) {
        this.connections = connections;
        this.ownConnections = ownConnections;
        this.dialect = dialect;
        this.jdbcDialect = jdbcDialect;
        this.table = table;
        this.description = dialect.name() + " store on " + table.qualified();
        SqlErrors errors = new SqlErrors(dialect, table, description);
        this.runner = new TransactionRunner(dialect, errors, new TableShape(dialect, table, errors, description),
                maxRetries, description);
        this.leases = dialect.supportsLeases()
                ? Optional.of(new JdbcLeases(runner, ownConnections, dialect, table, errors, description))
                : Optional.empty();
    }

    /** Lease mode's operations, each a short transaction on the store's own connections; none when partitioned. */
    @Override
    public Optional<LeaseStore> leases() {
        return leases;
    }

    /** A store on a pooled {@link DataSource}. */
    public static JdbcDedupStoreBuilder builder(DataSource dataSource) {
        if (dataSource == null) {
            throw new IllegalArgumentException("dataSource is null: pass your connection pool (e.g. HikariDataSource).");
        }
        return new JdbcDedupStoreBuilder(dataSource, null);
    }

    /** A store on your {@link Jdbi}: its plugins, mappers and connection factory are used as they are. */
    public static JdbcDedupStoreBuilder builder(Jdbi jdbi) {
        if (jdbi == null) {
            throw new IllegalArgumentException("jdbi is null: pass your Jdbi instance.");
        }
        return new JdbcDedupStoreBuilder(null, jdbi);
    }

    @Override
    public <T> T inTransaction(TransactionWork<T> work) throws Exception {
        return runner.inStoreTransaction(connections, work);
    }

    /**
     * While the store's read-before-claim strategy expects most keys to be duplicates (a redelivery storm or a
     * replay), reads the key first on a connection in autocommit mode: a committed, unexpired claim is answered
     * from that one read, with no transaction begun, nothing written and nothing locked. Otherwise, and on a miss,
     * the transaction runs as in {@link #inTransaction} on the same connection, and its claim decides as always.
     */
    @Override
    public <T> T inClaimingTransaction(ClaimRequest request, Function<ClaimResult, T> ifDuplicate,
                                       TransactionWork<T> work) throws Exception {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(ifDuplicate, "ifDuplicate");
        return runner.inClaimingTransaction(connections, request, ifDuplicate, work);
    }

    /**
     * As {@link #inClaimingTransaction} for a batch, while most recent batches were duplicates through and through
     * (a redelivered batch): if every key has a committed, unexpired claim, that one read is the answer.
     */
    @Override
    public <T> T inClaimingBatchTransaction(ClaimBatch batch, Function<List<ClaimResult>, T> ifAllDuplicates,
                                            TransactionWork<T> work) throws Exception {
        Objects.requireNonNull(batch, "batch");
        Objects.requireNonNull(ifAllDuplicates, "ifAllDuplicates");
        return runner.inClaimingBatchTransaction(connections, batch, ifAllDuplicates, work);
    }

    @Override
    public <T> T inCallerTransaction(CallerTransaction transaction, TransactionWork<T> work) throws Exception {
        Objects.requireNonNull(transaction, "transaction");
        Optional<Handle> handle = transaction.unwrap(Handle.class);
        Connection connection = handle.map(Handle::getConnection)
                .or(() -> transaction.unwrap(Connection.class))
                .orElseThrow(() -> new MisconfigurationException(description + " can join a transaction on a JDBC"
                        + " Connection or a Jdbi Handle, not " + transaction + ": use JdbcTransactions.of(connection)"
                        + " or JdbcTransactions.of(handle)."));
        return runner.inStoreTransaction(ConnectionOwners.caller(connection, handle.orElse(null)), work);
    }

    @Override
    public int purgeExpired(int maxRows) {
        if (maxRows < 1) {
            throw new IllegalArgumentException("maxRows must be at least 1, was " + maxRows);
        }
        return runner.inAutocommit(ownConnections, "Purging expired keys",
                (lease, attempt) -> dialect.purgeExpired(lease.connection(), maxRows));
    }

    /**
     * Time-partitioned layout only: creates the partitions ahead of the database clock and drops at most one
     * partition whose keys have all expired; returns about how many keys it dropped. Every
     * {@link dev.oncely.RetentionPurger} run and {@link #createSchemaIfMissing()} call it, so most applications
     * never do; call it yourself (at least once per partition length) if you run no purger.
     *
     * @throws MisconfigurationException if this store is not time-partitioned
     */
    public long maintainPartitions() {
        if (!(dialect instanceof PostgresPartitionedDialect partitioned)) {
            throw new MisconfigurationException(description + " is not time-partitioned: there are no partitions to"
                    + " maintain. Build it with .timePartitioned(partitionLength, overlap) to use that layout.");
        }
        return runner.inAutocommit(ownConnections, "Maintaining the partitions",
                (lease, attempt) -> partitioned.maintain(lease.connection(), true));
    }

    @Override
    public String describe() {
        return description;
    }

    /** The table's DDL for this store's dialect and names, as {@link #createSchemaIfMissing()} applies it. */
    public String ddl() {
        return table.render(Ddl.read(dialect.ddlResource()));
    }

    /**
     * Creates the table and its index if they do not exist (the DDL of {@link #ddl()}), for those who do not
     * manage their schema with a migration tool. Idempotent. Returns this store.
     */
    public JdbcDedupStore createSchemaIfMissing() {
        ConnectionOwner.Lease lease = runner.acquire(ownConnections);
        try (Statement st = lease.connection().createStatement()) {
            for (String sql : Ddl.statements(ddl())) {
                st.execute(sql);
            }
            dialect.afterSchemaCreated(lease.connection());
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

    /**
     * Who owns the connections of this store's transactions: the DataSource's pool or the Jdbi it was built on,
     * unless {@link JdbcDedupStoreBuilder#connections(ConnectionOwner)} named another.
     */
    public ConnectionOwner connections() {
        return connections;
    }

    /** The database this store's SQL is written for. */
    public Database database() {
        return jdbcDialect;
    }

    /**
     * Whether {@code failure} (or one of its causes) is an error the database asks to retry the whole transaction
     * for: a serialization failure, a deadlock or a lock wait timeout, by this store's dialect. These are the
     * failures {@link #inTransaction} re-runs its work on; one that reaches you came after the last retry.
     */
    public boolean isRetryable(Throwable failure) {
        return runner.errors().isTransient(failure);
    }

    /**
     * Translates an error of a statement an integration runs on this store's transaction against a table of its
     * own (such as oncely-kafka's offsets table) into the {@link OncelyException} subtype that says what to do,
     * by the same rules as the store's own statements: a missing table or column, a missing privilege or a value
     * that does not fit is a {@link MisconfigurationException} naming {@code table} and {@code ddlResource}; a
     * lost connection, a serialization failure, a deadlock or anything else a {@link dev.oncely.TransientStoreException}.
     */
    public OncelyException translate(String action, SQLException e, String table, String ddlResource) {
        return runner.errors().translate(action, e, table, ddlResource, "call its createSchemaIfMissing() once at startup");
    }

    /**
     * Operating this store's table: explain or forget a key, counts per consumer, a purge or partition maintenance
     * run, the DDL and a check of the live table against it (docs/operating.md).
     */
    public DedupTableAdmin admin() {
        return new DedupTableAdmin(this, connections, dialect, table, runner);
    }

    /** The table claims are written to, e.g. {@code public.processed_events}. */
    public String tableName() {
        return table.qualified();
    }

    @Override
    public String toString() {
        return "JdbcDedupStore[" + description + "]";
    }
}
