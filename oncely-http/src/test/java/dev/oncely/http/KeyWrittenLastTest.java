package dev.oncely.http;

import static dev.oncely.http.HttpTestSupport.answers;
import static dev.oncely.http.HttpTestSupport.assertProblem;
import static dev.oncely.http.HttpTestSupport.inTransaction;
import static dev.oncely.http.HttpTestSupport.key;
import static dev.oncely.http.HttpTestSupport.newConsumer;
import static dev.oncely.http.HttpTestSupport.replayed;
import static dev.oncely.http.HttpTestSupport.sendAtOnce;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.CallerTransaction;
import dev.oncely.DedupStore;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import dev.oncely.spi.StoreTransaction;
import dev.oncely.spi.TransactionWork;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServlet;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The in-transaction mode with {@code keyWrittenLast()}, in a real Tomcat 11 on PostgreSQL, MariaDB and H2: the
 * handler runs first, the key is written last with the response; the answers are those of the claim-first mode,
 * and a run that finds its key written rolls back everything it wrote. Effects are rows of http_effects, read from
 * the database; each test uses a consumer of its own.
 */
class KeyWrittenLastTest extends InTransactionModeTestBase {

    KeyWrittenLastTest() {
        super("last");
    }

    @Override
    IdempotencyFilter.Builder mode(DedupStore store, String consumer) {
        return inTransaction(store, consumer).keyWrittenLast();
    }

    private static HttpResponse<String> post(TestServer server, String path, String body, String key) {
        return TestServer.send(server.postWithKey(path, body, key));
    }

    /** A request for {@link UniqueOrderServlet} with the given key and order number. */
    private static HttpRequest.Builder order(TestServer server, String key, String order) {
        return server.postWithKey("/orders", "amount=500", key).header("X-Order", order);
    }

    /** {@link EffectsServlet}, counting how often it ran and noting "handler" in a list of calls. */
    private static final class CountingServlet extends HttpServlet {
        final AtomicInteger runs = new AtomicInteger();
        private final List<String> calls;
        private final EffectsServlet effects = new EffectsServlet();

        CountingServlet() {
            this(java.util.Collections.synchronizedList(new ArrayList<>()));
        }

        CountingServlet(List<String> calls) {
            this.calls = calls;
        }

        @Override
        public void service(ServletRequest req, ServletResponse res) throws ServletException, IOException {
            runs.incrementAndGet();
            calls.add("handler");
            effects.service(req, res);
        }
    }

