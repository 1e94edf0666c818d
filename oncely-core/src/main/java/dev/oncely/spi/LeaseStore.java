package dev.oncely.spi;

import java.time.Duration;
import java.util.Optional;

/**
 * The lease operations of a {@link dev.oncely.DedupStore}, for {@link dev.oncely.LeasedHandler}: each one is a
 * short transaction of its own (a single statement where it can be), committed before it returns, so that no
 * transaction and no connection is held while a leased run works. Times (lease expiry) are by the store's clock.
 * See {@code docs/external-effects.md} for the state machine and {@code docs/writing-a-store.md} for what a store
 * must guarantee; {@code LeaseContract} in {@code oncely-testkit} checks it.
 *
 * <p>Implementations are thread-safe.
 */
public interface LeaseStore {

    /**
     * Looks the key up and, if nobody holds a live lease on it and it is neither completed nor failed, takes it:
     * a new record (attempt 1), an expired one rewritten (attempt 1, earlier steps and result dropped), or a
     * record whose lease ran out taken over (attempt + 1, its steps kept), all with a fresh token. A record whose
     * lease ran out at attempt {@code maxAttempts} is parked as failed instead. Concurrent calls for one key:
     * exactly one gets {@link LeaseAnswer.Acquired}.
     */
    LeaseAnswer acquire(LeaseRequest request);

    /**
     * Marks the record completed, with {@code result} if present, if it still holds {@code lease}'s token
     * (whether or not the lease's time ran out). Returns false, writing nothing, if it does not: another run took
     * the key over, or the record was released, purged or reset.
     */
    boolean complete(LeaseToken lease, Optional<byte[]> result);

    /** Moves the lease's expiry to {@code lease} from now, if the record still holds the token; else false. */
    boolean renew(LeaseToken lease, Duration leaseDuration);

    /**
     * Replaces the record's recorded steps with {@code steps} and renews the lease, if the record still holds the
     * token; else false. The steps are opaque to the store.
     */
    boolean recordSteps(LeaseToken lease, byte[] steps, Duration leaseDuration);

    /**
     * Gives the key up after a failed run, if the record still holds the token: the lease ends now (the next
     * delivery takes over with attempt + 1, keeping the steps), or, with {@code park}, the record becomes failed.
     * {@code error} (at most 255 characters) is stored as the last error. Returns false if the token is stale.
     */
    boolean release(LeaseToken lease, String error, boolean park);

    /**
     * For operators: makes a failed record acquirable again (attempt 0, lease over, steps kept). Returns false if
     * the key has no failed record.
     */
    boolean retryFailed(String consumer, String key);
}
