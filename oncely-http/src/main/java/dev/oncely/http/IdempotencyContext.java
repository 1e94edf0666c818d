package dev.oncely.http;

import dev.oncely.LeasedRun;
import dev.oncely.ProcessingContext;
import jakarta.servlet.ServletRequest;
import java.sql.Connection;
import java.util.Optional;

/**
 * Reaches the transaction of the request being processed under an idempotency key, from a servlet (or any code
 * on the request's thread that has the request): the key's claim is recorded on this connection, and writes made
 * on it commit with the claim and the stored response, or not at all.
 *
 * <pre>{@code
 * Connection connection = IdempotencyContext.connection(request);
 * try (PreparedStatement ps = connection.prepareStatement("INSERT INTO charges ...")) { ... }
 * }</pre>
 *
 * Do not commit, roll back or close that connection. Writes on any other connection commit on their own, at least
 * once.
 *
 * <p>In the lease mode there is no transaction: {@link #run(ServletRequest)} gives the request's {@link LeasedRun}
 * instead (its attempt number, {@link LeasedRun#downstreamKey keys to pass to the services you call}, and
 * {@link LeasedRun#step recovery points}).
 */
public final class IdempotencyContext {

    /** The request attribute that holds the {@link ProcessingContext} while the handler runs. */
    public static final String ATTRIBUTE = "dev.oncely.http.ProcessingContext";

    /** The request attribute that holds the {@link LeasedRun} while the handler runs in the lease mode. */
    public static final String RUN_ATTRIBUTE = "dev.oncely.http.LeasedRun";

    private IdempotencyContext() {
    }

    /** The context of the transaction, if this request runs under an idempotency key in a transaction. */
    public static Optional<ProcessingContext> find(ServletRequest request) {
        return request.getAttribute(ATTRIBUTE) instanceof ProcessingContext context
                ? Optional.of(context) : Optional.empty();
    }

    /**
     * The context of the transaction ({@code unwrap(Connection.class)}, or {@code unwrap(Handle.class)} for Jdbi).
     *
     * @throws IllegalStateException if the request does not run under the filter's in-transaction mode
     */
    public static ProcessingContext of(ServletRequest request) {
        return find(request).orElseThrow(() -> new IllegalStateException("This request does not run in an"
                + " idempotency transaction: its method or path is not covered by the IdempotencyFilter, it carried"
                + " no Idempotency-Key where keys are optional, the filter runs in the lease mode (no transaction;"
                + " use IdempotencyContext.run(request)), or the filter is not installed before this servlet. Check"
                + " the filter's methods(...) and paths(...), and its mapping."));
    }

    /** The transaction's JDBC connection. Do not commit, roll back or close it. */
    public static Connection connection(ServletRequest request) {
        return of(request).unwrap(Connection.class);
    }

    /** The leased run, if this request runs under an idempotency key in the lease mode. */
    public static Optional<LeasedRun> findRun(ServletRequest request) {
        return request.getAttribute(RUN_ATTRIBUTE) instanceof LeasedRun run ? Optional.of(run) : Optional.empty();
    }

    /**
     * The leased run of this request (lease mode): {@code run(request).downstreamKey("charge")} is the key to send
     * to the payment service, the same for every attempt of this request's key.
     *
     * @throws IllegalStateException if the request does not run under the filter's lease mode
     */
    public static LeasedRun run(ServletRequest request) {
        return findRun(request).orElseThrow(() -> new IllegalStateException("This request does not run under a"
                + " lease: its method or path is not covered by the IdempotencyFilter, it carried no Idempotency-Key"
                + " where keys are optional, the filter runs in the in-transaction mode (use connection(request)),"
                + " or the filter is not installed before this servlet."));
    }
}
