package dev.oncely.http.internal;

import jakarta.servlet.FilterChain;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.util.ArrayList;
import java.util.List;

/**
 * One request under an idempotency key, as the filter hands it to a {@link Mode}: its stored key (client and key
 * hashed), its fingerprint, its body (read once) and the chain to run.
 */
public final class Exchange {

    final HttpServletRequest request;
    final HttpServletResponse response;
    final FilterChain chain;
    final String storedKey;
    final byte[] fingerprint;
    final byte[] body;
    /** Set when a failed request's answer is to be stored instead of running the chain. */
    StoredResponse storeInstead;
    /** The current attempt's response (the store may re-run a transaction after a deadlock). */
    BufferedResponse current;
    /** Headers set before this filter ran (by filters in front of it, e.g. CORS): kept through a restart. */
    private final List<StoredResponse.Header> upstreamHeaders = new ArrayList<>();

    public Exchange(HttpServletRequest request, HttpServletResponse response, FilterChain chain, String storedKey,
                    byte[] fingerprint, byte[] body) {
        this.request = request;
        this.response = response;
        this.chain = chain;
        this.storedKey = storedKey;
        this.fingerprint = fingerprint;
        this.body = body;
        for (String name : response.getHeaderNames()) {
            for (String value : response.getHeaders(name)) {
                upstreamHeaders.add(new StoredResponse.Header(name, value));
            }
        }
    }

    /**
     * Forgets what a handler attempt set on the (uncommitted) response, status and headers, keeping the headers
     * set before this filter ran. Does nothing if no attempt ran.
     */
    void restart() {
        if (current == null) {
            return;
        }
        current = null;
        response.reset();
        for (StoredResponse.Header h : upstreamHeaders) {
            response.addHeader(h.name(), h.value());
        }
    }

    public String storedKey() {
        return storedKey;
    }

    public byte[] fingerprint() {
        return fingerprint;
    }

    /** For log lines (built only when one is written). */
    @Override
    public String toString() {
        return request.getMethod() + " " + request.getRequestURI() + " (stored key " + storedKey.substring(0, 12)
                + "...)";
    }
}
