package dev.oncely;

import java.time.Duration;

/**
 * Another run holds a live lease on the key ({@link LeasedHandler}): the message is being processed right now, or
 * its holder crashed and the lease has not run out yet. Nothing was done. Requeue the message with a delay of about
 * {@link #retryAfter()} (an HTTP layer answers 409 with {@code Retry-After}); the redelivery then finds the first
 * run's outcome, or takes the key over if that run died. A {@link TransientStoreException}, so adapters that
 * requeue those requeue this too.
 */
public class KeyInProgressException extends TransientStoreException {

    private final String consumer;
    private final String key;
    private final int attempt;
    private final Duration retryAfter;

    public KeyInProgressException(String consumer, String key, int attempt, Duration retryAfter) {
        super("Key '" + key + "' of consumer '" + consumer + "' is being processed by another run (attempt " + attempt
                + "), whose lease runs for about " + retryAfter.toMillis() + " ms more. Nothing was done: requeue"
                + " the message with a delay; its redelivery gets the first run's outcome, or takes over if that run"
                + " died.");
        this.consumer = consumer;
        this.key = key;
        this.attempt = attempt;
        this.retryAfter = retryAfter;
    }

    public String consumer() {
        return consumer;
    }

    public String key() {
        return key;
    }

    /** The attempt number of the run holding the key. */
    public int attempt() {
        return attempt;
    }

    /** About how long until the holder's lease runs out (it may be renewed); at least a millisecond. */
    public Duration retryAfter() {
        return retryAfter;
    }
}
