package dev.oncely.jdbc.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.spi.ClaimResult;
import java.time.Instant;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The store's one adaptive choice: when it reads keys before claiming them. */
class ReadBeforeClaimTest {

    private static final ClaimResult FRESH = ClaimResult.claimed(Instant.EPOCH);
    private static final ClaimResult DUPLICATE = ClaimResult.duplicate(Instant.EPOCH, Optional.empty(),
            Optional.empty());

    @Test
    void processReadsFirstWhileMostRecentClaimsWereDuplicatesAndStopsWhenMostAreFresh() {
        ReadBeforeClaim strategy = new ReadBeforeClaim(true);
        assertThat(strategy.readFirst()).as("a new store expects fresh keys").isFalse();
        for (int i = 0; i < 40; i++) {
            strategy.note(DUPLICATE);
        }
        assertThat(strategy.readFirst()).isTrue();
        for (int i = 0; i < 40; i++) {
            strategy.note(FRESH);
        }
        assertThat(strategy.readFirst()).isFalse();
    }

    @Test
    void aDialectThatCannotReadALiveClaimNeverReadsFirst() {
        ReadBeforeClaim strategy = new ReadBeforeClaim(false);
        for (int i = 0; i < 40; i++) {
            strategy.note(DUPLICATE);
        }
        assertThat(strategy.readFirst()).isFalse();
    }

    @Test
    void batchesReadFirstWhileMostKeysOfRecentBatchesWereDuplicatesAndStopWhenMostAreFresh() {
        ReadBeforeClaim strategy = new ReadBeforeClaim(false);
        assertThat(strategy.batchReadFirst()).isFalse();
        strategy.noteBatch(Collections.nCopies(10, FRESH));
        for (int i = 0; i < 4; i++) {
            strategy.noteBatch(Collections.nCopies(10, DUPLICATE));
        }
        assertThat(strategy.batchReadFirst()).isTrue();
        assertThat(strategy.readFirst()).as("single-key claims are counted apart").isFalse();
        for (int i = 0; i < 6; i++) {
            strategy.noteBatch(List.of(FRESH, FRESH, FRESH, DUPLICATE));
        }
        assertThat(strategy.batchReadFirst()).isFalse();
        strategy.noteBatch(List.of());
        assertThat(strategy.batchReadFirst()).as("an empty batch counts for nothing").isFalse();
    }

    @Test
    void batchesAreReadBeforeATransactionOnlyWhileMostRecentBatchesWereDuplicatesThroughAndThrough() {
        ReadBeforeClaim strategy = new ReadBeforeClaim(true);
        assertThat(strategy.batchReadBeforeTransaction()).isFalse();
        for (int i = 0; i < 6; i++) {
            strategy.noteBatch(List.of(DUPLICATE, DUPLICATE, DUPLICATE, FRESH));
        }
        assertThat(strategy.batchReadFirst()).as("most keys were duplicates").isTrue();
        assertThat(strategy.batchReadBeforeTransaction()).as("but no batch was all duplicates").isFalse();
        for (int i = 0; i < 4; i++) {
            strategy.noteBatch(Collections.nCopies(10, DUPLICATE));
        }
        assertThat(strategy.batchReadBeforeTransaction()).isTrue();
        for (int i = 0; i < 4; i++) {
            strategy.noteBatch(List.of(DUPLICATE, FRESH));
        }
        assertThat(strategy.batchReadBeforeTransaction()).isFalse();

        ReadBeforeClaim cannotRead = new ReadBeforeClaim(false);
        for (int i = 0; i < 10; i++) {
            cannotRead.noteBatch(Collections.nCopies(10, DUPLICATE));
        }
        assertThat(cannotRead.batchReadBeforeTransaction()).as("a dialect that cannot read a live claim").isFalse();
    }
}
