package dev.oncely.micrometer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.CallerTransaction;
import dev.oncely.DedupStore;
import dev.oncely.IdempotentHandler;
import dev.oncely.InvalidMessageException;
import dev.oncely.PayloadConflictException;
import dev.oncely.RetentionPurger;
import dev.oncely.TransientStoreException;
import dev.oncely.spi.TransactionWork;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The meters of {@link OncelyMetrics} over a real store: every outcome counted per message, the timers, the purge
 * meters, and never a key in a tag. Each store's subclass gives the store and reads its claims from it.
 */
abstract class OncelyMetricsTestBase {

    /** The store under test, empty at the start of each test. */
    abstract DedupStore store();

    /** Claims of {@code consumer} in the store (from the database for database stores). */
    abstract long claims(String consumer);

    /** Makes every claim with a retention expired, by the store's clock. */
    abstract void expireAll();

    SimpleMeterRegistry registry;
    OncelyMetrics metrics;
    private final Set<String> keysUsed = new HashSet<>();

    @BeforeEach
    void freshRegistry() {
        registry = new SimpleMeterRegistry();
        metrics = OncelyMetrics.builder(registry).build();
        keysUsed.clear();
    }

    /** Messages are "key:payload"; a payload "boom" makes the handler throw. */
    private IdempotentHandler<String, Void, RuntimeException> handler(String consumer) {
        return IdempotentHandler.<String, Void>builder(store()).consumer(consumer)
                .key(m -> {
                    String key = m.split(":")[0];
                    keysUsed.add(key);
                    return key;
                })
                .fingerprint(m -> m.getBytes(StandardCharsets.UTF_8))
                .handler((m, ctx) -> {
                    if (m.endsWith(":boom")) {
                        throw new IllegalStateException("handler failed on " + m);
                    }
                    return null;
                })
                .retentionForTestsOnly(Duration.ofDays(1))
                .listener(metrics)
                .build();
    }

    @Test
    void eachOutcomeIsCountedByConsumerAndOutcome() {
        IdempotentHandler<String, Void, RuntimeException> billing = handler("billing");

        billing.process("order-1:a");
        billing.process("order-2:a");
        billing.process("order-1:a");
        assertThatThrownBy(() -> billing.process("order-2:changed")).isInstanceOf(PayloadConflictException.class);
        assertThatThrownBy(() -> billing.process("order-3:boom")).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> billing.process(" :no key")).isInstanceOf(InvalidMessageException.class);

