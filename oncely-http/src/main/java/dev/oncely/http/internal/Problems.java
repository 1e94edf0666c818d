package dev.oncely.http.internal;

import java.time.Instant;

/** Every problem the filter answers with; their texts are API (docs/http.md lists them). */
public final class Problems {

    private Problems() {
    }

    public static Problem keyMissing() {
        return Problem.of(400, "idempotency-key-missing", "Idempotency-Key header missing",
                "This request requires an Idempotency-Key header. Send a unique value per operation, as a"
                        + " structured-field string, e.g. Idempotency-Key: \"8e03978e-40d5-43e8-bc93-6894a57f9324\","
                        + " and send the same value again when you retry it.");
    }

    public static Problem keyMalformed(String reason) {
        return Problem.of(400, "idempotency-key-malformed", "Idempotency-Key header malformed",
                "The Idempotency-Key header must be one structured-field string: 1 to " + KeyHeader.MAX_LENGTH
                        + " printable ASCII characters in double quotes, e.g. Idempotency-Key:"
                        + " \"8e03978e-40d5-43e8-bc93-6894a57f9324\"; here " + reason + ". Nothing was processed;"
                        + " fix the header and send the request again.");
    }

    public static Problem clientUnidentified() {
        return Problem.of(401, "client-unidentified", "Client not identified",
                "Idempotency keys are kept per client, and this request's client could not be identified."
                        + " Authenticate (or send the API key) and send the request again with the same"
                        + " Idempotency-Key. Nothing was processed.");
    }

    public static Problem requestTooLarge(int limit) {
        return Problem.of(413, "request-too-large", "Request body too large",
                "Requests with an Idempotency-Key are fingerprinted whole, and this body is larger than " + limit
                        + " bytes. Nothing was processed; send a smaller body.");
    }

    public static Problem keyReused(Instant firstUsedAt) {
        return Problem.of(422, "idempotency-key-reused", "Idempotency-Key reused with another request",
                "This Idempotency-Key was first used at " + firstUsedAt + " with a different request (method, path,"
                        + " body or fingerprinted headers). Nothing was processed. To retry the first request, send"
                        + " it unchanged; to make a new request, use a new key.");
    }

    /**
     * @param leased whether the handler ran under a lease (its effects stand) rather than in a transaction (its
     *               writes rolled back)
     */
    public static Problem responseTooLarge(int limit, boolean leased) {
        return Problem.of(500, "response-too-large", "Response too large to keep",
                "The response to this request is larger than the " + limit + " bytes this API keeps for"
                        + " idempotent replays, so it was not sent and " + (leased
                        ? "not kept (what the request did before it answered was not undone)"
                        : "nothing was committed") + "; the key is free again."
                        + " Retrying will fail the same way: report it to the API's operator.");
    }

    /** @param leased as for {@link #responseTooLarge} */
    public static Problem requestFailed(boolean leased) {
        return Problem.of(500, "request-failed", "Request failed",
                "The request failed with an unexpected error after it started; " + (leased
                        ? "what it did before it failed was not undone" : "its database writes were rolled back")
                        + ". This answer is kept for the Idempotency-Key and replayed to retries: to try the"
                        + " operation again, send it with a new key.");
    }

    public static Problem keyInProgress(long retryAfterSeconds) {
        return Problem.of(409, "idempotency-key-in-progress", "Request with this Idempotency-Key in progress",
                "A request with this Idempotency-Key is being processed right now (or its server stopped while"
                        + " processing it, and its lease has not run out). Nothing was done. Retry with the same key"
                        + " after the Retry-After delay (" + retryAfterSeconds + " s): you will get its response"
                        + " replayed, or, if it never finished, the request will be processed then.");
    }

    public static Problem keyFailed(int attempts) {
        return Problem.of(500, "idempotency-key-failed", "Request with this Idempotency-Key failed",
                "This request failed " + attempts + " time" + (attempts == 1 ? "" : "s") + " under this"
                        + " Idempotency-Key and the key is now parked as failed: retries with it get this answer"
                        + " until the API's operator releases it. What the failed attempts did was not undone."
                        + " Report it to the API's operator before you try the operation again with a new key.");
    }

    public static Problem leaseLost() {
        return Problem.of(503, "idempotency-lease-lost", "Request overtaken by a retry",
                "This request took longer than its lease, and a retry with the same Idempotency-Key took it"
                        + " over, so this response was not kept and is not the request's answer. Retry with the same"
                        + " key after the Retry-After delay: you will get the retry's response replayed.");
    }

    public static Problem leaseOutcomeUnknown() {
        return Problem.of(503, "idempotency-outcome-unknown", "Outcome unknown",
                "The request ran, but its response could not be recorded under its Idempotency-Key (the database"
                        + " is unavailable or busy). Retry with the same key after the Retry-After delay: you will"
                        + " get its response replayed if it was recorded; otherwise, once its lease ran out, the"
                        + " request will be processed again.");
    }

    public static Problem storeUnavailable() {
        return Problem.of(503, "idempotency-store-unavailable", "Idempotency store unavailable",
                "The request could not be recorded under its Idempotency-Key (the database is unavailable or"
                        + " busy) and nothing was committed. Retry with the same key after the Retry-After delay.");
    }

    public static Problem outcomeUnknown() {
        return Problem.of(503, "idempotency-outcome-unknown", "Outcome unknown",
                "The request's commit failed and its outcome is not known here (the connection to the database"
                        + " was lost during the commit, or the transaction manager refused a transaction marked"
                        + " rollback-only): it was processed either completely or not at all. Retry with the same"
                        + " key after the Retry-After delay: you will get the first response replayed, or the"
                        + " request will be processed now.");
    }

    public static Problem noStoredResponse() {
        return Problem.of(500, "idempotency-response-missing", "Stored response missing",
                "This Idempotency-Key was processed before, but no response was stored with it (the key was"
                        + " recorded by something other than this API's idempotency filter). Use a new key.");
    }
}
