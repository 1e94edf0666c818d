package dev.oncely.jdbc.internal;

import dev.oncely.spi.ClaimResult;
import java.util.List;

/**
 * The one adaptive choice a JDBC store makes, and its only state that changes after {@code build()}: whether to
 * read keys before claiming them, because most of them are expected to be duplicates (a redelivery storm, a
 * replay). One instance per store, owned by it; dialects hold no such state. Three places use it:
 * <ul>
 *   <li>{@code process()}: while more than half of the store's recent single-key claims were duplicates, the store
 *       reads the key on a connection in autocommit mode before beginning a transaction
 *       ({@link SqlDialect#findLive}). A live claim found that way is the answer: one round trip, no transaction,
 *       nothing written, locked or committed. Anything else is claimed as usual.</li>
 *   <li>a single-key claim where no such read could run (a caller's transaction, a pool in manual-commit mode):
 *       then the claim reads the existing row in its own statement ({@link SqlDialect#claimReadingFirst}).</li>
 *   <li>batches: while more than half of the keys of the store's recent batches were duplicates, the batch claim
 *       reads the existing rows first and inserts only the keys it did not find
 *       ({@link SqlDialect#claimAllReadingFirst}), sparing each duplicate the INSERT's conflict probe.</li>
 *   <li>{@code processBatch()}: while more than half of the store's recent batches were duplicates through and
 *       through (a redelivered batch), the store reads the batch's keys on a connection in autocommit mode before
 *       beginning a transaction ({@link SqlDialect#findAllLive}); if every key has a live claim, that read is the
 *       answer: one round trip, no transaction, nothing written or committed. Otherwise the batch is claimed as
 *       usual.</li>
 * </ul>
 * Reading first costs a fresh key a read it did not need, so neither is done while keys are mostly fresh. The
 * measurements that keep both are in docs/benchmarks.md ("Which adaptive paths stayed"). Each share is an
 * exponential moving average in 1/1024 (a single claim weighs 1/16, a batch 1/4), updated without
 * synchronization: a lost update only delays a switch by a claim or two, and both paths give the same answers.
 */
public final class ReadBeforeClaim {

    private static final int HALF = 512;

    private final boolean findsLiveClaims;
    private volatile int singleDuplicateShare;
    private volatile int batchDuplicateShare;
    private volatile int allDuplicateBatchShare;

    /** @param findsLiveClaims whether the store's dialect can read a live claim ({@link SqlDialect#findsLiveClaims}) */
    public ReadBeforeClaim(boolean findsLiveClaims) {
        this.findsLiveClaims = findsLiveClaims;
    }

    /** Whether the next {@code process()} reads its key before claiming it. */
    public boolean readFirst() {
        return findsLiveClaims && singleDuplicateShare > HALF;
    }

    /** Whether the next batch claim reads the existing rows before inserting. */
    public boolean batchReadFirst() {
        return batchDuplicateShare > HALF;
    }

    /** Whether the next {@code processBatch()} reads its keys before beginning a transaction. */
    public boolean batchReadBeforeTransaction() {
        return findsLiveClaims && allDuplicateBatchShare > HALF;
    }

    /** Counts one single-key claim's answer (or a live claim the read found). */
    public void note(ClaimResult result) {
        int recent = singleDuplicateShare;
        singleDuplicateShare = recent - (recent >> 4) + (result.claimed() ? 0 : 1024 >> 4);
    }

    /** Counts one batch claim's answers. */
    public void noteBatch(List<ClaimResult> results) {
        if (results.isEmpty()) {
            return;
        }
        int duplicates = 0;
        for (ClaimResult r : results) {
            duplicates += r.claimed() ? 0 : 1;
        }
        int recent = batchDuplicateShare;
        batchDuplicateShare = recent - (recent >> 2) + duplicates * (1024 >> 2) / results.size();
        int whole = allDuplicateBatchShare;
        allDuplicateBatchShare = whole - (whole >> 2) + (duplicates == results.size() ? 1024 >> 2 : 0);
    }
}
