package dev.oncely.http;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An endpoint that touches no database: answers a POST with 201, a charge id numbered by its run in the body and in
 * an {@code X-Charge} header, and counts its runs.
 */
final class CountingServlet extends HttpServlet {
    final AtomicInteger runs = new AtomicInteger();

    @Override
    protected void doPost(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        req.getInputStream().readAllBytes();
        int run = runs.incrementAndGet();
        resp.setStatus(201);
        resp.setHeader("X-Charge", "charge-" + run);
        resp.setContentType("application/json");
        resp.getWriter().write("{\"charge\":\"charge-" + run + "\"}");
    }
}
