package dev.oncely;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.inmemory.InMemoryDedupStore;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class BatchHandlerAndExceptionsTest {

    private final InMemoryDedupStore store = InMemoryDedupStore.create();
    private final List<List<String>> calls = new ArrayList<>();
    private final List<List<String>> keysSeen = new ArrayList<>();

    private IdempotentHandler<String, String, RuntimeException> batchOnly() {
        return IdempotentHandler.<String, String>builder(store).consumer("c").key(m -> m.split(":")[0])
                .batchHandler((messages, ctx) -> {
                    calls.add(List.copyOf(messages));
                    keysSeen.add(ctx.keys());
                    return messages.stream().map(m -> "done " + m).toList();
                })
                .resultCodec(ResultCodec.utf8())
                .build();
    }

    @Test
    void aBatchHandlerGetsTheFreshMessagesOfABatchTogetherInInputOrderWithTheirKeys() {
        IdempotentHandler<String, String, RuntimeException> handler = batchOnly();
        handler.process("b:first");

        List<Outcome<String>> outcomes = handler.processBatch(List.of("c:1", "b:again", "a:1", "c:repeat", "d:1"));

        assertThat(calls).containsExactly(List.of("b:first"), List.of("c:1", "a:1", "d:1"));
        assertThat(keysSeen.get(1)).containsExactly("c", "a", "d");
        assertThat(outcomes).extracting(Outcome::isProcessed).containsExactly(true, false, true, false, true);
        assertThat(outcomes.get(0).result()).contains("done c:1");
        assertThat(outcomes.get(1).result()).as("replayed from the first run").contains("done b:first");
        assertThat(outcomes.get(3).result()).as("the repeat in the batch gets its first occurrence's result")
                .contains("done c:1");
    }

    @Test
    void aBatchOfDuplicatesOnlyNeverCallsTheBatchHandler() {
        IdempotentHandler<String, String, RuntimeException> handler = batchOnly();
        handler.processBatch(List.of("a:1", "b:1"));
        calls.clear();

        assertThat(handler.processBatch(List.of("b:2", "a:2"))).allMatch(Outcome::isDuplicate);
        assertThat(calls).isEmpty();
    }

    @Test
    void aBatchHandlerThatThrowsRollsBackEveryClaimOfTheBatchAndTheSameInstanceReachesTheCaller() {
        IOException boom = new IOException("ledger unavailable");
        IdempotentHandler<String, Void, IOException> handler = IdempotentHandler.<String, Void>builder(store)
                .consumer("c").key(m -> m)
                .batchHandler((List<String> messages, BatchContext ctx) -> {
                    throw boom;
                }).build();

        assertThatThrownBy(() -> handler.processBatch(List.of("a", "b"))).isSameAs(boom);
        assertThat(store.size()).isZero();
    }

    @Test
    void aBatchHandlerReturningTheWrongNumberOfResultsIsRefusedAndRolledBack() {
        IdempotentHandler<String, String, RuntimeException> handler = IdempotentHandler.<String, String>builder(store)
                .consumer("c").key(m -> m).batchHandler((messages, ctx) -> List.of("only one")).build();

        assertThatThrownBy(() -> handler.processBatch(List.of("a", "b")))
                .isInstanceOf(MisconfigurationException.class)
                .hasMessageContaining("returned 1 results for 2 messages");
        assertThat(store.size()).isZero();
    }

    @Test
    void processBatchIsolatingFailuresNeedsAPerMessageHandler() {
        assertThatThrownBy(() -> batchOnly().processBatchIsolatingFailures(List.of("a:1")))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("set handler(...) too");
    }

    @Test
    void withBothHandlersProcessRunsThePerMessageOneAndProcessBatchTheBatchOne() {
        AtomicInteger single = new AtomicInteger();
        AtomicInteger batches = new AtomicInteger();
        IdempotentHandler<String, Void, RuntimeException> handler = IdempotentHandler.<String, Void>builder(store)
                .consumer("c").key(m -> m)
                .handler((m, ctx) -> {
                    single.incrementAndGet();
                    return null;
                })
                .batchHandler((messages, ctx) -> {
                    batches.incrementAndGet();
                    return List.of();
                }).build();

        handler.process("a");
        handler.processBatch(List.of("b", "c"));

        assertThat(single).hasValue(1);
        assertThat(batches).hasValue(1);
        assertThat(store.size()).isEqualTo(3);
    }

    /** Compiles only because a handler that throws nothing checked gives a process() that declares nothing. */
    @Test
    void aHandlerThatThrowsNothingCheckedGivesCallersAProcessWithoutThrowsClause() {
        IdempotentHandler<String, Void, RuntimeException> handler = IdempotentHandler.<String, Void>builder(store)
                .consumer("c").key(m -> m).handler((m, ctx) -> null).build();
        Outcome<Void> first = handler.process("k");
        List<Outcome<Void>> batch = handler.processBatch(List.of("k", "l"));

        assertThat(first.isProcessed()).isTrue();
        assertThat(batch).extracting(Outcome::isDuplicate).containsExactly(true, false);
    }

    @Test
    void aCheckedExceptionOfTheHandlerReachesTheCallerAsTheSameInstanceAfterTheRollback() {
        IOException boom = new IOException("mail server down");
        IdempotentHandler<String, Void, IOException> handler = IdempotentHandler.<String, Void>builder(store)
                .consumer("c").key(m -> m)
                .handler((String m, ProcessingContext ctx) -> {
                    throw boom;
                }).build();

        assertThatThrownBy(() -> handler.process("k")).isSameAs(boom);
        assertThatThrownBy(() -> handler.processBatch(List.of("k"))).isSameAs(boom);
        BatchResult<Void> isolated = handler.processBatchIsolatingFailures(List.of("k"));
        assertThat(isolated.failure(0)).containsSame(boom);
        assertThat(store.size()).isZero();
    }
}
