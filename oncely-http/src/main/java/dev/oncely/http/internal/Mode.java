package dev.oncely.http.internal;

import jakarta.servlet.ServletException;
import java.io.IOException;

/**
 * How a request under a key is run and answered. One mode exists today, {@link InTransactionMode}: the key, the
 * handler's database writes and the response commit in one transaction, and a concurrent retry waits on the
 * claim's row lock. The lease mode (a claim committed first, answered 409 with Retry-After while it is in
 * progress) will be a second implementation, offered by the builder once its store exists.
 */
public sealed interface Mode permits InTransactionMode {

    /** Runs or replays the exchange and writes its answer. */
    void handle(Exchange exchange) throws IOException, ServletException;

    /** For the filter's INFO line. */
    String describe();
}
