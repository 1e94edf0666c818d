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
 * @param purgesSingleKeys      {@code purgeExpired} deletes each expired key as soon as it has expired (false for
 *                              a store that removes expired keys in whole time partitions, later)
 */
public record StoreCapabilities(boolean transactionalEffects, boolean rejectsAutocommit,
                                boolean concurrentClaimsWait, boolean purgesSingleKeys) {

    /** The first three capabilities; expired keys are purged one by one. */
    public StoreCapabilities(boolean transactionalEffects, boolean rejectsAutocommit, boolean concurrentClaimsWait) {
        this(transactionalEffects, rejectsAutocommit, concurrentClaimsWait, true);
    }

    /** A relational database store with full semantics. */
    public static StoreCapabilities database() {
        return new StoreCapabilities(true, true, true, true);
    }

    /** The in-memory store. */
    public static StoreCapabilities inMemory() {
        return new StoreCapabilities(false, false, true, true);
    }

    /** These capabilities for a store that drops expired keys in whole partitions rather than one by one. */
    public StoreCapabilities purgingWholePartitions() {
        return new StoreCapabilities(transactionalEffects, rejectsAutocommit, concurrentClaimsWait, false);
    }
}
