package dev.oncely.jdbc.internal;

import dev.oncely.MisconfigurationException;
import dev.oncely.jdbc.Database;
import dev.oncely.OncelyException;
import dev.oncely.TransientStoreException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;

/**
 * Turns SQL errors into the exception type that says what to do ({@link TransientStoreException},
 * {@link MisconfigurationException}), and answers the runner's questions about them: may the transaction be run
 * again, was the connection lost. One per store.
 */
public final class SqlErrors {

    private final SqlDialect dialect;
    private final TableName table;
    private final String description;

    public SqlErrors(SqlDialect dialect, TableName table, String description) {
        this.dialect = dialect;
        this.table = table;
        this.description = description;
    }

    /** The exception for {@code e}, raised while doing {@code action} (e.g. "Claiming key 'k' of consumer 'c'"). */
    public OncelyException translate(String action, SQLException e) {
        return translate(action, e, table.qualified(), dialect.ddlResource() + ", also printed by JdbcDedupStore#ddl()",
                "call createSchemaIfMissing() on the store once at startup");
    }

    /**
     * {@link #translate(String, SQLException)} for a statement on another table of Oncely's ({@code tableName},
     * whose DDL is {@code ddlResource}), such as oncely-kafka's offsets table.
     */
    public OncelyException translate(String action, SQLException e, String tableName, String ddlResource,
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
            // The runner re-runs its own transactions on these first; a caller who owns the transaction must do it.
            return new TransientStoreException(action + " on " + description + " failed with a transient error: "
                    + e.getMessage() + " (SQLState " + state + ", error " + e.getErrorCode() + "). The"
                    + " database asks for the transaction to be retried (deadlock, serialization failure or lock"
                    + " wait timeout): roll your transaction back and run it again.", e);
        }
        if (dev.oncely.jdbc.Database.isPermanent(e)) {
            return new MisconfigurationException(action + " on " + description + " failed: " + e.getMessage()
                    + " (SQLState " + state + ", error " + e.getErrorCode() + "). Every message would fail the same"
                    + " way: check the database user's privileges on " + tableName + " and that the table"
                    + " matches the DDL (classpath resource " + ddlResource + ").", e);
        }
        return new TransientStoreException(action + " on " + description + " failed: " + e.getMessage()
                + " (SQLState " + state + ", error " + e.getErrorCode() + "). Nothing of this transaction was"
                + " committed; do not acknowledge the message.", e);
    }

    /** The failure for a connection that could not be had from the pool or the caller's Jdbi. */
    public OncelyException noConnection(Throwable e) {
        // A pool timeout with no connection failure behind it (HikariCP's SQLTransientConnectionException
        // without a cause) means every connection was busy, not that the database is down.
        String hint = poolExhausted(e)
                ? " If the pool timed out because every connection was in use: make the pool larger than the"
                + " number of threads calling process(), do not hold a connection of the same pool while calling"
                + " process() (join it with processIn instead), or make handlers faster."
                : "";
        return new TransientStoreException("Could not get a connection for " + description + ": " + rootMessage(e)
                + ". Check that the database is up and the pool's URL and credentials are right." + hint, e);
    }

    /** Whether the database asks for the whole transaction to be run again, anywhere in the chain of causes. */
    public boolean isTransient(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SQLException sql) {
                for (SQLException s = sql; s != null; s = s.getNextException()) {
                    if (dialect.isTransient(s)) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    /**
     * Whether a failed commit failed because the connection went away (SQLState class 08, PostgreSQL's 57P
     * "operator intervention", or a connection no longer valid) rather than because the database refused it.
     */
    static boolean isConnectionLoss(Throwable failure, Connection connection) {
        SQLException sql = findSql(failure);
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
            if (c instanceof SQLTransientConnectionException) {
                return c.getCause() == null;
            }
        }
        return false;
    }

    static SQLException findSql(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof SQLException sql) {
                return sql;
            }
        }
        return null;
    }

    public static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() == null ? root.toString() : root.getMessage();
    }
}
