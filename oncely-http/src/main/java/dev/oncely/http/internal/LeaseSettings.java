package dev.oncely.http.internal;

import java.time.Duration;
import java.util.Optional;

/**
 * The lease mode's options from the filter's builder; {@link dev.oncely.LeasedHandler}'s builder validates them.
 *
 * @param lease             how long a request holds its key before a retry may take it over
 * @param keepAlive         renew the lease while the handler runs, for at most this long; empty: no keep-alive
 * @param maxAttempts       runs of one key that may fail (or lose their lease) before it is parked as failed
 * @param waitForInProgress how long a retry waits for a request in progress before it is answered 409
 */
public record LeaseSettings(Duration lease, Optional<Duration> keepAlive, int maxAttempts,
                            Duration waitForInProgress) {
}
