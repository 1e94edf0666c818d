package dev.oncely.testkit;

import dev.oncely.CallerTransaction;

/** A caller's transaction opened by a fixture, for the join cases of the conformance suite. */
public interface OpenTransaction extends AutoCloseable {

    CallerTransaction transaction();

    void commit() throws Exception;

    void rollback() throws Exception;

    /** Rolls back if not committed, and releases the connection. */
    @Override
    void close() throws Exception;
}
