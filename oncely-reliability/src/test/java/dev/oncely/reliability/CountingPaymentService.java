package dev.oncely.reliability;

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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A payment API on localhost that behaves as Stripe's: {@code POST /charges} with body {@code event=KEY} charges;
 * with an {@code Idempotency-Key} it charges once per key (a repeat answers the first charge, a repeat while the
 * first request still runs gets {@code 409}). It counts every charge per event on its own side: the fault tests'
 * verdict. A request with {@code X-Hold: 1} is held before it charges until {@link #releaseHeld()}: the caller can
 * be killed during the call, and the service completes the charge all the same.
 */
final class CountingPaymentService implements AutoCloseable {

    private final HttpServer server;
    private final ExecutorService workers;
    private final Map<String, AtomicInteger> charges = new ConcurrentHashMap<>();
    private final Map<String, String> chargeByKey = new ConcurrentHashMap<>();
    private final Map<String, Boolean> keysInFlight = new ConcurrentHashMap<>();
    private final AtomicLong replays = new AtomicLong();
    private final AtomicLong conflicts = new AtomicLong();
    private final AtomicLong total = new AtomicLong();
    private final CountDownLatch heldArrived = new CountDownLatch(1);
    private final CountDownLatch releaseHeld = new CountDownLatch(1);

    private CountingPaymentService(HttpServer server, ExecutorService workers) {
        this.server = server;
        this.workers = workers;
    }

    static CountingPaymentService start() throws IOException {
        System.setProperty("sun.net.httpserver.nodelay", "true");
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        ExecutorService workers = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "counting-payment-service");
            t.setDaemon(true);
            return t;
        });
        CountingPaymentService service = new CountingPaymentService(server, workers);
        server.createContext("/charges", service::handle);
        server.setExecutor(workers);
        server.start();
        return service;
    }

    URI uri() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/charges");
    }

    int chargesFor(String event) {
        AtomicInteger n = charges.get(event);
        return n == null ? 0 : n.get();
    }

    long charges() {
        return total.get();
    }

    long replays() {
        return replays.get();
    }

    long conflicts() {
        return conflicts.get();
    }

    boolean awaitHeldRequest(long seconds) throws InterruptedException {
        return heldArrived.await(seconds, TimeUnit.SECONDS);
    }

    void releaseHeld() {
        releaseHeld.countDown();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            String event = body.startsWith("event=") ? body.substring("event=".length()) : null;
            if (event == null) {
                respond(exchange, 400, "missing event");
                return;
            }
            String key = exchange.getRequestHeaders().getFirst("Idempotency-Key");
            if (key != null) {
                String first = chargeByKey.get(key);
                if (first != null) {
                    replays.incrementAndGet();
                    respond(exchange, 200, first);
                    return;
                }
                if (keysInFlight.putIfAbsent(key, Boolean.TRUE) != null) {
                    conflicts.incrementAndGet();
                    respond(exchange, 409, "a request with this Idempotency-Key is in progress");
                    return;
                }
            }
            try {
                String first = key == null ? null : chargeByKey.get(key);
                if (first != null) { // finished between the first look and taking the key
                    replays.incrementAndGet();
                    respond(exchange, 200, first);
                    return;
                }
                if ("1".equals(exchange.getRequestHeaders().getFirst("X-Hold"))) {
                    heldArrived.countDown();
                    releaseHeld.await(2, TimeUnit.MINUTES);
                }
                String charge = "ch_" + total.incrementAndGet();
                charges.computeIfAbsent(event, e -> new AtomicInteger()).incrementAndGet();
                if (key != null) {
                    chargeByKey.put(key, charge);
                }
                respond(exchange, 200, charge);
            } finally {
                if (key != null) {
                    keysInFlight.remove(key);
                }
            }
        } catch (IOException | InterruptedException e) {
            // The caller is gone (killed during the call): the charge, if made, stands.
        }
    }

    private static void respond(HttpExchange exchange, int status, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        releaseHeld.countDown();
        server.stop(0);
        workers.shutdownNow();
    }
}
