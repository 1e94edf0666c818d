package dev.oncely.micrometer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.IdempotentHandler;
import dev.oncely.inmemory.InMemoryDedupStore;
import io.micrometer.common.KeyValue;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.observation.Observation;
import io.micrometer.observation.tck.TestObservationRegistry;
import io.micrometer.observation.tck.TestObservationRegistryAssert;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class OncelyObservationTest {

    private final InMemoryDedupStore store = InMemoryDedupStore.create();
    private final TestObservationRegistry observations = TestObservationRegistry.create();
    private final List<Observation> currentInHandler = new ArrayList<>();

    private IdempotentHandler<String, Void, RuntimeException> handler(OncelyMetrics metrics) {
        return IdempotentHandler.<String, Void>builder(store).consumer("billing").key(m -> m.split(":")[0])
                .handler((m, ctx) -> {
                    currentInHandler.add(observations.getCurrentObservation());
                    if (m.endsWith(":boom")) {
                        throw new IllegalStateException("boom");
                    }
                    return null;
                })
                .listener(metrics)
                .build();
    }

    @Test
    void eachCallIsAnObservationWithTheMessagingAttributesAndTheOutcome() {
        OncelyMetrics metrics = OncelyMetrics.builder(new SimpleMeterRegistry()).observationRegistry(observations)
                .messagingSystem("kafka").build();
        IdempotentHandler<String, Void, RuntimeException> billing = handler(metrics);

        billing.process("k1:a");
        billing.process("k1:a");

        TestObservationRegistryAssert.assertThat(observations)
                .hasNumberOfObservationsWithNameEqualTo(OncelyMetrics.OBSERVATION, 2)
                .hasHandledContextsThatSatisfy(contexts -> {
                    assertThat(contexts).hasSize(2);
                    for (Observation.Context c : contexts) {
                        assertThat(c.getLowCardinalityKeyValues()).contains(
                                KeyValue.of("messaging.consumer.group.name", "billing"),
                                KeyValue.of("messaging.operation.type", "process"),
                                KeyValue.of("messaging.operation.name", "process"),
                                KeyValue.of("messaging.system", "kafka"));
                        assertThat(c.getHighCardinalityKeyValue("oncely.key")).as("keys are off by default").isNull();
                        assertThat(c.getError()).isNull();
                    }
                    assertThat(contexts.get(0).getLowCardinalityKeyValue("oncely.outcome").getValue())
                            .isEqualTo("processed");
                    assertThat(contexts.get(1).getLowCardinalityKeyValue("oncely.outcome").getValue())
                            .isEqualTo("duplicate");
                });
    }

    @Test
    void theObservationIsCurrentWhileTheHandlerRunsAndClosedAfterwards() {
        OncelyMetrics metrics = OncelyMetrics.builder(new SimpleMeterRegistry()).observationRegistry(observations)
                .build();

        handler(metrics).process("k1:a");

        assertThat(currentInHandler).hasSize(1);
        assertThat(currentInHandler.get(0)).isNotNull();
        assertThat(currentInHandler.get(0).getContext().getName()).isEqualTo(OncelyMetrics.OBSERVATION);
        assertThat(observations.getCurrentObservation()).as("the scope was closed").isNull();
    }

    @Test
    void aFailedCallIsAnObservationWithItsErrorAndErrorType() {
        OncelyMetrics metrics = OncelyMetrics.builder(new SimpleMeterRegistry()).observationRegistry(observations)
                .build();

        assertThatThrownBy(() -> handler(metrics).process("k1:boom")).isInstanceOf(IllegalStateException.class);

        TestObservationRegistryAssert.assertThat(observations).hasSingleObservationThat()
                .hasNameEqualTo(OncelyMetrics.OBSERVATION)
                .hasLowCardinalityKeyValue("oncely.outcome", "failed")
                .hasHighCardinalityKeyValue("error.type", IllegalStateException.class.getName())
                .hasError()
                .hasBeenStopped();
    }

    @Test
    void aBatchIsOneObservationWithItsMessageCountAndKeysAreInTracesOnlyWhenAskedFor() {
        OncelyMetrics metrics = OncelyMetrics.builder(new SimpleMeterRegistry()).observationRegistry(observations)
                .keyInTraces(true).build();
        IdempotentHandler<String, Void, RuntimeException> billing = handler(metrics);

        billing.processBatch(List.of("a:1", "b:1", "c:1"));
        billing.process("d:1");

        TestObservationRegistryAssert.assertThat(observations)
                .hasNumberOfObservationsWithNameEqualTo(OncelyMetrics.OBSERVATION, 2)
                .hasHandledContextsThatSatisfy(contexts -> {
                    assertThat(contexts.get(0).getHighCardinalityKeyValue("messaging.batch.message_count").getValue())
                            .isEqualTo("3");
                    assertThat(contexts.get(1).getHighCardinalityKeyValue("oncely.key").getValue()).isEqualTo("d");
                    assertThat(contexts.get(1).getHighCardinalityKeyValue("messaging.batch.message_count")).isNull();
                });
    }

    @Test
    void aHandlerCallingAnotherHandlerNestsTheirObservations() {
        OncelyMetrics metrics = OncelyMetrics.builder(new SimpleMeterRegistry()).observationRegistry(observations)
                .build();
        IdempotentHandler<String, Void, RuntimeException> inner = IdempotentHandler.<String, Void>builder(store)
                .consumer("inner").key(m -> m).handler((m, ctx) -> null).listener(metrics).build();
        IdempotentHandler<String, Void, RuntimeException> outer = IdempotentHandler.<String, Void>builder(store)
                .consumer("outer").key(m -> m).handler((m, ctx) -> {
                    inner.process(m);
                    return null;
                }).listener(metrics).build();

        outer.process("k1");

        TestObservationRegistryAssert.assertThat(observations)
                .hasNumberOfObservationsWithNameEqualTo(OncelyMetrics.OBSERVATION, 2)
                .hasHandledContextsThatSatisfy(contexts -> {
                    Observation.Context innerContext = contexts.stream().filter(c -> "inner".equals(
                            c.getLowCardinalityKeyValue("messaging.consumer.group.name").getValue())).findFirst()
                            .orElseThrow();
                    assertThat(innerContext.getParentObservation()).isNotNull();
                    assertThat(innerContext.getParentObservation().getContextView()
                            .getLowCardinalityKeyValue("messaging.consumer.group.name").getValue()).isEqualTo("outer");
                });
        assertThat(observations.getCurrentObservation()).isNull();
    }

    @Test
    void theBuilderRefusesMissingRegistriesAndABlankMessagingSystem() {
        assertThatThrownBy(() -> OncelyMetrics.builder(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("MeterRegistry");
        assertThatThrownBy(() -> OncelyMetrics.builder(new SimpleMeterRegistry()).observationRegistry(null))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> OncelyMetrics.builder(new SimpleMeterRegistry()).messagingSystem(" "))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("kafka");
    }
}
