package dev.oncely.http;

import static dev.oncely.http.HttpTestSupport.assertProblem;
import static dev.oncely.http.HttpTestSupport.key;
import static dev.oncely.http.HttpTestSupport.replayed;
import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.CommitOutcomeUnknownException;
import dev.oncely.inmemory.InMemoryDedupStore;
import dev.oncely.spi.TransactionWork;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The in-transaction mode when the connection is lost during the commit, which depends on no database: the
 * in-memory store commits and then reports {@link CommitOutcomeUnknownException}, as a JDBC store does when the
 * commit's answer never arrives. The client gets 503 outcome-unknown (never the endpoint's response, which may or
 * may not have committed), and its retry with the same key gets the committed response replayed. Both key orders:
 * claim first (the default), where the retry does not run the endpoint, and key written last, where it runs it and
 * discards what it wrote and answered.
 */
class InTransactionModeCommitLostTest {

    private final CountingServlet servlet = new CountingServlet();
    private final CommitLostStore store = new CommitLostStore(InMemoryDedupStore.create());

    private TestServer server(boolean keyWrittenLast) {
        IdempotencyFilter.Builder filter = IdempotencyFilter.inTransaction(store).consumer("commit-lost")
                .clients(ClientIdentifier.header("X-Api-Key"));
        if (keyWrittenLast) {
            filter.keyWrittenLast();
        }
        return new TestServer(filter.build(), servlet);
    }

    @ParameterizedTest(name = "key written last: {0}")
    @ValueSource(booleans = {false, true})
    void aCommitWhoseAnswerIsLostIsAnswered503OutcomeUnknownAndItsRetryGetsTheCommittedResponseReplayed(
            boolean keyWrittenLast) {
        try (TestServer server = server(keyWrittenLast)) {
            String key = key();
            store.loseNextCommit.set(true);
            HttpResponse<String> unknown = TestServer.send(server.postWithKey("/charges", "amount=1", key));
            HttpResponse<String> retry = TestServer.send(server.postWithKey("/charges", "amount=1", key));

            assertProblem(unknown, 503, "idempotency-outcome-unknown");
            assertThat(unknown.headers().firstValue("Retry-After")).hasValue("1");
            assertThat(unknown.body()).contains("Retry with the same key").doesNotContain("charge-");
            assertThat(unknown.headers().firstValue("X-Charge")).as("none of the run's headers").isEmpty();
            assertThat(retry.statusCode()).as("the first run committed: its response").isEqualTo(201);
            assertThat(replayed(retry)).as("replayed, not run again").isTrue();
            assertThat(retry.body()).isEqualTo("{\"charge\":\"charge-1\"}");
            // Key written last runs the retry's endpoint too before it finds the key written (its writes roll back,
            // its response is discarded): the documented cost of that order, unless the store reads first.
            assertThat(servlet.runs).as("the endpoint's runs").hasValue(keyWrittenLast ? 2 : 1);
        }
    }

    /** The in-memory store, whose next transaction commits and then reports its commit's outcome as unknown. */
    private static final class CommitLostStore extends ForwardingStore {
        final AtomicBoolean loseNextCommit = new AtomicBoolean();

        CommitLostStore(InMemoryDedupStore store) {
            super(store);
        }

        @Override
        public <T> T inTransaction(TransactionWork<T> work) throws Exception {
            T committed = super.inTransaction(work);
            if (loseNextCommit.getAndSet(false)) {
                throw new CommitOutcomeUnknownException("connection lost during the commit (test)", null);
            }
            return committed;
        }

        @Override
        public String describe() {
            return "commit-losing " + super.describe();
        }
    }
}
