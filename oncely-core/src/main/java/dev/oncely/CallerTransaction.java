package dev.oncely;

import java.sql.Connection;
import java.util.Objects;
import java.util.Optional;

/**
 * A transaction you already have open, for {@link IdempotentHandler#processIn(CallerTransaction, Object)}:
 * the claim joins it, and nothing commits until you commit it.
 *
 * <p>Make one with {@link #of(Connection)} for a plain JDBC connection, {@code JdbiCallerTransaction.of(handle)}
 * (oncely-jdbc) for a Jdbi handle, or {@code InMemoryDedupStore.begin()} in tests. A store checks that it can
 * join the transaction and fails fast if it cannot (for JDBC: a connection in autocommit mode).
 */
public interface CallerTransaction {

    /** A resource of the transaction, such as its {@link Connection}. */
    <T> Optional<T> unwrap(Class<T> type);

    /** Wraps an open JDBC connection whose transaction you begin, commit and close yourself. */
    static CallerTransaction of(Connection connection) {
        Objects.requireNonNull(connection, "connection");
        return new CallerTransaction() {
            @Override
            public <T> Optional<T> unwrap(Class<T> type) {
                return type.isInstance(connection) ? Optional.of(type.cast(connection)) : Optional.empty();
            }

            @Override
            public String toString() {
                return "CallerTransaction[" + connection + "]";
            }
        };
    }
}
