package dev.oncely.testkit;

import dev.oncely.DedupStore;

/**
 * The whole conformance suite every {@link DedupStore} passes: all its pieces in one. Implement it and the
 * {@link StoreFixture} methods, and run it with JUnit; every case asks only what {@link #capabilities()} says the
 * store promises. A store that supports only some concerns (no caller's transaction, no waiting on a concurrent
 * claim) implements {@link StoreFixture} and the pieces it supports instead.
 *
 * <pre>{@code
 * class MyStoreContractTest implements DedupStoreContract {
 *     public DedupStore store() { ... }
 *     ...
 * }
 * }</pre>
 */
public interface DedupStoreContract extends ClaimContract, ConcurrencyContract, CallerTransactionContract,
        BatchContract, ReplayAndFingerprintContract, RetentionContract, BadInputContract, ClaimWithResultContract,
        KeyWrittenLastContract {
}
