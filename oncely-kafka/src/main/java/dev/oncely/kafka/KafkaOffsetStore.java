package dev.oncely.kafka;

import dev.oncely.MisconfigurationException;
import dev.oncely.OncelyException;
import dev.oncely.TransientStoreException;
import dev.oncely.internal.Validation;
import dev.oncely.jdbc.Database;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import javax.sql.DataSource;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consumed Kafka offsets kept in the database ({@code oncely_kafka_offsets}), for
 * {@link KafkaPollLoop.Builder#offsetsInDatabase(KafkaOffsetStore)}: Kafka's documented "storing offsets outside
 * Kafka", done in the same transaction as the dedup claims and the business writes.
 *
 * <p>The table must be in the same database as the {@code JdbcDedupStore} of the handler: the loop runs the
 * offset update, the claims and your handler's writes in one transaction of that store (with its retries), and
 * {@link KafkaPollLoop.Builder#build()} checks the table is reachable there. This store's own {@link DataSource}
 * serves only {@link #read} and {@link #createSchemaIfMissing()}.
 *
 * <p>DDL: {@link #ddl()}, shipped per database as {@value #POSTGRESQL_DDL_RESOURCE}, {@value #MARIADB_DDL_RESOURCE}
 * (MariaDB and MySQL) and {@value #H2_DDL_RESOURCE}; apply it with your migration tool or call
 * {@link #createSchemaIfMissing()}.
 */
public final class KafkaOffsetStore {

    /** The classpath resource holding the PostgreSQL DDL. */
    public static final String POSTGRESQL_DDL_RESOURCE = "dev/oncely/kafka/postgresql-offsets.sql";
    /** The classpath resource holding the MariaDB and MySQL DDL. */
    public static final String MARIADB_DDL_RESOURCE = "dev/oncely/kafka/mariadb-offsets.sql";
    /** The classpath resource holding the H2 DDL. */
    public static final String H2_DDL_RESOURCE = "dev/oncely/kafka/h2-offsets.sql";
    /** The default table name. */
    public static final String DEFAULT_TABLE = "oncely_kafka_offsets";
    private static final int MAX_TABLE_LENGTH = 58; // room for the _pkey suffix within PostgreSQL's 63

    private static final Logger log = LoggerFactory.getLogger(KafkaOffsetStore.class);

    private final DataSource dataSource;
    private final Database dialect;
    private final String table;
    private final String ddlResource;
    private final String advanceSql;
    private final String insertSql;
    private final String selectSql;
    private final String probeSql;

    private KafkaOffsetStore(DataSource dataSource, Database dialect, String table) {
        this.dataSource = dataSource;
        this.dialect = dialect;
        this.table = table;
        this.ddlResource = ddlResource(dialect);
        this.advanceSql = "UPDATE " + table + " SET next_offset = ?, updated_at = CURRENT_TIMESTAMP"
                + " WHERE group_id = ? AND topic = ? AND partition_id = ? AND next_offset = ?";
        String insert = "INSERT INTO " + table + " (group_id, topic, partition_id, next_offset) VALUES (?, ?, ?, ?)";
        // PostgreSQL: a failed statement aborts the whole transaction, so the duplicate must not be an error there.
        // MariaDB/MySQL and H2 roll back only the failing statement, so a plain INSERT's duplicate-key error leaves
        // the transaction usable (INSERT IGNORE would also swallow truncation).
        this.insertSql = dialect == Database.POSTGRESQL
                ? insert + " ON CONFLICT (group_id, topic, partition_id) DO NOTHING" : insert;
        this.selectSql = "SELECT partition_id, next_offset FROM " + table + " WHERE group_id = ? AND topic = ?";
        this.probeSql = "SELECT count(*) FROM " + table + " WHERE 1 = 0";
    }

    private static String ddlResource(Database dialect) {
        return switch (dialect) {
            case POSTGRESQL -> POSTGRESQL_DDL_RESOURCE;
            case MARIADB, MYSQL -> MARIADB_DDL_RESOURCE;
            case H2 -> H2_DDL_RESOURCE;
            case GENERIC -> throw new IllegalArgumentException("The Kafka offsets table has SQL for PostgreSQL,"
                    + " MariaDB, MySQL and H2, not for " + dialect + ". Use one of those, or use KafkaPollLoop"
                    + " without offsetsInDatabase (offsets in Kafka, duplicates caught by the claims).");
        };
    }

    /** Starts a builder on the database of your {@code JdbcDedupStore}. */
    public static Builder builder(DataSource dataSource) {
        if (dataSource == null) {
            throw new IllegalArgumentException("dataSource is null: pass the connection pool of the database your"
                    + " JdbcDedupStore and business tables are in.");
        }
        return new Builder(dataSource);
    }

    /** The data source offsets, claims and business writes share. */
    public DataSource dataSource() {
        return dataSource;
    }

    /** The table name. */
    public String tableName() {
        return table;
    }

    /** The database the offsets SQL is written for. */
    public Database database() {
        return dialect;
    }

    /** The classpath resource of this store's DDL, e.g. {@value #MARIADB_DDL_RESOURCE}. */
    public String ddlResource() {
        return ddlResource;
    }

    /**
     * Reads nothing from the table on the caller's connection: fails if the table is not there (on that
     * connection's database), as the loop's build() uses it to check the claims' database has it.
     */
    void probe(Connection connection) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(probeSql); ResultSet rs = ps.executeQuery()) {
            rs.next();
        }
    }

    /**
     * The stored next offsets of {@code group} for the given partitions; partitions without a row are absent.
     * Reads on a connection of its own (it only reads committed rows).
     *
     * @throws MisconfigurationException if the table is missing or may not be read
     * @throws TransientStoreException   if the database fails otherwise
     */
    public Map<TopicPartition, Long> read(String group, Collection<TopicPartition> partitions) {
        Objects.requireNonNull(group, "group");
        Map<TopicPartition, Long> found = new HashMap<>();
        if (partitions.isEmpty()) {
            return found;
        }
        Set<String> topics = new TreeSet<>();
        partitions.forEach(tp -> topics.add(tp.topic()));
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(selectSql)) {
            for (String topic : topics) {
                ps.setString(1, group);
                ps.setString(2, topic);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        TopicPartition tp = new TopicPartition(topic, rs.getInt(1));
                        if (partitions.contains(tp)) {
                            found.put(tp, rs.getLong(2));
                        }
                    }
                }
            }
            return found;
        } catch (SQLException e) {
            String what = "Reading the stored Kafka offsets of group '" + group + "' from " + table + " failed: "
                    + e.getMessage() + " (SQLState " + e.getSQLState() + ").";
            if (Database.isPermanent(e)) {
                throw new MisconfigurationException(what + " Every read would fail the same way: check that the table"
                        + " exists (DDL: classpath resource " + ddlResource + ") and the user may read it.", e);
            }
            throw new TransientStoreException(what + " Check that the database is reachable; nothing was"
                    + " processed.", e);
        }
    }

    /** The stored next offset of one partition, if the group has a row for it. */
    public OptionalLong read(String group, TopicPartition partition) {
        Long value = read(group, Set.of(partition)).get(partition);
        return value == null ? OptionalLong.empty() : OptionalLong.of(value);
    }

    /**
     * The fence: moves the stored next offset of {@code partition} from {@code expected} to {@code next} on the
     * caller's open transaction, and says whether it did. With no {@code expected} (the group had no row when
     * the partition was assigned) it inserts the row, unless another consumer inserted it meanwhile.
     *
     * <p>{@code false} means another consumer has moved the offset since this one read it: this consumer lost
     * the partition (or a consumer that had lost it committed late). Roll the transaction back. Under READ
     * COMMITTED a concurrent update of the same row makes this statement wait for that transaction and then
     * re-check the condition against the committed value, so two consumers can never both advance from the same
     * offset.
     *
     * @throws SQLException as the driver reports it (a duplicate key on the insert is a {@code false}, not an
     *                      error); roll back
     */
    public boolean advance(Connection transaction, String group, TopicPartition partition, OptionalLong expected,
                           long next) throws SQLException {
        if (expected.isPresent()) {
            try (PreparedStatement ps = transaction.prepareStatement(advanceSql)) {
                ps.setLong(1, next);
                ps.setString(2, group);
                ps.setString(3, partition.topic());
                ps.setInt(4, partition.partition());
                ps.setLong(5, expected.getAsLong());
                return ps.executeUpdate() == 1;
            }
        }
        try (PreparedStatement ps = transaction.prepareStatement(insertSql)) {
            ps.setString(1, group);
            ps.setString(2, partition.topic());
            ps.setInt(3, partition.partition());
            ps.setLong(4, next);
            return ps.executeUpdate() == 1;
        } catch (SQLException e) {
            if (dialect != Database.POSTGRESQL && isDuplicateKey(e)) {
                return false; // another consumer inserted the row first: fenced, as ON CONFLICT DO NOTHING says
            }
            throw e;
        }
    }

    /** MariaDB/MySQL 1062 (SQLState 23000), H2 23505. */
    private static boolean isDuplicateKey(SQLException e) {
        return e.getErrorCode() == 1062 || "23505".equals(e.getSQLState());
    }

    /** The DDL for this store's table name. */
    public String ddl() {
        String text = readResource(ddlResource);
        return text.replace(DEFAULT_TABLE, table);
    }

    /** Creates the table if it does not exist (the DDL of {@link #ddl()}). Idempotent. Returns this store. */
    public KafkaOffsetStore createSchemaIfMissing() {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            StringBuilder sql = new StringBuilder();
            for (String line : ddl().split("\n")) {
                if (!line.strip().startsWith("--")) {
                    sql.append(line).append('\n');
                }
            }
            for (String statement : sql.toString().split(";")) {
                if (!statement.isBlank()) {
                    st.execute(statement);
                }
            }
            log.info("Oncely Kafka offsets table {} is in place", table);
            return this;
        } catch (SQLException e) {
            throw new MisconfigurationException("Creating " + table + " failed: " + e.getMessage() + ". Apply the DDL"
                    + " yourself (classpath resource " + ddlResource + ") with a user allowed to create"
                    + " tables.", e);
        }
    }

    private static String readResource(String name) {
        try (InputStream in = KafkaOffsetStore.class.getResourceAsStream("/" + name)) {
            if (in == null) {
                throw new IllegalStateException("Resource " + name + " is missing from the oncely-kafka jar.");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public String toString() {
        return "KafkaOffsetStore[" + table + " on " + dialect + "]";
    }

    /** Builds a {@link KafkaOffsetStore}; {@link #build()} checks the database is one it has SQL for. */
    public static final class Builder {
        private final DataSource dataSource;
        private String table = DEFAULT_TABLE;
        private Database dialect;

        private Builder(DataSource dataSource) {
            this.dataSource = dataSource;
        }

        /** Another table name (letters, digits, underscores); apply the DDL with the same name. */
        public Builder table(String table) {
            this.table = Validation.checkIdentifier("Table name", table, MAX_TABLE_LENGTH);
            return this;
        }

        /** Skips detecting the database from its product name (which opens a connection at build()). */
        public Builder database(Database dialect) {
            this.dialect = Objects.requireNonNull(dialect, "dialect");
            return this;
        }

        public KafkaOffsetStore build() {
            Database chosen = dialect;
            if (chosen == null) {
                String product;
                try (Connection c = dataSource.getConnection()) {
                    product = c.getMetaData().getDatabaseProductName();
                } catch (SQLException e) {
                    throw new TransientStoreException("Could not open a connection to detect the database of the Kafka"
                            + " offsets table: " + e.getMessage() + ". Check the data source, or name the dialect"
                            + " with dialect(Database.POSTGRESQL) (or MARIADB, MYSQL, H2).", e);
                }
                chosen = Database.forProductName(product).orElseThrow(() -> new IllegalArgumentException(
                        "The Kafka offsets table has SQL for PostgreSQL, MariaDB, MySQL and H2, and the data source"
                                + " is '" + product + "'. Use one of those, or use KafkaPollLoop without"
                                + " offsetsInDatabase (offsets in Kafka, duplicates caught by the claims)."));
            }
            ddlResource(chosen); // refuses GENERIC
            log.debug("Kafka offsets store on {} ({})", table, chosen);
            return new KafkaOffsetStore(dataSource, chosen, table);
        }
    }
}
