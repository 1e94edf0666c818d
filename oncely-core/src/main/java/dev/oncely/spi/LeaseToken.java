package dev.oncely.spi;

import java.util.Objects;

/**
 * Proof of holding a key's lease: the token written with it and the attempt number. Every write of a leased run
 * ({@link LeaseStore#complete}, {@link LeaseStore#renew}, {@link LeaseStore#recordSteps}, {@link LeaseStore#release})
 * is fenced by it: it succeeds only while the record still holds this token, so a holder whose lease was taken
 * over can no longer write.
 *
 * @param consumer the consumer scope of the key
 * @param key      the idempotency key
 * @param token    a random token, unique per acquisition
 * @param attempt  1 for the first run of the key, one more for each takeover
 */
public record LeaseToken(String consumer, String key, String token, int attempt) {

    public LeaseToken {
        Objects.requireNonNull(consumer, "consumer");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(token, "token");
    }

    @Override
    public String toString() {
        // The token is a capability; keep it out of logs.
        return "LeaseToken[" + consumer + "/" + key + ", attempt " + attempt + "]";
    }
}