    /**
     * A charge whose id is the request's order number (a unique business key): a duplicate's INSERT waits on the
     * first's row and then fails on it, before the duplicate ever reaches its own key.
     */
    private static final class UniqueOrderServlet extends HttpServlet {
        @Override
        protected void doPost(jakarta.servlet.http.HttpServletRequest req, jakarta.servlet.http.HttpServletResponse resp)
                throws ServletException, IOException {
            req.getInputStream().readAllBytes();
            try (java.sql.PreparedStatement ps = IdempotencyContext.connection(req).prepareStatement(
                    "INSERT INTO http_effects (id, run, path, client, body) VALUES (?, ?, ?, ?, ?)")) {
                ps.setString(1, req.getHeader("X-Order"));
                ps.setString(2, IdempotencyContext.of(req).consumer());
                ps.setString(3, req.getRequestURI());
                ps.setString(4, req.getHeader("X-Api-Key"));
                ps.setString(5, "");
                ps.executeUpdate();
                Thread.sleep(300); // the duplicates arrive and wait on the order's row
            } catch (java.sql.SQLException e) {
                throw new ServletException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ServletException(e);
            }
            resp.setStatus(201);
            resp.setContentType("application/json");
            resp.getWriter().write("{\"order\":\"" + req.getHeader("X-Order") + "\",\"charge\":\""
                    + java.util.UUID.randomUUID() + "\"}");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void duplicatesWhoseHandlerFailsOnTheFirstRequestsUniqueRowAreAnsweredWithTheReplayNotTheFailure(TestDbs db)
            throws Exception {
        String consumer = newConsumer("last");
        int n = 8;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try (TestServer server = new TestServer(filter(db, consumer, b -> b), new UniqueOrderServlet())) {
            String order = "order-" + java.util.UUID.randomUUID();
            List<HttpResponse<byte[]>> responses = answers(sendAtOnce(pool, n, order(server, key(), order).build()));

            assertThat(responses).extracting(HttpResponse::statusCode).containsOnly(201);
            List<HttpResponse<byte[]>> first = responses.stream().filter(r -> !replayed(r)).toList();
            assertThat(first).hasSize(1);
            assertThat(responses).allSatisfy(r -> assertThat(r.body()).isEqualTo(first.get(0).body()));
            assertThat(db.effects(consumer)).isEqualTo(1);
        } finally {
            pool.shutdownNow();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void aHandlerFailureOnAKeyNobodyWroteFollowsTheExceptionPolicy(TestDbs db) {
        String consumer = newConsumer("last");
        try (TestServer server = new TestServer(filter(db, consumer, b -> b), new UniqueOrderServlet())) {
            String order = "order-" + java.util.UUID.randomUUID();
            HttpResponse<String> first = TestServer.send(order(server, key(), order));
            HttpResponse<String> otherKey = TestServer.send(order(server, key(), order));

            assertThat(first.statusCode()).isEqualTo(201);
            assertThat(otherKey.statusCode()).as("its own failure: the container's 500").isEqualTo(500);
            assertThat(replayed(otherKey)).isFalse();
            assertThat(db.effects(consumer)).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void aRetryOfACompletedKeyIsAByteIdenticalReplayAndWhatItsRunWroteIsRolledBack(TestDbs db) {
        String consumer = newConsumer("last");
        CountingServlet servlet = new CountingServlet();
        FirstAndRetry sent = sendTwice(db, consumer, b -> b, servlet, "/charges", "amount=500");

        assertThat(sent.first().statusCode()).isEqualTo(201);
        assertThat(replayed(sent.first())).isFalse();
        assertThat(replayed(sent.retry())).isTrue();
        assertThat(sent.retry().statusCode()).isEqualTo(201);
        assertThat(sent.retry().body()).isEqualTo(sent.first().body());
        assertThat(sent.retry().headers().firstValue("Location"))
                .isEqualTo(sent.first().headers().firstValue("Location"));
        assertThat(db.effects(consumer)).as("the retry's write rolled back").isEqualTo(1);
        assertThat(servlet.runs.get()).as("the endpoint ran for the retry too (documented)").isBetween(1, 2);
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void theSameKeyWithAChangedBodyIsAnswered422AndWhatItsRunWroteIsRolledBack(TestDbs db) {
        String consumer = newConsumer("last");
        try (TestServer server = new TestServer(filter(db, consumer, b -> b))) {
            String key = key();
            HttpResponse<String> first = post(server, "/charges", "amount=500", key);
            HttpResponse<String> changed = post(server, "/charges", "amount=900", key);

            assertThat(first.statusCode()).isEqualTo(201);
            assertProblem(changed, 422, "idempotency-key-reused");
            assertThat(changed.body()).contains("use a new key");
            assertThat(db.effects(consumer)).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void keysAreSharedWithTheClaimFirstModeBothWays(TestDbs db) {
        String consumer = newConsumer("last");
        try (TestServer last = new TestServer(filter(db, consumer, b -> b));
             TestServer claimFirst = new TestServer(inTransaction(db.store(), consumer).build())) {
            String writtenLast = key();
            String claimedFirst = key();
            HttpResponse<String> a = post(last, "/charges", "amount=1", writtenLast);
            HttpResponse<String> b = post(claimFirst, "/charges", "amount=2", claimedFirst);

            HttpResponse<String> aReplayed = post(claimFirst, "/charges", "amount=1", writtenLast);
            HttpResponse<String> bReplayed = post(last, "/charges", "amount=2", claimedFirst);
            HttpResponse<String> bChanged = post(last, "/charges", "amount=3", claimedFirst);

            assertThat(replayed(aReplayed)).isTrue();
            assertThat(aReplayed.body()).isEqualTo(a.body());
            assertThat(replayed(bReplayed)).isTrue();
            assertThat(bReplayed.body()).isEqualTo(b.body());
            assertProblem(bChanged, 422, "idempotency-key-reused");
            assertThat(db.effects(consumer)).isEqualTo(2);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void byDefaultAnExceptionRollsBackTheWritesAndWritesNoKeySoARetryRunsAgain(TestDbs db) {
        String consumer = newConsumer("last");
        CountingServlet servlet = new CountingServlet();
        FirstAndRetry sent = sendTwice(db, consumer, b -> b, servlet, "/throw", "");

        for (HttpResponse<String> response : List.of(sent.first(), sent.retry())) {
            assertThat(response.statusCode()).isEqualTo(500);
            assertThat(replayed(response)).isFalse();
            assertThat(response.body()).contains("the handler failed after writing");
        }
        assertThat(servlet.runs.get()).isEqualTo(2);
        assertThat(db.effects(consumer)).isZero();
    }

    @Test
    void aFreshKeyIsWrittenWithItsResponseByOneClaimWithResultAfterTheHandlerAndNoOtherClaimOrSave() {
        Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
        List<String> order = java.util.Collections.synchronizedList(new ArrayList<>());
        DedupStore counting = new CountingStore(TestDbs.H2.store(), calls, order);
        String consumer = newConsumer("last");
        try (TestServer server = new TestServer(mode(counting, consumer).build(), new CountingServlet(order))) {
            HttpResponse<String> response = post(server, "/charges", "amount=1", key());

            assertThat(response.statusCode()).isEqualTo(201);
            assertThat(calls).containsOnlyKeys("claimWithResult");
            assertThat(calls.get("claimWithResult")).hasValue(1);
            assertThat(order).containsExactly("handler", "claimWithResult");
            assertThat(TestDbs.H2.effects(consumer)).isEqualTo(1);
        }
    }

    @Test
    void keyWrittenLastIsRefusedInTheLeaseModeWithWhatToDo() {
        assertThatThrownBy(() -> IdempotencyFilter.leased(TestDbs.H2.store()).keyWrittenLast())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("IdempotencyFilter.inTransaction(store)");
    }

    /** Delegates to a store and counts the claim operations its transactions are asked for. */
    private static final class CountingStore implements DedupStore {
        private final DedupStore store;
        private final Map<String, AtomicInteger> calls;
        private final List<String> order;

        CountingStore(DedupStore store, Map<String, AtomicInteger> calls, List<String> order) {
            this.store = store;
            this.calls = calls;
            this.order = order;
        }

        private void count(String call) {
            calls.computeIfAbsent(call, c -> new AtomicInteger()).incrementAndGet();
            order.add(call);
        }

        private StoreTransaction counting(StoreTransaction tx) {
            return new StoreTransaction() {
                @Override
                public ClaimResult claim(ClaimRequest request) {
                    count("claim");
                    return tx.claim(request);
                }

                @Override
                public ClaimResult claimWithResult(ClaimRequest request, byte[] result) {
                    count("claimWithResult");
                    return tx.claimWithResult(request, result);
                }

                @Override
                public void saveResult(String consumer, String key, byte[] result) {
                    count("saveResult");
                    tx.saveResult(consumer, key, result);
                }

                @Override
                public <T> Optional<T> resource(Class<T> type) {
                    return tx.resource(type);
                }

                @Override
                public Set<Class<?>> resourceTypes() {
                    return tx.resourceTypes();
                }
            };
        }

        @Override
        public <T> T inTransaction(TransactionWork<T> work) throws Exception {
            return store.inTransaction(tx -> work.execute(counting(tx)));
        }

        @Override
        public <T> T inClaimingTransaction(ClaimRequest request, Function<ClaimResult, T> ifDuplicate,
                                           TransactionWork<T> work) throws Exception {
            return store.inClaimingTransaction(request, ifDuplicate, tx -> work.execute(counting(tx)));
        }

        @Override
        public <T> T inCallerTransaction(CallerTransaction transaction, TransactionWork<T> work) throws Exception {
            return store.inCallerTransaction(transaction, tx -> work.execute(counting(tx)));
        }

        @Override
        public int purgeExpired(int maxRows) {
            return store.purgeExpired(maxRows);
        }

        @Override
        public String describe() {
            return "counting " + store.describe();
        }
    }
}
