package dev.oncely.http;

import dev.oncely.ProcessingContext;
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

/**
 * The API under test. Every POST writes one row to http_effects on the request's transaction (tagged with the
 * filter's consumer, so each test counts its own) and answers with a body that holds a fresh UUID: a second run
 * could never produce the same bytes.
 */
final class EffectsServlet extends HttpServlet {

    private static final java.util.Map<String, Integer> ATTEMPTS = new java.util.concurrent.ConcurrentHashMap<>();

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        resp.setContentType("text/plain");
        resp.getWriter().write("no key needed");
    }

    @Override
    protected void doPost(HttpServletRequest req, HttpServletResponse resp) throws IOException, ServletException {
        String body = new String(req.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String path = req.getRequestURI();
        String id = UUID.randomUUID().toString();
        write(req, id, path, body);
        switch (path) {
            case "/charges" -> {
                resp.setStatus(201);
                resp.setContentType("application/json");
                resp.setHeader("Location", "/charges/" + id);
                resp.setHeader("X-Not-Replayed", "first-only");
                resp.getOutputStream().write(("{\"charge\":\"" + id + "\",\"client\":\"" + req.getHeader("X-Api-Key")
                        + "\",\"request\":\"" + body + "\"}").getBytes(StandardCharsets.UTF_8));
            }
            case "/big" -> {
                int size = Integer.parseInt(req.getParameter("size"));
                resp.setContentType("application/octet-stream");
                byte[] chunk = new byte[100];
                for (int written = 0; written < size; written += chunk.length) {
                    resp.getOutputStream().write(chunk, 0, Math.min(chunk.length, size - written));
                }
            }
            case "/stream" -> {
                resp.setContentType("text/plain;charset=UTF-8");
                var out = resp.getWriter();
                out.write("chunk 1 of " + id + "\n");
                out.flush();
                resp.flushBuffer();
                if (req.getHeader("X-Fail") != null) {
                    throw new IllegalStateException("failing after the first chunk was flushed");
                }
                out.write("chunk 2\n");
            }
            case "/unavailable" -> {
                resp.setContentType("application/json");
                resp.setStatus(503);
                resp.getWriter().write("{\"error\":\"" + id + "\"}");
            }
            case "/throw" -> throw new ServletException("the handler failed after writing " + id);
            case "/deadlock-once" -> {
                // The first attempt per key fails as a database asks for a retry (SQLState 40001); the store rolls
                // back and runs the handler again: only the second attempt's response may reach the client.
                boolean first = ATTEMPTS.merge(req.getHeader("Idempotency-Key"), 1, Integer::sum) == 1;
                resp.setContentType("text/plain");
                resp.setHeader(first ? "X-First-Attempt" : "X-Second-Attempt", "yes");
                resp.getWriter().write("attempt " + (first ? 1 : 2) + " " + id);
                if (first) {
                    throw new ServletException(new SQLException("simulated serialization failure", "40001"));
                }
            }
            case "/redirect" -> resp.sendRedirect("/charges/" + id, 303);
            case "/send-error" -> resp.sendError(409, "charge " + id + " conflicts with another");
            default -> resp.sendError(404, "no such path " + path);
        }
    }

    private static void write(HttpServletRequest req, String id, String path, String body) throws ServletException {
        ProcessingContext context = IdempotencyContext.of(req);
        Connection connection = IdempotencyContext.connection(req);
        try (PreparedStatement ps = connection.prepareStatement(
                "INSERT INTO http_effects (id, run, path, client, body) VALUES (?, ?, ?, ?, ?)")) {
            ps.setString(1, id);
            ps.setString(2, context.consumer());
            ps.setString(3, path);
            ps.setString(4, req.getHeader("X-Api-Key"));
            ps.setString(5, body.length() > 2000 ? body.substring(0, 2000) : body);
            ps.executeUpdate();
        } catch (SQLException e) {
            throw new ServletException(e);
        }
    }
}
