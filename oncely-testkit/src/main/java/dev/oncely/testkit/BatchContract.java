package dev.oncely.testkit;

import static dev.oncely.testkit.Contracts.builder;
import static dev.oncely.testkit.Contracts.recording;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.oncely.BatchResult;
import dev.oncely.DedupStore;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import dev.oncely.PayloadConflictException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Batches: fresh messages run in input order with in-batch duplicates reported, overlapping batches process only
 * new keys, a failure rolls the whole batch back, and a failing message can be isolated from its batch.
 */
public interface BatchContract extends StoreFixture {

    @Test
    default void aBatchRunsFreshMessagesInInputOrderAndReportsInBatchDuplicates() throws Exception {
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
    default void aBatchOverlappingAnEarlierBatchProcessesOnlyTheNewKeys() throws Exception {
        IdempotentHandler<Msg, String, ?> h = recording(this, store(), "billing");
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
    default void aFailureInsideABatchRollsBackTheWholeBatch() throws Exception {
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

        List<Outcome<String>> redelivered = recording(this, store, "billing").processBatch(batch);
        assertThat(redelivered).allMatch(Outcome::isProcessed);
        assertThat(totalEffects()).isEqualTo(4);
    }

    @Test
    default void aFailingMessageCanBeIsolatedFromItsBatch() throws Exception {
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
        assertThat(recording(this, store, "billing").process(Msg.of("c")).isProcessed()).as("c was never claimed").isTrue();
    }

    @Test
    default void aBatchWhoseMessagesAllFailCommitsNothing() throws Exception {
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
}
