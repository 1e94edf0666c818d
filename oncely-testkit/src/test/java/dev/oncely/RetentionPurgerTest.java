package dev.oncely;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.inmemory.InMemoryDedupStore;
import dev.oncely.testkit.MutableClock;
import dev.oncely.spi.TransactionWork;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * The purge scheduler on the in-memory store with a clock the test moves. No timing assertions: runs are
 * triggered with {@link RetentionPurger#purgeNow()}, or awaited through the counters with a bounded deadline.
 */
class RetentionPurgerTest {

    private final MutableClock clock = new MutableClock();
    private final InMemoryDedupStore store = InMemoryDedupStore.builder().clock(clock).build();

    private void claim(String consumer, Duration retention, int count) throws Exception {
        IdempotentHandler.Builder<String, Void, ?> b = IdempotentHandler.<String, Void>builder(store)
                .consumer(consumer).key(k -> k).handler((m, ctx) -> null);
        if (retention != null) {
            b.retentionForTestsOnly(retention);
        }
        IdempotentHandler<String, Void, ?> h = b.build();
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            keys.add("k-" + i);
        }
        assertThat(h.processBatch(keys)).allMatch(Outcome::isProcessed);
    }

    @Test
    void aRunDeletesExpiredKeysInChunksUntilAChunkComesBackShort() throws Exception {
        claim("short", Duration.ofHours(1), 2_500);
        claim("long", Duration.ofDays(30), 40);
        claim("forever", null, 30);
        clock.advance(Duration.ofHours(2));

        RetentionPurger purger = RetentionPurger.builder(store).chunkSize(1_000)
                .pauseBetweenChunks(Duration.ZERO).build();

        assertThat(purger.purgeNow()).isEqualTo(2_500);
        assertThat(purger.chunks()).as("1000 + 1000 + 500").isEqualTo(3);
        assertThat(purger.runs()).isEqualTo(1);
        assertThat(purger.purgedKeys()).isEqualTo(2_500);
        assertThat(store.size()).as("unexpired and unlimited keys stay").isEqualTo(70);
        assertThat(store.contains("long", "k-0")).isTrue();
        assertThat(store.contains("forever", "k-0")).isTrue();

        assertThat(purger.purgeNow()).as("nothing left to purge").isZero();
        assertThat(purger.chunks()).isEqualTo(4);
        assertThat(purger.runs()).isEqualTo(2);
        assertThat(purger.failedRuns()).isZero();
        assertThat(purger.isRunning()).as("purgeNow starts no thread").isFalse();
    }

    @Test
    void anExactMultipleOfTheChunkSizeNeedsOneMoreChunkToSeeTheEnd() throws Exception {
        claim("c", Duration.ofMinutes(1), 2_000);
        clock.advance(Duration.ofMinutes(1));
        RetentionPurger purger = RetentionPurger.builder(store).chunkSize(1_000)
                .pauseBetweenChunks(Duration.ZERO).build();
        assertThat(purger.purgeNow()).isEqualTo(2_000);
        assertThat(purger.chunks()).isEqualTo(3);
        assertThat(store.size()).isZero();
    }

    @Test
    void theBackgroundThreadPurgesUntilClosed() throws Exception {
        claim("c", Duration.ofSeconds(10), 300);
        clock.advance(Duration.ofSeconds(11));
        RetentionPurger purger = RetentionPurger.builder(store).chunkSize(100)
                .pauseBetweenChunks(Duration.ZERO).interval(Duration.ofMillis(10)).threadName("purger-under-test")
                .build();
        try (purger) {
            purger.start();
            assertThat(purger.isRunning()).isTrue();
            awaitUpTo30s(() -> purger.purgedKeys() == 300);
            assertThat(store.size()).isZero();

            // Keys expiring later are found by a later run.
            claim("c2", Duration.ofSeconds(10), 50);
            clock.advance(Duration.ofSeconds(11));
            awaitUpTo30s(() -> purger.purgedKeys() == 350);
            assertThat(store.size()).isZero();
            assertThat(threadAlive("purger-under-test")).isTrue();
        }
        assertThat(purger.isRunning()).isFalse();
        assertThat(threadAlive("purger-under-test")).as("close() waits for the thread to end").isFalse();
        long runsAfterClose = purger.runs();
        assertThat(runsAfterClose).isGreaterThanOrEqualTo(2);
        assertThatThrownBy(purger::start).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("already closed");
        purger.close(); // idempotent
    }

    @Test
    void aFailingRunIsCountedAndThePurgerKeepsGoing() throws Exception {
        claim("c", Duration.ofSeconds(1), 20);
        clock.advance(Duration.ofSeconds(2));
        AtomicInteger calls = new AtomicInteger();
        DedupStore flaky = new DedupStore() {
            @Override
            public <T> T inTransaction(TransactionWork<T> work) throws Exception {
                return store.inTransaction(work);
            }

            @Override
            public <T> T inCallerTransaction(CallerTransaction transaction, TransactionWork<T> work)
                    throws Exception {
                return store.inCallerTransaction(transaction, work);
            }

            @Override
            public int purgeExpired(int maxRows) {
                if (calls.incrementAndGet() <= 2) {
                    throw new TransientStoreException("database is away (test)");
                }
                return store.purgeExpired(maxRows);
            }

            @Override
            public String describe() {
                return "flaky store";
            }
        };
        try (RetentionPurger purger = RetentionPurger.builder(flaky).interval(Duration.ofMillis(5)).build()) {
            assertThatThrownBy(purger::purgeNow).as("purgeNow passes the failure to its caller")
                    .isInstanceOf(OncelyException.class).hasMessageContaining("database is away");
            assertThat(purger.failedRuns()).isEqualTo(1);

            purger.start();
            awaitUpTo30s(() -> purger.purgedKeys() == 20);
            assertThat(purger.failedRuns()).as("the second failure happened on the thread").isEqualTo(2);
            assertThat(purger.lastFailure()).get().extracting(Throwable::getMessage)
                    .asString().contains("database is away");
            assertThat(purger.runs()).isGreaterThanOrEqualTo(3);
            assertThat(store.size()).isZero();
        }
    }

    @Test
    void startingTwiceIsRefused() {
        try (RetentionPurger purger = RetentionPurger.builder(store).build()) {
            purger.start();
            assertThatThrownBy(purger::start).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("already started");
        }
    }

    @Test
    void closeWakesASleepingPurgerAtOnce() {
        RetentionPurger purger = RetentionPurger.builder(store).interval(Duration.ofDays(1))
                .threadName("sleepy-purger").build();
        purger.start();
        awaitUpTo30s(() -> purger.runs() == 1);
        purger.close();
        // If close() had not woken the day-long sleep, the thread would still be alive after join() gave up.
        assertThat(threadAlive("sleepy-purger")).isFalse();
    }

    @Test
    void badSettingsAreRejectedWithAdvice() {
        assertThatThrownBy(() -> RetentionPurger.builder(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("store is null");
        RetentionPurger.Builder b = RetentionPurger.builder(store);
        assertThatThrownBy(() -> b.chunkSize(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("chunkSize must be between 1 and 100000, was 0");
        assertThatThrownBy(() -> b.chunkSize(100_001)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.pauseBetweenChunks(Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("pauseBetweenChunks");
        assertThatThrownBy(() -> b.interval(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("interval must be positive");
        assertThatThrownBy(() -> b.threadName(" ")).isInstanceOf(IllegalArgumentException.class);
        RetentionPurger built = b.chunkSize(5_000).pauseBetweenChunks(Duration.ZERO)
                .interval(Duration.ofMinutes(1)).build();
        assertThat(built.chunkSize()).isEqualTo(5_000);
        assertThat(built.pauseBetweenChunks()).isEqualTo(Duration.ZERO);
        assertThat(built.interval()).isEqualTo(Duration.ofMinutes(1));
    }

    private static boolean threadAlive(String name) {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals(name) && t.isAlive());
    }

    private static void awaitUpTo30s(BooleanSupplier condition) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within 30 seconds");
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted", e);
            }
        }
    }
}
