package dev.oncely.http.internal;

import jakarta.servlet.FilterChain;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

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
    final String describe;
    /** Set when a failed request's answer is to be stored instead of running the chain. */
    StoredResponse storeInstead;
    /** The current attempt's response (the store may re-run a transaction after a deadlock). */
    BufferedResponse current;

    public Exchange(HttpServletRequest request, HttpServletResponse response, FilterChain chain, String storedKey,
                    byte[] fingerprint, byte[] body, String describe) {
        this.request = request;
        this.response = response;
        this.chain = chain;
        this.storedKey = storedKey;
        this.fingerprint = fingerprint;
        this.body = body;
        this.describe = describe;
    }

    public String storedKey() {
        return storedKey;
    }

    public byte[] fingerprint() {
        return fingerprint;
    }

    @Override
    public String toString() {
        return describe;
    }
}
