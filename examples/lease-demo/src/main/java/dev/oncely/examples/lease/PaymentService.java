package dev.oncely.examples.lease;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A payment API on localhost, as Stripe's behaves: {@code POST /charges} with a form body
 * ({@code event=...&customer=...&cents=...}) charges and answers {@code 200} with {@code charge=ch_N}. With an
 * {@code Idempotency-Key} header it charges once per key: a repeated key with the same body answers the first
 * charge again ({@code Idempotent-Replayed: true}) and charges nothing; with another body {@code 422}; while the
 * first request with that key is still running {@code 409}. It counts, on its own side, every charge it made per
 * event: the demo's and the tests' verdict.
 *
 * <p>Two test hooks make the faults a network produces: {@code X-Hold-Ms} holds the request that long before
 * charging (a slow API: the caller may die meanwhile), {@code X-Delay-Response-Ms} charges, then holds the response
 * that long (the caller's timeout fires: it does not know the charge happened).
 */
public final class PaymentService implements AutoCloseable {

    private final HttpServer server;
    private final ExecutorService workers;
    private final Map<String, AtomicInteger> chargesByEvent = new ConcurrentHashMap<>();
    private final Map<String, Entry> byKey = new ConcurrentHashMap<>();
    private final AtomicLong charges = new AtomicLong();
    private final AtomicLong replays = new AtomicLong();
    private final AtomicLong conflicts = new AtomicLong();

    /** What an idempotency key holds: the request's body and, once charged, the charge. */
    private static final class Entry {
        final String body;
        volatile String charge;

        Entry(String body) {
            this.body = body;
        }
    }

    private PaymentService(HttpServer server, ExecutorService workers) {
        this.server = server;
        this.workers = workers;
    }

    /** Starts the service on a free port of the loopback interface. */
    public static PaymentService start() throws IOException {
        // Without TCP_NODELAY the JDK's server and client wait on each other's delayed ACKs: ~40 ms a request.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 200);
        ExecutorService workers = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "payment-service");
            t.setDaemon(true);
            return t;
        });
        PaymentService service = new PaymentService(server, workers);
        server.createContext("/charges", service::handle);
        server.setExecutor(workers);
        server.start();
        return service;
    }

    public URI chargesUri() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/charges");
    }

    /** Charges made for {@code eventId}, counted by the service. */
    public int chargesFor(String eventId) {
        AtomicInteger n = chargesByEvent.get(eventId);
        return n == null ? 0 : n.get();
    }

    /** Charges made in all. */
    public long charges() {
        return charges.get();
    }

    /** Requests answered with an earlier charge because their Idempotency-Key was seen before. */
    public long replays() {
        return replays.get();
    }

    /** Requests refused with 409 because another request with their key was still running. */
    public long conflicts() {
        return conflicts.get();
    }

    /** Forgets every charge and key (between the demo's runs). */
    public void reset() {
        chargesByEvent.clear();
        byKey.clear();
        charges.set(0);
        replays.set(0);
        conflicts.set(0);
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            if (!"POST".equals(exchange.getRequestMethod())) {
                respond(exchange, 405, "POST a charge");
                return;
            }
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            Map<String, String> form = Form.parse(body);
            String event = form.get("event");
            if (event == null) {
                respond(exchange, 400, "missing event");
                return;
            }
            sleep(header(exchange, "X-Hold-Ms"));
            String key = exchange.getRequestHeaders().getFirst("Idempotency-Key");
            String charge;
            if (key == null) {
                charge = charge(event);
            } else {
                Entry mine = new Entry(body);
                Entry first = byKey.putIfAbsent(key, mine);
                if (first != null) {
                    if (!first.body.equals(body)) {
                        respond(exchange, 422, "Idempotency-Key reused with another request");
                        return;
                    }
                    if (first.charge == null) {
                        conflicts.incrementAndGet();
                        respond(exchange, 409, "a request with this Idempotency-Key is in progress; retry later");
                        return;
                    }
                    replays.incrementAndGet();
                    exchange.getResponseHeaders().add("Idempotent-Replayed", "true");
                    respond(exchange, 200, "charge=" + first.charge);
                    return;
                }
                charge = charge(event);
                mine.charge = charge;
            }
            sleep(header(exchange, "X-Delay-Response-Ms"));
            respond(exchange, 200, "charge=" + charge);
        } catch (IOException e) {
            // The caller hung up (its timeout fired, or it died): the charge, if made, stands.
        }
    }

    private String charge(String event) {
        chargesByEvent.computeIfAbsent(event, e -> new AtomicInteger()).incrementAndGet();
        return "ch_" + charges.incrementAndGet();
    }

    private static long header(HttpExchange exchange, String name) {
        String value = exchange.getRequestHeaders().getFirst(name);
        return value == null ? 0 : Long.parseLong(value);
    }

    private static void sleep(long millis) {
        if (millis > 0) {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static void respond(HttpExchange exchange, int status, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "text/plain; charset=utf-8");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        workers.shutdownNow();
        try {
            workers.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** {@code a=1&b=2}, URL-encoded. */
    static final class Form {
        private Form() {
        }

        static Map<String, String> parse(String body) {
            Map<String, String> form = new java.util.HashMap<>();
            for (String pair : body.split("&")) {
                int eq = pair.indexOf('=');
                if (eq > 0) {
                    form.put(decode(pair.substring(0, eq)), decode(pair.substring(eq + 1)));
                }
            }
            return form;
        }

        static String encode(Map<String, String> form) {
            StringBuilder b = new StringBuilder();
            form.forEach((k, v) -> b.append(b.length() == 0 ? "" : "&").append(encode(k)).append('=')
                    .append(encode(v)));
            return b.toString();
        }

        private static String encode(String s) {
            return java.net.URLEncoder.encode(s, StandardCharsets.UTF_8);
        }

        private static String decode(String s) {
            return java.net.URLDecoder.decode(s, StandardCharsets.UTF_8);
        }
    }
}
