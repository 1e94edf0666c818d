package dev.oncely;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.inmemory.InMemoryDedupStore;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class IdempotentHandlerBuilderTest {

    private final InMemoryDedupStore store = InMemoryDedupStore.create();

    @Test
    void buildNamesEverythingThatIsMissing() {
        assertThatThrownBy(() -> IdempotentHandler.<String, Void>builder(store).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("consumer(\"name\")")
                .hasMessageContaining("key(")
                .hasMessageContaining("handler(");
        assertThatThrownBy(() -> IdempotentHandler.<String, Void>builder(store).consumer("c").key(s -> s).build())
                .hasMessage("IdempotentHandler needs handler((message, tx) -> ...) or batchHandler((messages, tx) -> ...)"
                        + " before build().");
    }

    @Test
    void aNullStoreSaysWhatToPass() {
        assertThatThrownBy(() -> IdempotentHandler.builder(null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("InMemoryDedupStore.create()");
    }

    @Test
    void consumerNamesAreValidated() {
        var builder = IdempotentHandler.<String, Void>builder(store);
        assertThatThrownBy(() -> builder.consumer(null)).hasMessageContaining("consumer name is null");
        assertThatThrownBy(() -> builder.consumer(" ")).hasMessageContaining("consumer name is blank");
        assertThatThrownBy(() -> builder.consumer("c".repeat(101)))
                .hasMessageContaining("101 characters long; the limit is 100");
        assertThat(builder.consumer("c".repeat(100))).isNotNull();
    }

    @Test
    void retentionMustBePositiveAndSane() {
        var builder = IdempotentHandler.<String, Void>builder(store);
        assertThatThrownBy(() -> builder.retention(Duration.ZERO)).hasMessageContaining("must be positive");
        assertThatThrownBy(() -> builder.retention(Duration.ofSeconds(-1))).hasMessageContaining("must be positive");
        assertThatThrownBy(() -> builder.retention(null)).hasMessageContaining("must be positive");
        assertThatThrownBy(() -> builder.retention(Duration.ofDays(365L * 200))).hasMessageContaining("100 years");
    }

    @Test
    void aRetentionShorterThanAMinuteIsRejectedSayingWhyAndTestsHaveANamedEscape() {
        var builder = IdempotentHandler.<String, Void>builder(store);
        assertThatThrownBy(() -> builder.retention(Duration.ofSeconds(59)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("retention PT59S is shorter than the minimum of PT1M")
                .hasMessageContaining("must outlive the longest transaction plus the broker's redelivery window");
        assertThatThrownBy(() -> builder.retention(Duration.ofMillis(300))).hasMessageContaining("minimum of PT1M");
        assertThat(builder.retention(IdempotentHandler.MIN_RETENTION)).isNotNull();
        assertThat(builder.retentionForTestsOnly(Duration.ofSeconds(1))).isNotNull();
        assertThatThrownBy(() -> builder.retentionForTestsOnly(Duration.ZERO)).hasMessageContaining("must be positive");
    }

    @Test
    void aThrowingKeyExtractorIsReportedAsBadInputAndNothingRuns() throws Exception {
        boolean[] ran = {false};
        IdempotentHandler<String, Void, ?> h = IdempotentHandler.<String, Void>builder(store).consumer("c")
                .key(s -> {
                    throw new IllegalStateException("no id header");
                })
                .handler((m, tx) -> {
                    ran[0] = true;
                    return null;
                }).build();
        assertThatThrownBy(() -> h.process("m"))
                .isInstanceOf(InvalidMessageException.class)
                .hasMessageContaining("key extractor of consumer 'c' failed")
                .hasMessageContaining("no id header");
        assertThat(ran[0]).isFalse();
        assertThat(store.size()).isZero();
    }

    @Test
    void aNullMessageIsRefusedTheSameWayAloneAndInABatch() {
        IdempotentHandler<String, Void, ?> h = IdempotentHandler.<String, Void>builder(store).consumer("c")
                .key(s -> s).handler((m, tx) -> null).build();
        assertThatThrownBy(() -> h.process(null)).isInstanceOf(InvalidMessageException.class)
                .hasMessageContaining("The message is null");
        assertThatThrownBy(() -> h.processBatch(java.util.Arrays.asList("a", null)))
                .isInstanceOf(InvalidMessageException.class).hasMessageContaining("Message 1 of the batch")
                .hasMessageContaining("The message is null");
    }

    @Test
    void aCodecThatCannotReadWhatItStoredFailsTheDuplicateWithoutReprocessing() throws Exception {
        int[] runs = {0};
        IdempotentHandler<String, String, ?> h = IdempotentHandler.<String, String>builder(store).consumer("c")
                .key(s -> s)
                .resultCodec(new ResultCodec<>() {
                    @Override
                    public byte[] encode(String result) {
                        return result.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                    }

                    @Override
                    public String decode(byte[] stored) {
                        throw new IllegalStateException("unknown format version");
                    }
                })
                .handler((m, tx) -> {
                    runs[0]++;
                    return "r";
                }).build();
        assertThat(h.process("k").result()).contains("r");
        assertThatThrownBy(() -> h.process("k"))
                .isInstanceOf(OncelyException.class)
                .hasMessageContaining("could not be decoded")
                .hasMessageContaining("was not processed again");
        assertThat(runs[0]).isEqualTo(1);
    }

    @Test
    void theInMemoryStoreHasNoConnectionAndSaysWhatToDoInstead() {
        // Core's tests compile inside the dev.oncely.core module, which does not read java.sql: name the type.
        IdempotentHandler<String, Void, ?> h = IdempotentHandler.<String, Void>builder(store).consumer("c")
                .key(s -> s).handler((m, tx) -> {
                    Class<?> jdbcConnection = Class.forName("java.sql.Connection");
                    tx.unwrap(jdbcConnection);
                    return null;
                }).build();
        assertThatThrownBy(() -> h.process("k"))
                .isInstanceOf(MisconfigurationException.class)
                .hasMessageContaining("offers no java.sql.Connection")
                .hasMessageContaining("interface of your own");
        assertThat(store.contains("c", "k")).as("the failed run released its key").isFalse();
    }
}
