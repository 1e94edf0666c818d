package dev.oncely.http;

import static dev.oncely.http.HttpTestSupport.answers;
import static dev.oncely.http.HttpTestSupport.assertOneRanAndTheOthersAreByteIdenticalReplays;
import static dev.oncely.http.HttpTestSupport.assertProblem;
import static dev.oncely.http.HttpTestSupport.key;
import static dev.oncely.http.HttpTestSupport.newConsumer;
import static dev.oncely.http.HttpTestSupport.replayed;
import static dev.oncely.http.HttpTestSupport.sendAtOnce;
import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.DedupStore;
import jakarta.servlet.Servlet;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * What the in-transaction mode answers whether the key is claimed first ({@link IdempotencyFilterTest}) or written
 * last ({@link KeyWrittenLastTest}): each subclass names its filter, and runs these tests in a real Tomcat 11 on
 * PostgreSQL, MariaDB and H2 besides its own. Effects are rows of http_effects, read from the database; each test
 * uses a consumer of its own.
 */
abstract class InTransactionModeTestBase {

    private final String prefix;

    InTransactionModeTestBase(String prefix) {
        this.prefix = prefix;
    }

    @AfterAll
    static void closePools() {
        TestDbs.closeAll();
    }

    /** The filter of the mode under test for one consumer, before the test's own options. */
    abstract IdempotencyFilter.Builder mode(DedupStore store, String consumer);

    IdempotencyFilter filter(TestDbs db, String consumer, UnaryOperator<IdempotencyFilter.Builder> tweak) {
        return tweak.apply(mode(db.store(), consumer)).build();
    }

    /** The answer to a request with a fresh key, and the answer to the same request sent again. */
    record FirstAndRetry(HttpResponse<String> first, HttpResponse<String> retry) {
    }

    /**
     * Starts a server with this mode's filter (with the test's options) in front of the servlet, sends it the same
     * request with a fresh key twice, and stops it.
     */
    FirstAndRetry sendTwice(TestDbs db, String consumer, UnaryOperator<IdempotencyFilter.Builder> tweak,
                            Servlet servlet, String path, String body) {
        try (TestServer server = new TestServer(filter(db, consumer, tweak), servlet)) {
            String key = key();
            return new FirstAndRetry(TestServer.send(server.postWithKey(path, body, key)),
                    TestServer.send(server.postWithKey(path, body, key)));
        }
    }

    /** {@link #sendTwice(TestDbs, String, UnaryOperator, Servlet, String, String)} to {@link EffectsServlet}. */
    FirstAndRetry sendTwice(TestDbs db, String consumer, UnaryOperator<IdempotencyFilter.Builder> tweak,
                            String path, String body) {
        return sendTwice(db, consumer, tweak, new EffectsServlet(), path, body);
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void thirtyTwoIdenticalRequestsInParallelHaveOneEffectAndEveryOtherAnswerIsAByteIdenticalReplay(TestDbs db)
            throws Exception {
        String consumer = newConsumer(prefix);
        int n = 32;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try (TestServer server = new TestServer(filter(db, consumer, b -> b))) {
            List<HttpResponse<byte[]>> responses = answers(
                    sendAtOnce(pool, n, server.postWithKey("/charges", "amount=500", key()).build()));

            assertThat(db.effects(consumer)).isEqualTo(1);
            assertOneRanAndTheOthersAreByteIdenticalReplays(responses);
        } finally {
            pool.shutdownNow();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void withKeepResultAnExceptionKeepsA500ProblemForTheKeyWithoutItsWrites(TestDbs db) {
        String consumer = newConsumer(prefix);
        FirstAndRetry sent = sendTwice(db, consumer, b -> b.onException(FailurePolicy.KEEP_RESULT), "/throw", "");

        assertProblem(sent.first(), 500, "request-failed");
        assertThat(replayed(sent.first())).isFalse();
        assertProblem(sent.retry(), 500, "request-failed");
        assertThat(replayed(sent.retry())).isTrue();
        assertThat(sent.retry().body()).isEqualTo(sent.first().body());
        assertThat(db.effects(consumer)).isZero();
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void byDefaultA5xxResponseCommitsWithItsWritesAndIsReplayed(TestDbs db) {
        String consumer = newConsumer(prefix);
        FirstAndRetry sent = sendTwice(db, consumer, b -> b, "/unavailable", "");

        assertThat(sent.first().statusCode()).isEqualTo(503);
        assertThat(sent.retry().statusCode()).isEqualTo(503);
        assertThat(replayed(sent.retry())).isTrue();
        assertThat(sent.retry().body()).isEqualTo(sent.first().body());
        assertThat(db.effects(consumer)).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void withReleaseKeyA5xxResponseIsSentButNeitherItNorItsWritesAreKept(TestDbs db) {
        String consumer = newConsumer(prefix);
        FirstAndRetry sent = sendTwice(db, consumer, b -> b.onServerError(FailurePolicy.RELEASE_KEY),
                "/unavailable", "");

        assertThat(sent.first().statusCode()).isEqualTo(503);
        assertThat(sent.first().body()).startsWith("{\"error\":");
        assertThat(replayed(sent.retry())).isFalse();
        assertThat(sent.retry().body()).isNotEqualTo(sent.first().body());
        assertThat(db.effects(consumer)).isZero();
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void aResponseLargerThanTheLimitIsNotSentAndRollsBackTheWrites(TestDbs db) {
        String consumer = newConsumer(prefix);
        try (TestServer server = new TestServer(filter(db, consumer, b -> b.maxStoredResponseBytes(1000)))) {
            HttpResponse<String> tooLarge = TestServer.send(server.postWithKey("/big?size=1001", "", key()));

            assertProblem(tooLarge, 500, "response-too-large");
            assertThat(tooLarge.body()).contains("1000 bytes");
            assertThat(db.effects(consumer)).isZero();

            HttpResponse<String> atTheLimit = TestServer.send(server.postWithKey("/big?size=1000", "", key()));
            assertThat(atTheLimit.statusCode()).isEqualTo(200);
            assertThat(atTheLimit.body()).hasSize(1000);
            assertThat(db.effects(consumer)).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void whenTheStoreRunsTheTransactionAgainOnlyTheLastAttemptsResponseIsSentAndStored(TestDbs db) {
        String consumer = newConsumer(prefix);
        FirstAndRetry sent = sendTwice(db, consumer, b -> b.replayedHeaders("X-First-Attempt", "X-Second-Attempt"),
                "/deadlock-once", "");

        assertThat(sent.first().statusCode()).isEqualTo(200);
        assertThat(sent.first().body()).startsWith("attempt 2 ");
        assertThat(sent.first().headers().firstValue("X-First-Attempt")).isEmpty();
        assertThat(sent.first().headers().firstValue("X-Second-Attempt")).hasValue("yes");
        assertThat(replayed(sent.retry())).isTrue();
        assertThat(sent.retry().body()).isEqualTo(sent.first().body());
        assertThat(sent.retry().headers().firstValue("X-First-Attempt")).isEmpty();
        assertThat(db.effects(consumer)).isEqualTo(1);
    }
}
