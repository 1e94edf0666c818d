package dev.oncely;

import java.util.Optional;

/**
 * A transaction you already have open, for {@link IdempotentHandler#processIn(CallerTransaction, Object)}:
 * the claim joins it, and nothing commits until you commit it.
 *
 * <p>Make one with {@code JdbcTransactions.of(connection)} or {@code JdbcTransactions.of(handle)} (oncely-jdbc) for a
 * JDBC connection or a Jdbi handle, or {@code InMemoryDedupStore.begin()} in tests. A store checks that it can
 * join the transaction and fails fast if it cannot (for JDBC: a connection in autocommit mode).
 */
public interface CallerTransaction {

    /** A resource of the transaction, such as its JDBC {@code Connection}. */
    <T> Optional<T> unwrap(Class<T> type);
}
