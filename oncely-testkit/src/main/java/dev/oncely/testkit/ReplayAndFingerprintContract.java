package dev.oncely.testkit;

import static dev.oncely.testkit.Contracts.await;
import static dev.oncely.testkit.Contracts.builder;
import static dev.oncely.testkit.Contracts.effectHandler;
import static dev.oncely.testkit.Contracts.redeliver;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.oncely.DedupStore;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import dev.oncely.PayloadConflictException;
import dev.oncely.ResultCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * What a duplicate answers: the first run's result replayed through a codec, a different payload under the same
 * key reported as a conflict, and no answer changed by a storm of redeliveries.
 */
public interface ReplayAndFingerprintContract extends StoreFixture {

    @Test
    default void theFirstRunsResultIsReplayedToDuplicates() throws Exception {
        AtomicInteger receipts = new AtomicInteger();
        IdempotentHandler<Msg, String, ?> h = builder(store(), "billing")
                .resultCodec(ResultCodec.utf8())
                .handler((m, ctx) -> {
                    recordEffect(ctx);
                    return m.key().startsWith("none") ? null : "receipt-" + receipts.incrementAndGet();
                }).build();

        assertThat(h.process(Msg.of("evt-1")).result()).contains("receipt-1");
        Outcome<String> dup = h.process(Msg.of("evt-1"));
        assertThat(dup.isDuplicate()).isTrue();
        assertThat(dup.result()).as("replayed, not recomputed").contains("receipt-1");

        assertThat(h.process(Msg.of("none-1")).result()).isEmpty();
        assertThat(h.process(Msg.of("none-1")).result()).isEmpty();

        List<Outcome<String>> batch = h.processBatch(List.of(Msg.of("evt-1"), Msg.of("evt-2"), Msg.of("evt-2")));
        assertThat(batch).extracting(o -> o.result().orElse(null))
                .containsExactly("receipt-1", "receipt-2", "receipt-2");
        assertThat(h.process(Msg.of("evt-2")).result()).contains("receipt-2");
        assertThat(receipts).hasValue(2);
    }

    @Test
    default void aDifferentPayloadUnderTheSameKeyIsAConflict() throws Exception {
        IdempotentHandler<Msg, String, ?> h = builder(store(), "billing")
                .fingerprint(m -> m.payload().getBytes(StandardCharsets.UTF_8))
                .handler(effectHandler(this)).build();

        Outcome<String> first = h.process(new Msg("evt-1", "charge 10 EUR"));
        assertThat(h.process(new Msg("evt-1", "charge 10 EUR")).isDuplicate()).isTrue();
        PayloadConflictException conflict = (PayloadConflictException) catchThrowable(
                () -> h.process(new Msg("evt-1", "charge 99 EUR")));

        assertThat(conflict).isNotNull();
        assertThat(conflict.key()).isEqualTo("evt-1");
        assertThat(conflict.consumer()).isEqualTo("billing");
        assertThat(conflict.firstProcessedAt()).isEqualTo(first.firstProcessedAt());
        assertThat(conflict).hasMessageContaining("different payload");
        assertThatThrownBy(() -> h.processBatch(List.of(new Msg("evt-2", "a"), new Msg("evt-2", "b"))))
                .isInstanceOf(PayloadConflictException.class);
        assertThat(effects("billing", "evt-1")).isEqualTo(1);
        assertThat(h.process(new Msg("evt-2", "b")).isProcessed()).as("the conflicting batch rolled back").isTrue();
        if (capabilities().transactionalEffects()) {
            assertThat(effects("billing", "evt-2")).isEqualTo(1);
        }
    }

