package dev.oncely.http;

import static dev.oncely.http.HttpTestSupport.answers;
import static dev.oncely.http.HttpTestSupport.assertProblem;
import static dev.oncely.http.HttpTestSupport.inTransaction;
import static dev.oncely.http.HttpTestSupport.key;
import static dev.oncely.http.HttpTestSupport.newConsumer;
import static dev.oncely.http.HttpTestSupport.replayed;
import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.DedupStore;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import org.awaitility.Awaitility;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The filter in a real Tomcat 11, called with the JDK's HttpClient, on PostgreSQL, MariaDB and H2. Every count of
 * effects is read from the database (rows of http_effects written by {@link EffectsServlet} on the request's
 * transaction); each test uses a consumer of its own.
 */
class IdempotencyFilterTest extends InTransactionModeTestBase {

    IdempotencyFilterTest() {
        super("http");
    }

    @Override
    IdempotencyFilter.Builder mode(DedupStore store, String consumer) {
        return inTransaction(store, consumer);
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void theSameKeyWithAChangedBodyIsAnswered422AndNotProcessed(TestDbs db) {
        String consumer = newConsumer("http");
        try (TestServer server = new TestServer(filter(db, consumer, b -> b))) {
            String key = key();
            HttpResponse<String> first = TestServer.send(server.postWithKey("/charges", "amount=500", key));
            assertThat(first.statusCode()).isEqualTo(201);

            HttpResponse<String> changed = TestServer.send(server.postWithKey("/charges", "amount=900", key));

            assertProblem(changed, 422, "idempotency-key-reused");
            assertThat(changed.body()).contains("use a new key");
            assertThat(db.effects(consumer)).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void aChangedFingerprintedHeaderIsAnswered422(TestDbs db) {
        String consumer = newConsumer("http");
        try (TestServer server = new TestServer(filter(db, consumer, b -> b.fingerprintHeaders("Content-Type")))) {
            String key = key();
            assertThat(TestServer.send(server.postWithKey("/charges", "amount=500", key)
                    .header("Content-Type", "text/plain")).statusCode()).isEqualTo(201);

            HttpResponse<String> changed = TestServer.send(server.postWithKey("/charges", "amount=500", key)
                    .header("Content-Type", "application/x-other"));

            assertProblem(changed, 422, "idempotency-key-reused");
            assertThat(db.effects(consumer)).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void aMissingKeyIsAnswered400AndNothingRuns(TestDbs db) {
        String consumer = newConsumer("http");
        try (TestServer server = new TestServer(filter(db, consumer, b -> b))) {
            HttpResponse<String> response = TestServer.send(server.post("/charges", "amount=500")
                    .header("X-Api-Key", "client-a"));

            assertProblem(response, 400, "idempotency-key-missing");
            assertThat(response.body()).contains("send the same value again when you retry");
            assertThat(db.effects(consumer)).isZero();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void malformedKeysAreAnswered400AndNothingRuns(TestDbs db) {
        String consumer = newConsumer("http");
        try (TestServer server = new TestServer(filter(db, consumer, b -> b))) {
            String tooLong = "\"" + "k".repeat(256) + "\"";
            for (String malformed : List.of("unquoted-key", "\"unterminated", "\"\"", "\"a\";param=1", tooLong,
                    "\"bad\\escape\"")) {
                HttpResponse<String> response = TestServer.send(
                        server.postWithKey("/charges", "amount=500", malformed));
                assertProblem(response, 400, "idempotency-key-malformed");
            }
            HttpResponse<String> twice = TestServer.send(server.post("/charges", "amount=500")
                    .header("Idempotency-Key", key()).header("Idempotency-Key", key()).header("X-Api-Key", "client-a"));
            assertProblem(twice, 400, "idempotency-key-malformed");
            assertThat(twice.body()).contains("sent 2 times");

            HttpResponse<String> longest = TestServer.send(
                    server.postWithKey("/charges", "amount=500", "\"" + "k".repeat(255) + "\""));
            assertThat(longest.statusCode()).isEqualTo(201);
            assertThat(db.effects(consumer)).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void oneClientCannotReplayAnotherClientsResponse(TestDbs db) {
        String consumer = newConsumer("http");
        try (TestServer server = new TestServer(filter(db, consumer, b -> b))) {
            String key = key();
            HttpResponse<String> a = TestServer.send(server.postWithKey("/charges", "amount=500", key));
            HttpResponse<String> b = TestServer.send(server.post("/charges", "amount=500")
                    .header("Idempotency-Key", key).header("X-Api-Key", "client-b"));
            HttpResponse<String> aAgain = TestServer.send(server.postWithKey("/charges", "amount=500", key));

            assertThat(replayed(b)).isFalse();
            assertThat(b.body()).contains("\"client\":\"client-b\"").isNotEqualTo(a.body());
            assertThat(replayed(aAgain)).isTrue();
            assertThat(aAgain.body()).isEqualTo(a.body());
            assertThat(db.effects(consumer)).isEqualTo(2);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void aRequestWhoseClientIsNotIdentifiedIsAnswered401(TestDbs db) {
        String consumer = newConsumer("http");
        try (TestServer server = new TestServer(filter(db, consumer, b -> b))) {
            HttpResponse<String> response = TestServer.send(server.post("/charges", "amount=500")
                    .header("Idempotency-Key", key()));

            assertProblem(response, 401, "client-unidentified");
            assertThat(db.effects(consumer)).isZero();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void aStreamedResponseIsHeldUntilTheCommitAndSentWholeWithItsLength(TestDbs db) {
        String consumer = newConsumer("http");
        try (TestServer server = new TestServer(filter(db, consumer, b -> b))) {
            String key = key();
            HttpResponse<String> first = TestServer.send(server.postWithKey("/stream", "", key));
            HttpResponse<String> replay = TestServer.send(server.postWithKey("/stream", "", key));

            assertThat(first.statusCode()).isEqualTo(200);
            assertThat(first.body()).startsWith("chunk 1 of ").endsWith("chunk 2\n");
            // Flushed mid-way, yet sent with a Content-Length (not chunked): it was held until the commit.
            assertThat(first.headers().firstValue("Content-Length")).hasValue(
                    String.valueOf(first.body().getBytes(java.nio.charset.StandardCharsets.UTF_8).length));
            assertThat(first.headers().firstValue("Transfer-Encoding")).isEmpty();
            assertThat(replayed(replay)).isTrue();
            assertThat(replay.body()).isEqualTo(first.body());
            assertThat(db.effects(consumer)).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void aHandlerThatFailsAfterFlushingSendsNoneOfItsChunksAndReleasesTheKey(TestDbs db) {
        String consumer = newConsumer("http");
        try (TestServer server = new TestServer(filter(db, consumer, b -> b))) {
            String key = key();
            HttpResponse<String> failed = TestServer.send(
                    server.postWithKey("/stream", "", key).header("X-Fail", "yes"));

            assertThat(failed.statusCode()).isEqualTo(500);
            assertThat(failed.body()).doesNotContain("chunk 1");
            assertThat(replayed(failed)).isFalse();
            assertThat(db.effects(consumer)).isZero();

            HttpResponse<String> retry = TestServer.send(server.postWithKey("/stream", "", key));
            assertThat(retry.statusCode()).isEqualTo(200);
            assertThat(replayed(retry)).isFalse();
            assertThat(db.effects(consumer)).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void byDefaultAnExceptionRollsBackWritesAndKeySoARetryRunsAgain(TestDbs db) {
        String consumer = newConsumer("http");
        try (TestServer server = new TestServer(filter(db, consumer, b -> b))) {
            String key = key();
            for (int attempt = 0; attempt < 2; attempt++) {
                HttpResponse<String> response = TestServer.send(server.postWithKey("/throw", "", key));
                assertThat(response.statusCode()).isEqualTo(500);
                assertThat(replayed(response)).isFalse();
                assertThat(response.body()).contains("the handler failed after writing");
            }
            assertThat(db.effects(consumer)).isZero();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void anExpiredKeyIsProcessedAgain(TestDbs db) {
        String consumer = newConsumer("http");
        try (TestServer server = new TestServer(filter(db, consumer,
                b -> b.retentionForTestsOnly(Duration.ofSeconds(1))))) {
            String key = key();
            HttpResponse<String> first = TestServer.send(server.postWithKey("/charges", "amount=500", key));
            assertThat(replayed(first)).isFalse();
            assertThat(db.effects(consumer)).isEqualTo(1);

            Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(300)).until(() -> {
                HttpResponse<String> retry = TestServer.send(server.postWithKey("/charges", "amount=500", key));
                return !replayed(retry) && retry.statusCode() == 201 && !retry.body().equals(first.body());
            });
            assertThat(db.effects(consumer)).isEqualTo(2);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void requestsTheFilterDoesNotCoverPassThroughWithoutAKey(TestDbs db) {
        String consumer = newConsumer("http");
        try (TestServer server = new TestServer(filter(db, consumer, b -> b.paths("/charges")))) {
            HttpResponse<String> get = TestServer.send(server.get("/charges"));
            assertThat(get.statusCode()).isEqualTo(200);
            assertThat(get.body()).isEqualTo("no key needed");

            // /stream is not covered: it runs without a transaction, so IdempotencyContext refuses.
            HttpResponse<String> uncovered = TestServer.send(server.post("/stream", "").header("X-Api-Key", "a"));
            assertThat(uncovered.statusCode()).isEqualTo(500);
            assertThat(uncovered.body()).contains("does not run in an idempotency transaction");
            assertThat(db.effects(consumer)).isZero();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void aBodyOverTheRequestLimitIsAnswered413(TestDbs db) {
        String consumer = newConsumer("http");
        try (TestServer server = new TestServer(filter(db, consumer, b -> b.maxRequestBodyBytes(10)))) {
            HttpResponse<String> response = TestServer.send(server.postWithKey("/charges", "amount=500000", key()));

            assertProblem(response, 413, "request-too-large");
            assertThat(db.effects(consumer)).isZero();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void aKeyWithEscapedCharactersIsTheSameKeyOnRetry(TestDbs db) {
        String consumer = newConsumer("http");
        try (TestServer server = new TestServer(filter(db, consumer, b -> b))) {
            String key = "\"a \\\"quoted\\\" \\\\ key " + UUID.randomUUID() + "\"";
            HttpResponse<String> first = TestServer.send(server.postWithKey("/charges", "amount=1", key));
            HttpResponse<String> retry = TestServer.send(server.postWithKey("/charges", "amount=1", key));

            assertThat(first.statusCode()).isEqualTo(201);
            assertThat(replayed(retry)).isTrue();
            assertThat(Arrays.asList(retry.body(), db.effects(consumer))).containsExactly(first.body(), 1L);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void headersSetInFrontOfTheFilterStayOnAnswersReplaysProblemsAndRetriedAttempts(TestDbs db) {
        String consumer = newConsumer("http");
        try (TestServer server = new TestServer(filter(db, consumer, b -> b.maxStoredResponseBytes(1000)))) {
            String key = key();
            List<HttpResponse<String>> answers = List.of(
                    TestServer.send(server.postWithKey("/charges", "amount=1", key)),
                    TestServer.send(server.postWithKey("/charges", "amount=1", key)),
                    TestServer.send(server.postWithKey("/charges", "amount=2", key)),
                    TestServer.send(server.post("/charges", "amount=1").header("X-Api-Key", "client-a")),
                    TestServer.send(server.postWithKey("/big?size=2000", "", key())),
                    TestServer.send(server.postWithKey("/deadlock-once", "", key())));

            assertThat(answers).extracting(HttpResponse::statusCode).containsExactly(201, 201, 422, 400, 500, 200);
            assertThat(answers).allSatisfy(r -> assertThat(r.headers().allValues("X-Upstream")).containsExactly("kept"));
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void sendErrorAndSendRedirectAreStoredAndReplayedLikeAnyResponse(TestDbs db) {
        String consumer = newConsumer("http");
        try (TestServer server = new TestServer(filter(db, consumer, b -> b))) {
            String errorKey = key();
            HttpResponse<String> error = TestServer.send(server.postWithKey("/send-error", "", errorKey));
            HttpResponse<String> errorReplay = TestServer.send(server.postWithKey("/send-error", "", errorKey));
            String redirectKey = key();
            HttpResponse<String> redirect = TestServer.send(server.postWithKey("/redirect", "", redirectKey));
            HttpResponse<String> redirectReplay = TestServer.send(server.postWithKey("/redirect", "", redirectKey));

            assertThat(error.statusCode()).isEqualTo(409);
            assertThat(error.headers().firstValue("Content-Type")).hasValue("application/problem+json");
            assertThat(error.body()).contains("\"type\":\"about:blank\"").contains("conflicts with another");
            assertThat(replayed(errorReplay)).isTrue();
            assertThat(errorReplay.statusCode()).isEqualTo(409);
            assertThat(errorReplay.body()).isEqualTo(error.body());
            assertThat(redirect.statusCode()).isEqualTo(303);
            assertThat(redirect.headers().firstValue("Location")).hasValueSatisfying(
                    l -> assertThat(l).contains("/charges/"));
            assertThat(replayed(redirectReplay)).isTrue();
            assertThat(redirectReplay.statusCode()).isEqualTo(303);
            assertThat(redirectReplay.headers().firstValue("Location")).isEqualTo(redirect.headers().firstValue("Location"));
            assertThat(db.effects(consumer)).isEqualTo(2);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void aKeyRecordedWithoutAResponseIsAnswered500WithWhatToDo(TestDbs db) {
        String consumer = newConsumer("http");
        String key = UUID.randomUUID().toString();
        // Something other than the filter recorded the key under the filter's consumer, without a result.
        dev.oncely.IdempotentHandler.<String, Void>builder(db.store()).consumer(consumer).key(k -> k)
                .handler((k, ctx) -> null).build().process(IdempotencyFilter.storedKey("client-a", key));
        try (TestServer server = new TestServer(filter(db, consumer, b -> b))) {
            HttpResponse<String> response = TestServer.send(
                    server.postWithKey("/charges", "amount=1", "\"" + key + "\""));

            assertProblem(response, 500, "idempotency-response-missing");
            assertThat(db.effects(consumer)).isZero();
        }
    }

    @org.junit.jupiter.api.Test
    void anUnreachableDatabaseIsAnswered503WithRetryAfter() {
        com.zaxxer.hikari.HikariConfig config = new com.zaxxer.hikari.HikariConfig();
        config.setJdbcUrl("jdbc:postgresql://127.0.0.1:1/nothing");
        config.setUsername("nobody");
        config.setConnectionTimeout(250);
        config.setInitializationFailTimeout(-1);
        try (com.zaxxer.hikari.HikariDataSource down = new com.zaxxer.hikari.HikariDataSource(config)) {
            dev.oncely.jdbc.JdbcDedupStore store = dev.oncely.jdbc.JdbcDedupStore.builder(down)
                    .database(dev.oncely.jdbc.Database.POSTGRESQL).maxRetries(0).build();
            IdempotencyFilter filter = IdempotencyFilter.inTransaction(store).consumer("http-down")
                    .clients(ClientIdentifier.header("X-Api-Key")).build();
            try (TestServer server = new TestServer(filter)) {
                HttpResponse<String> response = TestServer.send(server.postWithKey("/charges", "amount=1", key()));

                assertProblem(response, 503, "idempotency-store-unavailable");
                assertThat(response.headers().firstValue("Retry-After")).hasValue("1");
                assertThat(response.body()).contains("Retry with the same key");
            }
        }
    }
}
