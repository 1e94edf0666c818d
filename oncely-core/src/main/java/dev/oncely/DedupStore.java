package dev.oncely;

import dev.oncely.spi.TransactionWork;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;

/**
 * The service provider interface behind {@link dev.oncely.IdempotentHandler}: where claims are recorded, and
 * the transaction they are recorded in. A store owns no business logic; it runs a unit of work in a transaction
 * and offers claim operations inside it. See {@code docs/writing-a-store.md} and the conformance suite in
 * {@code oncely-testkit}, which every store must pass.
 *
 * <p>Implementations are thread-safe, and their configuration is fixed once built. A store may keep runtime state
 * that changes how it reaches an answer but never the answer (JdbcDedupStore's read-before-claim strategy); it says
 * so in its own documentation.
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
     * Runs {@code work}, whose first step is {@code transaction.claim(request)} (or, for a handler built with
     * {@link IdempotentHandler.Builder#keyWrittenLast()}, whose last step is
     * {@code transaction.claimWithResult(request, result)}), in a new transaction, exactly as {@link #inTransaction}
     * does. A store may first look the key up without beginning a transaction (a read that
     * writes and locks nothing) and, if it finds a committed claim that has not expired, return
     * {@code ifDuplicate.apply(thatClaim)} without running {@code work}: the answer the claim would have given,
     * for less. A key it does not find that way (absent, expired, or held by a transaction not yet committed) must
     * go through {@code work}, whose claim decides. The default runs {@code inTransaction(work)}.
     *
     * @param ifDuplicate turns a stored claim into the caller's answer; may throw (a payload conflict), which
     *                    reaches the caller unchanged
     */
    default <T> T inClaimingTransaction(ClaimRequest request, java.util.function.Function<ClaimResult, T> ifDuplicate,
                                        TransactionWork<T> work) throws Exception {
        return inTransaction(work);
    }

    /**
     * Runs {@code work}, whose first step is {@code transaction.claimAll(batch)}, in a new transaction, exactly as
     * {@link #inTransaction} does. A store may first look the batch's keys up without beginning a transaction and,
     * if every one of them has a committed claim that has not expired, return
     * {@code ifAllDuplicates.apply(thoseClaims)} (in the batch's key order) without running {@code work}. If any
     * key is not found that way, {@code work} runs and its claim decides. The default runs
     * {@code inTransaction(work)}.
     *
     * @param ifAllDuplicates turns the stored claims into the caller's answer; may throw (a payload conflict),
     *                        which reaches the caller unchanged
     */
    default <T> T inClaimingBatchTransaction(dev.oncely.spi.ClaimBatch batch,
                                             java.util.function.Function<java.util.List<ClaimResult>, T> ifAllDuplicates,
                                             TransactionWork<T> work) throws Exception {
        return inTransaction(work);
    }

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

    /**
     * The store's lease operations, for {@link LeasedHandler} (runs whose effects are outside the database); empty
     * if the store has none. Every store Oncely ships has them, except the time-partitioned PostgreSQL layout.
     */
    default java.util.Optional<dev.oncely.spi.LeaseStore> leases() {
        return java.util.Optional.empty();
    }

    /** A short description for logs, such as {@code "PostgreSQL store on public.processed_events"}. */
    String describe();
}