        assertThat(messages("billing", "processed")).isEqualTo(2);
        assertThat(messages("billing", "duplicate")).isEqualTo(1);
        assertThat(messages("billing", "conflict")).isEqualTo(1);
        assertThat(messages("billing", "failed")).isEqualTo(1);
        assertThat(messages("billing", "invalid")).isEqualTo(1);
        assertThat(registry.get(OncelyMetrics.MESSAGES).tag("outcome", "failed").counter().getId().getTag("exception"))
                .isEqualTo("IllegalStateException");
        assertThat(registry.get(OncelyMetrics.MESSAGES).tag("outcome", "processed").counter().getId()
                .getTag("exception")).isEqualTo("none");
        assertThat(claims("billing")).as("the processed keys, from the store").isEqualTo(2);
    }

    @Test
    void aStoreFailureIsCountedAsFailedWithItsExceptionType() {
        IdempotentHandler<String, Void, RuntimeException> down = IdempotentHandler.<String, Void>builder(
                        failingStore(new TransientStoreException("database unreachable")))
                .consumer("billing").key(m -> m).handler((m, ctx) -> null).listener(metrics).build();

        assertThatThrownBy(() -> down.process("order-1")).isInstanceOf(TransientStoreException.class);

        assertThat(registry.get(OncelyMetrics.MESSAGES).tags("outcome", "failed", "exception",
                "TransientStoreException").counter().count()).isEqualTo(1);
    }

    @Test
    void batchesAreCountedMessageByMessage() {
        IdempotentHandler<String, Void, RuntimeException> ledger = handler("ledger");
        ledger.process("a:1");

        ledger.processBatch(List.of("a:1", "b:1", "c:1", "b:1", "d:1"));
        assertThatThrownBy(() -> ledger.processBatch(List.of("e:1", "f:boom"))).isInstanceOf(IllegalStateException.class);

        assertThat(messages("ledger", "processed")).isEqualTo(1 + 3);
        assertThat(messages("ledger", "duplicate")).isEqualTo(2);
        assertThat(messages("ledger", "failed")).as("a failed batch: none of its messages committed").isEqualTo(2);
        assertThat(registry.get(OncelyMetrics.BATCH_SIZE).tag("consumer", "ledger").summary().count()).isEqualTo(2);
        assertThat(registry.get(OncelyMetrics.BATCH_SIZE).tag("consumer", "ledger").summary().totalAmount())
                .isEqualTo(5 + 2);
        assertThat(claims("ledger")).isEqualTo(4);
    }

    @Test
    void theClaimAndHandlerTimersRecordOncePerCallThatReachedThem() {
        IdempotentHandler<String, Void, RuntimeException> billing = handler("timed");

        billing.process("k1:a");                              // claim + handler
        billing.process("k1:a");                              // claim only (duplicate)
        billing.processBatch(List.of("k2:a", "k3:a"));        // one claim statement, one handler time
        assertThatThrownBy(() -> billing.process(" :x")).isInstanceOf(InvalidMessageException.class); // neither

        assertThat(registry.get(OncelyMetrics.CLAIM_DURATION).tag("consumer", "timed").timer().count()).isEqualTo(3);
        assertThat(registry.get(OncelyMetrics.HANDLER_DURATION).tag("consumer", "timed").timer().count()).isEqualTo(2);
        assertThat(registry.get(OncelyMetrics.CLAIM_DURATION).tag("consumer", "timed").timer()
                .totalTime(TimeUnit.NANOSECONDS)).isPositive();
        assertThat(claims("timed")).isEqualTo(3);
    }

    @Test
    void noMeterEverCarriesAKey() {
        IdempotentHandler<String, Void, RuntimeException> billing = handler("billing");
        billing.process("secret-key-1:a");
        billing.process("secret-key-1:a");
        assertThatThrownBy(() -> billing.process("secret-key-1:b")).isInstanceOf(PayloadConflictException.class);
        assertThatThrownBy(() -> billing.process("secret-key-2:boom")).isInstanceOf(IllegalStateException.class);
        billing.processBatch(List.of("secret-key-3:a", "secret-key-1:a"));

        assertThat(registry.getMeters()).isNotEmpty();
        for (Meter meter : registry.getMeters()) {
            List<Tag> tags = meter.getId().getTags();
            assertThat(tags).extracting(Tag::getKey).as(meter.getId().toString())
                    .allMatch(Set.of("consumer", "outcome", "exception")::contains);
            assertThat(tags).extracting(Tag::getValue).as(meter.getId().toString())
                    .noneMatch(value -> keysUsed.contains(value) || value.contains("secret-key"));
        }
        assertThat(keysUsed).contains("secret-key-1", "secret-key-2", "secret-key-3");
    }

    @Test
    void purgeRunsCountTheDeletedKeysAndTheirDurationAndFailures() {
        IdempotentHandler<String, Void, RuntimeException> billing = handler("purged");
        for (int i = 0; i < 5; i++) {
            billing.process("p" + i + ":a");
        }
        expireAll();
        RetentionPurger purger = RetentionPurger.builder(store()).chunkSize(2).pauseBetweenChunks(Duration.ZERO)
                .listener(metrics).build();

        assertThat(purger.purgeNow()).isEqualTo(5);
        assertThat(claims("purged")).isZero();
        assertThat(registry.get(OncelyMetrics.PURGE_DELETED).counter().count()).isEqualTo(5);
        assertThat(registry.get(OncelyMetrics.PURGE_DURATION).tag("outcome", "success").timer().count()).isEqualTo(1);

        RetentionPurger failing = RetentionPurger.builder(failingStore(new TransientStoreException("down")))
                .listener(metrics).build();
        assertThatThrownBy(failing::purgeNow).isInstanceOf(TransientStoreException.class);
        assertThat(registry.get(OncelyMetrics.PURGE_FAILURES).tag("exception", "TransientStoreException").counter()
                .count()).isEqualTo(1);
        assertThat(registry.get(OncelyMetrics.PURGE_DURATION).tag("outcome", "failure").timer().count()).isEqualTo(1);
    }

    double messages(String consumer, String outcome) {
        return registry.find(OncelyMetrics.MESSAGES).tags("consumer", consumer, "outcome", outcome).counters().stream()
                .mapToDouble(c -> c.count()).sum();
    }

    static DedupStore failingStore(RuntimeException failure) {
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
}
