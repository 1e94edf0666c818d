package dev.oncely.http.internal;

import dev.oncely.CommitOutcomeUnknownException;
import dev.oncely.DedupStore;
import dev.oncely.IdempotentHandler;
import dev.oncely.OncelyException;
import dev.oncely.Outcome;
import dev.oncely.ProcessingContext;
import dev.oncely.TransientStoreException;
import dev.oncely.http.FailurePolicy;
import dev.oncely.http.IdempotencyContext;
import jakarta.servlet.ServletException;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The key's claim, the handler's database writes and the stored response commit in one transaction of the store
 * (an {@link IdempotentHandler} whose result is the response). A concurrent retry of the same key waits on the
 * claim's row lock until the first commits, then is answered with the replay; it never sees 409. The response
 * is held in memory until the commit ({@link BufferedResponse}). With {@code keyWrittenLast} the key is written
 * after the handler, with the response, in one statement ({@link KeyWrittenLast}); the answers are the same.
 */
public final class InTransactionMode implements Mode {

    private static final Logger log = LoggerFactory.getLogger(InTransactionMode.class);

    private final Settings settings;
    private final IdempotentHandler<Exchange, StoredResponse, Exception> handler;
    /** Null in the claim-first mode (the default). */
    private final KeyWrittenLast keyWrittenLast;

    public InTransactionMode(DedupStore store, Settings settings, boolean keyWrittenLast) {
        this.settings = settings;
        this.keyWrittenLast = keyWrittenLast ? new KeyWrittenLast(store, settings) : null;
        var builder = IdempotentHandler.<Exchange, StoredResponse>builder(store)
                .consumer(settings.consumer())
                .key(Exchange::storedKey)
                .fingerprint(Exchange::fingerprint)
                .resultCodec(StoredResponse.CODEC)
                .handler(this::run);
        if (settings.retentionForTestsOnly()) {
            builder.retentionForTestsOnly(settings.retention());
        } else {
            builder.retention(settings.retention());
        }
        this.handler = builder.build();
    }

    @Override
    public String describe() {
        return "in-transaction mode" + (keyWrittenLast != null ? " (key written last)" : "") + " on "
                + handler.store().describe();
    }

    /** The handler, run in the claim's transaction (possibly again, if the store re-runs it after a deadlock). */
    private StoredResponse run(Exchange exchange, ProcessingContext context) throws IOException, ServletException {
        if (exchange.storeInstead != null) {
            return exchange.storeInstead;
        }
        return Modes.runChain(exchange, settings, IdempotencyContext.ATTRIBUTE, context);
    }

    @Override
    public void handle(Exchange exchange) throws IOException, ServletException {
        Modes.handle(exchange, settings, false, keyWrittenLast != null ? () -> keyWrittenLast.process(exchange)
                : () -> handler.process(exchange), this::answerFailure);
    }

    private void answerFailure(Exchange exchange, Exception e) throws IOException, ServletException {
        if (e instanceof CommitOutcomeUnknownException) {
            log.debug("{}: commit outcome unknown: {}", exchange, e.toString());
            exchange.restart();
            Problems.outcomeUnknown().send(exchange.response, "Retry-After", "1");
        } else if (e instanceof TransientStoreException) {
            log.debug("{}: store unavailable: {}", exchange, e.toString());
            exchange.restart();
            Problems.storeUnavailable().send(exchange.response, "Retry-After", "1");
        } else if (!(e instanceof OncelyException) && keyWrittenLast != null && answeredAsDuplicate(exchange)) {
            log.debug("{}: the handler failed ({}) on a key another request has written; answered as a duplicate",
                    exchange, e.toString());
        } else if (e instanceof OncelyException || settings.onException() == FailurePolicy.RELEASE_KEY) {
            // Rolled back, claim included: a retry with the same key runs again. Nothing of the failed attempt
            // (status, headers) reaches the client; the container answers the exception.
            exchange.restart();
            throw Modes.rethrow(e);
        } else {
            keepFailure(exchange, e);
        }
    }

    /**
     * Key written last: a handler that failed may have failed because another request with its key wrote first
     * (and committed); then it is answered as that request's duplicate, a replay or 422, as claim-first would.
     */
    private boolean answeredAsDuplicate(Exchange exchange) throws IOException, ServletException {
        Outcome<StoredResponse> outcome;
        try {
            outcome = keyWrittenLast.committedElsewhere(exchange);
        } catch (Exception lookup) {
            if (Modes.answeredAlike(exchange, lookup, settings, false)) {
                return true; // 422: the key was written with another request
            }
            log.debug("{}: could not look the key up after the handler failed: {}", exchange, lookup.toString());
            return false;
        }
        if (outcome == null) {
            return false;
        }
        Modes.answer(exchange, outcome);
        return true;
    }

    /** onException KEEP_RESULT: the writes rolled back; record a 500 for the key in a transaction of its own. */
    private void keepFailure(Exchange exchange, Exception failure) throws IOException, ServletException {
        log.error("{} failed; its writes were rolled back and a 500 is kept for the key (onException KEEP_RESULT)",
                exchange, failure);
        exchange.storeInstead = Problems.requestFailed(false).asResponse();
        exchange.restart();
        handle(exchange);
    }
}
