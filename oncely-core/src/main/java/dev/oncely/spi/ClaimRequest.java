package dev.oncely.spi;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * One key to claim, already validated by {@link dev.oncely.IdempotentHandler}.
 *
 * @param consumer    the consumer scope
 * @param key         the idempotency key
 * @param fingerprint hex SHA-256 of the payload, stored with a fresh claim and returned for a duplicate
 * @param retention   how long the claim lasts, by the store's clock; empty means forever
 * @param loadResult  whether a duplicate must return its stored result
 */
public record ClaimRequest(String consumer, String key, Optional<String> fingerprint, Optional<Duration> retention,
                           boolean loadResult) {

    public ClaimRequest {
        Objects.requireNonNull(consumer, "consumer");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(fingerprint, "fingerprint");
        Objects.requireNonNull(retention, "retention");
    }
}
