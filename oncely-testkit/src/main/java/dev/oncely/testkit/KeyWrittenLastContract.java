package dev.oncely.testkit;

import static dev.oncely.testkit.Contracts.assumeConcurrentClaimsWait;
import static dev.oncely.testkit.Contracts.builder;
import static dev.oncely.testkit.Contracts.together;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.oncely.DedupStore;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import dev.oncely.PayloadConflictException;
import dev.oncely.ResultCodec;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * {@link IdempotentHandler.Builder#keyWrittenLast()} on the store: the handler first, then the key claimed with its
 * result by {@code claimWithResult}. A fresh key is processed with its result stored, a duplicate is answered with
 * the replay and a different payload as a conflict (what their runs wrote rolled back), a handler that throws leaves
 * no key, and of concurrent deliveries of one key exactly one is processed while the others' writes roll back.
 */
public interface KeyWrittenLastContract extends StoreFixture {

    /** A key-written-last handler that records one effect per run and answers "receipt-" and a run number. */
    private IdempotentHandler<Msg, String, ?> writtenLast(DedupStore store, AtomicInteger runs) {
        return builder(store, "billing").resultCodec(ResultCodec.utf8()).keyWrittenLast()
                .fingerprint(m -> m.payload().getBytes(StandardCharsets.UTF_8))
                .handler((m, ctx) -> {
                    recordEffect(ctx);
                    return "receipt-" + runs.incrementAndGet();
                }).build();
    }

    @Test
    default void keyWrittenLastProcessesAFreshKeyAndStoresItsResultWithTheKey() throws Exception {
        DedupStore store = store();
        Outcome<String> first = writtenLast(store, new AtomicInteger()).process(Msg.of("evt-1"));

        Outcome<String> readByClaimFirst = builder(store, "billing").resultCodec(ResultCodec.utf8())
                .handler((m, ctx) -> "claim-first ran").build().process(Msg.of("evt-1"));

        assertThat(first.isProcessed()).isTrue();
        assertThat(first.result()).contains("receipt-1");
        assertThat(readByClaimFirst.isDuplicate()).as("the key is shared with claim-first handlers").isTrue();
        assertThat(readByClaimFirst.result()).contains("receipt-1");
        assertThat(readByClaimFirst.firstProcessedAt()).isEqualTo(first.firstProcessedAt());
        assertThat(effects("billing", "evt-1")).isEqualTo(1);
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(1);
    }

    @Test
    default void keyWrittenLastAnswersADuplicateWithTheReplayAndRollsBackWhatItsRunWrote() throws Exception {
        IdempotentHandler<Msg, String, ?> h = writtenLast(store(), new AtomicInteger());
        Outcome<String> first = h.process(Msg.of("evt-1"));

        Outcome<String> again = h.process(Msg.of("evt-1"));

        assertThat(again.isDuplicate()).isTrue();
        assertThat(again.result()).as("the first run's result, not this run's").contains("receipt-1");
        assertThat(again.firstProcessedAt()).isEqualTo(first.firstProcessedAt());
        if (capabilities().transactionalEffects()) {
            assertThat(effects("billing", "evt-1")).as("the duplicate's run rolled back").isEqualTo(1);
        }
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(1);
    }

    @Test
    default void keyWrittenLastReportsADifferentPayloadAsAConflictAndRollsBackWhatItsRunWrote() throws Exception {
        IdempotentHandler<Msg, String, ?> h = writtenLast(store(), new AtomicInteger());
        Outcome<String> first = h.process(new Msg("evt-1", "charge 10 EUR"));

        Throwable conflict = catchThrowable(() -> h.process(new Msg("evt-1", "charge 99 EUR")));

        assertThat(conflict).isInstanceOf(PayloadConflictException.class);
        assertThat(((PayloadConflictException) conflict).firstProcessedAt()).isEqualTo(first.firstProcessedAt());
        assertThat(h.process(new Msg("evt-1", "charge 10 EUR")).result()).contains("receipt-1");
        if (capabilities().transactionalEffects()) {
            assertThat(effects("billing", "evt-1")).isEqualTo(1);
        }
    }

    @Test
    default void keyWrittenLastStoresNothingWhenTheHandlerThrowsSoTheRedeliveryRuns() throws Exception {
        DedupStore store = store();
        Boom boom = new Boom("declined");
        IdempotentHandler<Msg, String, ?> failing = builder(store, "billing").resultCodec(ResultCodec.utf8())
                .keyWrittenLast().handler((m, ctx) -> {
                    if (capabilities().transactionalEffects()) {
                        recordEffect(ctx);
                    }
                    throw boom;
                }).build();

        assertThat(catchThrowable(() -> failing.process(Msg.of("evt-1")))).isSameAs(boom);

        assertThat(claimRows(DEFAULT_TABLE)).as("no key written").isZero();
        assertThat(effects("billing", "evt-1")).isZero();
        assertThat(writtenLast(store, new AtomicInteger()).process(Msg.of("evt-1")).isProcessed()).isTrue();
        assertThat(effects("billing", "evt-1")).isEqualTo(1);
    }

    @Test
    default void keyWrittenLastProcessesConcurrentDeliveriesOfOneKeyOnceAndRollsBackTheOthersWrites()
            throws Exception {
        assumeConcurrentClaimsWait(this);
        DedupStore store = store();
        AtomicInteger runs = new AtomicInteger();
        IdempotentHandler<Msg, String, ?> h = writtenLast(store, runs);
        int threads = 8;
        List<Outcome<String>> outcomes = together(threads, t -> h.process(Msg.of("storm")));

        List<Outcome<String>> processed = outcomes.stream().filter(Outcome::isProcessed).toList();
        assertThat(processed).hasSize(1);
        assertThat(outcomes).filteredOn(Outcome::isDuplicate).hasSize(threads - 1)
                .allSatisfy(o -> assertThat(o.result()).isEqualTo(processed.get(0).result()));
        assertThat(runs.get()).isBetween(1, threads);
        if (capabilities().transactionalEffects()) {
            assertThat(effects("billing", "storm")).as("only the processed run's write committed").isEqualTo(1);
        }
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(1);
    }
}
