package dev.oncely.jdbc;

import dev.oncely.CallerTransaction;
import java.sql.Connection;
import java.util.Objects;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/**
 * Your open JDBC transaction as a {@link CallerTransaction}, for {@code IdempotentHandler.processIn}: the claim
 * joins it, and nothing commits until you commit it. The store checks that autocommit is off and fails fast if it
 * is not.
 *
 * <pre>{@code
 * connection.setAutoCommit(false);
 * handler.processIn(JdbcTransactions.of(connection), message);   // then commit or roll back yourself
 *
 * jdbi.useTransaction(handle -> handler.processIn(JdbcTransactions.of(handle), message));
 * }</pre>
 */
public final class JdbcTransactions {

    private JdbcTransactions() {
    }

    /** A plain JDBC connection whose transaction you begin, commit and close yourself. */
    public static CallerTransaction of(Connection connection) {
        Objects.requireNonNull(connection, "connection");
        return new CallerTransaction() {
            @Override
            public <T> Optional<T> unwrap(Class<T> type) {
                return type.isInstance(connection) ? Optional.of(type.cast(connection)) : Optional.empty();
            }

            @Override
            public String toString() {
                return "JdbcTransactions.of(" + connection + ")";
            }
        };
    }

    /**
     * Your open Jdbi handle: the claim joins its transaction, and handlers reach the same handle (with your
     * registered mappers and plugins) through {@code context.unwrap(Handle.class)}.
     */
    public static CallerTransaction of(Handle handle) {
        Objects.requireNonNull(handle, "handle");
        return new CallerTransaction() {
            @Override
            public <T> Optional<T> unwrap(Class<T> type) {
                if (type == Handle.class) {
                    return Optional.of(type.cast(handle));
                }
                if (type == Connection.class) {
                    return Optional.of(type.cast(handle.getConnection()));
                }
                return Optional.empty();
            }

            @Override
            public String toString() {
                return "JdbcTransactions.of(" + handle + ")";
            }
        };
    }
}
