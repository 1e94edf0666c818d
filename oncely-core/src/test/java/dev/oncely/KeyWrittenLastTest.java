package dev.oncely;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.oncely.inmemory.InMemoryDedupStore;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import dev.oncely.spi.StoreTransaction;
import dev.oncely.spi.TransactionWork;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * {@link IdempotentHandler.Builder#keyWrittenLast()} on the in-memory store, behind {@link LedgerStore}: a store
 * whose transactions offer a {@link Ledger} that commits and rolls back with them, so that a handler's writes in
 * the transaction can be counted. Messages are "key:payload"; the handler writes the key to the ledger.
 */
class KeyWrittenLastTest {

    private final InMemoryDedupStore memory = InMemoryDedupStore.create();
    private final LedgerStore store = new LedgerStore(memory);
    private final AtomicInteger runs = new AtomicInteger();

    private IdempotentHandler.Builder<String, String, RuntimeException> builder() {
        return IdempotentHandler.<String, String>builder(store).consumer("billing").key(m -> m.split(":")[0])
                .fingerprint(m -> m.getBytes(StandardCharsets.UTF_8))
                .resultCodec(ResultCodec.utf8())
                .handler((m, ctx) -> {
                    String key = ctx.key();
                    ctx.unwrap(Ledger.class).write(key);
                    store.calls.add("handler");
                    return "receipt-" + runs.incrementAndGet();
                });
    }

    @Test
    void keyWrittenLastWithoutAResultCodecIsRefusedSayingWhatToDo() {
        var builder = IdempotentHandler.<String, String>builder(store).consumer("billing").key(m -> m)
                .handler((m, ctx) -> "r").keyWrittenLast();

        assertThatThrownBy(builder::build)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("keyWrittenLast() of consumer 'billing'")
                .hasMessageContaining("needs resultCodec(...)")
                .hasMessageContaining("or leave keyWrittenLast() out");
    }

    @Test
    void aFreshMessageRunsTheHandlerFirstThenOneClaimWithResultAndIsProcessedWithItsResultStored() {
        IdempotentHandler<String, String, RuntimeException> handler = builder().keyWrittenLast().build();

        Outcome<String> outcome = handler.process("k1:a");

        assertThat(outcome.isProcessed()).isTrue();
        assertThat(outcome.result()).contains("receipt-1");
        assertThat(store.calls).containsExactly("handler", "claimWithResult");
        assertThat(store.committed).containsExactly("k1");
        assertThat(memory.contains("billing", "k1")).isTrue();
        Outcome<String> readByClaimFirst = builder().build().process("k1:a");
        assertThat(readByClaimFirst.isDuplicate()).as("a claim-first handler shares the key").isTrue();
        assertThat(readByClaimFirst.result()).as("the result was stored with the key").contains("receipt-1");
        assertThat(readByClaimFirst.firstProcessedAt()).isEqualTo(outcome.firstProcessedAt());
    }

    @Test
    void aHandlerWithoutAResultWritesItsKeyLastWithoutOne() {
        IdempotentHandler<String, String, RuntimeException> handler = IdempotentHandler.<String, String>builder(store)
                .consumer("billing").key(m -> m).resultCodec(ResultCodec.utf8()).keyWrittenLast()
                .handler((m, ctx) -> {
                    store.calls.add("handler");
                    return null;
                }).build();

        Outcome<String> first = handler.process("k1");
        Outcome<String> again = handler.process("k1");

        assertThat(first.isProcessed()).isTrue();
        assertThat(again.isDuplicate()).isTrue();
        assertThat(again.result()).isEmpty();
        assertThat(store.calls).containsExactly("handler", "claim", "handler", "claim");
    }

    @Test
    void aDuplicateIsAnsweredWithTheFirstRunsResultAndWhatItsRunWroteIsRolledBack() {
        IdempotentHandler<String, String, RuntimeException> handler = builder().keyWrittenLast().build();
        Outcome<String> first = handler.process("k1:a");

        Outcome<String> again = handler.process("k1:a");

        assertThat(again.isDuplicate()).isTrue();
        assertThat(again.result()).as("replayed, not this run's receipt-2").contains("receipt-1");
        assertThat(again.firstProcessedAt()).isEqualTo(first.firstProcessedAt());
        assertThat(runs).as("the in-memory store does not read first: the duplicate's handler ran").hasValue(2);
        assertThat(store.committed).as("its write rolled back").containsExactly("k1");
        assertThat(memory.size()).isEqualTo(1);
    }

    @Test
    void theSameKeyWithAnotherPayloadIsAConflictAndWhatItsRunWroteIsRolledBack() {
        IdempotentHandler<String, String, RuntimeException> handler = builder().keyWrittenLast().build();
        Outcome<String> first = handler.process("k1:a");

        Throwable conflict = catchThrowable(() -> handler.process("k1:b"));

        assertThat(conflict).isInstanceOf(PayloadConflictException.class);
        assertThat(((PayloadConflictException) conflict).firstProcessedAt()).isEqualTo(first.firstProcessedAt());
        assertThat(store.committed).containsExactly("k1");
        assertThat(builder().build().process("k1:a").result()).as("the stored result is the first's")
                .contains("receipt-1");
    }

    @Test
    void aHandlerThatThrowsStoresNoKeyAndNoWriteAndItsExceptionReachesTheCallerSoTheRedeliveryRuns() {
        IllegalStateException declined = new IllegalStateException("declined");
        IdempotentHandler<String, String, RuntimeException> failing = IdempotentHandler.<String, String>builder(store)
                .consumer("billing").key(m -> m.split(":")[0]).resultCodec(ResultCodec.utf8()).keyWrittenLast()
                .handler((m, ctx) -> {
                    ctx.unwrap(Ledger.class).write(ctx.key());
                    throw declined;
                }).build();

        assertThat(catchThrowable(() -> failing.process("k1:a"))).isSameAs(declined);

        assertThat(memory.size()).as("no key stored").isZero();
        assertThat(store.calls).as("no claim was made").isEmpty();
        assertThat(store.committed).isEmpty();
        assertThat(builder().keyWrittenLast().build().process("k1:a").isProcessed()).isTrue();
        assertThat(store.committed).containsExactly("k1");
    }

    @Test
    void ofConcurrentDeliveriesOfOneKeyExactlyOneIsProcessedAndTheOthersWritesRollBack() throws Exception {
        OncelyListenerTest.Recording recording = new OncelyListenerTest.Recording();
        IdempotentHandler<String, String, RuntimeException> handler = builder().keyWrittenLast()
                .listener(recording).build();
        store.holdAfterClaimMillis = 150; // the winner's key stays uncommitted while the others claim it
        int threads = 8;
        CyclicBarrier start = new CyclicBarrier(threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Outcome<String>>> futures = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                futures.add(pool.submit(() -> {
                    start.await();
                    return handler.process("storm:a");
                }));
            }
            List<Outcome<String>> outcomes = new ArrayList<>();
            for (Future<Outcome<String>> f : futures) {
                outcomes.add(f.get(30, TimeUnit.SECONDS));
            }

            List<Outcome<String>> processed = outcomes.stream().filter(Outcome::isProcessed).toList();
            assertThat(processed).hasSize(1);
            assertThat(outcomes).filteredOn(Outcome::isDuplicate).hasSize(threads - 1)
                    .allSatisfy(o -> assertThat(o.result()).isEqualTo(processed.get(0).result()));
            assertThat(runs).as("every delivery ran the handler").hasValue(threads);
            assertThat(store.committed).as("only the winner's write committed").containsExactly("storm");
            assertThat(store.waited).as("the others waited on the winner's uncommitted key").isPositive();
            assertThat(recording.events).extracting(ProcessingEvent::outcome)
                    .containsOnly(OutcomeKind.PROCESSED, OutcomeKind.DUPLICATE)
                    .filteredOn(k -> k == OutcomeKind.PROCESSED).hasSize(1);
            assertThat(recording.events).as("a duplicate's handler ran, and its claim answered")
                    .allSatisfy(e -> {
                        assertThat(e.handlerDuration()).isPresent();
                        assertThat(e.claimDuration()).isPresent();
                    });
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void processInAndTheBatchMethodsStillClaimFirst() throws Exception {
        IdempotentHandler<String, String, RuntimeException> handler = builder().keyWrittenLast().build();

        try (InMemoryDedupStore.InMemoryTransaction tx = memory.begin()) {
            handler.processIn(tx, "in:a");
            tx.commit();
        }
        List<String> afterProcessIn = List.copyOf(store.calls);
        store.calls.clear();
        handler.processBatch(List.of("b1:a", "b2:a"));

        assertThat(afterProcessIn).containsExactly("claim", "handler", "saveResult");
        assertThat(store.calls).containsExactly("claimAll", "handler", "handler", "saveResults");
    }

    // ------------------------------------------------------------------------------------------------------

    /** A handler's writes in the store's transaction: committed with it, or dropped when it rolls back. */
    static final class Ledger {
        private final List<String> pending = new ArrayList<>();

        void write(String entry) {
            pending.add(entry);
        }
    }

    /**
     * The in-memory store with a {@link Ledger} per transaction, recording the claim calls its transactions get.
     * {@link #holdAfterClaimMillis} keeps a transaction open after a key was claimed by {@code claimWithResult}.
     */
    static final class LedgerStore implements DedupStore {
        final InMemoryDedupStore store;
        final List<String> calls = new CopyOnWriteArrayList<>();
        final List<String> committed = new CopyOnWriteArrayList<>();
        final AtomicInteger claimsInFlight = new AtomicInteger();
        volatile int waited;
        volatile long holdAfterClaimMillis;

        LedgerStore(InMemoryDedupStore store) {
            this.store = store;
        }

        @Override
        public <T> T inTransaction(TransactionWork<T> work) throws Exception {
            Ledger ledger = new Ledger();
            T result = store.inTransaction(tx -> work.execute(recording(tx, ledger)));
            committed.addAll(ledger.pending);
            return result;
        }

        @Override
        public <T> T inCallerTransaction(CallerTransaction transaction, TransactionWork<T> work) throws Exception {
            return store.inCallerTransaction(transaction, tx -> work.execute(recording(tx, new Ledger())));
        }

        @Override
        public int purgeExpired(int maxRows) {
            return store.purgeExpired(maxRows);
        }

        @Override
        public String describe() {
            return "ledger on " + store.describe();
        }

        private StoreTransaction recording(StoreTransaction tx, Ledger ledger) {
            return new StoreTransaction() {
                @Override
                public ClaimResult claim(ClaimRequest request) {
                    calls.add("claim");
                    return tx.claim(request);
                }

                @Override
                public List<ClaimResult> claimAll(dev.oncely.spi.ClaimBatch batch) {
                    calls.add("claimAll");
                    return tx.claimAll(batch);
                }

                @Override
                public ClaimResult claimWithResult(ClaimRequest request, byte[] result) {
                    calls.add("claimWithResult");
                    boolean othersInFlight = claimsInFlight.getAndIncrement() > 0;
                    try {
                        ClaimResult claim = tx.claimWithResult(request, result);
                        if (!claim.claimed() && othersInFlight) {
                            waited++;
                        }
                        if (claim.claimed() && holdAfterClaimMillis > 0) {
                            Thread.sleep(holdAfterClaimMillis);
                        }
                        return claim;
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException(e);
                    } finally {
                        claimsInFlight.decrementAndGet();
                    }
                }

                @Override
                public void saveResult(String consumer, String key, byte[] result) {
                    calls.add("saveResult");
                    tx.saveResult(consumer, key, result);
                }

                @Override
                public void saveResults(String consumer, java.util.Map<String, byte[]> resultsByKey) {
                    calls.add("saveResults");
                    tx.saveResults(consumer, resultsByKey);
                }

                @Override
                public <T> Optional<T> resource(Class<T> type) {
                    return type == Ledger.class ? Optional.of(type.cast(ledger)) : tx.resource(type);
                }

                @Override
                public Set<Class<?>> resourceTypes() {
                    return Set.of(Ledger.class);
                }
            };
        }
    }
}
