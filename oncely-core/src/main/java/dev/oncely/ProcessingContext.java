package dev.oncely;

import java.util.Optional;

/**
 * What a {@link MessageHandler} gets besides the message: which claim it runs under, and the open transaction
 * to write its business effects into.
 *
 * <p>For the JDBC stores, {@code unwrap(java.sql.Connection.class)} is the connection holding the claim and
 * {@code unwrap(org.jdbi.v3.core.Handle.class)} a Jdbi handle on it. Do not commit, roll back or close either:
 * Oncely does that. The in-memory store has no connection; keep business writes behind an interface of your
 * own so the same handler runs against a fake in unit tests.
 */
public interface ProcessingContext {

    /** The consumer name the handler was built with. */
    String consumer();

    /** The idempotency key claimed for this message. */
    String key();

    /**
     * A resource of the open transaction, such as a JDBC {@code Connection} or a Jdbi {@code Handle}.
     *
     * @throws OncelyException naming the types this store offers, if it has none of that type
     */
    <T> T unwrap(Class<T> type);

    /** Like {@link #unwrap(Class)}, but empty instead of failing. */
    <T> Optional<T> find(Class<T> type);
}
