package dev.oncely;

/**
 * The key is parked as failed ({@link LeasedHandler}): its runs failed or lost their lease {@link #attempts()}
 * times, the last with {@link #lastError()}. Nothing was done. Dead-letter the message: redelivering it cannot help
 * until an operator makes the key acquirable again ({@code store.leases().retryFailed(consumer, key)}, or the CLI).
 * An {@link InvalidMessageException}, so adapters that dead-letter those dead-letter this too.
 */
public class KeyFailedException extends InvalidMessageException {

    private final String consumer;
    private final String key;
    private final int attempts;
    private final String lastError;

    public KeyFailedException(String consumer, String key, int attempts, String lastError) {
        super("Key '" + key + "' of consumer '" + consumer + "' is parked as failed after " + attempts + " attempt"
                + (attempts == 1 ? "" : "s") + " (last error: " + lastError + "). Nothing was done: dead-letter the"
                + " message, fix the cause, then make the key acquirable again with"
                + " store.leases().get().retryFailed(consumer, key) and redeliver it.");
        this.consumer = consumer;
        this.key = key;
        this.attempts = attempts;
        this.lastError = lastError;
    }

    public String consumer() {
        return consumer;
    }

    public String key() {
        return key;
    }

    public int attempts() {
        return attempts;
    }

    /** The class name of the last run's exception, or {@code "lease expired"}. */
    public String lastError() {
        return lastError;
    }
}
