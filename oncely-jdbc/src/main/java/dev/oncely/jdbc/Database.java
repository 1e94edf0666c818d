package dev.oncely.jdbc;

import dev.oncely.MisconfigurationException;
import dev.oncely.TransientStoreException;
import dev.oncely.jdbc.internal.SqlErrors;
import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.JdbiException;
import dev.oncely.jdbc.internal.GenericDialect;
import dev.oncely.jdbc.internal.H2Dialect;
import dev.oncely.jdbc.internal.MariaDbDialect;
import dev.oncely.jdbc.internal.PostgresDialect;
import dev.oncely.jdbc.internal.SqlDialect;
import dev.oncely.jdbc.internal.TableName;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Function;

/**
 * The databases {@link JdbcDedupStore} has a dialect for. {@link JdbcDedupStoreBuilder#build()} picks one from
 * the database product name; {@link JdbcDedupStoreBuilder#database(Database)} overrides it. See
 * docs/databases.md for versions, DDL and caveats.
 */
public enum Database {
    /** PostgreSQL 9.5 or later, and databases that speak its dialect (CockroachDB, YugabyteDB: untested). */
    POSTGRESQL("PostgreSQL", PostgresDialect::new),
    /** MariaDB 10.5 or later, InnoDB; DDL {@code dev/oncely/jdbc/mariadb.sql}. */
    MARIADB("MariaDB", t -> new MariaDbDialect(t, true)),
    /** MySQL 8.0 or later, InnoDB; the MariaDB dialect without RETURNING, DDL {@code dev/oncely/jdbc/mysql.sql}. */
    MYSQL("MySQL", t -> new MariaDbDialect(t, false)),
    /** H2 2.x, embedded; DDL {@code dev/oncely/jdbc/h2.sql}. */
    H2("H2", H2Dialect::new),
    /**
     * Any other database with savepoints, in portable SQL (DDL {@code dev/oncely/jdbc/generic.sql}). Never
     * detected: choose it with {@code .database(Database.GENERIC)}.
     */
    GENERIC("Generic JDBC", GenericDialect::new);

    private final String productName;
    private final Function<TableName, SqlDialect> factory;

    Database(String productName, Function<TableName, SqlDialect> factory) {
        this.productName = productName;
        this.factory = factory;
    }

    SqlDialect create(TableName table) {
        return factory.apply(table);
    }

    /**
     * The dialect for a JDBC {@code DatabaseMetaData.getDatabaseProductName()}, if there is a dedicated one.
     * Never returns {@link #GENERIC}.
     */
    public static Optional<Database> forProductName(String productName) {
        String name = productName == null ? "" : productName.strip().toLowerCase(Locale.ROOT);
        if (name.contains("postgres")) {
            return Optional.of(POSTGRESQL);
        }
        if (name.contains("mariadb")) {
            return Optional.of(MARIADB);
        }
        if (name.contains("mysql")) {
            return Optional.of(MYSQL);
        }
        if (name.equals("h2")) {
            return Optional.of(H2);
        }
        return Optional.empty();
    }

    /** The dialect of the database behind {@code dataSource}, or else {@code jdbi}; one connection, closed again. */
    static Database detect(DataSource dataSource, Jdbi jdbi) {
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
            throw new TransientStoreException("Could not connect to detect the database ("
                    + SqlErrors.rootMessage(e) + "). Check that it is up, or name the database with"
                    + " .database(Database.POSTGRESQL) to build the store without connecting.", e);
        }
        return detect(product);
    }

    /**
     * Whether an error repeats for every message until someone changes the database or the configuration, on any
     * of these databases: access rule violations, missing tables and missing privileges (SQLState classes 42 and
     * 28, MySQL/MariaDB 1142, 1143, 1044, 1045), and data that does not fit the table's columns (class 22: a
     * column narrower than the DDL's). Such an error is a {@link MisconfigurationException}, not a reason to retry.
     */
    public static boolean isPermanent(java.sql.SQLException e) {
        String state = e.getSQLState();
        if (state != null && (state.startsWith("42") || state.startsWith("28") || state.startsWith("22"))) {
            return true;
        }
        int code = e.getErrorCode();
        return code == 1142 || code == 1143 || code == 1044 || code == 1045;
    }

    /** {@link #forProductName}, or a failure that says how to choose a dialect. */
    static Database detect(String productName) {
        return forProductName(productName).orElseThrow(() -> new MisconfigurationException("Oncely has no dialect for"
                + " database '" + productName + "'. Name one with .database(...) on JdbcDedupStoreBuilder:"
                + " .database(Database.POSTGRESQL) if it speaks PostgreSQL's SQL, .database(Database.MARIADB)"
                + " for MySQL-compatible ones, or .database(Database.GENERIC) for any database with savepoints"
                + " (apply dev/oncely/jdbc/generic.sql, adapted to its types; see docs/databases.md)."));
    }

    @Override
    public String toString() {
        return productName;
    }
}
