package dev.oncely.spi;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * What a claim found.
 *
 * @param claimed        true if this transaction now holds the key; false if it was processed before
 * @param processedAt    for a fresh claim, now; for a duplicate, when the key was first processed
 * @param fingerprint    for a duplicate, the fingerprint stored with the first claim
 * @param result         for a duplicate whose request asked for it, the stored encoded result
 */
public record ClaimResult(boolean claimed, Instant processedAt, Optional<String> fingerprint,
                          Optional<byte[]> result) {

    public ClaimResult {
        Objects.requireNonNull(processedAt, "processedAt");
        Objects.requireNonNull(fingerprint, "fingerprint");
        Objects.requireNonNull(result, "result");
    }

    public static ClaimResult claimed(Instant processedAt) {
        return new ClaimResult(true, processedAt, Optional.empty(), Optional.empty());
    }

    public static ClaimResult duplicate(Instant firstProcessedAt, Optional<String> fingerprint,
                                        Optional<byte[]> result) {
        return new ClaimResult(false, firstProcessedAt, fingerprint, result);
    }
}
