package dev.oncely.http.internal;

import dev.oncely.CommitOutcomeUnknownException;
import dev.oncely.DedupStore;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import dev.oncely.PayloadConflictException;
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
 * is held in memory until the commit ({@link BufferedResponse}).
 */
public final class InTransactionMode implements Mode {

    private static final Logger log = LoggerFactory.getLogger(InTransactionMode.class);

    private final Settings settings;
    private final IdempotentHandler<Exchange, StoredResponse, Exception> handler;

    public InTransactionMode(DedupStore store, Settings settings) {
        this.settings = settings;
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
        return "in-transaction mode on " + handler.store().describe();
    }

    /** The handler, run in the claim's transaction (possibly again, if the store re-runs it after a deadlock). */
    private StoredResponse run(Exchange exchange, ProcessingContext context) throws IOException, ServletException {
        if (exchange.storeInstead != null) {
            return exchange.storeInstead;
        }
        exchange.restart(); // an earlier attempt rolled back: forget its status and headers
        BufferedResponse response = new BufferedResponse(exchange.response, settings.maxStoredResponseBytes());
        exchange.current = response;
        CachedBodyRequest request = new CachedBodyRequest(exchange.request, exchange.body);
        request.setAttribute(IdempotencyContext.ATTRIBUTE, context);
        try {
            exchange.chain.doFilter(request, response);
        } finally {
            request.removeAttribute(IdempotencyContext.ATTRIBUTE);
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

    @Override
    public void handle(Exchange exchange) throws IOException, ServletException {
        Outcome<StoredResponse> outcome;
        try {
            outcome = handler.process(exchange);
        } catch (PayloadConflictException e) {
            log.debug("{}: key reused with another request", exchange);
            exchange.restart();
            Problems.keyReused(e.firstProcessedAt()).send(exchange.response);
            return;
        } catch (Released r) {
            log.debug("{}: {} response sent, key released (onServerError RELEASE_KEY)", exchange, r.response.status());
            exchange.current.sendAfterCommit(r.response.body());
            return;
        } catch (ResponseTooLarge t) {
            log.warn("{}: the response of {} bytes exceeds maxStoredResponseBytes ({}); answered 500 and rolled back."
                    + " Raise the limit or leave this path out of the filter.", exchange, t.length,
                    settings.maxStoredResponseBytes());
            exchange.restart();
            Problems.responseTooLarge(settings.maxStoredResponseBytes()).send(exchange.response);
            return;
        } catch (CommitOutcomeUnknownException e) {
            log.debug("{}: commit outcome unknown: {}", exchange, e.toString());
            exchange.restart();
            Problems.outcomeUnknown().send(exchange.response, "Retry-After", "1");
            return;
        } catch (TransientStoreException e) {
            log.debug("{}: store unavailable: {}", exchange, e.toString());
            exchange.restart();
            Problems.storeUnavailable().send(exchange.response, "Retry-After", "1");
            return;
        } catch (IOException | ServletException | RuntimeException e) {
            if (e instanceof dev.oncely.OncelyException || settings.onException() == FailurePolicy.RELEASE_KEY) {
                // Rolled back, claim included: a retry with the same key runs again. Nothing of the failed
                // attempt (status, headers) reaches the client; the container answers the exception.
                exchange.restart();
                throw e;
            }
            keepFailure(exchange, e);
            return;
        } catch (Exception e) {
            throw new ServletException(e);
        }
        StoredResponse response = outcome.result().orElse(null);
        if (!outcome.isProcessed() || exchange.storeInstead != null) {
            exchange.restart(); // a duplicate found after a rolled-back attempt: that attempt's headers go
        }
        if (outcome.isProcessed()) {
            log.debug("{}: processed, {}", exchange, response.status());
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

    /** onException KEEP_RESULT: the writes rolled back; record a 500 for the key in a transaction of its own. */
    private void keepFailure(Exchange exchange, Exception failure) throws IOException, ServletException {
        log.error("{} failed; its writes were rolled back and a 500 is kept for the key (onException KEEP_RESULT)",
                exchange, failure);
        exchange.storeInstead = Problems.requestFailed().asResponse();
        exchange.restart();
        handle(exchange);
    }

    /** Rolls the transaction back and carries a 5xx response out, to be sent unstored. */
    private static final class Released extends RuntimeException {
        final StoredResponse response;

        Released(StoredResponse response) {
            super("5xx response released", null, false, false);
            this.response = response;
        }
    }

    /** Rolls the transaction back: the response is larger than what is stored. */
    private static final class ResponseTooLarge extends RuntimeException {
        final long length;

        ResponseTooLarge(long length) {
            super("response too large", null, false, false);
            this.length = length;
        }
    }
}