    /**
     * Most messages duplicates (a redelivery storm, a replay) may make a store answer them another way, such as a
     * read without a transaction ({@link DedupStore#inClaimingTransaction}): no answer may change. Fresh keys amid
     * the storm are processed once, a failing handler still releases its key, a different payload is still a
     * conflict, an expired key is processed again, and a key held by an open transaction is still waited for.
     */
    @Test
    default void aRedeliveryStormChangesNoAnswer() throws Exception {
        DedupStore store = store();
        AtomicInteger receipts = new AtomicInteger();
        IdempotentHandler<Msg, String, ?> h = receiptHandler(store, receipts);
        IdempotentHandler<Msg, String, ?> shortLived = builder(store, "billing").retentionForTestsOnly(Duration.ofSeconds(1))
                .handler(effectHandler(this)).build();
        Outcome<String> first = h.process(Msg.of("evt-1"));
        assertThat(shortLived.process(Msg.of("short")).isProcessed()).isTrue();

        redeliver(h, "evt-1", first, 100);
        assertThat(h.process(Msg.of("fresh")).isProcessed()).as("a fresh key amid the storm").isTrue();
        assertThat(h.process(Msg.of("fresh")).result()).contains("receipt-2");

        Boom boom = new Boom("declined");
        IdempotentHandler<Msg, String, ?> failing = builder(store, "billing").handler((m, ctx) -> {
            if (capabilities().transactionalEffects()) {
                recordEffect(ctx);
            }
            throw boom;
        }).build();
        redeliver(h, "evt-1", first, 20);
        assertThat(catchThrowable(() -> failing.process(Msg.of("fails")))).isSameAs(boom);
        redeliver(h, "evt-1", first, 20);
        assertThat(h.process(Msg.of("fails")).isProcessed()).as("the failed run released its key").isTrue();

        redeliver(h, "evt-1", first, 20);
        assertThatThrownBy(() -> h.process(new Msg("evt-1", "another payload")))
                .isInstanceOf(PayloadConflictException.class);

        letStoreClockPass(Duration.ofMillis(1500));
        redeliver(h, "evt-1", first, 20);
        assertThat(shortLived.process(Msg.of("short")).isProcessed()).as("expired: claimable again").isTrue();
        redeliver(h, "evt-1", first, 20);
        assertThat(shortLived.process(Msg.of("short")).isDuplicate()).as("the new claim holds").isTrue();

        if (capabilities().concurrentClaimsWait()) {
            aRedeliveryWaitsForTheOpenClaimOfItsKey(store, () -> redeliver(h, "evt-1", first, 20),
                    () -> h.process(Msg.of("held")).isDuplicate());
        }
        assertThat(effects("billing", "evt-1")).isEqualTo(1);
        assertThat(effects("billing", "fresh")).isEqualTo(1);
        assertThat(effects("billing", "fails")).isEqualTo(1);
        assertThat(effects("billing", "short")).isEqualTo(2);
        assertThat(receipts).hasValue(3);
    }

