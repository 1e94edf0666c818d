package dev.oncely.http;

/**
 * What happens to the key when a request fails after it started running: a 5xx response
 * ({@link IdempotencyFilter.Builder#onServerError}) or an exception out of the handler
 * ({@link IdempotencyFilter.Builder#onException}). See docs/http.md, "Failures".
 */
public enum FailurePolicy {

    /**
     * The request ran; its answer is kept for the key and replayed to every retry (Stripe's behaviour). For a 5xx
     * response, the handler's database writes commit with it. For an exception, they were rolled back: a 500
     * problem is recorded for the key in a transaction of its own, so a retry gets that 500, not a new run.
     */
    KEEP_RESULT,

    /**
     * Nothing is kept: the handler's database writes and the key's claim roll back together, and the client may
     * retry with the same key, which runs the request again. For a 5xx response, that response is sent (and not
     * stored); an exception goes on to the container unchanged.
     */
    RELEASE_KEY
}
