package dev.oncely;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * What happened to one message: it was {@linkplain #isProcessed() processed} now, or it is a
 * {@linkplain #isDuplicate() duplicate} of one processed before.
 *
 * <p>{@link #result()} is the handler's fresh result for a processed message. For a duplicate it is the result
 * of the first run, replayed from the store, when the handler was built with a {@link ResultCodec}; otherwise
 * it is empty. {@link #firstProcessedAt()} is when the key was first processed, by the store's clock (the
 * database clock for database stores).
 *
 * @param <R> the handler's result type
 */
public final class Outcome<R> {

    /** Whether the handler ran for this delivery. */
    public enum Status {
        /** The key was claimed now and the handler ran; its effects committed with the claim. */
        PROCESSED,
        /** The key was processed before (or earlier in the same batch); the handler did not run. */
        DUPLICATE
    }

    private final Status status;
    private final String key;
    private final Instant firstProcessedAt;
    private final R result;

    private Outcome(Status status, String key, Instant firstProcessedAt, R result) {
        this.status = Objects.requireNonNull(status, "status");
        this.key = Objects.requireNonNull(key, "key");
        this.firstProcessedAt = Objects.requireNonNull(firstProcessedAt, "firstProcessedAt");
        this.result = result;
    }

    /** A message processed now. {@code result} may be null when the handler returns none. */
    public static <R> Outcome<R> processed(String key, Instant processedAt, R result) {
        return new Outcome<>(Status.PROCESSED, key, processedAt, result);
    }

    /** A duplicate. {@code replayedResult} is null when no result is replayed. */
    public static <R> Outcome<R> duplicate(String key, Instant firstProcessedAt, R replayedResult) {
        return new Outcome<>(Status.DUPLICATE, key, firstProcessedAt, replayedResult);
    }

    public Status status() {
        return status;
    }

    public boolean isProcessed() {
        return status == Status.PROCESSED;
    }

    public boolean isDuplicate() {
        return status == Status.DUPLICATE;
    }

    /** The idempotency key the message was deduplicated by. */
    public String key() {
        return key;
    }

    /** When the key was first processed, by the store's clock. For a processed message, that is now. */
    public Instant firstProcessedAt() {
        return firstProcessedAt;
    }

    /** The fresh result, or for a duplicate the replayed one (only with a {@link ResultCodec}). */
    public Optional<R> result() {
        return Optional.ofNullable(result);
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof Outcome<?> other)) {
            return false;
        }
        return status == other.status && key.equals(other.key) && firstProcessedAt.equals(other.firstProcessedAt)
                && Objects.equals(result, other.result);
    }

    @Override
    public int hashCode() {
        return Objects.hash(status, key, firstProcessedAt, result);
    }

    @Override
    public String toString() {
        return "Outcome{" + status + ", key=" + key + ", firstProcessedAt=" + firstProcessedAt
                + (result == null ? "" : ", result=" + result) + '}';
    }
}
