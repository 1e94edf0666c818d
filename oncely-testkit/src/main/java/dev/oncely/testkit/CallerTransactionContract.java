package dev.oncely.testkit;

import static dev.oncely.testkit.Contracts.foreignTransaction;
import static dev.oncely.testkit.Contracts.recording;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.IdempotentHandler;
import dev.oncely.OncelyException;
import dev.oncely.Outcome;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A caller's own transaction: the store joins it and commits nothing itself, the transaction stays usable after a
 * duplicate, a transaction the store cannot join (or one in autocommit mode, where
 * {@link StoreCapabilities#rejectsAutocommit()}) is refused before anything is written, and a batch joins it too.
 */
public interface CallerTransactionContract extends StoreFixture {

    @Test
    default void joinsTheCallersTransactionAndCommitsNothingItself() throws Exception {
        IdempotentHandler<Msg, String, ?> h = recording(this, store(), "billing");

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
    default void callersTransactionStaysUsableAfterADuplicate() throws Exception {
        IdempotentHandler<Msg, String, ?> h = recording(this, store(), "billing");
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
    default void aTransactionTheStoreCannotJoinIsRejectedBeforeAnythingIsWritten() throws Exception {
        IdempotentHandler<Msg, String, ?> h = recording(this, store(), "billing");
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
    default void aBatchJoinsTheCallersTransaction() throws Exception {
        IdempotentHandler<Msg, String, ?> h = recording(this, store(), "billing");
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
}
