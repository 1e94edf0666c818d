package dev.oncely.spi;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * What {@link LeaseStore#acquire} is asked for: one key of one consumer, to be held for {@code lease} by a run that
 * works outside any transaction.
 *
 * @param consumer    the consumer scope of the key
 * @param key         the idempotency key
 * @param fingerprint the payload's fingerprint, stored with a new record and returned with an existing one
 * @param retention   how long the record is kept from its first acquisition, by the store's clock; empty: forever
 * @param lease       how long the run holds the key before another delivery may take it over
 * @param maxAttempts the attempt at which the key is parked as {@link LeaseAnswer.Failed failed} instead of taken
 *                    over: a record whose attempt {@code maxAttempts} lost its lease (the holder crashed or was too
 *                    slow) becomes failed
 * @param loadResult  whether a completed record's stored result is returned
 */
public record LeaseRequest(String consumer, String key, Optional<String> fingerprint, Optional<Duration> retention,
                           Duration lease, int maxAttempts, boolean loadResult) {

    public LeaseRequest {
        Objects.requireNonNull(consumer, "consumer");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(fingerprint, "fingerprint");
        Objects.requireNonNull(retention, "retention");
        Objects.requireNonNull(lease, "lease");
        if (lease.isNegative() || lease.isZero()) {
            throw new IllegalArgumentException("lease must be positive, was " + lease);
        }
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be at least 1, was " + maxAttempts);
        }
    }

    /**
     * The claim request of the same key, for stores that claim the record's row first. It never loads the stored
     * result: a lease store must read the result together with the record's state (one read), since a completion
     * can land between two reads.
     */
    public ClaimRequest asClaim() {
        return new ClaimRequest(consumer, key, fingerprint, retention, false);
    }
}
