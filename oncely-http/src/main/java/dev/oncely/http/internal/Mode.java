package dev.oncely.http.internal;

import jakarta.servlet.ServletException;
import java.io.IOException;

/**
 * How a request under a key is run and answered. {@link InTransactionMode}: the key, the handler's database writes
 * and the response commit in one transaction, and a concurrent retry waits on the claim's row lock.
 * {@link LeasedMode}: a lease is committed first, the handler runs outside any transaction, and a concurrent retry
 * is answered 409 with Retry-After. What both do alike is in {@link Modes}.
 */
public sealed interface Mode permits InTransactionMode, LeasedMode {

    /** Runs or replays the exchange and writes its answer. */
    void handle(Exchange exchange) throws IOException, ServletException;

    /** For the filter's INFO line. */
    String describe();
}
