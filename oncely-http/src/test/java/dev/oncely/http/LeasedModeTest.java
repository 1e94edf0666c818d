package dev.oncely.http;

import static dev.oncely.http.HttpTestSupport.answers;
import static dev.oncely.http.HttpTestSupport.assertProblem;
import static dev.oncely.http.HttpTestSupport.key;
import static dev.oncely.http.HttpTestSupport.newConsumer;
import static dev.oncely.http.HttpTestSupport.replayed;
import static dev.oncely.http.HttpTestSupport.sendAtOnce;
import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.jdbc.JdbcDedupStore;
import jakarta.servlet.Filter;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The filter's lease mode in a real Tomcat 11, called with the JDK's HttpClient, on PostgreSQL, MariaDB and H2. The
 * handler ({@link LeasedEffectsServlet}) counts each run as a row of http_effects written on a connection of its own,
 * as a call to another service would be counted by that service; every count is read from the database.
 */
class LeasedModeTest {

    @AfterAll
    static void closePools() {
        TestDbs.closeAll();
    }

    private static IdempotencyFilter filter(JdbcDedupStore store, String consumer,
                                            UnaryOperator<IdempotencyFilter.Builder> tweak) {
        return tweak.apply(IdempotencyFilter.leased(store)
                .consumer(consumer)
                .clients(ClientIdentifier.header("X-Api-Key"))).build();
    }

    /** The leased filter of the consumer, on a server of its own with a fresh {@link LeasedEffectsServlet}. */
    private static TestServer leasedServer(TestDbs db, String consumer, UnaryOperator<IdempotencyFilter.Builder> tweak) {
        return new TestServer(filter(db.store(), consumer, tweak), new LeasedEffectsServlet(db));
    }

    private static void assertRetryAfterAtLeastOneSecond(HttpResponse<?> response) {
        assertThat(response.headers().firstValue("Retry-After")).hasValueSatisfying(
                v -> assertThat(Long.parseLong(v)).isGreaterThanOrEqualTo(1));
    }

    private static HttpRequest.Builder charge(TestServer server, String key) {
        return server.postWithKey("/charges", "amount=500", key);
    }

    /** The filter behind a counter of the requests that reached it. */
    private static Filter counting(Filter filter, AtomicInteger arrived) {
        return (request, response, chain) -> {
            arrived.incrementAndGet();
            filter.doFilter(request, response, chain);
        };
    }

