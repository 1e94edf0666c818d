package dev.oncely.testkit;

import static dev.oncely.testkit.Contracts.recording;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.IdempotentHandler;
import dev.oncely.InvalidMessageException;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Bad keys (null, blank, too long, NUL, lone surrogates) are rejected with the limit before anything is written,
 * and the longest and non-ASCII keys are stored and deduplicated exactly.
 */
public interface BadInputContract extends StoreFixture {

    @Test
    default void badKeysAreRejectedWithTheLimitAndNothingIsWritten() throws Exception {
        IdempotentHandler<Msg, String, ?> h = recording(this, store(), "billing");

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
}
