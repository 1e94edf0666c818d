package dev.oncely;

/**
 * The message cannot be processed as it is: its idempotency key is missing, blank, too long or not a valid
 * string, or the key extractor or fingerprint function failed on it. Nothing was written.
 *
 * <p>What to do: dead-letter the message (retrying it gives the same answer) and fix the producer or the key
 * extractor. The cause, if any, is what the key extractor or fingerprint function threw.
 */
public class InvalidMessageException extends OncelyException {

    public InvalidMessageException(String message) {
        super(message);
    }

    public InvalidMessageException(String message, Throwable cause) {
        super(message, cause);
    }
}