    /** n identical requests at once; whichever runs the handler blocks in it until the test opens the gate. */
    private static List<Future<HttpResponse<byte[]>>> sendHeldAtOnce(ExecutorService pool, int n, TestServer server,
                                                                     String key) {
        return sendAtOnce(pool, n, charge(server, key).header("X-Hold", "yes").build());
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void thirtyTwoIdenticalRequestsWhileTheHandlerIsSlowHaveOneEffectAndTheOthersGet409WithRetryAfterThenReplays(
            TestDbs db) throws Exception {
        String consumer = newConsumer("lease");
        int n = 32;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        LeasedEffectsServlet servlet = new LeasedEffectsServlet(db);
        try (TestServer server = new TestServer(filter(db.store(), consumer, b -> b), servlet)) {
            String key = key();
            // The request that wins the lease blocks in the handler; the gate opens once all the others answered.
            List<Future<HttpResponse<byte[]>>> futures = sendHeldAtOnce(pool, n, server, key);
            Awaitility.await().atMost(Duration.ofSeconds(60))
                    .until(() -> futures.stream().filter(Future::isDone).count() >= n - 1);
            servlet.gate.countDown();
            List<HttpResponse<byte[]>> responses = answers(futures);

            assertThat(db.effects(consumer)).isEqualTo(1);
            List<HttpResponse<byte[]>> firsts = responses.stream().filter(r -> r.statusCode() == 201).toList();
            HttpResponse<byte[]> original = firsts.stream().filter(r -> !replayed(r)).findFirst().orElseThrow();
            assertThat(original.headers().firstValue("X-Not-Replayed")).hasValue("first-only");
            for (HttpResponse<byte[]> r : responses) {
                if (r == original) {
                    continue;
                }
                if (r.statusCode() == 409) {
                    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/problem+json");
                    assertThat(new String(r.body())).contains("idempotency-key-in-progress");
                    assertRetryAfterAtLeastOneSecond(r);
                } else {
                    assertThat(replayed(r)).as(r.statusCode() + " " + new String(r.body())).isTrue();
                    assertThat(r.body()).isEqualTo(original.body());
                }
            }
            assertThat(responses.stream().filter(r -> r.statusCode() == 409).count())
                    .as("answers while the first request ran").isEqualTo(n - 1);

            HttpResponse<byte[]> after = TestServer.CLIENT.send(charge(server, key).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertThat(after.statusCode()).isEqualTo(201);
            assertThat(replayed(after)).isTrue();
            assertThat(after.body()).isEqualTo(original.body());
            assertThat(after.headers().firstValue("Location")).isEqualTo(original.headers().firstValue("Location"));
            assertThat(after.headers().firstValue("X-Not-Replayed")).isEmpty();
            assertThat(db.effects(consumer)).isEqualTo(1);
        } finally {
            servlet.gate.countDown();
            pool.shutdownNow();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void withWaitForInProgressAllThirtyTwoRequestsGetTheFirstResponse(TestDbs db) throws Exception {
        String consumer = newConsumer("lease");
        int n = 32;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        LeasedEffectsServlet servlet = new LeasedEffectsServlet(db);
        AtomicInteger arrived = new AtomicInteger();
        Filter filter = counting(filter(db.store(), consumer, b -> b.waitForInProgress(Duration.ofSeconds(60))),
                arrived);
        try (TestServer server = new TestServer(filter, servlet)) {
            List<Future<HttpResponse<byte[]>>> futures = sendHeldAtOnce(pool, n, server, key());
            // Open the gate once every request reached the filter and one runs the handler: the others wait for it.
            Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> arrived.get() == n);
            assertThat(servlet.entered.await(60, TimeUnit.SECONDS)).isTrue();
            servlet.gate.countDown();
            List<HttpResponse<byte[]>> responses = answers(futures);

            assertThat(db.effects(consumer)).isEqualTo(1);
            assertThat(responses).allSatisfy(r -> assertThat(r.statusCode()).as(new String(r.body())).isEqualTo(201));
            assertThat(responses.stream().filter(r -> !replayed(r)).count()).isEqualTo(1);
            byte[] first = responses.stream().filter(r -> !replayed(r)).findFirst().orElseThrow().body();
            assertThat(responses).allSatisfy(r -> assertThat(r.body()).isEqualTo(first));
        } finally {
            servlet.gate.countDown();
            pool.shutdownNow();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void aRequestWhoseProcessHungIsTakenOverAfterItsLeaseAndItsLateCompletionIsRefused(TestDbs db)
            throws Exception {
        String consumer = newConsumer("lease");
        LeasedEffectsServlet servlet = new LeasedEffectsServlet(db);
        try (TestServer server = new TestServer(filter(db.store(), consumer, b -> b.lease(Duration.ofSeconds(1))),
                servlet)) {
            String key = key();
            // The first request's handler never returns while the lease runs: its process is as good as dead.
            CompletableFuture<HttpResponse<String>> stale = CompletableFuture.supplyAsync(
                    () -> TestServer.send(charge(server, key).header("X-Hold", "yes")));
            assertThat(servlet.entered.await(60, TimeUnit.SECONDS)).isTrue();

            HttpResponse<String> whileHeld = TestServer.send(charge(server, key));
            if (whileHeld.statusCode() == 409) { // unless the lease ran out already on a slow machine
                assertProblem(whileHeld, 409, "idempotency-key-in-progress");
                assertRetryAfterAtLeastOneSecond(whileHeld);
            }
            HttpResponse<String> takeover = Awaitility.await().atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(200))
                    .until(() -> whileHeld.statusCode() == 201 ? whileHeld : TestServer.send(charge(server, key)),
                            r -> r.statusCode() != 409);
            assertThat(takeover.statusCode()).as(takeover.body()).isEqualTo(201);
            assertThat(replayed(takeover)).isFalse();
            assertThat(takeover.body()).contains("\"attempt\":2");

            servlet.gate.countDown(); // the stale holder wakes up and tries to complete
            HttpResponse<String> late = stale.get(60, TimeUnit.SECONDS);
            assertProblem(late, 503, "idempotency-lease-lost");
            assertThat(late.headers().firstValue("Retry-After")).hasValue("1");

            HttpResponse<String> retry = TestServer.send(charge(server, key));
            assertThat(replayed(retry)).isTrue();
            assertThat(retry.body()).isEqualTo(takeover.body());
            // Both runs made their external effect: at least once without a receiver-side key (the body carries
            // the downstream key, the same for both attempts, for a receiver that deduplicates).
            assertThat(db.effects(consumer, 1)).isEqualTo(1);
            assertThat(db.effects(consumer, 2)).isEqualTo(1);
        } finally {
            servlet.gate.countDown();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void theHandlerHoldsNoConnectionSoWithAPoolOfOneAnotherKeyCompletesWhileTheFirstIsBlocked(TestDbs db)
            throws Exception {
        String consumer = newConsumer("lease");
        LeasedEffectsServlet servlet = new LeasedEffectsServlet(db);
        try (HikariDataSource single = db.newPool(1);
             TestServer server = new TestServer(filter(JdbcDedupStore.builder(single).build(), consumer, b -> b),
                     servlet)) {
            CompletableFuture<HttpResponse<String>> blocked = CompletableFuture.supplyAsync(
                    () -> TestServer.send(charge(server, key()).header("X-Hold", "yes")));
            assertThat(servlet.entered.await(60, TimeUnit.SECONDS)).isTrue();

            HttpResponse<String> other = TestServer.send(charge(server, key()));

            assertThat(other.statusCode()).as(other.body()).isEqualTo(201);
            assertThat(blocked).isNotDone();
            servlet.gate.countDown();
            assertThat(blocked.get(60, TimeUnit.SECONDS).statusCode()).isEqualTo(201);
            assertThat(db.effects(consumer)).isEqualTo(2);
        } finally {
            servlet.gate.countDown();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void theSameKeyWithAChangedBodyIsAnswered422AndAMissingKey400(TestDbs db) {
        String consumer = newConsumer("lease");
        try (TestServer server = leasedServer(db, consumer, b -> b)) {
            String key = key();
            assertThat(TestServer.send(charge(server, key)).statusCode()).isEqualTo(201);

            HttpResponse<String> changed = TestServer.send(server.postWithKey("/charges", "amount=900", key));
            assertProblem(changed, 422, "idempotency-key-reused");
            HttpResponse<String> missing = TestServer.send(server.post("/charges", "amount=500")
                    .header("X-Api-Key", "client-a"));
            assertProblem(missing, 400, "idempotency-key-missing");
            HttpResponse<String> malformed = TestServer.send(
                    server.postWithKey("/charges", "amount=500", "unquoted"));
            assertProblem(malformed, 400, "idempotency-key-malformed");
            assertThat(db.effects(consumer)).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void byDefaultAnExceptionReleasesTheLeaseSoARetryTakesOverAtOnceUntilMaxAttemptsParksTheKey(TestDbs db) {
        String consumer = newConsumer("lease");
        try (TestServer server = leasedServer(db, consumer, b -> b.maxAttempts(2))) {
            HttpRequest.Builder request = server.postWithKey("/throw", "x", key());
            HttpResponse<String> first = TestServer.send(request);
            assertThat(first.statusCode()).isEqualTo(500);
            assertThat(first.body()).doesNotContain("oncely.dev/problems"); // the container's error page
            HttpResponse<String> second = TestServer.send(request); // at once, not 409: the lease was released
            assertThat(second.statusCode()).isEqualTo(500);
            assertThat(second.body()).doesNotContain("oncely.dev/problems");
            assertThat(db.effects(consumer, 2)).isEqualTo(1);

            HttpResponse<String> third = TestServer.send(request);
            assertProblem(third, 500, "idempotency-key-failed");
            assertThat(third.body()).contains("failed 2 times");
            assertThat(db.effects(consumer)).isEqualTo(2);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void withKeepResultAnExceptionCompletesTheKeyWithA500ProblemThatIsReplayed(TestDbs db) {
        String consumer = newConsumer("lease");
        try (TestServer server = leasedServer(db, consumer, b -> b.onException(FailurePolicy.KEEP_RESULT))) {
            HttpRequest.Builder request = server.postWithKey("/throw", "x", key());
            HttpResponse<String> first = TestServer.send(request);
            assertProblem(first, 500, "request-failed");
            assertThat(first.body()).contains("was not undone");
            assertThat(replayed(first)).isFalse();

            HttpResponse<String> retry = TestServer.send(request);
            assertThat(replayed(retry)).isTrue();
            assertThat(retry.body()).isEqualTo(first.body());
            assertThat(db.effects(consumer)).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void a5xxIsKeptAndReplayedByDefaultAndReleasedWithReleaseKey(TestDbs db) {
        String kept = newConsumer("lease");
        String released = newConsumer("lease");
        try (TestServer keep = leasedServer(db, kept, b -> b);
             TestServer release = leasedServer(db, released, b -> b.onServerError(FailurePolicy.RELEASE_KEY))) {
            String key = key();
            HttpResponse<String> first = TestServer.send(keep.postWithKey("/unavailable", "x", key));
            HttpResponse<String> retry = TestServer.send(keep.postWithKey("/unavailable", "x", key));
            assertThat(first.statusCode()).isEqualTo(503);
            assertThat(replayed(retry)).isTrue();
            assertThat(retry.body()).isEqualTo(first.body());
            assertThat(db.effects(kept)).isEqualTo(1);

            HttpResponse<String> r1 = TestServer.send(release.postWithKey("/unavailable", "x", key));
            HttpResponse<String> r2 = TestServer.send(release.postWithKey("/unavailable", "x", key));
            assertThat(r1.statusCode()).isEqualTo(503);
            assertThat(r2.statusCode()).isEqualTo(503);
            assertThat(replayed(r2)).isFalse();
            assertThat(r2.body()).isNotEqualTo(r1.body());
            assertThat(db.effects(released, 2)).isEqualTo(1); // the retry took over at once, as attempt 2
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void aResponseLargerThanTheLimitIsNotSentAndTheKeyIsReleased(TestDbs db) {
        String consumer = newConsumer("lease");
        try (TestServer server = leasedServer(db, consumer, b -> b.maxStoredResponseBytes(1000))) {
            HttpRequest.Builder request = server.postWithKey("/big?size=5000", "x", key());
            HttpResponse<String> first = TestServer.send(request);
            assertProblem(first, 500, "response-too-large");
            assertThat(first.body()).contains("was not undone");
            HttpResponse<String> retry = TestServer.send(request);
            assertProblem(retry, 500, "response-too-large");
            assertThat(db.effects(consumer, 2)).isEqualTo(1); // released: the retry ran as attempt 2
        }
    }
}
