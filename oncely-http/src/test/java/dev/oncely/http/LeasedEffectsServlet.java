package dev.oncely.http;

import dev.oncely.LeasedRun;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The API under test in the lease mode: a handler that "calls another service", counted as one row of http_effects
 * written on a connection of its own (autocommit, outside any filter transaction: there is none), tagged with the
 * run's consumer. Its body holds a fresh UUID and the run's attempt, so a second run never produces the same bytes.
 * A request with {@code X-Hold} blocks in the handler (after its effect) until the test opens {@link #gate}, as a
 * slow downstream call or a hung process would.
 */
final class LeasedEffectsServlet extends HttpServlet {

    private final TestDbs db;
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch gate = new CountDownLatch(1);

    LeasedEffectsServlet(TestDbs db) {
        this.db = db;
    }

    @Override
    protected void doPost(HttpServletRequest req, HttpServletResponse resp) throws IOException, ServletException {
        String body = new String(req.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        LeasedRun run = IdempotencyContext.run(req);
        String id = UUID.randomUUID().toString();
        effect(run, id, req.getRequestURI());
        if (req.getHeader("X-Hold") != null) {
            entered.countDown();
            try {
                if (!gate.await(60, TimeUnit.SECONDS)) {
                    throw new ServletException("the test never opened the gate");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ServletException(e);
            }
        }
        switch (req.getRequestURI()) {
            case "/charges" -> {
                resp.setStatus(201);
                resp.setContentType("application/json");
                resp.setHeader("Location", "/charges/" + id);
                resp.setHeader("X-Not-Replayed", "first-only");
                resp.getOutputStream().write(("{\"charge\":\"" + id + "\",\"attempt\":" + run.attempt()
                        + ",\"downstreamKey\":\"" + run.downstreamKey("charge") + "\",\"request\":\"" + body + "\"}")
                        .getBytes(StandardCharsets.UTF_8));
            }
            case "/unavailable" -> {
                resp.setContentType("application/json");
                resp.setStatus(503);
                resp.getWriter().write("{\"error\":\"" + id + "\"}");
            }
            case "/big" -> {
                resp.setContentType("application/octet-stream");
                resp.getOutputStream().write(new byte[Integer.parseInt(req.getParameter("size"))]);
            }
            case "/throw" -> throw new ServletException("the handler failed after its effect " + id);
            default -> resp.sendError(404, "no such path");
        }
    }

    private void effect(LeasedRun run, String id, String path) throws ServletException {
        try (Connection connection = db.pool().getConnection();
             PreparedStatement ps = connection.prepareStatement(
                     "INSERT INTO http_effects (id, run, path, client, body) VALUES (?, ?, ?, ?, ?)")) {
            ps.setString(1, id);
            ps.setString(2, run.consumer());
            ps.setString(3, path);
            ps.setString(4, "attempt-" + run.attempt());
            ps.setString(5, run.key());
            ps.executeUpdate();
        } catch (SQLException e) {
            throw new ServletException(e);
        }
    }
}
