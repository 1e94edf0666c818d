package dev.oncely.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.oncely.BatchResult;
import dev.oncely.CallerTransaction;
import dev.oncely.IdempotentHandler;
import dev.oncely.InvalidMessageException;
import dev.oncely.MessageHandler;
import dev.oncely.OncelyException;
import dev.oncely.Outcome;
import dev.oncely.PayloadConflictException;
import dev.oncely.ProcessingContext;
import dev.oncely.ResultCodec;
import dev.oncely.DedupStore;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The conformance suite every {@link DedupStore} passes. Extend it, implement the fixture methods, and run it
 * with JUnit 5: every case asks only what {@link #capabilities()} says the store promises.
 *
 * <p>Each test starts from empty tables: {@link #store()} must return a store whose claim table and effect
 * table are empty when the test calls it.
 */
public abstract class DedupStoreContract {

    // ------------------------------------------------------------------------------------------------ fixture

    /** A store on the default table; its claims and the effects are empty when a test starts. */
    protected abstract DedupStore store() throws Exception;

    /** A store on another table, which exists and is empty. */
    protected abstract DedupStore storeOnTable(String table) throws Exception;

    /** Writes one business effect for the context's consumer and key, in its transaction where there is one. */
    protected abstract void recordEffect(ProcessingContext context) throws Exception;

    /** How many effects are committed for a consumer and key. */
    protected abstract long effects(String consumer, String key) throws Exception;

    /** How many effects are committed in all. */
    protected abstract long totalEffects() throws Exception;

    /**
     * How many claims are committed in the table (default table: {@code processed_events}): keys holding one. A
     * store that may write a key into two places counts it once; one that keeps expired keys until it drops a
     * whole partition ({@link StoreCapabilities#purgesSingleKeys()} false) counts only unexpired ones.
     */
    protected abstract long claimRows(String table) throws Exception;

    /** Begins a caller's transaction on the store's database. */
    protected abstract OpenTransaction beginTransaction() throws Exception;

    /**
     * A caller transaction in autocommit mode, when {@link StoreCapabilities#rejectsAutocommit()}; the
     * returned resource is closed by the test.
     */
    protected Optional<OpenTransaction> autocommitTransaction() throws Exception {
        return Optional.empty();
    }

    /** Lets at least {@code duration} pass on the store's clock (advance a test clock, or sleep). */
    protected abstract void letStoreClockPass(Duration duration) throws Exception;

    protected abstract StoreCapabilities capabilities();

    protected static final String DEFAULT_TABLE = "processed_events";

    // ------------------------------------------------------------------------------------------------ helpers

    /** A test message: the key and a payload. */
    public record Msg(String key, String payload) {
        static Msg of(String key) {
            return new Msg(key, "payload-of-" + key);
        }
    }

    /** An exception a handler throws on purpose. */
    public static final class Boom extends Exception {
        public Boom(String message) {
            super(message);
        }
    }

    private ExecutorService pool;

    @AfterEach
    void stopPool() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }

    private ExecutorService pool(int threads) {
        if (pool != null) {
            pool.shutdownNow();
        }
        pool = Executors.newFixedThreadPool(threads);
        return pool;
    }

    private IdempotentHandler.Builder<Msg, String, ?> builder(DedupStore store, String consumer) {
        return IdempotentHandler.<Msg, String>builder(store).consumer(consumer).key(Msg::key);
    }

    private IdempotentHandler<Msg, String, ?> recording(DedupStore store, String consumer) {
        return builder(store, consumer).handler(effectHandler()).build();
    }

    private MessageHandler<Msg, String, Exception> effectHandler() {
        return (m, ctx) -> {
            recordEffect(ctx);
            return "done-" + m.key();
        };
    }

    private static <T> T await(Future<T> f) throws Exception {
        return f.get(60, TimeUnit.SECONDS);
    }

    // ------------------------------------------------------------------------------------------------ cases

    @Test
    void sequentialDuplicateIsReportedAndNotProcessedAgain() throws Exception {
        IdempotentHandler<Msg, String, ?> h = recording(store(), "billing");

        Outcome<String> first = h.process(Msg.of("evt-1"));
        Outcome<String> second = h.process(Msg.of("evt-1"));

        assertThat(first.isProcessed()).isTrue();
        assertThat(first.result()).contains("done-evt-1");
        assertThat(second.isDuplicate()).isTrue();
        assertThat(second.key()).isEqualTo("evt-1");
        assertThat(second.firstProcessedAt()).isEqualTo(first.firstProcessedAt());
        assertThat(second.result()).as("no codec, nothing replayed").isEmpty();
        assertThat(effects("billing", "evt-1")).isEqualTo(1);
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(1);
    }

    @Test
    void handlerFailureRollsBackAndReleasesTheKey() throws Exception {
        DedupStore store = store();
        Boom boom = new Boom("payment gateway said no");
        IdempotentHandler<Msg, String, ?> failing = builder(store, "billing").handler((m, ctx) -> {
            if (capabilities().transactionalEffects()) {
                recordEffect(ctx);
            }
            throw boom;
        }).build();

        Throwable thrown = catchThrowable(() -> failing.process(Msg.of("evt-1")));

        assertThat(thrown).as("the handler's own exception, same instance").isSameAs(boom);
        assertThat(effects("billing", "evt-1")).as("business write rolled back").isZero();
        assertThat(claimRows(DEFAULT_TABLE)).as("claim rolled back").isZero();

        Outcome<String> redelivery = recording(store, "billing").process(Msg.of("evt-1"));
        assertThat(redelivery.isProcessed()).isTrue();
        assertThat(effects("billing", "evt-1")).isEqualTo(1);
    }

    @Test
    void concurrentDuplicateStormHasExactlyOneEffect() throws Exception {
        assumeConcurrentClaimsWait();
        int threads = 24;
        IdempotentHandler<Msg, String, ?> h = builder(store(), "billing").handler((m, ctx) -> {
            recordEffect(ctx);
            Thread.sleep(50); // keep the winner's transaction open while the others arrive
            return "ok";
        }).build();
        CyclicBarrier start = new CyclicBarrier(threads);
        ExecutorService executor = pool(threads);
        List<Future<Outcome<String>>> futures = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            futures.add(executor.submit(() -> {
                start.await();
                return h.process(Msg.of("storm"));
            }));
        }
        List<Outcome<String>> outcomes = new ArrayList<>();
        for (Future<Outcome<String>> f : futures) {
            outcomes.add(await(f)); // throws if any caller got an exception
        }

        assertThat(outcomes).filteredOn(Outcome::isProcessed).hasSize(1);
        assertThat(outcomes).filteredOn(Outcome::isDuplicate).hasSize(threads - 1);
        assertThat(effects("billing", "storm")).isEqualTo(1);
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(1);
    }

    @Test
    void whenTheWinnerRollsBackExactlyOneWaiterProcesses() throws Exception {
        assumeConcurrentClaimsWait();
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
        ExecutorService executor = pool(waiters + 1);
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
    }

    /**
     * Most messages duplicates (a redelivery storm, a replay) may make a store answer them another way, such as a
     * read without a transaction ({@link DedupStore#inClaimingTransaction}): no answer may change. Fresh keys amid
     * the storm are processed once, a failing handler still releases its key, a different payload is still a
     * conflict, an expired key is processed again, and a key held by an open transaction is still waited for.
     */
    @Test
    void aRedeliveryStormChangesNoAnswer() throws Exception {
        DedupStore store = store();
        AtomicInteger receipts = new AtomicInteger();
        IdempotentHandler<Msg, String, ?> h = builder(store, "billing")
                .resultCodec(ResultCodec.utf8())
                .fingerprint(m -> m.payload().getBytes(StandardCharsets.UTF_8))
                .handler((m, ctx) -> {
                    recordEffect(ctx);
                    return "receipt-" + receipts.incrementAndGet();
                }).build();
        IdempotentHandler<Msg, String, ?> shortLived = builder(store, "billing").retentionForTestsOnly(Duration.ofSeconds(1))
                .handler(effectHandler()).build();
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
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            IdempotentHandler<Msg, String, ?> holding = builder(store, "billing").handler((m, ctx) -> {
                recordEffect(ctx);
                inside.countDown();
                release.await();
                return "held";
            }).build();
            redeliver(h, "evt-1", first, 20);
            ExecutorService executor = pool(2);
            Future<Outcome<String>> winner = executor.submit(() -> holding.process(Msg.of("held")));
            assertThat(inside.await(30, TimeUnit.SECONDS)).isTrue();
            Future<Outcome<String>> waiter = executor.submit(() -> h.process(Msg.of("held")));
            Thread.sleep(300);
            assertThat(waiter.isDone()).as("a redelivery waits for the open claim of its key").isFalse();
            release.countDown();
            assertThat(await(winner).isProcessed()).isTrue();
            assertThat(await(waiter).isDuplicate()).isTrue();
            assertThat(effects("billing", "held")).isEqualTo(1);
        }
        assertThat(effects("billing", "evt-1")).isEqualTo(1);
        assertThat(effects("billing", "fresh")).isEqualTo(1);
        assertThat(effects("billing", "fails")).isEqualTo(1);
        assertThat(effects("billing", "short")).isEqualTo(2);
        assertThat(receipts).hasValue(3);
    }

    /** Delivers a processed key {@code times} more times; each must be a duplicate with the first run's answer. */
    private static void redeliver(IdempotentHandler<Msg, String, ?> h, String key, Outcome<String> first, int times)
            throws Exception {
        for (int i = 0; i < times; i++) {
            Outcome<String> again = h.process(Msg.of(key));
            assertThat(again.isDuplicate()).as("redelivery %d of %s", i, key).isTrue();
            assertThat(again.firstProcessedAt()).isEqualTo(first.firstProcessedAt());
            assertThat(again.result()).isEqualTo(first.result());
        }
    }

    @Test
    void joinsTheCallersTransactionAndCommitsNothingItself() throws Exception {
        IdempotentHandler<Msg, String, ?> h = recording(store(), "billing");

        try (OpenTransaction tx = beginTransaction()) {
            Outcome<String> inside = h.processIn(tx.transaction(), Msg.of("joined"));
            assertThat(inside.isProcessed()).isTrue();
            tx.rollback();
        }
        assertThat(claimRows(DEFAULT_TABLE)).as("caller rolled back: no claim").isZero();
        if (capabilities().transactionalEffects()) {
            assertThat(effects("billing", "joined")).isZero();
        }

        try (OpenTransaction tx = beginTransaction()) {
            assertThat(h.processIn(tx.transaction(), Msg.of("joined")).isProcessed()).isTrue();
            tx.commit();
        }
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(1);
        assertThat(h.process(Msg.of("joined")).isDuplicate()).isTrue();
    }

    @Test
    void callersTransactionStaysUsableAfterADuplicate() throws Exception {
        IdempotentHandler<Msg, String, ?> h = recording(store(), "billing");
        h.process(Msg.of("seen"));

        try (OpenTransaction tx = beginTransaction()) {
            assertThat(h.processIn(tx.transaction(), Msg.of("seen")).isDuplicate()).isTrue();
            assertThat(h.processIn(tx.transaction(), Msg.of("fresh")).isProcessed())
                    .as("the transaction still works after the duplicate").isTrue();
            assertThat(h.processIn(tx.transaction(), Msg.of("fresh")).isDuplicate())
                    .as("a key claimed earlier in the same transaction").isTrue();
            tx.commit();
        }
        assertThat(effects("billing", "seen")).isEqualTo(1);
        assertThat(effects("billing", "fresh")).isEqualTo(1);
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(2);
    }

    @Test
    void aTransactionTheStoreCannotJoinIsRejectedBeforeAnythingIsWritten() throws Exception {
        IdempotentHandler<Msg, String, ?> h = recording(store(), "billing");
        assertThatThrownBy(() -> h.processIn(foreignTransaction(), Msg.of("foreign")))
                .isInstanceOf(OncelyException.class)
                .hasMessageContaining("join");
        if (capabilities().rejectsAutocommit()) {
            try (OpenTransaction autocommit = autocommitTransaction().orElseThrow(() -> new AssertionError(
                    "rejectsAutocommit is set, so autocommitTransaction() must return a transaction"))) {
                assertThatThrownBy(() -> h.processIn(autocommit.transaction(), Msg.of("auto")))
                        .isInstanceOf(OncelyException.class)
                        .hasMessageContaining("autocommit")
                        .hasMessageContaining("Begin a transaction first");
            }
        }
        assertThat(claimRows(DEFAULT_TABLE)).isZero();
        assertThat(totalEffects()).isZero();
    }

    @Test
    void customTableNameIsUsed() throws Exception {
        DedupStore custom = storeOnTable("oncely_custom_events");
        IdempotentHandler<Msg, String, ?> h = recording(custom, "billing");

        assertThat(h.process(Msg.of("evt-1")).isProcessed()).isTrue();
        assertThat(h.process(Msg.of("evt-1")).isDuplicate()).isTrue();

        assertThat(claimRows("oncely_custom_events")).isEqualTo(1);
        assertThat(claimRows(DEFAULT_TABLE)).isZero();
        assertThat(custom.describe()).contains("oncely_custom_events");
    }

    @Test
    void badKeysAreRejectedWithTheLimitAndNothingIsWritten() throws Exception {
        IdempotentHandler<Msg, String, ?> h = recording(store(), "billing");

        assertThatThrownBy(() -> h.process(new Msg(null, "p"))).isInstanceOf(InvalidMessageException.class)
                .hasMessageContaining("is null");
        assertThatThrownBy(() -> h.process(new Msg("  ", "p"))).isInstanceOf(InvalidMessageException.class)
                .hasMessageContaining("is blank");
        assertThatThrownBy(() -> h.process(new Msg("k".repeat(256), "p")))
                .isInstanceOf(InvalidMessageException.class)
                .hasMessageContaining("256 characters long")
                .hasMessageContaining("limit is " + IdempotentHandler.MAX_KEY_LENGTH);
        assertThatThrownBy(() -> h.process(new Msg("bad\0key", "p"))).isInstanceOf(InvalidMessageException.class)
                .hasMessageContaining("NUL");
        assertThatThrownBy(() -> h.process(new Msg("bad\uD800", "p"))).isInstanceOf(InvalidMessageException.class)
                .hasMessageContaining("surrogate");
        assertThatThrownBy(() -> h.processBatch(List.of(Msg.of("ok-1"), new Msg("", "p"))))
                .isInstanceOf(InvalidMessageException.class)
                .hasMessageContaining("Message 1 of the batch");
        assertThat(claimRows(DEFAULT_TABLE)).isZero();
        assertThat(totalEffects()).isZero();

        // The longest key, in 4-byte characters, and other non-ASCII keys are stored and deduplicated.
        String longest = "\uD83D\uDE00".repeat(IdempotentHandler.MAX_KEY_LENGTH);
        for (String key : List.of(longest, "k".repeat(255), "événement-ß-日本-1", "a'b\"c;--")) {
            assertThat(h.process(Msg.of(key)).isProcessed()).as(key).isTrue();
            assertThat(h.process(Msg.of(key)).isDuplicate()).as(key).isTrue();
            assertThat(effects("billing", key)).isEqualTo(1);
        }
    }

    @Test
    void theFirstRunsResultIsReplayedToDuplicates() throws Exception {
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
    void aDifferentPayloadUnderTheSameKeyIsAConflict() throws Exception {
        IdempotentHandler<Msg, String, ?> h = builder(store(), "billing")
                .fingerprint(m -> m.payload().getBytes(StandardCharsets.UTF_8))
                .handler(effectHandler()).build();

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

    @Test
    void anExpiredKeyIsProcessedAgainAndPurged() throws Exception {
        DedupStore store = store();
        IdempotentHandler<Msg, String, ?> shortLived = builder(store, "billing").retentionForTestsOnly(Duration.ofSeconds(1))
                .handler(effectHandler()).build();
        IdempotentHandler<Msg, String, ?> forever = recording(store, "billing");

        assertThat(shortLived.process(Msg.of("short")).isProcessed()).isTrue();
        assertThat(forever.process(Msg.of("kept")).isProcessed()).isTrue();
        assertThat(shortLived.process(Msg.of("short")).isDuplicate()).as("inside the window").isTrue();
        assertThat(store.purgeExpired(100)).as("nothing has expired yet").isZero();

        letStoreClockPass(Duration.ofMillis(1500));

        assertThat(shortLived.process(Msg.of("short")).isProcessed()).as("expired: claimable again").isTrue();
        assertThat(effects("billing", "short")).isEqualTo(2);
        assertThat(shortLived.process(Msg.of("short")).isDuplicate()).as("the new claim holds").isTrue();

        letStoreClockPass(Duration.ofMillis(1500));
        if (capabilities().purgesSingleKeys()) {
            assertThat(store.purgeExpired(100)).isEqualTo(1);
        } else {
            assertThat(store.purgeExpired(100)).as("its partition still takes claims: nothing to drop yet").isZero();
        }
        assertThat(claimRows(DEFAULT_TABLE)).as("only the unexpiring key is left").isEqualTo(1);
        assertThat(forever.process(Msg.of("kept")).isDuplicate()).isTrue();
        assertThatThrownBy(() -> store.purgeExpired(0)).isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * A claim never expires under its own open transaction: a redelivery that arrives after the key's retention
     * has run out, while the first delivery's transaction is still open, waits for it and is a duplicate once it
     * commits, not a second run. (A store that counts retention from the claim must move the expiry of a slow
     * transaction's keys before it commits, or count it from the commit.)
     */
    @Test
    void aRedeliveryWaitingOnAClaimerSlowerThanTheRetentionIsADuplicate() throws Exception {
        DedupStore store = store();
        Duration retention = Duration.ofSeconds(1);
        CountDownLatch expired = new CountDownLatch(1);
        CountDownLatch redelivering = new CountDownLatch(1);
        IdempotentHandler<Msg, String, ?> slow = builder(store, "billing").retentionForTestsOnly(retention)
                .handler((m, ctx) -> {
                    recordEffect(ctx);
                    if (expired.getCount() > 0) {
                        letStoreClockPass(retention.plusMillis(500));
                        expired.countDown();
                        redelivering.await(30, TimeUnit.SECONDS);
                        Thread.sleep(300); // the redelivery now waits on the key this transaction holds
                    }
                    return "slow";
                }).build();
        ExecutorService executor = pool(2);
        Future<Outcome<String>> first = executor.submit(() -> slow.process(Msg.of("slow")));
        assertThat(expired.await(30, TimeUnit.SECONDS)).isTrue();
        Future<Outcome<String>> redelivery = executor.submit(() -> {
            redelivering.countDown();
            return slow.process(Msg.of("slow"));
        });

        assertThat(await(first).isProcessed()).isTrue();
        assertThat(await(redelivery).isDuplicate()).as("the redelivery that waited on the slow claim").isTrue();
        assertThat(effects("billing", "slow")).isEqualTo(1);
        assertThat(slow.process(Msg.of("slow")).isDuplicate()).as("and the claim is live after its commit").isTrue();
    }

    @Test
    void eachConsumerProcessesTheSameEventOnce() throws Exception {
        DedupStore store = store();
        IdempotentHandler<Msg, String, ?> billing = recording(store, "billing");
        IdempotentHandler<Msg, String, ?> shipping = recording(store, "shipping");

        assertThat(billing.process(Msg.of("order-7")).isProcessed()).isTrue();
        assertThat(shipping.process(Msg.of("order-7")).isProcessed()).isTrue();
        assertThat(billing.process(Msg.of("order-7")).isDuplicate()).isTrue();
        assertThat(shipping.process(Msg.of("order-7")).isDuplicate()).isTrue();

        assertThat(effects("billing", "order-7")).isEqualTo(1);
        assertThat(effects("shipping", "order-7")).isEqualTo(1);
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(2);
    }

    @Test
    void thousandEventsDeliveredThreeTimesFromThirtyTwoThreads() throws Exception {
        assumeConcurrentClaimsWait();
        int events = 1000;
        int deliveries = 3;
        int threads = 32;
        IdempotentHandler<Msg, String, ?> h = recording(store(), "billing");
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
        ExecutorService executor = pool(threads);
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
    }

    // ------------------------------------------------------------------------------------------------ batches

    @Test
    void aBatchRunsFreshMessagesInInputOrderAndReportsInBatchDuplicates() throws Exception {
        List<String> ran = new CopyOnWriteArrayList<>();
        IdempotentHandler<Msg, String, ?> h = builder(store(), "billing").handler((m, ctx) -> {
            ran.add(m.key());
            recordEffect(ctx);
            return "done-" + m.key();
        }).build();
        h.process(Msg.of("b"));
        ran.clear();

        List<Outcome<String>> outcomes = h.processBatch(
                List.of(Msg.of("z"), Msg.of("b"), Msg.of("a"), Msg.of("z"), Msg.of("m")));

        assertThat(outcomes).extracting(Outcome::key).containsExactly("z", "b", "a", "z", "m");
        assertThat(outcomes).extracting(Outcome::status).containsExactly(Outcome.Status.PROCESSED,
                Outcome.Status.DUPLICATE, Outcome.Status.PROCESSED, Outcome.Status.DUPLICATE,
                Outcome.Status.PROCESSED);
        assertThat(ran).as("handler order is input order, not key order").containsExactly("z", "a", "m");
        assertThat(outcomes.get(3).firstProcessedAt()).isEqualTo(outcomes.get(0).firstProcessedAt());
        assertThat(outcomes.get(0).result()).contains("done-z");
        for (String key : List.of("z", "b", "a", "m")) {
            assertThat(effects("billing", key)).as(key).isEqualTo(1);
        }
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(4);
        assertThat(h.processBatch(List.of())).isEmpty();
    }

    @Test
    void aBatchOverlappingAnEarlierBatchProcessesOnlyTheNewKeys() throws Exception {
        IdempotentHandler<Msg, String, ?> h = recording(store(), "billing");
        List<Msg> first = IntStream.range(0, 50).mapToObj(i -> Msg.of("k" + i)).collect(Collectors.toList());
        List<Msg> second = IntStream.range(25, 75).mapToObj(i -> Msg.of("k" + i)).collect(Collectors.toList());

        assertThat(h.processBatch(first)).allMatch(Outcome::isProcessed);
        List<Outcome<String>> overlap = h.processBatch(second);

        assertThat(overlap.subList(0, 25)).allMatch(Outcome::isDuplicate);
        assertThat(overlap.subList(25, 50)).allMatch(Outcome::isProcessed);
        assertThat(totalEffects()).isEqualTo(75);
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(75);
    }

    @Test
    void overlappingBatchesInOppositeOrdersRunConcurrentlyWithoutDeadlockOrDoubles() throws Exception {
        assumeConcurrentClaimsWait();
        IdempotentHandler<Msg, String, ?> h = builder(store(), "billing").handler((m, ctx) -> {
            recordEffect(ctx);
            Thread.sleep(1);
            return null;
        }).build();
        int rounds = 10;
        int size = 30;
        ExecutorService executor = pool(4);
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
    }

    @Test
    void aFailureInsideABatchRollsBackTheWholeBatch() throws Exception {
        DedupStore store = store();
        Boom boom = new Boom("message c is poison");
        IdempotentHandler<Msg, String, ?> failing = builder(store, "billing").handler((m, ctx) -> {
            if (m.key().equals("c")) {
                throw boom;
            }
            if (capabilities().transactionalEffects()) {
                recordEffect(ctx);
            }
            return null;
        }).build();
        List<Msg> batch = List.of(Msg.of("a"), Msg.of("b"), Msg.of("c"), Msg.of("d"));

        assertThat(catchThrowable(() -> failing.processBatch(batch))).isSameAs(boom);
        assertThat(claimRows(DEFAULT_TABLE)).as("no claim of the batch survives").isZero();
        assertThat(totalEffects()).isZero();

        List<Outcome<String>> redelivered = recording(store, "billing").processBatch(batch);
        assertThat(redelivered).allMatch(Outcome::isProcessed);
        assertThat(totalEffects()).isEqualTo(4);
    }

    @Test
    void aFailingMessageCanBeIsolatedFromItsBatch() throws Exception {
        DedupStore store = store();
        Boom boom = new Boom("message c is poison");
        Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
        IdempotentHandler<Msg, String, ?> h = builder(store, "billing")
                .fingerprint(m -> m.payload().getBytes(StandardCharsets.UTF_8))
                .handler((m, ctx) -> {
                    runs.computeIfAbsent(m.key(), k -> new AtomicInteger()).incrementAndGet();
                    if (m.key().equals("c")) {
                        throw boom;
                    }
                    recordEffect(ctx);
                    return "done-" + m.key();
                }).build();
        h.process(new Msg("seen", "original"));

        List<Msg> batch = List.of(Msg.of("a"), Msg.of("b"), Msg.of("c"), Msg.of("b"), Msg.of("c"),
                new Msg("seen", "tampered"), Msg.of("d"));
        BatchResult<String> result = h.processBatchIsolatingFailures(batch);

        assertThat(result.size()).isEqualTo(7);
        assertThat(result.failures().keySet()).containsExactly(2, 4, 5);
        assertThat(result.failure(2)).containsSame(boom);
        assertThat(result.failure(4)).as("every occurrence of the failing key").containsSame(boom);
        assertThat(result.failure(5).orElseThrow()).isInstanceOf(PayloadConflictException.class);
        assertThat(result.outcome(0).orElseThrow().isProcessed()).isTrue();
        assertThat(result.outcome(1).orElseThrow().isProcessed()).isTrue();
        assertThat(result.outcome(3).orElseThrow().isDuplicate()).isTrue();
        assertThat(result.outcome(6).orElseThrow().result()).contains("done-d");
        assertThat(result.outcome(2)).isEmpty();
        assertThat(result.outcomes()).extracting(Outcome::key).containsExactly("a", "b", "b", "d");
        assertThat(runs.get("c")).as("the failing handler ran once, not once per attempt").hasValue(1);
        assertThat(claimRows(DEFAULT_TABLE)).as("seen, a, b, d; no claim for c").isEqualTo(4);
        if (capabilities().transactionalEffects()) {
            for (String key : List.of("a", "b", "d")) {
                assertThat(effects("billing", key)).as(key).isEqualTo(1);
            }
            assertThat(effects("billing", "c")).isZero();
        }
        assertThat(recording(store, "billing").process(Msg.of("c")).isProcessed()).as("c was never claimed").isTrue();
    }

    @Test
    void aBatchWhoseMessagesAllFailCommitsNothing() throws Exception {
        Boom boom = new Boom("down");
        IdempotentHandler<Msg, String, ?> h = builder(store(), "billing").handler((m, ctx) -> {
            throw boom;
        }).build();

        BatchResult<String> result = h.processBatchIsolatingFailures(List.of(Msg.of("x"), Msg.of("y")));

        assertThat(result.failures()).hasSize(2).containsValues(boom);
        assertThat(result.outcomes()).isEmpty();
        assertThat(result.hasFailures()).isTrue();
        assertThat(claimRows(DEFAULT_TABLE)).isZero();
        assertThat(h.processBatchIsolatingFailures(List.of()).size()).isZero();
    }

    @Test
    void aBatchJoinsTheCallersTransaction() throws Exception {
        IdempotentHandler<Msg, String, ?> h = recording(store(), "billing");
        try (OpenTransaction tx = beginTransaction()) {
            List<Outcome<String>> outcomes = h.processBatchIn(tx.transaction(),
                    List.of(Msg.of("x"), Msg.of("y"), Msg.of("x")));
            assertThat(outcomes).extracting(Outcome::status).containsExactly(Outcome.Status.PROCESSED,
                    Outcome.Status.PROCESSED, Outcome.Status.DUPLICATE);
            tx.rollback();
        }
        assertThat(claimRows(DEFAULT_TABLE)).isZero();
        try (OpenTransaction tx = beginTransaction()) {
            h.processBatchIn(tx.transaction(), List.of(Msg.of("x"), Msg.of("y")));
            tx.commit();
        }
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(2);
        if (capabilities().transactionalEffects()) {
            assertThat(totalEffects()).as("the rolled-back batch left no effect").isEqualTo(2);
        }
    }

    private void assumeConcurrentClaimsWait() {
        assumeTrue(capabilities().concurrentClaimsWait(),
                "store does not wait on a concurrent claim of the same key (see its capabilities)");
    }

    /** A caller transaction no store can join: it offers no resource at all. */
    protected static CallerTransaction foreignTransaction() {
        return new CallerTransaction() {
            @Override
            public <T> Optional<T> unwrap(Class<T> type) {
                return Optional.empty();
            }
        };
    }
}
