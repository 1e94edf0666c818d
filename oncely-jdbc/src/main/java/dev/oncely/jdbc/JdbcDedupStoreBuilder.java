package dev.oncely.jdbc;

import dev.oncely.jdbc.internal.ConnectionOwners;
import dev.oncely.jdbc.internal.PostgresPartitionedDialect;
import dev.oncely.jdbc.internal.SqlDialect;
import dev.oncely.jdbc.internal.TableName;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import javax.sql.DataSource;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Builds a {@link JdbcDedupStore}. */
public final class JdbcDedupStoreBuilder {

    private static final Logger log = LoggerFactory.getLogger(JdbcDedupStore.class);

    private final DataSource dataSource;
    private final Jdbi jdbi;
    private Database dialect;
    private String schema;
    private String table = TableName.DEFAULT_TABLE;
    private int maxRetries = 5;
    private Duration partitionLength;
    private Duration overlap;
    private ConnectionOwner connections;

    JdbcDedupStoreBuilder(DataSource dataSource, Jdbi jdbi) {
        this.dataSource = dataSource;
        this.jdbi = jdbi;
    }

    /** The database dialect. Default: detected from the database product name at {@link #build()}. */
    public JdbcDedupStoreBuilder database(Database database) {
        this.dialect = Objects.requireNonNull(database, "database");
        return this;
    }

    /**
     * The table name. Default {@code processed_events}. Letters, digits and underscores only, and not a reserved
     * word of PostgreSQL, MariaDB/MySQL or H2 ({@code select}, {@code order}, {@code user}...): names are written
     * into SQL unquoted. Checked at {@link #build()}.
     */
    public JdbcDedupStoreBuilder table(String table) {
        this.table = table;
        return this;
    }

    /**
     * Who owns the connections the store's transactions (claims and your handler's writes) run on, and so who
     * begins, commits and rolls them back. Default: the pool of the DataSource (or the Jdbi) the builder was
     * given, with transactions of the store's own. Integrations pass their own strategy, such as oncely-spring's,
     * which joins the Spring-managed transaction; it must hand out connections to the same database the builder
     * was given. Purges, partition maintenance and {@link JdbcDedupStore#createSchemaIfMissing()} keep running in
     * autocommit mode on the builder's DataSource or Jdbi.
     */
    public JdbcDedupStoreBuilder connections(ConnectionOwner connections) {
        if (connections == null) {
            throw new IllegalArgumentException("connections is null: leave it unset for transactions on the"
                    + " DataSource's pool, or pass a ConnectionOwner such as oncely-spring's.");
        }
        this.connections = connections;
        return this;
    }

    /** The schema of the table. Default: the connection's search path. */
    public JdbcDedupStoreBuilder schema(String schema) {
        this.schema = schema;
        return this;
    }

    /**
     * How many times a transaction is re-run after the database demands a retry (serialization failure,
     * deadlock): the claim and your handler run again. Default 5; 0 turns retries off.
     */
    public JdbcDedupStoreBuilder maxRetries(int maxRetries) {
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
    public JdbcDedupStoreBuilder timePartitioned(Duration partitionLength, Duration overlap) {
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
        Database chosen = dialect != null ? dialect : Database.detect(dataSource, jdbi);
        SqlDialect sqlDialect;
        if (partitionLength == null) {
            sqlDialect = chosen.create(name);
        } else {
            if (chosen != Database.POSTGRESQL) {
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
        ConnectionOwner own = dataSource != null ? ConnectionOwners.pool(dataSource) : ConnectionOwners.jdbi(jdbi);
        JdbcDedupStore store = new JdbcDedupStore(connections != null ? connections : own, own, sqlDialect,
                chosen, name, maxRetries);
        log.info("Oncely {} (retries on serialization failure and deadlock: {})", store.describe(), maxRetries);
        return store;
    }

    /** Partitions created ahead: a day's worth, at least 2 and at most 48. */
    private static int partitionsAhead(Duration partitionLength) {
        long perDay = (Duration.ofDays(1).toMillis() + partitionLength.toMillis() - 1) / partitionLength.toMillis();
        return (int) Math.max(2, Math.min(48, perDay));
    }
}
