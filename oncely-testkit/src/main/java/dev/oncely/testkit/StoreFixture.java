package dev.oncely.testkit;

import dev.oncely.DedupStore;
import dev.oncely.ProcessingContext;
import java.time.Duration;
import java.util.Optional;

/**
 * What every piece of the conformance suite needs from a store's test: the store under test, the effects its
 * handlers write, the claims it holds, a caller's transaction and its clock. A store's test class implements this
 * once and then the pieces it supports ({@link ClaimContract}, {@link ConcurrencyContract},
 * {@link CallerTransactionContract}, {@link BatchContract}, {@link ReplayAndFingerprintContract},
 * {@link RetentionContract}, {@link BadInputContract}, {@link ClaimWithResultContract},
 * {@link KeyWrittenLastContract}), or all of them through {@link DedupStoreContract}. Every case
 * asks only what {@link #capabilities()} says the store promises.
 *
 * <p>Each test starts from empty tables: {@link #store()} must return a store whose claim table and effect
 * table are empty when the test calls it.
 */
public interface StoreFixture {

    /** The table a store uses when none is named. */
    String DEFAULT_TABLE = "processed_events";

    /** A store on the default table; its claims and the effects are empty when a test starts. */
    DedupStore store() throws Exception;

    /** A store on another table, which exists and is empty. */
    DedupStore storeOnTable(String table) throws Exception;

    /** Writes one business effect for the context's consumer and key, in its transaction where there is one. */
    void recordEffect(ProcessingContext context) throws Exception;

    /** How many effects are committed for a consumer and key. */
    long effects(String consumer, String key) throws Exception;

    /** How many effects are committed in all. */
    long totalEffects() throws Exception;

    /**
     * How many claims are committed in the table (default table: {@code processed_events}): keys holding one. A
     * store that may write a key into two places counts it once; one that keeps expired keys until it drops a
     * whole partition ({@link StoreCapabilities#purgesSingleKeys()} false) counts only unexpired ones.
     */
    long claimRows(String table) throws Exception;

    /** Begins a caller's transaction on the store's database. */
    OpenTransaction beginTransaction() throws Exception;

    /**
     * A caller transaction in autocommit mode, when {@link StoreCapabilities#rejectsAutocommit()}; the
     * returned resource is closed by the test.
     */
    default Optional<OpenTransaction> autocommitTransaction() throws Exception {
        return Optional.empty();
    }

    /** Lets at least {@code duration} pass on the store's clock (advance a test clock, or sleep). */
    void letStoreClockPass(Duration duration) throws Exception;

    /** What the store promises; the cases ask nothing more of it. */
    StoreCapabilities capabilities();

    /** A test message: the key and a payload. */
    record Msg(String key, String payload) {
        static Msg of(String key) {
            return new Msg(key, "payload-of-" + key);
        }
    }

    /** An exception a handler throws on purpose. */
    final class Boom extends Exception {
        public Boom(String message) {
            super(message);
        }
    }
}
