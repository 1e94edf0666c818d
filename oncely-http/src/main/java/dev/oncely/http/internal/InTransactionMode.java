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
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The key's claim, the handler's database writes and the stored response commit in one transaction of the store
 * (an {@link IdempotentHandler} whose result is the response). A concurrent retry of the same key waits on the
 * claim's row lock until the first commits, then is answered with the replay; it never sees 409. The response
 * is held in memory until the commit ({@link BufferedResponse}).
 *
 * <p>With {@code keyWrittenLast} the handler is built with {@link IdempotentHandler.Builder#keyWrittenLast()}: the
 * chain runs first in the store's transaction, then the key's row is inserted with the stored response in one
 * statement; a concurrent retry's INSERT waits on the first's row, finds it committed, rolls back everything it
 * wrote and is answered with the replay (or 422). The answers are the same; stored keys and fingerprints are those
 * of the claim-first mode, so the two share their keys.
 */
public final class InTransactionMode implements Mode {

    private static final Logger log = LoggerFactory.getLogger(InTransactionMode.class);

    private final Settings settings;
    private final IdempotentHandler<Exchange, StoredResponse, Exception> handler;
    private final boolean keyWrittenLast;
    /**
     * Key written last only: claims a key first and never runs, to tell whether another request has written it
     * ({@link #committedElsewhere}); null in the claim-first mode (the default).
     */
    private final IdempotentHandler<Exchange, StoredResponse, RuntimeException> lookup;

    public InTransactionMode(DedupStore store, Settings settings, boolean keyWrittenLast) {
        this.settings = settings;
        this.keyWrittenLast = keyWrittenLast;
        var builder = builder(store, settings).handler(this::run);
        if (keyWrittenLast) {
            builder.keyWrittenLast();
        }
        this.handler = builder.build();
        this.lookup = keyWrittenLast ? builder(store, settings).handler(InTransactionMode::notWritten).build() : null;
    }

    /** The consumer, keys, fingerprints, stored responses and retention every handler of this mode shares. */
    private static IdempotentHandler.Builder<Exchange, StoredResponse, RuntimeException> builder(DedupStore store,
                                                                                               Settings settings) {
        var builder = IdempotentHandler.<Exchange, StoredResponse>builder(store)
                .consumer(settings.consumer())
                .key(Exchange::storedKey)
                .fingerprint(Exchange::fingerprint)
                .resultCodec(StoredResponse.CODEC);
        if (settings.retentionForTestsOnly()) {
            builder.retentionForTestsOnly(settings.retention());
        } else {
            builder.retention(settings.retention());
        }
        return builder;
    }

    @Override
    public String describe() {
        return "in-transaction mode" + (keyWrittenLast ? " (key written last)" : "") + " on "
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
        Modes.handle(exchange, settings, false, () -> handler.process(exchange), this::answerFailure);
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
        } else if (!(e instanceof OncelyException) && keyWrittenLast && answeredAsDuplicate(exchange)) {
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
        Optional<Outcome<StoredResponse>> outcome;
        try {
            outcome = committedElsewhere(exchange);
        } catch (Exception failure) {
            if (Modes.answeredAlike(exchange, failure, settings, false)) {
                return true; // 422: the key was written with another request
            }
            log.debug("{}: could not look the key up after the handler failed: {}", exchange, failure.toString());
            return false;
        }
        if (outcome.isEmpty()) {
            return false;
        }
        Modes.answer(exchange, outcome.get());
        return true;
    }

    /**
     * After the handler threw: whether its key was written meanwhile by another request (committed), as that key's
     * duplicate. A duplicate's handler runs before its key is written, so it may fail on what the first request
     * wrote (a unique business key, say) where claim-first would have replayed; this tells that case from a failure
     * of its own. The store offers no plain read of a key, so {@link #lookup} asks as claim-first would: the store
     * may find a committed key by a read before any transaction ({@link DedupStore#inClaimingTransaction}), else
     * the key is claimed (waiting for a request that holds it until it commits or rolls back), and a claim that
     * succeeds is rolled back at once. Its answer to a written key (the replay, 422, or an unreadable stored
     * response) is core's.
     */
    private Optional<Outcome<StoredResponse>> committedElsewhere(Exchange exchange) {
        try {
            return Optional.of(lookup.process(exchange));
        } catch (NotWritten nobody) {
            return Optional.empty();
        }
    }

    /** {@link #lookup}'s handler: it claimed the key, so nobody wrote it; roll the claim back. */
    private static StoredResponse notWritten(Exchange exchange, ProcessingContext context) {
        throw new NotWritten();
    }

    /** Rolls back {@link #lookup}'s claim of a key nobody has written. */
    private static final class NotWritten extends RuntimeException {
        NotWritten() {
            super("key not written by another request", null, false, false);
        }
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
