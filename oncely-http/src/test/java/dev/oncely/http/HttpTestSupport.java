package dev.oncely.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.util.UUID;
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
