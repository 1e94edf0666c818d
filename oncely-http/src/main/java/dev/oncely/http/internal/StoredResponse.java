package dev.oncely.http.internal;

import dev.oncely.ResultCodec;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** A response as stored with the key's claim: status, the replayed headers, the body. */
public record StoredResponse(int status, List<Header> headers, byte[] body) {

    /** One header line; a header with several values is several lines, in order. */
    public record Header(String name, String value) {
    }

    private static final int FORMAT = 1;

    public StoredResponse {
        headers = List.copyOf(headers);
    }

    /**
     * Writes this response onto an uncommitted one that no handler wrote to (a replay, or an answer sent in full);
     * headers already on it (from filters in front of this one) stay.
     */
    public void writeTo(HttpServletResponse response, boolean replayed) throws IOException {
        response.setStatus(status);
        for (Header h : headers) {
            if (h.name().equalsIgnoreCase("Content-Type")) {
                response.setContentType(h.value());
            } else {
                response.addHeader(h.name(), h.value());
            }
        }
        if (replayed) {
            response.setHeader("Idempotent-Replayed", "true");
        }
        response.setContentLength(body.length);
        response.getOutputStream().write(body);
        response.flushBuffer();
    }

    /** The codec that stores it with the claim (a small versioned binary format). */
    public static final ResultCodec<StoredResponse> CODEC = new ResultCodec<>() {
        @Override
        public byte[] encode(StoredResponse r) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(r.body.length + 64);
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeByte(FORMAT);
            out.writeShort(r.status);
            out.writeShort(r.headers.size());
            for (Header h : r.headers) {
                out.writeUTF(h.name());
                out.writeUTF(h.value());
            }
            out.writeInt(r.body.length);
            out.write(r.body);
            out.flush();
            return bytes.toByteArray();
        }

        @Override
        public StoredResponse decode(byte[] stored) throws IOException {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(stored));
            int format = in.readUnsignedByte();
            if (format != FORMAT) {
                throw new IOException("unknown stored response format " + format + " (this version reads " + FORMAT
                        + "): was the key written by a newer version of oncely-http?");
            }
            int status = in.readUnsignedShort();
            int n = in.readUnsignedShort();
            List<Header> headers = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                headers.add(new Header(in.readUTF(), in.readUTF()));
            }
            byte[] body = new byte[in.readInt()];
            in.readFully(body);
            return new StoredResponse(status, headers, body);
        }
    };
}
