package dev.oncely.http;

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
 */
public final class IdempotencyContext {

    /** The request attribute that holds the {@link ProcessingContext} while the handler runs. */
    public static final String ATTRIBUTE = "dev.oncely.http.ProcessingContext";

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
                + " no Idempotency-Key where keys are optional, or the filter is not installed before this"
                + " servlet. Check the filter's methods(...) and paths(...), and its mapping."));
    }

    /** The transaction's JDBC connection. Do not commit, roll back or close it. */
    public static Connection connection(ServletRequest request) {
        return of(request).unwrap(Connection.class);
    }
}
