package dev.oncely.testkit;

/**
 * What a store can do, so the conformance suite asks of each store only what it promises, without naming
 * databases.
 *
 * @param transactionalEffects  business writes made through the context roll back with the claim (false for
 *                              the in-memory store, which has no transaction for them)
 * @param rejectsAutocommit     joining a caller's connection in autocommit mode is refused (JDBC stores)
 * @param concurrentClaimsWait  a claim of a key another open transaction holds waits for that transaction and
 *                              then reports a duplicate or claims, instead of failing
 */
public record StoreCapabilities(boolean transactionalEffects, boolean rejectsAutocommit,
                                boolean concurrentClaimsWait) {

    /** A relational database store with full semantics. */
    public static StoreCapabilities database() {
        return new StoreCapabilities(true, true, true);
    }

    /** The in-memory store. */
    public static StoreCapabilities inMemory() {
        return new StoreCapabilities(false, false, true);
    }
}
