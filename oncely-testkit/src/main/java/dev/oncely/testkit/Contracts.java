package dev.oncely.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.oncely.CallerTransaction;
import dev.oncely.DedupStore;
import dev.oncely.IdempotentHandler;
import dev.oncely.MessageHandler;
import dev.oncely.Outcome;
import dev.oncely.testkit.StoreFixture.Msg;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The helpers the pieces of the conformance suite share. Static and package-private, so that they add nothing to
 * the methods of a user's test class (where a default method of the same name would clash with the user's own).
 */
final class Contracts {

    private Contracts() {
    }

    static IdempotentHandler.Builder<Msg, String, ?> builder(DedupStore store, String consumer) {
        return IdempotentHandler.<Msg, String>builder(store).consumer(consumer).key(Msg::key);
    }

    /** A handler that records one effect per run through the fixture and answers "done-" and the key. */
    static IdempotentHandler<Msg, String, ?> recording(StoreFixture fixture, DedupStore store, String consumer) {
        return builder(store, consumer).handler(effectHandler(fixture)).build();
    }

    static MessageHandler<Msg, String, Exception> effectHandler(StoreFixture fixture) {
        return (m, ctx) -> {
            fixture.recordEffect(ctx);
            return "done-" + m.key();
        };
    }

    static <T> T await(Future<T> f) throws Exception {
        return f.get(60, TimeUnit.SECONDS);
    }

    /** One thread's part of {@link #together}; {@code thread} counts from 0. */
    interface ThreadWork<T> {
        T run(int thread) throws Exception;
    }

    /**
     * Runs {@code work} on {@code threads} threads released at once (a barrier), and returns their answers in thread
     * order; throws if any of them threw.
     */
    static <T> List<T> together(int threads, ThreadWork<T> work) throws Exception {
        CyclicBarrier start = new CyclicBarrier(threads);
        ExecutorService executor = Executors.newFixedThreadPool(threads);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                int thread = i;
                futures.add(executor.submit(() -> {
                    start.await();
                    return work.run(thread);
                }));
            }
            List<T> answers = new ArrayList<>();
            for (Future<T> f : futures) {
                answers.add(await(f));
            }
            return answers;
        } finally {
            executor.shutdownNow();
        }
    }

    /** Delivers a processed key {@code times} more times; each must be a duplicate with the first run's answer. */
    static void redeliver(IdempotentHandler<Msg, String, ?> h, String key, Outcome<String> first, int times)
            throws Exception {
        for (int i = 0; i < times; i++) {
            Outcome<String> again = h.process(Msg.of(key));
            assertThat(again.isDuplicate()).as("redelivery %d of %s", i, key).isTrue();
            assertThat(again.firstProcessedAt()).isEqualTo(first.firstProcessedAt());
            assertThat(again.result()).isEqualTo(first.result());
        }
    }

    static void assumeConcurrentClaimsWait(StoreFixture fixture) {
        assumeTrue(fixture.capabilities().concurrentClaimsWait(),
                "store does not wait on a concurrent claim of the same key (see its capabilities)");
    }

    /** A caller transaction no store can join: it offers no resource at all. */
    static CallerTransaction foreignTransaction() {
        return new CallerTransaction() {
            @Override
            public <T> Optional<T> unwrap(Class<T> type) {
                return Optional.empty();
            }
        };
    }
}