    /**
     * Whole batches redelivered again and again may make a store answer them another way, such as one read without a
     * transaction ({@link DedupStore#inClaimingBatchTransaction}): no answer may change. Every redelivery returns the
     * first outcomes (results and times), a batch with one fresh key amid the storm processes that key once, a
     * changed payload is a conflict, an expired key is processed again, and a key held by an open transaction is
     * still waited for.
     */
    @Test
    default void aStormOfRedeliveredBatchesChangesNoAnswer() throws Exception {
        DedupStore store = store();
        AtomicInteger receipts = new AtomicInteger();
        IdempotentHandler<Msg, String, ?> h = receiptHandler(store, receipts);
        List<Msg> batch = List.of(Msg.of("b3"), Msg.of("b1"), Msg.of("b2"), Msg.of("b1"));
        List<Outcome<String>> first = h.processBatch(batch);
        assertThat(first).extracting(Outcome::status).containsExactly(Outcome.Status.PROCESSED,
                Outcome.Status.PROCESSED, Outcome.Status.PROCESSED, Outcome.Status.DUPLICATE);

        for (int i = 0; i < 30; i++) {
            List<Outcome<String>> again = h.processBatch(batch);
            assertThat(again).as("redelivery %d", i).allMatch(Outcome::isDuplicate);
            assertThat(again).extracting(Outcome::key).containsExactly("b3", "b1", "b2", "b1");
            assertThat(again).extracting(Outcome::result).as("redelivery %d", i)
                    .containsExactly(first.get(0).result(), first.get(1).result(), first.get(2).result(),
                            first.get(1).result());
            assertThat(again).extracting(Outcome::firstProcessedAt).containsExactly(first.get(0).firstProcessedAt(),
                    first.get(1).firstProcessedAt(), first.get(2).firstProcessedAt(), first.get(1).firstProcessedAt());
        }
        List<Outcome<String>> withFresh = h.processBatch(List.of(Msg.of("b1"), Msg.of("fresh"), Msg.of("b2")));
        assertThat(withFresh).extracting(Outcome::status).containsExactly(Outcome.Status.DUPLICATE,
                Outcome.Status.PROCESSED, Outcome.Status.DUPLICATE);
        for (int i = 0; i < 10; i++) {
            assertThat(h.processBatch(batch)).allMatch(Outcome::isDuplicate);
        }
        assertThatThrownBy(() -> h.processBatch(List.of(Msg.of("b1"), new Msg("b2", "another payload"))))
                .isInstanceOf(PayloadConflictException.class);

        IdempotentHandler<Msg, String, ?> shortLived = builder(store, "billing")
                .retentionForTestsOnly(Duration.ofSeconds(1)).handler(effectHandler(this)).build();
        List<Msg> shortBatch = List.of(Msg.of("s1"), Msg.of("s2"));
        assertThat(shortLived.processBatch(shortBatch)).allMatch(Outcome::isProcessed);
        for (int i = 0; i < 10; i++) {
            assertThat(shortLived.processBatch(shortBatch)).allMatch(Outcome::isDuplicate);
        }
        letStoreClockPass(Duration.ofMillis(1500));
        assertThat(shortLived.processBatch(shortBatch)).as("expired: claimable again").allMatch(Outcome::isProcessed);
        assertThat(shortLived.processBatch(shortBatch)).as("the new claims hold").allMatch(Outcome::isDuplicate);

        if (capabilities().concurrentClaimsWait()) {
            aRedeliveryWaitsForTheOpenClaimOfItsKey(store, () -> {
                for (int i = 0; i < 10; i++) {
                    assertThat(h.processBatch(batch)).allMatch(Outcome::isDuplicate);
                }
            }, () -> h.processBatch(List.of(Msg.of("b1"), Msg.of("held"))).stream().allMatch(Outcome::isDuplicate));
        }
        for (String key : List.of("b1", "b2", "b3", "fresh")) {
            assertThat(effects("billing", key)).as(key).isEqualTo(1);
        }
        assertThat(effects("billing", "s1")).isEqualTo(2);
        assertThat(receipts).hasValue(4);
    }

    /** A piece of a test: runs {@code storm} and then waits as a redelivery would. */
    @FunctionalInterface
    interface Step {
        void run() throws Exception;
    }

    /**
     * While another transaction holds key "held" open: {@code storm} runs (so the store expects duplicates), then
     * {@code redelivery} of "held" must wait for that transaction, and once it commits return true (a duplicate).
     */
    private void aRedeliveryWaitsForTheOpenClaimOfItsKey(DedupStore store, Step storm,
                                                         java.util.concurrent.Callable<Boolean> redelivery)
            throws Exception {
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        IdempotentHandler<Msg, String, ?> holding = builder(store, "billing").handler((m, ctx) -> {
            recordEffect(ctx);
            inside.countDown();
            release.await();
            return "held";
        }).build();
        storm.run();
        ExecutorService executor = Executors.newFixedThreadPool(2);
        try {
            Future<Outcome<String>> winner = executor.submit(() -> holding.process(Msg.of("held")));
            assertThat(inside.await(30, TimeUnit.SECONDS)).isTrue();
            Future<Boolean> waiter = executor.submit(redelivery);
            Thread.sleep(300);
            assertThat(waiter.isDone()).as("a redelivery waits for the open claim of its key").isFalse();
            release.countDown();
            assertThat(await(winner).isProcessed()).isTrue();
            assertThat(await(waiter)).as("the redelivery is a duplicate once the claim commits").isTrue();
            assertThat(effects("billing", "held")).isEqualTo(1);
        } finally {
            executor.shutdownNow();
        }
    }

    /** Consumer "billing" with results and payload fingerprints: records an effect, returns receipt-N. */
    private IdempotentHandler<Msg, String, ?> receiptHandler(DedupStore store, AtomicInteger receipts) {
        return builder(store, "billing")
                .resultCodec(ResultCodec.utf8())
                .fingerprint(m -> m.payload().getBytes(StandardCharsets.UTF_8))
                .handler((m, ctx) -> {
                    recordEffect(ctx);
                    return "receipt-" + receipts.incrementAndGet();
                }).build();
    }
}
