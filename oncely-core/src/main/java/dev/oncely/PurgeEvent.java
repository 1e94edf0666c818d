package dev.oncely;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * What one run of a {@link RetentionPurger} did ({@link RetentionPurger#purgeNow()}, or a background run), handed to
 * {@link OncelyListener#purgeEnded}. Immutable.
 */
public final class PurgeEvent {

    private final String store;
    private final long deleted;
    private final long chunks;
    private final long durationNanos;
    private final RuntimeException failure;

    PurgeEvent(String store, long deleted, long chunks, long durationNanos, RuntimeException failure) {
        this.store = Objects.requireNonNull(store, "store");
        this.deleted = deleted;
        this.chunks = chunks;
        this.durationNanos = durationNanos;
        this.failure = failure;
    }

    /** The store's {@link DedupStore#describe() description}, such as its table. */
    public String store() {
        return store;
    }

    /** Expired keys deleted by the run, failed runs included (chunks that committed before the failure). */
    public long deleted() {
        return deleted;
    }

    /** Chunks that committed in the run. */
    public long chunks() {
        return chunks;
    }

    /** The whole run, pauses between chunks included. */
    public Duration duration() {
        return Duration.ofNanos(durationNanos);
    }

    /** The failure that ended the run, if it failed. */
    public Optional<RuntimeException> failure() {
        return Optional.ofNullable(failure);
    }

    @Override
    public String toString() {
        return "PurgeEvent{store=" + store + ", deleted=" + deleted + ", chunks=" + chunks + ", duration="
                + duration() + (failure == null ? "" : ", failure=" + failure.getClass().getName()) + '}';
    }
}
