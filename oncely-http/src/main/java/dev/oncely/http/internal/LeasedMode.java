package dev.oncely.http.internal;

import dev.oncely.DedupStore;
import dev.oncely.KeyFailedException;
import dev.oncely.KeyInProgressException;
import dev.oncely.LeaseLostException;
import dev.oncely.LeasedHandler;
import dev.oncely.LeasedRun;
import dev.oncely.OncelyException;
import dev.oncely.TransientStoreException;
import dev.oncely.http.FailurePolicy;
import dev.oncely.http.IdempotencyContext;
import jakarta.servlet.ServletException;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lease mode: a {@link LeasedHandler} whose result is the response. The key's record is taken IN_PROGRESS in a short
 * transaction of its own, the servlet chain runs with <em>no</em> transaction open and no connection held (its own
 * writes commit on their own), and the buffered response is stored with the completion, in a second short
 * transaction, before it is sent. A concurrent retry is answered 409 with Retry-After (or waits, bounded); a
 * request whose server died is taken over by a retry once its lease ran out.
 */
public final class LeasedMode implements Mode {

    private static final Logger log = LoggerFactory.getLogger(LeasedMode.class);

    private final Settings settings;
    private final LeasedHandler<Exchange, StoredResponse, Exception> handler;

    public LeasedMode(DedupStore store, Settings settings, LeaseSettings lease) {
        this.settings = settings;
        if (settings.retentionForTestsOnly()) {
            throw new IllegalArgumentException("retentionForTestsOnly is not offered in lease mode: a record must"
                    + " outlive its leases. Use retention(Duration), at least twice the lease.");
        }
        var builder = LeasedHandler.<Exchange, StoredResponse>builder(store)
                .consumer(settings.consumer())
                .key(Exchange::storedKey)
                .fingerprint(Exchange::fingerprint)
                .resultCodec(StoredResponse.CODEC)
                .retention(settings.retention())
                .lease(lease.lease())
                .maxAttempts(lease.maxAttempts())
                .waitForInProgress(lease.waitForInProgress())
                .handler(this::run);
        lease.keepAlive().ifPresent(builder::keepAlive);
        this.handler = builder.build();
    }

    @Override
    public String describe() {
        return "lease mode on " + handler.store().describe() + ", lease " + handler.lease();
    }

    /** The handler, run under the lease with no transaction open. */
    private StoredResponse run(Exchange exchange, LeasedRun run) throws IOException, ServletException {
        try {
            return Modes.runChain(exchange, settings, IdempotencyContext.RUN_ATTRIBUTE, run);
        } catch (IOException | ServletException | RuntimeException e) {
            if (e instanceof OncelyException || e instanceof Modes.Released || e instanceof Modes.ResponseTooLarge
                    || settings.onException() == FailurePolicy.RELEASE_KEY) {
                throw e; // the lease is released (or the key parked at the last attempt)
            }
            log.error("{} failed; a 500 is kept for the key (onException KEEP_RESULT); what it did before it failed"
                    + " stands", exchange, e);
            exchange.restart();
            exchange.storeInstead = Problems.requestFailed(true).asResponse();
            return exchange.storeInstead;
        }
    }

    @Override
    public void handle(Exchange exchange) throws IOException, ServletException {
        Modes.handle(exchange, settings, true, () -> handler.process(exchange), LeasedMode::answerFailure);
    }

    private static void answerFailure(Exchange exchange, Exception e) throws IOException, ServletException {
        if (e instanceof KeyInProgressException busy) {
            long seconds = Math.max(1, (busy.retryAfter().toMillis() + 999) / 1000);
            log.debug("{}: in progress (attempt {}), answered 409, retry after {} s", exchange, busy.attempt(), seconds);
            exchange.restart();
            Problems.keyInProgress(seconds).send(exchange.response, "Retry-After", Long.toString(seconds));
        } else if (e instanceof KeyFailedException failed) {
            log.debug("{}: parked as failed after {} attempts ({})", exchange, failed.attempts(), failed.lastError());
            exchange.restart();
            Problems.keyFailed(failed.attempts()).send(exchange.response);
        } else if (e instanceof LeaseLostException) {
            log.warn("{}: {}", exchange, e.getMessage());
            exchange.restart();
            Problems.leaseLost().send(exchange.response, "Retry-After", "1");
        } else if (e instanceof TransientStoreException) {
            log.debug("{}: store unavailable: {}", exchange, e.toString());
            boolean ran = exchange.current != null;
            exchange.restart();
            (ran ? Problems.leaseOutcomeUnknown() : Problems.storeUnavailable())
                    .send(exchange.response, "Retry-After", "1");
        } else {
            exchange.restart(); // the lease was released (or the key parked): a retry takes over at once
            throw Modes.rethrow(e);
        }
    }
}
