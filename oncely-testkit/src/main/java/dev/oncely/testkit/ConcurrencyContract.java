package dev.oncely.testkit;

import static dev.oncely.testkit.Contracts.assumeConcurrentClaimsWait;
import static dev.oncely.testkit.Contracts.await;
import static dev.oncely.testkit.Contracts.builder;
import static dev.oncely.testkit.Contracts.recording;
import static dev.oncely.testkit.Contracts.together;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Concurrent deliveries of the same keys: one effect per key under a storm, a winner that rolls back lets exactly
 * one waiter in, many threads over many keys, and overlapping batches in opposite orders without deadlock. Asks
 * {@link StoreCapabilities#concurrentClaimsWait()}: a store that fails a concurrent claim instead of waiting on it
 * does not implement this piece.
 */
public interface ConcurrencyContract extends StoreFixture {

    @Test
    default void concurrentDuplicateStormHasExactlyOneEffect() throws Exception {
        assumeConcurrentClaimsWait(this);
        int threads = 24;
        IdempotentHandler<Msg, String, ?> h = builder(store(), "billing").handler((m, ctx) -> {
            recordEffect(ctx);
            Thread.sleep(50); // keep the winner's transaction open while the others arrive
            return "ok";
        }).build();
        List<Outcome<String>> outcomes = together(threads, t -> h.process(Msg.of("storm"))); // throws if one threw

        assertThat(outcomes).filteredOn(Outcome::isProcessed).hasSize(1);
        assertThat(outcomes).filteredOn(Outcome::isDuplicate).hasSize(threads - 1);
        assertThat(effects("billing", "storm")).isEqualTo(1);
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(1);
    }

    @Test
    default void whenTheWinnerRollsBackExactlyOneWaiterProcesses() throws Exception {
        assumeConcurrentClaimsWait(this);
        int waiters = 6;
        CountDownLatch winnerInside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger runs = new AtomicInteger();
        Boom boom = new Boom("winner fails");
        IdempotentHandler<Msg, String, ?> h = builder(store(), "billing").handler((m, ctx) -> {
            if (runs.incrementAndGet() == 1) {
                if (capabilities().transactionalEffects()) {
                    recordEffect(ctx);
                }
                winnerInside.countDown();
                release.await();
                throw boom;
            }
            recordEffect(ctx);
            return "ok";
        }).build();
        ExecutorService executor = Executors.newFixedThreadPool(waiters + 1);
        try {
            Future<Outcome<String>> winner = executor.submit(() -> h.process(Msg.of("contended")));
            assertThat(winnerInside.await(30, TimeUnit.SECONDS)).isTrue();
            List<Future<Outcome<String>>> others = new ArrayList<>();
            for (int i = 0; i < waiters; i++) {
                others.add(executor.submit(() -> h.process(Msg.of("contended"))));
            }
            Thread.sleep(500);
            assertThat(others).as("waiters block on the key while the winner's transaction is open")
                    .noneMatch(Future::isDone);

            release.countDown();

            Throwable winnerFailure = catchThrowable(() -> await(winner));
            assertThat(winnerFailure).hasCauseReference(boom);
            List<Outcome<String>> outcomes = new ArrayList<>();
            for (Future<Outcome<String>> f : others) {
                outcomes.add(await(f));
            }
            assertThat(outcomes).filteredOn(Outcome::isProcessed).hasSize(1);
            assertThat(outcomes).filteredOn(Outcome::isDuplicate).hasSize(waiters - 1);
            assertThat(runs).hasValue(2);
            assertThat(effects("billing", "contended")).isEqualTo(1);
        } finally {
            executor.shutdownNow();
        }
    }

    @Test
    default void thousandEventsDeliveredThreeTimesFromThirtyTwoThreads() throws Exception {
        assumeConcurrentClaimsWait(this);
        int events = 1000;
        int deliveries = 3;
        int threads = 32;
        IdempotentHandler<Msg, String, ?> h = recording(this, store(), "billing");
        List<Msg> stream = new ArrayList<>();
        for (int d = 0; d < deliveries; d++) {
            for (int e = 0; e < events; e++) {
                stream.add(Msg.of("evt-" + e));
            }
        }
        Collections.shuffle(stream, new Random(42));
        ConcurrentLinkedQueue<Msg> queue = new ConcurrentLinkedQueue<>(stream);
        List<Outcome<String>> outcomes = new CopyOnWriteArrayList<>();
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        ExecutorService executor = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                workers.add(executor.submit(() -> {
                    Msg m;
                    while ((m = queue.poll()) != null) {
                        try {
                            outcomes.add(h.process(m));
                        } catch (Throwable e) {
                            errors.add(e);
                        }
                    }
                }));
            }
            for (Future<?> w : workers) {
                w.get(5, TimeUnit.MINUTES);
            }

            assertThat(errors).isEmpty();
            assertThat(outcomes).hasSize(events * deliveries);
            assertThat(outcomes).filteredOn(Outcome::isProcessed).hasSize(events);
            assertThat(outcomes).filteredOn(Outcome::isDuplicate).hasSize(events * (deliveries - 1));
            assertThat(outcomes.stream().filter(Outcome::isProcessed).map(Outcome::key).distinct().count())
                    .isEqualTo(events);
            assertThat(totalEffects()).isEqualTo(events);
            assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(events);
        } finally {
            executor.shutdownNow();
        }
    }

    @Test
    default void overlappingBatchesInOppositeOrdersRunConcurrentlyWithoutDeadlockOrDoubles() throws Exception {
        assumeConcurrentClaimsWait(this);
        IdempotentHandler<Msg, String, ?> h = builder(store(), "billing").handler((m, ctx) -> {
            recordEffect(ctx);
            Thread.sleep(1);
            return null;
        }).build();
        int rounds = 10;
        int size = 30;
        ExecutorService executor = Executors.newFixedThreadPool(4);
        try {
            int processed = 0;
            for (int r = 0; r < rounds; r++) {
                List<Msg> forward = new ArrayList<>();
                for (int i = 0; i < size; i++) {
                    forward.add(Msg.of("r" + r + "-k" + i));
                }
                List<Msg> backward = new ArrayList<>(forward);
                Collections.reverse(backward);
                List<Msg> middleOut = new ArrayList<>(forward.subList(size / 2, size));
                middleOut.addAll(forward.subList(0, size / 2));
                CyclicBarrier start = new CyclicBarrier(3);
                List<Future<List<Outcome<String>>>> runs = new ArrayList<>();
                for (List<Msg> batch : List.of(forward, backward, middleOut)) {
                    runs.add(executor.submit(() -> {
                        start.await();
                        return h.processBatch(batch);
                    }));
                }
                for (Future<List<Outcome<String>>> run : runs) {
                    processed += (int) await(run).stream().filter(Outcome::isProcessed).count();
                }
            }
            assertThat(processed).as("each key processed by exactly one batch").isEqualTo(rounds * size);
            assertThat(totalEffects()).isEqualTo(rounds * size);
            assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(rounds * size);
        } finally {
            executor.shutdownNow();
        }
    }
}
