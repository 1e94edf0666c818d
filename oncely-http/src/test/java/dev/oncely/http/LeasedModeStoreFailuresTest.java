package dev.oncely.http;

import static dev.oncely.http.HttpTestSupport.assertProblem;
import static dev.oncely.http.HttpTestSupport.key;
import static dev.oncely.http.HttpTestSupport.replayed;
import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.TransientStoreException;
import dev.oncely.inmemory.InMemoryDedupStore;
import dev.oncely.spi.LeaseAnswer;
import dev.oncely.spi.LeaseRequest;
import dev.oncely.spi.LeaseStore;
import dev.oncely.spi.LeaseToken;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * The lease mode's answers when its store fails, which depend on no database: the in-memory store behind a
 * {@link LeaseStore} that fails on purpose. A lease that cannot be taken is 503 store-unavailable and the endpoint
 * never runs (and a retry runs it); a response that cannot be recorded after the endpoint ran is 503 outcome-unknown
 * and is not sent. Both say to retry with the same key after {@code Retry-After}.
 */
class LeasedModeStoreFailuresTest {

    private final InMemoryDedupStore memory = InMemoryDedupStore.create();
    private final FailingLeases leases = new FailingLeases(memory.leases().orElseThrow());
    private final CountingServlet servlet = new CountingServlet();

    private TestServer server() {
        return new TestServer(IdempotencyFilter.leased(new StoreWithLeases(memory, leases)).consumer("lease-failures")
                .clients(ClientIdentifier.header("X-Api-Key")).build(), servlet);
    }

    @Test
    void aLeaseTheStoreCannotTakeIsAnswered503StoreUnavailableWithRetryAfterAndTheEndpointNeverRuns() {
        try (TestServer server = server()) {
            String key = key();
            leases.failAcquire.set(true);
            HttpResponse<String> down = TestServer.send(server.postWithKey("/charges", "amount=1", key));
            leases.failAcquire.set(false);
            HttpResponse<String> retry = TestServer.send(server.postWithKey("/charges", "amount=1", key));

            assertProblem(down, 503, "idempotency-store-unavailable");
            assertThat(down.headers().firstValue("Retry-After")).hasValue("1");
            assertThat(down.body()).contains("nothing was committed").contains("Retry with the same key");
            assertThat(retry.statusCode()).as("the retry runs: nothing was taken").isEqualTo(201);
            assertThat(replayed(retry)).isFalse();
            assertThat(servlet.runs).as("only the retry ran the endpoint").hasValue(1);
        }
    }

    @Test
    void aResponseTheStoreCannotRecordAfterTheRunIsAnswered503OutcomeUnknownAndNotSent() {
        try (TestServer server = server()) {
            String key = key();
            leases.failComplete.set(true);
            HttpResponse<String> unknown = TestServer.send(server.postWithKey("/charges", "amount=1", key));
            leases.failComplete.set(false);

            assertProblem(unknown, 503, "idempotency-outcome-unknown");
            assertThat(unknown.headers().firstValue("Retry-After")).hasValue("1");
            assertThat(unknown.body()).contains("The request ran").doesNotContain("charge-");
            assertThat(unknown.headers().firstValue("X-Charge")).as("none of the run's headers").isEmpty();
            assertThat(servlet.runs).hasValue(1);
        }
    }


    /** The in-memory store's leases, failing {@code acquire} or {@code complete} as the database would when down. */
    private static final class FailingLeases implements LeaseStore {
        private final LeaseStore leases;
        final AtomicBoolean failAcquire = new AtomicBoolean();
        final AtomicBoolean failComplete = new AtomicBoolean();

        FailingLeases(LeaseStore leases) {
            this.leases = leases;
        }

        @Override
        public LeaseAnswer acquire(LeaseRequest request) {
            if (failAcquire.get()) {
                throw new TransientStoreException("database unreachable (test)");
            }
            return leases.acquire(request);
        }

        @Override
        public boolean complete(LeaseToken lease, Optional<byte[]> result) {
            if (failComplete.get()) {
                throw new TransientStoreException("connection lost before the completion (test)");
            }
            return leases.complete(lease, result);
        }

        @Override
        public boolean renew(LeaseToken lease, Duration leaseDuration) {
            return leases.renew(lease, leaseDuration);
        }

        @Override
        public boolean recordSteps(LeaseToken lease, byte[] steps, Duration leaseDuration) {
            return leases.recordSteps(lease, steps, leaseDuration);
        }

        @Override
        public boolean release(LeaseToken lease, String error, boolean park) {
            return leases.release(lease, error, park);
        }

        @Override
        public boolean retryFailed(String consumer, String key) {
            return leases.retryFailed(consumer, key);
        }
    }

    /** A store whose lease operations are {@code leases}; everything else is the in-memory store's. */
    private static final class StoreWithLeases extends ForwardingStore {
        private final LeaseStore leaseStore;

        StoreWithLeases(InMemoryDedupStore store, LeaseStore leaseStore) {
            super(store);
            this.leaseStore = leaseStore;
        }

        @Override
        public Optional<LeaseStore> leases() {
            return Optional.of(leaseStore);
        }

        @Override
        public String describe() {
            return "failing leases on " + super.describe();
        }
    }
}
