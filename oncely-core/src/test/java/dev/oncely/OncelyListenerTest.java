package dev.oncely;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.inmemory.InMemoryDedupStore;
import dev.oncely.spi.TransactionWork;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class OncelyListenerTest {

    private final InMemoryDedupStore store = InMemoryDedupStore.create();
    private final Recording recording = new Recording();

    /** Messages are "key:payload". */
    private IdempotentHandler.Builder<String, Void, RuntimeException> builder(DedupStore on) {
        return IdempotentHandler.<String, Void>builder(on).consumer("billing").key(m -> m.split(":")[0])
                .handler((m, ctx) -> null)
                .listener(recording);
    }

    @Test
    void aProcessedMessageAndItsDuplicateAreReportedWithTheirTimesAndKey() {
        IdempotentHandler<String, Void, RuntimeException> handler = builder(store).build();

        handler.process("k1:a");
        handler.process("k1:a");

        assertThat(recording.started).containsExactly("billing/1", "billing/1");
        ProcessingEvent processed = recording.events.get(0);
        assertThat(processed.consumer()).isEqualTo("billing");
        assertThat(processed.outcome()).isEqualTo(OutcomeKind.PROCESSED);
        assertThat(processed.count(OutcomeKind.PROCESSED)).isEqualTo(1);
        assertThat(processed.messages()).isEqualTo(1);
        assertThat(processed.isBatch()).isFalse();
        assertThat(processed.claimDuration()).isPresent();
        assertThat(processed.handlerDuration()).isPresent();
        assertThat(processed.failure()).isEmpty();
        assertThat(processed.key()).contains("k1");

        ProcessingEvent duplicate = recording.events.get(1);
        assertThat(duplicate.outcome()).isEqualTo(OutcomeKind.DUPLICATE);
        assertThat(duplicate.count(OutcomeKind.DUPLICATE)).isEqualTo(1);
        assertThat(duplicate.claimDuration()).as("the claim answered 'duplicate'").isPresent();
        assertThat(duplicate.handlerDuration()).as("no handler ran for a duplicate").isEmpty();
    }

    @Test
    void theHandlerTimeIsTheTimeSpentInTheHandler() {
        IdempotentHandler<String, Void, RuntimeException> handler = IdempotentHandler.<String, Void>builder(store)
                .consumer("billing").key(m -> m)
                .handler((m, ctx) -> {
                    sleep(30);
                    return null;
                })
                .listener(recording)
                .build();

        handler.process("slow");

        ProcessingEvent event = recording.events.get(0);
        assertThat(event.handlerDuration()).hasValueSatisfying(d -> assertThat(d).isGreaterThanOrEqualTo(
                Duration.ofMillis(30)));
        assertThat(event.duration()).isGreaterThanOrEqualTo(Duration.ofMillis(30));
    }

    @Test
    void aPayloadConflictIsReportedAsConflict() {
        IdempotentHandler<String, Void, RuntimeException> handler = builder(store)
                .fingerprint(m -> m.getBytes(StandardCharsets.UTF_8)).build();
        handler.process("k1:a");

        assertThatThrownBy(() -> handler.process("k1:b")).isInstanceOf(PayloadConflictException.class);

        ProcessingEvent event = recording.events.get(1);
        assertThat(event.outcome()).isEqualTo(OutcomeKind.CONFLICT);
        assertThat(event.count(OutcomeKind.CONFLICT)).isEqualTo(1);
        assertThat(event.failure()).containsInstanceOf(PayloadConflictException.class);
    }

    @Test
    void aHandlerThatThrowsIsReportedAsFailedWithItsOwnException() {
        IOException boom = new IOException("ledger down");
        IdempotentHandler<String, Void, IOException> handler = IdempotentHandler.<String, Void>builder(store)
                .consumer("billing").key(m -> m)
                .handler((m, ctx) -> {
                    throw boom;
                })
                .listener(recording)
                .build();

        assertThatThrownBy(() -> handler.process("k1")).isSameAs(boom);

        ProcessingEvent event = recording.events.get(0);
        assertThat(event.outcome()).isEqualTo(OutcomeKind.FAILED);
        assertThat(event.failure()).containsSame(boom);
        assertThat(event.handlerDuration()).as("the handler ran, and threw").isPresent();
    }

    @Test
    void aStoreThatFailsIsReportedAsFailedWithoutAClaimTime() {
        TransientStoreException down = new TransientStoreException("database unreachable");
        IdempotentHandler<String, Void, RuntimeException> handler = builder(failingStore(down)).build();

        assertThatThrownBy(() -> handler.process("k1:a")).isSameAs(down);
        assertThatThrownBy(() -> handler.processBatch(List.of("a:1", "b:1"))).isSameAs(down);

        assertThat(recording.events).extracting(ProcessingEvent::outcome)
                .containsExactly(OutcomeKind.FAILED, OutcomeKind.FAILED);
        assertThat(recording.events.get(0).failure()).containsSame(down);
        assertThat(recording.events.get(0).claimDuration()).isEmpty();
        assertThat(recording.events.get(1).count(OutcomeKind.FAILED)).isEqualTo(2);
    }

    @Test
    void aMessageWithoutAValidKeyIsReportedAsInvalidWithoutKeyOrClaimTime() {
        IdempotentHandler<String, Void, RuntimeException> handler = builder(store).build();

        assertThatThrownBy(() -> handler.process(" :blank key")).isInstanceOf(InvalidMessageException.class);
        assertThatThrownBy(() -> handler.process(null)).isInstanceOf(InvalidMessageException.class);

        assertThat(recording.events).extracting(ProcessingEvent::outcome)
                .containsExactly(OutcomeKind.INVALID, OutcomeKind.INVALID);
        assertThat(recording.events.get(0).key()).isEmpty();
        assertThat(recording.events.get(0).claimDuration()).isEmpty();
        assertThat(recording.events.get(0).handlerDuration()).isEmpty();
    }

    @Test
    void aBatchIsOneEventThatCountsEachMessagesOutcome() {
        IdempotentHandler<String, Void, RuntimeException> handler = builder(store).build();
        handler.process("b:0");
        recording.events.clear();

        handler.processBatch(List.of("a:1", "b:1", "c:1", "a:repeat", "d:1"));

        assertThat(recording.started).last().isEqualTo("billing/5");
        assertThat(recording.events).hasSize(1);
        ProcessingEvent event = recording.events.get(0);
        assertThat(event.isBatch()).isTrue();
        assertThat(event.messages()).isEqualTo(5);
        assertThat(event.outcome()).isEqualTo(OutcomeKind.PROCESSED);
        assertThat(event.count(OutcomeKind.PROCESSED)).isEqualTo(3);
        assertThat(event.count(OutcomeKind.DUPLICATE)).isEqualTo(2);
        assertThat(event.key()).as("a batch has many keys").isEmpty();
        assertThat(event.claimDuration()).isPresent();
        assertThat(event.handlerDuration()).isPresent();
    }

    @Test
    void aBatchWhoseHandlerThrowsCountsEveryMessageAsFailed() {
        IllegalStateException boom = new IllegalStateException("no");
        IdempotentHandler<String, Void, RuntimeException> handler = IdempotentHandler.<String, Void>builder(store)
                .consumer("billing").key(m -> m)
                .batchHandler((messages, ctx) -> {
                    throw boom;
                })
                .listener(recording)
                .build();

        assertThatThrownBy(() -> handler.processBatch(List.of("a", "b", "c"))).isSameAs(boom);

        ProcessingEvent event = recording.events.get(0);
        assertThat(event.outcome()).isEqualTo(OutcomeKind.FAILED);
        assertThat(event.count(OutcomeKind.FAILED)).isEqualTo(3);
        assertThat(event.count(OutcomeKind.PROCESSED)).isZero();
    }

    @Test
    void aBatchWithAnInvalidMessageCountsEveryMessageAsInvalid() {
        IdempotentHandler<String, Void, RuntimeException> handler = builder(store).build();

        assertThatThrownBy(() -> handler.processBatch(List.of("a:1", " :2"))).isInstanceOf(InvalidMessageException.class);

        assertThat(recording.events.get(0).count(OutcomeKind.INVALID)).isEqualTo(2);
    }

    @Test
    void isolatedFailuresAreCountedBesideTheProcessedMessages() {
        IllegalStateException boom = new IllegalStateException("bad one");
        IdempotentHandler<String, Void, RuntimeException> handler = IdempotentHandler.<String, Void>builder(store)
                .consumer("billing").key(m -> m)
                .handler((m, ctx) -> {
                    if (m.equals("bad")) {
                        throw boom;
                    }
                    return null;
                })
                .listener(recording)
                .build();

        BatchResult<Void> result = handler.processBatchIsolatingFailures(List.of("a", "bad", "c"));

        assertThat(result.failures()).containsOnlyKeys(1);
        assertThat(recording.events).hasSize(1);
        ProcessingEvent event = recording.events.get(0);
        assertThat(event.count(OutcomeKind.PROCESSED)).isEqualTo(2);
        assertThat(event.count(OutcomeKind.FAILED)).isEqualTo(1);
        assertThat(event.failure()).containsSame(boom);
        assertThat(event.outcome()).isEqualTo(OutcomeKind.PROCESSED);
    }

    @Test
    void processInReportsLikeProcess() throws Exception {
        IdempotentHandler<String, Void, RuntimeException> handler = builder(store).build();
        try (InMemoryDedupStore.InMemoryTransaction tx = store.begin()) {
            handler.processIn(tx, "k1:a");
            handler.processBatchIn(tx, List.of("k1:a", "k2:a"));
            tx.commit();
        }
        assertThat(recording.events).extracting(ProcessingEvent::outcome)
                .containsExactly(OutcomeKind.PROCESSED, OutcomeKind.PROCESSED);
        assertThat(recording.events.get(1).count(OutcomeKind.DUPLICATE)).isEqualTo(1);
        assertThat(recording.events.get(1).count(OutcomeKind.PROCESSED)).isEqualTo(1);
    }

    @Test
    void anEmptyBatchReportsNothing() {
        builder(store).build().processBatch(List.of());
        assertThat(recording.started).isEmpty();
        assertThat(recording.events).isEmpty();
    }

    @Test
    void aListenerThatThrowsNeverBreaksProcessingAndTheOthersStillHear() {
        OncelyListener broken = new OncelyListener() {
            @Override
            public void processingStarted(String consumer, int messages) {
                throw new IllegalStateException("listener bug at start");
            }

            @Override
            public void processingEnded(ProcessingEvent event) {
                throw new IllegalStateException("listener bug at end");
            }
        };
        IdempotentHandler<String, Void, RuntimeException> handler = IdempotentHandler.<String, Void>builder(store)
                .consumer("billing").key(m -> m).handler((m, ctx) -> null)
                .listener(broken)
                .listener(recording)
                .build();

        for (int i = 0; i < 3; i++) {
            assertThat(handler.process("k" + i).isProcessed()).isTrue();
        }
        assertThat(store.size()).isEqualTo(3);
        assertThat(recording.events).hasSize(3);
    }

    @Test
    void thePurgerReportsEachRunWithItsDeletedKeysAndFailure() {
        MovableClock clock = new MovableClock();
        InMemoryDedupStore expiring = InMemoryDedupStore.builder().clock(clock).build();
        IdempotentHandler<String, Void, RuntimeException> handler = IdempotentHandler.<String, Void>builder(expiring)
                .consumer("billing").key(m -> m).handler((m, ctx) -> null).retention(Duration.ofMinutes(1)).build();
        for (int i = 0; i < 5; i++) {
            handler.process("k" + i);
        }
        clock.advance(Duration.ofMinutes(2));
        RetentionPurger purger = RetentionPurger.builder(expiring).chunkSize(2).pauseBetweenChunks(Duration.ZERO)
                .listener(recording).build();

        assertThat(purger.purgeNow()).isEqualTo(5);

        PurgeEvent run = recording.purges.get(0);
        assertThat(run.deleted()).isEqualTo(5);
        assertThat(run.chunks()).isEqualTo(3);
        assertThat(run.failure()).isEmpty();
        assertThat(run.store()).isEqualTo(expiring.describe());

        TransientStoreException down = new TransientStoreException("database unreachable");
        RetentionPurger failing = RetentionPurger.builder(failingStore(down)).listener(recording).build();
        assertThatThrownBy(failing::purgeNow).isSameAs(down);
        assertThat(recording.purges.get(1).failure()).containsSame(down);
        assertThat(recording.purges.get(1).deleted()).isZero();
    }

    @Test
    void buildersRefuseANullListener() {
        assertThatThrownBy(() -> IdempotentHandler.<String, Void>builder(store).listener(null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("listener is null");
        assertThatThrownBy(() -> RetentionPurger.builder(store).listener(null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("listener is null");
    }

    @Test
    void outcomeKindsAreSpelledInLowerCaseForTags() {
        assertThat(OutcomeKind.values()).extracting(OutcomeKind::tagValue)
                .containsExactly("processed", "duplicate", "conflict", "failed", "invalid");
    }

    // ------------------------------------------------------------------------------------------------------

    static final class Recording implements OncelyListener {
        final List<String> started = new CopyOnWriteArrayList<>();
        final List<ProcessingEvent> events = new CopyOnWriteArrayList<>();
        final List<PurgeEvent> purges = new CopyOnWriteArrayList<>();

        @Override
        public void processingStarted(String consumer, int messages) {
            started.add(consumer + "/" + messages);
        }

        @Override
        public void processingEnded(ProcessingEvent event) {
            events.add(event);
        }

        @Override
        public void purgeEnded(PurgeEvent event) {
            purges.add(event);
        }
    }

    /** A store whose every transaction and purge fails with {@code failure}. */
    private static DedupStore failingStore(RuntimeException failure) {
        return new DedupStore() {
            @Override
            public <T> T inTransaction(TransactionWork<T> work) {
                throw failure;
            }

            @Override
            public <T> T inCallerTransaction(CallerTransaction transaction, TransactionWork<T> work) {
                throw failure;
            }

            @Override
            public int purgeExpired(int maxRows) {
                throw failure;
            }

            @Override
            public String describe() {
                return "failing store";
            }
        };
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static final class MovableClock extends Clock {
        private volatile Instant now = Instant.parse("2026-01-01T00:00:00Z");

        void advance(Duration by) {
            now = now.plus(by);
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
    }
}
