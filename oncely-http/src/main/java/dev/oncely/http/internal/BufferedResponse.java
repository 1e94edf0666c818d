package dev.oncely.http.internal;

import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.util.ArrayList;
import java.util.List;

/**
 * Holds the handler's response body back until the transaction has committed: nothing reaches the client before
 * (flushes are absorbed), so a response is never seen for writes that then roll back. Status and headers go to
 * the container's response, which stays uncommitted and is {@link #reset()} when the attempt is abandoned. The body
 * is kept up to the stored-response limit; beyond it only its length is counted.
 */
public final class BufferedResponse extends HttpServletResponseWrapper {

    private final HttpServletResponse real;
    private final Body body;
    private ServletOutputStream stream;
    private PrintWriter writer;
    private OutputStreamWriter encoder;
    private boolean flushed;

    public BufferedResponse(HttpServletResponse real, int limit) {
        super(real);
        this.real = real;
        this.body = new Body(limit);
    }

    /** Whether the handler tried to flush (stream) before it returned. */
    public boolean flushed() {
        return flushed;
    }

    /** The body's length, including what was beyond the limit. */
    public long length() {
        flushEncoder();
        return body.total;
    }

    public boolean overflowed() {
        return length() > body.limit;
    }

    /** What was written, as stored: status, the {@code replayed} headers (Content-Type always), the body. */
    public StoredResponse capture(List<String> replayed) {
        length();
        List<StoredResponse.Header> headers = new ArrayList<>();
        String contentType = real.getContentType();
        if (contentType != null) {
            headers.add(new StoredResponse.Header("Content-Type", contentType));
        }
        for (String name : replayed) {
            for (String value : real.getHeaders(name)) {
                headers.add(new StoredResponse.Header(name, value));
            }
        }
        return new StoredResponse(real.getStatus(), headers, body.toByteArray());
    }

    /** Sends the first response after the commit: the container's response has its status and headers already. */
    public void sendAfterCommit(byte[] bytes) throws IOException {
        real.setContentLength(bytes.length);
        real.getOutputStream().write(bytes);
        real.flushBuffer();
    }

    @Override
    public ServletOutputStream getOutputStream() {
        if (writer != null) {
            throw new IllegalStateException("getWriter() has already been called for this response");
        }
        if (stream == null) {
            stream = new ServletOutputStream() {
                @Override
                public boolean isReady() {
                    return true;
                }

                @Override
                public void setWriteListener(WriteListener writeListener) {
                    throw new IllegalStateException("Asynchronous writes are not supported under the idempotency"
                            + " filter: the response is held until the transaction commits.");
                }

                @Override
                public void write(int b) {
                    body.write(b);
                }

                @Override
                public void write(byte[] b, int off, int len) {
                    body.write(b, off, len);
                }

                @Override
                public void flush() {
                    flushed = true;
                }
            };
        }
        return stream;
    }

    @Override
    public PrintWriter getWriter() {
        if (stream != null) {
            throw new IllegalStateException("getOutputStream() has already been called for this response");
        }
        if (writer == null) {
            String encoding = real.getCharacterEncoding();
            // As the container does on getWriter(): the charset becomes part of the Content-Type.
            real.setCharacterEncoding(encoding);
            encoder = new OutputStreamWriter(new OutputStream() {
                @Override
                public void write(int b) {
                    body.write(b);
                }

                @Override
                public void write(byte[] b, int off, int len) {
                    body.write(b, off, len);
                }

            }, Charset.forName(encoding));
            writer = new PrintWriter(encoder) {
                @Override
                public void flush() {
                    flushed = true;
                    super.flush();
                }
            };
        }
        return writer;
    }

    @Override
    public void flushBuffer() {
        flushed = true;
        flushEncoder();
    }

    private void flushEncoder() {
        if (encoder != null) {
            try {
                encoder.flush();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e); // cannot happen: the sink is memory
            }
        }
    }

    @Override
    public boolean isCommitted() {
        return false;
    }

    @Override
    public void setBufferSize(int size) {
        // The whole body is held until the commit.
    }

    @Override
    public int getBufferSize() {
        return body.limit;
    }

    @Override
    public void setContentLength(int len) {
        // Set from the held body when it is sent.
    }

    @Override
    public void setContentLengthLong(long len) {
        // Set from the held body when it is sent.
    }

    @Override
    public void resetBuffer() {
        flushEncoder();
        body.clear();
    }

    @Override
    public void reset() {
        real.reset();
        resetBuffer();
        stream = null;
        writer = null;
        encoder = null;
    }

    @Override
    public void sendError(int sc) {
        sendError(sc, null);
    }

    @Override
    public void sendError(int sc, String msg) {
        // The container's error page would be written after the commit and could differ on a replay: send (and
        // store) a problem of our own instead.
        reset();
        real.setStatus(sc);
        real.setContentType(Problem.CONTENT_TYPE);
        byte[] json = new Problem(sc, "about:blank", "HTTP " + sc, msg == null ? "" : msg).json();
        body.write(json, 0, json.length);
    }

    @Override
    public void sendRedirect(String location) {
        sendRedirect(location, SC_FOUND, true);
    }

    @Override
    public void sendRedirect(String location, boolean clearBuffer) {
        sendRedirect(location, SC_FOUND, clearBuffer);
    }

    @Override
    public void sendRedirect(String location, int sc) {
        sendRedirect(location, sc, true);
    }

    @Override
    public void sendRedirect(String location, int sc, boolean clearBuffer) {
        if (clearBuffer) {
            resetBuffer();
        }
        real.setStatus(sc);
        real.setHeader("Location", location);
    }

    /** The held body: bytes up to {@code limit}, and the total length written. */
    private static final class Body {
        final int limit;
        byte[] bytes = new byte[256];
        int count;
        long total;

        Body(int limit) {
            this.limit = limit;
        }

        void write(int b) {
            if (total++ < limit) {
                ensure(count + 1);
                bytes[count++] = (byte) b;
            }
        }

        void write(byte[] b, int off, int len) {
            total += len;
            if (total <= limit) {
                ensure(count + len);
                System.arraycopy(b, off, bytes, count, len);
                count += len;
            }
        }

        private void ensure(int capacity) {
            if (capacity > bytes.length) {
                bytes = java.util.Arrays.copyOf(bytes, Math.max(capacity, Math.min(limit, bytes.length * 2)));
            }
        }

        void clear() {
            count = 0;
            total = 0;
        }

        byte[] toByteArray() {
            return java.util.Arrays.copyOf(bytes, count);
        }
    }
}
