package dev.oncely.examples.lease;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The consumer's side of the payment API, with the faults of {@link Fault} injected around the call. A crash
 * calls {@link Crash#now()}: the thread stops there for good, as a killed process would, holding whatever it held.
 */
final class PaymentClient {

    /** The caller's timeout; a response held longer is lost to it. Shorter than the lease, as it must be. */
    static final Duration TIMEOUT = Duration.ofSeconds(1);
    /** How long the service holds a request whose caller dies during the call. */
    static final long HOLD_MS = 200;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final URI charges;
    private final Consumer<String> stall;

    /**
     * @param stall what a {@link Fault#STALL_PAST_LEASE} run does after the call: waits (given the event id) until
     *              another consumer has handled the event's redelivery, so it wakes up after the takeover
     */
    PaymentClient(URI charges, Consumer<String> stall) {
        this.charges = charges;
        this.stall = stall;
    }

    /** The service refused or failed the call; the charge may or may not have happened. */
    static final class PaymentFailed extends Exception {
        private static final long serialVersionUID = 1L;

        PaymentFailed(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Charges the event's customer; returns the charge id. With {@code idempotencyKey}, the service charges once
     * per key.
     */
    String charge(ChargeEvent event, Optional<String> idempotencyKey, Fault fault, Crash crash) throws PaymentFailed {
        if (fault == Fault.CRASH_BEFORE_CALL) {
            crash.now();
        }
        Map<String, String> form = new LinkedHashMap<>();
        form.put("event", event.eventId());
        form.put("customer", event.customer());
        form.put("cents", Long.toString(event.cents()));
        HttpRequest.Builder request = HttpRequest.newBuilder(charges).timeout(TIMEOUT)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(PaymentService.Form.encode(form)));
        idempotencyKey.ifPresent(key -> request.header("Idempotency-Key", key));
        if (fault == Fault.CRASH_DURING_CALL) {
            request.header("X-Hold-Ms", Long.toString(HOLD_MS));
            http.sendAsync(request.build(), HttpResponse.BodyHandlers.discarding());
            crash.now(); // dies while the service holds the request; the service charges anyway
        }
        if (fault == Fault.RESPONSE_LOST) {
            request.header("X-Delay-Response-Ms", Long.toString(TIMEOUT.toMillis() * 2));
        }
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new PaymentFailed("charging " + event.eventId() + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PaymentFailed("interrupted while charging " + event.eventId(), e);
        }
        if (response.statusCode() != 200) {
            throw new PaymentFailed("charging " + event.eventId() + " answered " + response.statusCode() + ": "
                    + response.body(), null);
        }
        if (fault == Fault.CRASH_AFTER_CALL) {
            crash.now();
        }
        if (fault == Fault.STALL_PAST_LEASE) {
            stall.accept(event.eventId());
        }
        return response.body().substring("charge=".length());
    }
}
