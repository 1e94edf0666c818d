package dev.oncely.spi;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The claim operations of one open transaction of a {@link dev.oncely.DedupStore}. Only valid inside the
 * {@link TransactionWork} it was handed to; not thread-safe.
 */
public interface StoreTransaction {

    /**
     * Claims a key, as the first write of the transaction. Returns {@link ClaimResult#claimed() claimed} when
     * the key is new (or its retention has expired), otherwise the stored claim. If another open transaction
     * holds the same key, waits for it: reports a duplicate if it commits, claims if it rolls back.
     * A duplicate must be learned without leaving the transaction unusable.
     */
    ClaimResult claim(ClaimRequest request);

    /**
     * Claims the keys of a batch; results in the order of its keys (distinct and sorted by key, so that
     * overlapping batches lock in the same order). Stores should override this with one set-based statement; the
     * default claims one by one.
     */
    default List<ClaimResult> claimAll(ClaimBatch batch) {
        List<ClaimResult> results = new ArrayList<>(batch.size());
        for (int i = 0; i < batch.size(); i++) {
            results.add(claim(batch.request(i)));
        }
        return results;
    }

    /**
     * Claims a key and stores its encoded result with it, for a caller that writes the key last: its other writes
     * come first in the transaction, and the key's row is written once, complete
     * ({@link dev.oncely.IdempotentHandler.Builder#keyWrittenLast()}). Answers exactly as {@link #claim} does, and waits on a concurrent
     * uncommitted claim of the same key as it does: {@link ClaimResult#claimed() claimed} when this transaction
     * now holds the key with {@code result}; otherwise the stored claim (with its result if
     * {@link ClaimRequest#loadResult()}), and nothing is written. Stores should override this with one statement;
     * the default claims, then saves the result if it claimed (two).
     */
    default ClaimResult claimWithResult(ClaimRequest request, byte[] result) {
        ClaimResult claim = claim(request);
        if (claim.claimed()) {
            saveResult(request.consumer(), request.key(), result);
        }
        return claim;
    }

    /** Stores the encoded result of a key claimed in this transaction. */
    void saveResult(String consumer, String key, byte[] result);

    /** Stores several results of keys claimed in this transaction; the default saves one by one. */
    default void saveResults(String consumer, Map<String, byte[]> resultsByKey) {
        resultsByKey.forEach((key, result) -> saveResult(consumer, key, result));
    }

    /** A resource of this transaction for the user's handler, such as a JDBC {@code Connection}. */
    <T> Optional<T> resource(Class<T> type);

    /** The resource types {@link #resource} offers, to name them in error messages. */
    Set<Class<?>> resourceTypes();
}
