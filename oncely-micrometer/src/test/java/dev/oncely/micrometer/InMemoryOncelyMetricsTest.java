package dev.oncely.micrometer;

import dev.oncely.DedupStore;
import dev.oncely.inmemory.InMemoryDedupStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

/** {@link OncelyMetrics} over the in-memory store. */
class InMemoryOncelyMetricsTest extends OncelyMetricsTestBase {

    private final MovableClock clock = new MovableClock();
    private final InMemoryDedupStore store = InMemoryDedupStore.builder().clock(clock).build();

    @Override
    DedupStore store() {
        return store;
    }

    @Override
    long claims(String consumer) {
        return store.size();
    }

    @Override
    void expireAll() {
        clock.now = clock.now.plus(Duration.ofDays(2));
    }

    private static final class MovableClock extends Clock {
        volatile Instant now = Instant.parse("2026-01-01T00:00:00Z");

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
