package dev.oncely.http.internal;

import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * An RFC 9457 problem: {@code application/problem+json} with a {@code type}, a {@code title}, the {@code status}
 * and a {@code detail} that says what to do.
 */
public record Problem(int status, String type, String title, String detail) {

    public static final String CONTENT_TYPE = "application/problem+json";
    /** The prefix of every problem type this filter sends. */
    public static final String TYPE_BASE = "https://oncely.dev/problems/";

    public static Problem of(int status, String type, String title, String detail) {
        return new Problem(status, TYPE_BASE + type, title, detail);
    }

    public byte[] json() {
        return ("{\"type\":" + quote(type) + ",\"title\":" + quote(title) + ",\"status\":" + status
                + ",\"detail\":" + quote(detail) + "}").getBytes(StandardCharsets.UTF_8);
    }

    /** The problem as a whole response, headers included; for a response nothing else was written to. */
    public StoredResponse asResponse() {
        return new StoredResponse(status, java.util.List.of(new StoredResponse.Header("Content-Type",
                CONTENT_TYPE)), json());
    }

    /**
     * Sends the problem on an uncommitted response that no handler wrote to; headers already on it (from filters in
     * front of this one, e.g. CORS) stay.
     */
    public void send(HttpServletResponse response) throws IOException {
        send(response, null, null);
    }

    /** {@link #send(HttpServletResponse)} with one more header (e.g. Retry-After). */
    public void send(HttpServletResponse response, String header, String value) throws IOException {
        response.setStatus(status);
        response.setContentType(CONTENT_TYPE);
        if (header != null) {
            response.setHeader(header, value);
        }
        byte[] body = json();
        response.setContentLength(body.length);
        response.getOutputStream().write(body);
        response.flushBuffer();
    }

    static String quote(String text) {
        StringBuilder out = new StringBuilder(text.length() + 2).append('"');
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
