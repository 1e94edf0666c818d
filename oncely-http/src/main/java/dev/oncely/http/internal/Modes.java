package dev.oncely.http.internal;

import dev.oncely.Outcome;
import dev.oncely.PayloadConflictException;
import dev.oncely.http.FailurePolicy;
import jakarta.servlet.ServletException;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every {@link Mode} does alike: run the servlet chain on a buffered response, and answer an outcome (first
 * response, replay, or one of the filter's problems). The modes differ only in what surrounds the chain (one
 * transaction, or a lease taken before and completed after).
 */
final class Modes {

    private static final Logger log = LoggerFactory.getLogger(Modes.class);

    private Modes() {
    }

    /**
     * Runs the chain once on a fresh buffered response, with {@code attribute} set on the request while it runs,
     * and captures what it wrote.
     *
     * @throws ResponseTooLarge the body exceeds {@link Settings#maxStoredResponseBytes()}
     * @throws Released         a 5xx under {@code onServerError(RELEASE_KEY)}: the key is to be given back
     */
    static StoredResponse runChain(Exchange exchange, Settings settings, String attribute, Object value)
            throws IOException, ServletException {
        exchange.restart(); // an earlier attempt failed: forget its status and headers
        BufferedResponse response = new BufferedResponse(exchange.response, settings.maxStoredResponseBytes());
        exchange.current = response;
        CachedBodyRequest request = new CachedBodyRequest(exchange.request, exchange.body);
        request.setAttribute(attribute, value);
        try {
            exchange.chain.doFilter(request, response);
        } finally {
            request.removeAttribute(attribute);
        }
        if (response.overflowed()) {
            throw new ResponseTooLarge(response.length());
        }
        StoredResponse stored = response.capture(settings.replayedHeaders());
        if (stored.status() >= 500 && settings.onServerError() == FailurePolicy.RELEASE_KEY) {
            throw new Released(stored);
        }
        return stored;
    }

    /** The mode's handler, run on an exchange. */
    @FunctionalInterface
    interface Process {
        Outcome<StoredResponse> run() throws Exception;
    }

    /** How a mode answers the failures that are its own. */
    @FunctionalInterface
    interface FailureAnswer {
        void answer(Exchange exchange, Exception failure) throws IOException, ServletException;
    }

    /**
     * Runs the mode's handler and answers: the first response or a replay ({@link #answer}), a failure both modes
     * answer alike ({@link #answeredAlike}), or the mode's own.
     */
    static void handle(Exchange exchange, Settings settings, boolean leased, Process process, FailureAnswer failures)
            throws IOException, ServletException {
        Outcome<StoredResponse> outcome;
        try {
            outcome = process.run();
        } catch (Exception e) {
            if (!answeredAlike(exchange, e, settings, leased)) {
                failures.answer(exchange, e);
            }
            return;
        }
        answer(exchange, outcome);
    }

    /**
     * Answers the failures both modes answer alike: 422 for a key reused with another request, a 5xx released
     * under {@code onServerError(RELEASE_KEY)} (sent unstored), 500 for a response over the limit.
     *
     * @param leased whether the handler ran under a lease (its effects stand), for the problem's wording
     * @return whether {@code failure} was one of them and is answered
     */
    static boolean answeredAlike(Exchange exchange, Exception failure, Settings settings, boolean leased)
            throws IOException {
        if (failure instanceof PayloadConflictException conflict) {
            log.debug("{}: key reused with another request", exchange);
            exchange.restart();
            Problems.keyReused(conflict.firstProcessedAt()).send(exchange.response);
        } else if (failure instanceof Released released) {
            log.debug("{}: {} response sent, key released (onServerError RELEASE_KEY)", exchange,
                    released.response.status());
            exchange.current.sendAfterCommit(released.response.body());
        } else if (failure instanceof ResponseTooLarge tooLarge) {
            log.warn("{}: the response of {} bytes exceeds maxStoredResponseBytes ({}); answered 500 and the key"
                    + " released. Raise the limit or leave this path out of the filter.", exchange, tooLarge.length,
                    settings.maxStoredResponseBytes());
            exchange.restart();
            Problems.responseTooLarge(settings.maxStoredResponseBytes(), leased).send(exchange.response);
        } else {
            return false;
        }
        return true;
    }

    /** Throws {@code failure} on as it is (the servlet API's exceptions and unchecked ones), others wrapped. */
    static ServletException rethrow(Exception failure) throws IOException, ServletException {
        if (failure instanceof IOException io) {
            throw io;
        }
        if (failure instanceof ServletException servlet) {
            throw servlet;
        }
        if (failure instanceof RuntimeException runtime) {
            throw runtime;
        }
        return new ServletException(failure);
    }

    /** The first response (sent after its record was written), a replay, or 500 when a replay has no response. */
    static void answer(Exchange exchange, Outcome<StoredResponse> outcome) throws IOException {
        StoredResponse response = outcome.result().orElse(null);
        if (!outcome.isProcessed() || exchange.storeInstead != null) {
            exchange.restart(); // a duplicate found after a failed attempt: that attempt's headers go
        }
        if (outcome.isProcessed()) {
            if (log.isDebugEnabled()) {
                log.debug("{}: processed, {}", exchange, response.status());
            }
            if (exchange.storeInstead != null) {
                response.writeTo(exchange.response, false);
            } else {
                exchange.current.sendAfterCommit(response.body());
            }
        } else if (response == null) {
            Problems.noStoredResponse().send(exchange.response);
        } else {
            log.debug("{}: replayed {} first processed at {}", exchange, response.status(), outcome.firstProcessedAt());
            response.writeTo(exchange.response, true);
        }
    }

    /** Carries a 5xx response out of the run, to be sent unstored, giving the key back. */
    static final class Released extends RuntimeException {
        final StoredResponse response;

        Released(StoredResponse response) {
            super("5xx response released", null, false, false);
            this.response = response;
        }
    }

    /** The response is larger than what is stored: the key is given back. */
    static final class ResponseTooLarge extends RuntimeException {
        final long length;

        ResponseTooLarge(long length) {
            super("response too large", null, false, false);
            this.length = length;
        }
    }
}
