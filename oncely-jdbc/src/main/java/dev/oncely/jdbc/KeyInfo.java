package dev.oncely.jdbc;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * What the dedup table holds for one key, as {@link DedupTableAdmin#explain} read it.
 *
 * @param consumer           the consumer scope
 * @param key                the idempotency key
 * @param state              processed (a live claim), expired (its next delivery is processed again), or in
 *                           progress (an open transaction holds the claim now)
 * @param firstProcessedAt   when the claim was made, by the database clock; empty while in progress and not
 *                           committed yet
 * @param expiresAt          when the claim expires; empty if it never does (or is not committed yet)
 * @param resultBytes        the size of the stored result; empty if none is stored
 * @param fingerprintPresent whether a payload fingerprint is stored with the claim
 */
public record KeyInfo(String consumer, String key, State state, Optional<Instant> firstProcessedAt,
                      Optional<Instant> expiresAt, OptionalLong resultBytes, boolean fingerprintPresent) {

    /** The state of a key's claim. */
    public enum State {
        /** Committed and not expired: a redelivery is reported as a duplicate. */
        PROCESSED,
        /** Committed and expired: a redelivery is processed again (the purge removes it eventually). */
        EXPIRED,
        /** Held by an open transaction: being processed right now; it commits or rolls back soon. */
        IN_PROGRESS
    }

    public KeyInfo {
        Objects.requireNonNull(consumer, "consumer");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(firstProcessedAt, "firstProcessedAt");
        Objects.requireNonNull(expiresAt, "expiresAt");
        Objects.requireNonNull(resultBytes, "resultBytes");
    }
}
