package dev.oncely;

import java.time.Instant;

/**
 * The idempotency key was processed before with a different payload fingerprint. This is almost always a
 * producer bug (two different events share one key), so it is reported as a failure rather than silently
 * treated as a duplicate: route the message to a dead-letter destination and fix the key.
 *
 * <p>Nothing was written: the transaction that detected the conflict is rolled back (or, when you process
 * inside your own transaction, left untouched and usable).
 */
public final class PayloadConflictException extends OncelyException {

    private final String consumer;
    private final String key;
    private final Instant firstProcessedAt;

    public PayloadConflictException(String consumer, String key, Instant firstProcessedAt) {
        super("Key '" + key + "' of consumer '" + consumer + "' was first processed at " + firstProcessedAt
                + " with a different payload fingerprint. Two different messages share one idempotency key: fix the"
                + " key the producer sends (or the key extractor), and dead-letter this message instead of retrying it.");
        this.consumer = consumer;
        this.key = key;
        this.firstProcessedAt = firstProcessedAt;
    }

    public String consumer() {
        return consumer;
    }

    public String key() {
        return key;
    }

    public Instant firstProcessedAt() {
        return firstProcessedAt;
    }
}
