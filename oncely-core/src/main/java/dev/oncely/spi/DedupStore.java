package dev.oncely.spi;

import dev.oncely.CallerTransaction;

/**
 * The service provider interface behind {@link dev.oncely.IdempotentHandler}: where claims are recorded, and
 * the transaction they are recorded in. A store owns no business logic; it runs a unit of work in a transaction
 * and offers claim operations inside it. See {@code docs/writing-a-store.md} and the conformance suite in
 * {@code oncely-testkit}, which every store must pass.
 *
 * <p>Implementations are thread-safe and immutable once built.
 */
public interface DedupStore {

    /**
     * Runs {@code work} in a new transaction: commits when it returns, rolls back when it throws and rethrows
     * the same exception instance. A store may re-run the whole unit after a transient failure the database
     * demands a retry for (serialization failure, deadlock), a bounded number of times; it never re-runs it
     * after any other failure.
     */
    <T> T inTransaction(TransactionWork<T> work) throws Exception;

    /**
     * Runs {@code work} inside the caller's open transaction: never begins, commits, rolls back or closes it,
     * and never retries. Fails fast with an {@link dev.oncely.OncelyException} if the store cannot join it
     * (wrong kind of transaction, or a JDBC connection in autocommit mode).
     */
    <T> T inCallerTransaction(CallerTransaction transaction, TransactionWork<T> work) throws Exception;

    /**
     * Deletes at most {@code maxRows} keys whose retention has expired, by the store's clock, in a short
     * transaction of its own. Returns how many were deleted; call again while it returns {@code maxRows}.
     */
    int purgeExpired(int maxRows);

    /** A short description for logs, such as {@code "PostgreSQL store on public.processed_events"}. */
    String describe();
}
