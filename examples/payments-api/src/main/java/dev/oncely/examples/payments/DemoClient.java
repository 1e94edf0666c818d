package dev.oncely.examples.payments;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.UUID;

/**
 * A client of the payments API that does what careful clients do: one Idempotency-Key per charge, and the same key
 * again when it retries. Its first attempt times out (the server is slow), so it cannot know whether the charge
 * happened; it retries with the same key and gets the first response, replayed.
 */
public final class DemoClient {

    /** What the demo saw. */
    public record Result(int attempts, int retryStatus, boolean retryReplayed, String retryBody, int changedStatus,
                         int missingKeyStatus) {
    }

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final URI charges;
    private final PrintStream out;

    public DemoClient(int port, PrintStream out) {
        this.charges = URI.create("http://127.0.0.1:" + port + "/charges");
        this.out = out;
    }

    private HttpRequest charge(String key, long amountCents, Duration timeout) {
        HttpRequest.Builder b = HttpRequest.newBuilder(charges).timeout(timeout)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("X-Api-Key", "demo-shop")
                .POST(HttpRequest.BodyPublishers.ofString("amount_cents=" + amountCents));
        if (key != null) {
            b.header("Idempotency-Key", "\"" + key + "\"");
        }
        return b.build();
    }

    public Result run(Duration serverDelay) throws IOException, InterruptedException {
        String key = "charge-" + UUID.randomUUID();
        out.println("1. POST /charges amount_cents=500 without a key");
        HttpResponse<String> missing = http.send(charge(null, 500, Duration.ofSeconds(30)),
                HttpResponse.BodyHandlers.ofString());
        out.println("   -> " + missing.statusCode() + " " + missing.body());

        Duration impatient = serverDelay.dividedBy(3).plusMillis(1);
        out.println("2. POST /charges amount_cents=500, Idempotency-Key: \"" + key + "\", timeout "
                + impatient.toMillis() + " ms");
        int attempts = 1;
        try {
            HttpResponse<String> r = http.send(charge(key, 500, impatient), HttpResponse.BodyHandlers.ofString());
            out.println("   -> " + r.statusCode() + " (the server was fast after all)");
        } catch (HttpTimeoutException e) {
            out.println("   -> timed out: did the charge happen? The client cannot know, so it retries.");
        }

        out.println("3. The same request with the same key, timeout 30 s");
        attempts++;
        HttpResponse<String> retry = http.send(charge(key, 500, Duration.ofSeconds(30)),
                HttpResponse.BodyHandlers.ofString());
        while (retry.statusCode() == 409) { // lease mode: the first attempt is still running
            long seconds = Long.parseLong(retry.headers().firstValue("Retry-After").orElse("1"));
            out.println("   -> 409, in progress (the first attempt is still charging); Retry-After: " + seconds
                    + " s, so the client waits and sends it again");
            Thread.sleep(seconds * 1000);
            attempts++;
            retry = http.send(charge(key, 500, Duration.ofSeconds(30)), HttpResponse.BodyHandlers.ofString());
        }
        boolean replayed = retry.headers().firstValue("Idempotent-Replayed").orElse("").equals("true");
        out.println("   -> " + retry.statusCode() + ", Idempotent-Replayed: " + replayed + ", Location: "
                + retry.headers().firstValue("Location").orElse("-")
                + (replayed ? " (the first attempt's charge, replayed)"
                : " (the first attempt never reached the server; charged now)"));
        out.println("      " + retry.body());

        out.println("4. The same key with another amount (a client bug)");
        HttpResponse<String> changed = http.send(charge(key, 900, Duration.ofSeconds(30)),
                HttpResponse.BodyHandlers.ofString());
        out.println("   -> " + changed.statusCode() + " " + changed.body());

        return new Result(attempts, retry.statusCode(), replayed, retry.body(), changed.statusCode(),
                missing.statusCode());
    }
}
