package dev.oncely.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.DedupStore;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** What the filter's tests of both modes share: fresh consumers and keys, and how answers are checked. */
final class HttpTestSupport {

    private static final AtomicInteger RUNS = new AtomicInteger();

    private HttpTestSupport() {
    }

    /** A consumer name of its own per test, so each test counts only its effects. */
    static String newConsumer(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8) + "-" + RUNS.incrementAndGet();
    }

    /** A fresh key, as a structured-field string. */
    static String key() {
        return "\"" + UUID.randomUUID() + "\"";
    }

    static boolean replayed(HttpResponse<?> response) {
        return response.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER).orElse("").equals("true");
    }

    /** Sends the same request n times at once: each on a thread of the pool, all released together by a barrier. */
    static List<Future<HttpResponse<byte[]>>> sendAtOnce(ExecutorService pool, int n, HttpRequest request) {
        CyclicBarrier start = new CyclicBarrier(n);
        List<Future<HttpResponse<byte[]>>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            futures.add(pool.submit(() -> {
                start.await();
                return TestServer.CLIENT.send(request, HttpResponse.BodyHandlers.ofByteArray());
            }));
        }
        return futures;
    }

    /** The answers to {@link #sendAtOnce}, in the order sent; fails if one takes more than a minute. */
    static List<HttpResponse<byte[]>> answers(List<Future<HttpResponse<byte[]>>> futures) throws Exception {
        List<HttpResponse<byte[]>> responses = new ArrayList<>();
        for (Future<HttpResponse<byte[]>> f : futures) {
            responses.add(f.get(60, TimeUnit.SECONDS));
        }
        return responses;
    }

    /** The claim-first filter of the in-transaction mode for one consumer, clients told apart by X-Api-Key. */
    static IdempotencyFilter.Builder inTransaction(DedupStore store, String consumer) {
        return IdempotencyFilter.inTransaction(store).consumer(consumer).clients(ClientIdentifier.header("X-Api-Key"));
    }

    /**
     * The answers of {@link #sendAtOnce} to a request for {@code POST /charges} of {@link EffectsServlet}: one ran
     * (201, with its header that is not replayed), and every other is its byte-identical replay.
     */
    static void assertOneRanAndTheOthersAreByteIdenticalReplays(List<HttpResponse<byte[]>> responses) {
        List<HttpResponse<byte[]>> first = responses.stream().filter(r -> !replayed(r)).toList();
        assertThat(first).hasSize(1);
        HttpResponse<byte[]> original = first.get(0);
        assertThat(original.statusCode()).isEqualTo(201);
        assertThat(original.headers().firstValue("X-Not-Replayed")).hasValue("first-only");
        for (HttpResponse<byte[]> r : responses) {
            if (r == original) {
                continue;
            }
            assertThat(replayed(r)).isTrue();
            assertThat(r.statusCode()).isEqualTo(201);
            assertThat(r.body()).isEqualTo(original.body());
            assertThat(r.headers().firstValue("Location")).isEqualTo(original.headers().firstValue("Location"));
            assertThat(r.headers().firstValue("Content-Type"))
                    .isEqualTo(original.headers().firstValue("Content-Type"));
            assertThat(r.headers().firstValue("X-Not-Replayed")).isEmpty();
        }
    }

    /** An RFC 9457 problem of the filter: status, content type, type, title and detail. */
    static void assertProblem(HttpResponse<String> response, int status, String type) {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
                v -> assertThat(v).startsWith("application/problem+json"));
        assertThat(response.body())
                .contains("\"type\":\"https://oncely.dev/problems/" + type + "\"")
                .contains("\"status\":" + status)
                .contains("\"title\":\"")
                .contains("\"detail\":\"");
    }
}
