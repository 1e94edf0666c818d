package dev.oncely;

import dev.oncely.internal.Fingerprints;
import dev.oncely.internal.Validation;
import java.time.Instant;
import java.util.Optional;
import java.util.function.Function;

/** A handler's key extraction, fingerprints and replay decoding: what every handler type does alike. */
final class MessageKeys<M> {

    private final String consumer;
    private final Function<? super M, String> keyExtractor;
    private final Function<? super M, byte[]> fingerprint;
    /** The advice of a refused key's message, built once. */
    private final String howToFixKeys;

    MessageKeys(String consumer, Function<? super M, String> keyExtractor, Function<? super M, byte[]> fingerprint) {
        this.consumer = consumer;
        this.howToFixKeys = "Fix the key extractor of consumer '" + consumer + "' so that every message has a unique,"
                + " non-blank key of at most " + IdempotentHandler.MAX_KEY_LENGTH + " characters.";
        this.keyExtractor = keyExtractor;
        this.fingerprint = fingerprint;
    }

    String keyOf(M message) {
        if (message == null) {
            throw new InvalidMessageException("The message is null: consumer '" + consumer + "' cannot extract an"
                    + " idempotency key from it. Pass the message object itself (a record, a delivery, an event),"
                    + " never null. Nothing was written.");
        }
        String key;
        try {
            key = keyExtractor.apply(message);
        } catch (RuntimeException e) {
            throw new InvalidMessageException("The key extractor of consumer '" + consumer + "' failed on "
                    + describe(message) + ": " + e.getMessage(), e);
        }
        try {
            // The subject names the message: built only when the key is refused.
            return Validation.checkText(() -> "The idempotency key of " + describe(message), key,
                    IdempotentHandler.MAX_KEY_LENGTH, howToFixKeys);
        } catch (IllegalArgumentException e) {
            throw new InvalidMessageException(e.getMessage());
        }
    }

    Optional<String> fingerprintOf(M message, String key) {
        if (fingerprint == null) {
            return Optional.empty();
        }
        byte[] payload;
        try {
            payload = fingerprint.apply(message);
        } catch (RuntimeException e) {
            throw new InvalidMessageException("The fingerprint function of consumer '" + consumer
                    + "' failed on the message with key '" + key + "': " + e.getMessage(), e);
        }
        if (payload == null) {
            throw new InvalidMessageException("The fingerprint function of consumer '" + consumer
                    + "' returned null for the message with key '" + key + "': return the payload bytes.");
        }
        return Optional.of(Fingerprints.sha256Hex(payload));
    }

    void checkFingerprint(String key, Optional<String> requested, Optional<String> stored, Instant firstAt) {
        if (requested.isPresent() && stored.isPresent() && !requested.get().equals(stored.get())) {
            throw new PayloadConflictException(consumer, key, firstAt);
        }
    }

    <R> R decode(ResultCodec<R> codec, String key, Optional<byte[]> stored, Instant firstAt) {
        if (codec == null || stored.isEmpty()) {
            return null;
        }
        try {
            return codec.decode(stored.get());
        } catch (Exception e) {
            throw new MisconfigurationException("The stored result of key '" + key + "' of consumer '" + consumer
                    + "' (first processed at " + firstAt + ") could not be decoded by " + codec.getClass().getName()
                    + ": " + e + ". The message was not processed again. Make the codec read what earlier versions"
                    + " wrote.", e);
        }
    }

    <R> byte[] encode(ResultCodec<R> codec, String key, R result) {
        byte[] bytes;
        try {
            bytes = codec.encode(result);
        } catch (Exception e) {
            throw new MisconfigurationException("The result codec " + codec.getClass().getName() + " failed to encode"
                    + " the result of key '" + key + "' of consumer '" + consumer + "': " + e
                    + ". The transaction was rolled back; fix the codec.", e);
        }
        if (bytes == null) {
            throw new MisconfigurationException("The result codec " + codec.getClass().getName() + " returned null for"
                    + " the result of key '" + key + "' of consumer '" + consumer + "'. Return bytes, or return"
                    + " null from the handler when there is no result.");
        }
        return bytes;
    }

    static String describe(Object message) {
        String text = String.valueOf(message);
        return "message " + (text.length() > 80 ? text.substring(0, 77) + "..." : text);
    }
}
