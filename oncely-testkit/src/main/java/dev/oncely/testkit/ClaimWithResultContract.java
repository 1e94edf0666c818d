package dev.oncely.testkit;

import static dev.oncely.testkit.Contracts.assumeConcurrentClaimsWait;
import static dev.oncely.testkit.Contracts.together;
import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.DedupStore;
import dev.oncely.ProcessingContext;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import dev.oncely.spi.StoreTransaction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * {@link StoreTransaction#claimWithResult}, the claim written last with its result (the HTTP filter's
 * {@code keyWrittenLast()} mode): a fresh key is claimed holding its result, an existing key is answered with its
 * stored claim and nothing is written, and of concurrent transactions writing one key last exactly one wins.
 */
public interface ClaimWithResultContract extends StoreFixture {

    @Test
    default void freshKeyIsClaimedWithItsResultWhichALaterClaimReads() throws Exception {
        DedupStore store = store();
        byte[] result = bytes("first response");

        ClaimResult claim = store.inTransaction(tx -> tx.claimWithResult(request("k-1", 'a'), result));
        ClaimResult later = store.inTransaction(tx -> tx.claim(request("k-1", 'a')));

        assertThat(claim.claimed()).isTrue();
        assertThat(later.claimed()).isFalse();
        assertThat(later.processedAt()).isEqualTo(claim.processedAt());
        assertThat(later.fingerprint()).contains(fingerprint('a'));
        assertThat(later.result()).hasValueSatisfying(r -> assertThat(r).isEqualTo(result));
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(1);
    }

    @Test
    default void existingKeyIsAnsweredWithItsStoredClaimAndNothingIsWritten() throws Exception {
        DedupStore store = store();
        byte[] first = bytes("first response");
        ClaimResult claim = store.inTransaction(tx -> tx.claimWithResult(request("k-1", 'a'), first));

        ClaimResult again = store.inTransaction(tx -> tx.claimWithResult(request("k-1", 'b'),
                bytes("second response")));
        ClaimResult read = store.inTransaction(tx -> tx.claim(request("k-1", 'c')));

        assertThat(again.claimed()).isFalse();
        assertThat(again.processedAt()).isEqualTo(claim.processedAt());
        assertThat(again.fingerprint()).as("the first claim's").contains(fingerprint('a'));
        assertThat(again.result()).hasValueSatisfying(r -> assertThat(r).isEqualTo(first));
        assertThat(read.result()).as("still the first result").hasValueSatisfying(r -> assertThat(r).isEqualTo(first));
        assertThat(read.fingerprint()).contains(fingerprint('a'));
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(1);
    }

    @Test
    default void keyClaimedWithoutAResultGetsNoneFromALaterClaimWithResult() throws Exception {
        DedupStore store = store();
        store.inTransaction(tx -> tx.claim(request("k-1", 'a')));

        ClaimResult again = store.inTransaction(tx -> tx.claimWithResult(request("k-1", 'a'), bytes("late")));
        ClaimResult read = store.inTransaction(tx -> tx.claim(request("k-1", 'a')));

        assertThat(again.claimed()).isFalse();
        assertThat(again.result()).isEmpty();
        assertThat(read.result()).as("claimWithResult of a duplicate stores nothing").isEmpty();
    }

    @Test
    default void concurrentClaimsWithResultOfOneKeyHaveExactlyOneWinnerAndOneEffect() throws Exception {
        assumeConcurrentClaimsWait(this);
        DedupStore store = store();
        int threads = 16;
        List<ClaimResult> results = together(threads, t -> {
            byte[] mine = bytes("response " + t);
            try {
                return store.inTransaction(tx -> {
                    // The business write first, the key last, as keyWrittenLast() does.
                    if (capabilities().transactionalEffects()) {
                        recordEffect(context(tx, "billing", "storm"));
                    }
                    ClaimResult claim = tx.claimWithResult(request("storm", 'a'), mine);
                    if (!claim.claimed()) {
                        throw new LostTo(claim); // a duplicate rolls back what it wrote
                    }
                    Thread.sleep(50); // keep the winner's transaction open while the others wait
                    return claim;
                });
            } catch (LostTo lost) {
                return lost.claim;
            }
        });

        assertThat(results).filteredOn(ClaimResult::claimed).hasSize(1);
        byte[] winner = store.inTransaction(tx -> tx.claim(request("storm", 'a'))).result().orElseThrow();
        assertThat(results).filteredOn(r -> !r.claimed()).hasSize(threads - 1)
                .allSatisfy(r -> assertThat(r.result()).hasValueSatisfying(b -> assertThat(b).isEqualTo(winner)));
        if (capabilities().transactionalEffects()) {
            assertThat(effects("billing", "storm")).isEqualTo(1);
        }
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(1);
    }

    private static ClaimRequest request(String key, char fingerprint) {
        return new ClaimRequest("billing", key, Optional.of(fingerprint(fingerprint)),
                Optional.of(Duration.ofHours(24)), true);
    }

    private static String fingerprint(char c) {
        return String.valueOf(c).repeat(64);
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static ProcessingContext context(StoreTransaction tx, String consumer, String key) {
        return new ProcessingContext() {
            @Override
            public String consumer() {
                return consumer;
            }

            @Override
            public String key() {
                return key;
            }

            @Override
            public <T> T unwrap(Class<T> type) {
                return tx.resource(type).orElseThrow();
            }

            @Override
            public <T> Optional<T> find(Class<T> type) {
                return tx.resource(type);
            }
        };
    }

    /** Carries a lost claim out of its transaction, rolling it back. */
    final class LostTo extends RuntimeException {
        final transient ClaimResult claim;

        LostTo(ClaimResult claim) {
            super("lost the claim", null, false, false);
            this.claim = claim;
        }
    }
}
