package dev.oncely;

/**
 * The root of every failure Oncely itself reports: a database error during a claim, a commit that failed, a
 * store that is misconfigured. An exception thrown by <em>your</em> handler is never wrapped: it reaches the
 * caller as the same instance, after the transaction has been rolled back.
 *
 * <p>Messages are part of the API: they say what went wrong and what to do about it.
 */
public class OncelyException extends RuntimeException {

    public OncelyException(String message) {
        super(message);
    }

    public OncelyException(String message, Throwable cause) {
        super(message, cause);
    }
}
