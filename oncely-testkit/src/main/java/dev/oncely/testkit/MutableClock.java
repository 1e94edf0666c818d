package dev.oncely.testkit;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Objects;

/**
 * A UTC {@link Clock} that stands still until a test moves it, for testing retention with
 * {@code InMemoryDedupStore.builder().clock(clock)} without sleeping. Thread-safe.
 */
public final class MutableClock extends Clock {

    private volatile Instant now;

    /** A clock standing at 2026-01-01T00:00:00Z. */
    public MutableClock() {
        this(Instant.parse("2026-01-01T00:00:00Z"));
    }

    public MutableClock(Instant start) {
        this.now = Objects.requireNonNull(start, "start");
    }

    /** Moves the clock forward (or back, with a negative duration). */
    public void advance(Duration duration) {
        now = now.plus(Objects.requireNonNull(duration, "duration"));
    }

    /** Sets the clock to an instant. */
    public void set(Instant instant) {
        now = Objects.requireNonNull(instant, "instant");
    }

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

    @Override
    public String toString() {
        return "MutableClock[" + now + "]";
    }
}
