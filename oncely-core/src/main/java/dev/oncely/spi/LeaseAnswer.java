package dev.oncely.spi;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * What {@link LeaseStore#acquire} found for a key: one of four states of its record.
 *
 * <pre>
 *   (no record, or expired) --acquire--> IN_PROGRESS(attempt 1)
 *   IN_PROGRESS, lease live  --acquire--> answer InProgress, nothing written
 *   IN_PROGRESS, lease over  --acquire--> IN_PROGRESS(attempt + 1), or FAILED when attempt reached maxAttempts
 *   IN_PROGRESS --complete(token)--> COMPLETED          --release(token)--> IN_PROGRESS, lease over (or FAILED)
 *   FAILED --retryFailed (operator)--> IN_PROGRESS, lease over, attempt 0
 * </pre>
 */
public sealed interface LeaseAnswer {

    /** The fingerprint stored with the record's first acquisition, if any. */
    Optional<String> fingerprint();

    /** When the record was first acquired, by the store's clock. */
    Instant firstClaimedAt();

    /**
     * The caller now holds the key. {@code steps} are the steps recorded by earlier attempts (empty on attempt 1),
     * as {@link LeaseStore#recordSteps} stored them.
     */
    record Acquired(LeaseToken lease, Instant firstClaimedAt, Optional<String> fingerprint, Optional<byte[]> steps)
            implements LeaseAnswer {
        public Acquired {
            Objects.requireNonNull(lease, "lease");
            Objects.requireNonNull(firstClaimedAt, "firstClaimedAt");
            Objects.requireNonNull(fingerprint, "fingerprint");
            Objects.requireNonNull(steps, "steps");
        }
    }

    /** The key was completed before: a duplicate; {@code result} when asked for and stored. */
    record Completed(Instant firstClaimedAt, Optional<String> fingerprint, Optional<byte[]> result)
            implements LeaseAnswer {
        public Completed {
            Objects.requireNonNull(firstClaimedAt, "firstClaimedAt");
            Objects.requireNonNull(fingerprint, "fingerprint");
            Objects.requireNonNull(result, "result");
        }
    }

    /** Another run holds a live lease on the key, attempt {@code attempt}, for about {@code leaseLeft} more. */
    record InProgress(Instant firstClaimedAt, Optional<String> fingerprint, int attempt, Duration leaseLeft)
            implements LeaseAnswer {
        public InProgress {
            Objects.requireNonNull(firstClaimedAt, "firstClaimedAt");
            Objects.requireNonNull(fingerprint, "fingerprint");
            Objects.requireNonNull(leaseLeft, "leaseLeft");
        }
    }

    /**
     * The key is parked: {@code attempts} runs failed or lost their lease. {@code lastError} names the last
     * failure (an exception class, or {@code "lease expired"}). Only {@link LeaseStore#retryFailed} releases it.
     */
    record Failed(Instant firstClaimedAt, Optional<String> fingerprint, int attempts, String lastError)
            implements LeaseAnswer {
        public Failed {
            Objects.requireNonNull(firstClaimedAt, "firstClaimedAt");
            Objects.requireNonNull(fingerprint, "fingerprint");
            Objects.requireNonNull(lastError, "lastError");
        }
    }
}
