package dev.oncely.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.oncely.CallerTransaction;
import dev.oncely.DedupStore;
import dev.oncely.IdempotentHandler;
import dev.oncely.MessageHandler;
import dev.oncely.Outcome;
import dev.oncely.testkit.StoreFixture.Msg;
import java.util.Optional;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The helpers the pieces of the conformance suite share. Static and package-private, so that they add nothing to
 * the methods of a user's test class (where a default method of the same name would clash with the user's own).
 */
final class Contracts {

    private Contracts() {
    }

    static IdempotentHandler.Builder<Msg, String, ?> builder(DedupStore store, String consumer) {
        return IdempotentHandler.<Msg, String>builder(store).consumer(consumer).key(Msg::key);
    }

    /** A handler that records one effect per run through the fixture and answers "done-" and the key. */
    static IdempotentHandler<Msg, String, ?> recording(StoreFixture fixture, DedupStore store, String consumer) {
        return builder(store, consumer).handler(effectHandler(fixture)).build();
    }

    static MessageHandler<Msg, String, Exception> effectHandler(StoreFixture fixture) {
        return (m, ctx) -> {
            fixture.recordEffect(ctx);
            return "done-" + m.key();
        };
    }

    static <T> T await(Future<T> f) throws Exception {
        return f.get(60, TimeUnit.SECONDS);
    }

    /** Delivers a processed key {@code times} more times; each must be a duplicate with the first run's answer. */
    static void redeliver(IdempotentHandler<Msg, String, ?> h, String key, Outcome<String> first, int times)
            throws Exception {
        for (int i = 0; i < times; i++) {
            Outcome<String> again = h.process(Msg.of(key));
            assertThat(again.isDuplicate()).as("redelivery %d of %s", i, key).isTrue();
            assertThat(again.firstProcessedAt()).isEqualTo(first.firstProcessedAt());
            assertThat(again.result()).isEqualTo(first.result());
        }
    }

    static void assumeConcurrentClaimsWait(StoreFixture fixture) {
        assumeTrue(fixture.capabilities().concurrentClaimsWait(),
                "store does not wait on a concurrent claim of the same key (see its capabilities)");
    }

    /** A caller transaction no store can join: it offers no resource at all. */
    static CallerTransaction foreignTransaction() {
        return new CallerTransaction() {
            @Override
            public <T> Optional<T> unwrap(Class<T> type) {
                return Optional.empty();
            }
        };
    }
}
