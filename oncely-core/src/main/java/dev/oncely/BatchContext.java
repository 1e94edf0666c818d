package dev.oncely;

import java.util.List;
import java.util.Optional;

/**
 * What a {@link BatchHandler} gets besides the messages: the claims it runs under, and the open transaction to
 * write the batch's business effects into (for the JDBC stores, {@code unwrap(java.sql.Connection.class)} or a Jdbi
 * {@code Handle}). Do not commit, roll back or close them: Oncely does that.
 */
public interface BatchContext {

    /** The consumer name the handler was built with. */
    String consumer();

    /** The idempotency keys claimed for the batch's fresh messages, in the order of the messages. */
    List<String> keys();

    /**
     * A resource of the open transaction, such as a JDBC {@code Connection} or a Jdbi {@code Handle}.
     *
     * @throws MisconfigurationException naming the types this store offers, if it has none of that type
     */
    <T> T unwrap(Class<T> type);

    /** Like {@link #unwrap(Class)}, but empty instead of failing. */
    <T> Optional<T> find(Class<T> type);
}
