package dev.oncely.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Delivery;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.impl.LongStringHelper;
import dev.oncely.IdempotentHandler;
import dev.oncely.inmemory.InMemoryDedupStore;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The parts that need no broker: attempt counting, key extraction, builder checks. */
class FailurePolicyAndKeysTest {

    @Test
    void requeueAlwaysRequeues() {
        assertThat(FailurePolicy.requeue().requeue(delivery(true, Map.of("x-delivery-count", 100L)))).isTrue();
    }

    @Test
    void deadLetterNeverRequeues() {
        assertThat(FailurePolicy.deadLetter().requeue(delivery(false, null))).isFalse();
    }

    @Test
    void deadLetterAfterCountsQuorumDeliveryCount() {
        FailurePolicy policy = FailurePolicy.deadLetterAfter(3);
        assertThat(policy.requeue(delivery(false, null))).as("attempt 1").isTrue();
        assertThat(policy.requeue(delivery(true, Map.of("x-delivery-count", 1L)))).as("attempt 2").isTrue();
        assertThat(policy.requeue(delivery(true, Map.of("x-delivery-count", 2L)))).as("attempt 3").isFalse();
    }

    @Test
    void deadLetterAfterCountsXDeath() {
        FailurePolicy policy = FailurePolicy.deadLetterAfter(3);
        Map<String, Object> once = Map.of("x-death", List.of(Map.of("count", 1L, "queue", "q")));
        Map<String, Object> twice = Map.of("x-death", List.of(Map.of("count", 1L, "queue", "q"),
                Map.of("count", 1L, "queue", "retry")));
        assertThat(FailurePolicy.attempt(delivery(false, once))).isEqualTo(2);
        assertThat(policy.requeue(delivery(false, once))).isTrue();
        assertThat(policy.requeue(delivery(false, twice))).isFalse();
    }

    @Test
    void redeliveryWithoutCountIsTheLastAttempt() {
        assertThat(FailurePolicy.deadLetterAfter(100).requeue(delivery(true, null))).isFalse();
        assertThat(FailurePolicy.deadLetterAfter(100).requeue(delivery(false, null))).isTrue();
    }

    @Test
    void requeuedDeliveryWithXDeathCountsAsTheLastAttemptBecauseARequeueNeverChangesXDeath() {
        Map<String, Object> movedBack = Map.of("x-death", List.of(Map.of("count", 1L, "queue", "q",
                "reason", LongStringHelper.asLongString("rejected"))));
        assertThat(FailurePolicy.attempt(delivery(false, movedBack))).isEqualTo(2);
        assertThat(FailurePolicy.attempt(delivery(true, movedBack))).isEqualTo(Integer.MAX_VALUE);
        assertThat(FailurePolicy.deadLetterAfter(10).requeue(delivery(true, movedBack))).isFalse();
    }

    @Test
    void expiredDeathsOfARetryQueueAreNotAttempts() {
        Map<String, Object> twoRoundTrips = Map.of("x-death", List.of(
                Map.of("count", 2L, "queue", "retry", "reason", LongStringHelper.asLongString("expired")),
                Map.of("count", 2L, "queue", "work", "reason", LongStringHelper.asLongString("rejected"))));
        assertThat(FailurePolicy.attempt(delivery(false, twoRoundTrips))).isEqualTo(3);
    }

    @Test
    void republishedCopiesCountTheirFailedAttemptsInTheirOwnHeader() {
        Map<String, Object> copy = Map.of(FailurePolicy.FAILED_ATTEMPTS_HEADER, 2L,
                "x-death", List.of(Map.of("count", 1L, "queue", "q")));
        assertThat(FailurePolicy.attempt(delivery(false, copy))).isEqualTo(4);
        assertThat(FailurePolicy.failedAttemptsOutsideDeaths(delivery(false, copy))).isEqualTo(2);
        Map<String, Object> quorumRedelivery = Map.of("x-delivery-count", 2L, FailurePolicy.FAILED_ATTEMPTS_HEADER, 1L);
        assertThat(FailurePolicy.attempt(delivery(true, quorumRedelivery))).isEqualTo(4);
        assertThat(FailurePolicy.failedAttemptsOutsideDeaths(delivery(true, quorumRedelivery))).isEqualTo(3);
    }

    @Test
    void deadLetterAfterRefusesLessThanOne() {
        assertThatThrownBy(() -> FailurePolicy.deadLetterAfter(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 1");
    }

    @Test
    void headerKeysAcceptStringLikeValues() {
        assertThat(DeliveryKeys.header("id").apply(delivery(false, Map.of("id", "a")))).isEqualTo("a");
        assertThat(DeliveryKeys.header("id").apply(delivery(false, Map.of("id", LongStringHelper.asLongString("b")))))
                .isEqualTo("b");
        assertThat(DeliveryKeys.header("id").apply(delivery(false, Map.of("id", "c".getBytes(StandardCharsets.UTF_8)))))
                .isEqualTo("c");
        assertThat(DeliveryKeys.header("id").apply(delivery(false, Map.of("id", 42L)))).isEqualTo("42");
        assertThat(DeliveryKeys.header("id").apply(delivery(false, Map.of()))).isNull();
        assertThat(DeliveryKeys.header("id").apply(delivery(false, null))).isNull();
    }

    @Test
    void headerKeyRefusesTablesAndBlankNames() {
        assertThatThrownBy(() -> DeliveryKeys.header("id").apply(delivery(false, Map.of("id", Map.of()))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a string");
        assertThatThrownBy(() -> DeliveryKeys.header(" ")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("blank");
    }

    @Test
    void handlerBuilderKeysByMessageId() {
        IdempotentHandler<Delivery, Void, ?> handler = IdempotentDeliverCallback.<Void>handlerBuilder(
                InMemoryDedupStore.create()).consumer("c").handler((d, tx) -> null).build();
        Delivery delivery = new Delivery(new Envelope(1, false, "", "q"),
                new AMQP.BasicProperties.Builder().messageId("m-1").build(), new byte[0]);
        assertThat(handler.keyOf(delivery)).isEqualTo("m-1");
    }

    @Test
    void builderRefusesNulls() {
        IdempotentHandler<Delivery, Void, ?> handler = IdempotentDeliverCallback.<Void>handlerBuilder(
                InMemoryDedupStore.create()).consumer("c").handler((d, tx) -> null).build();
        assertThatThrownBy(() -> IdempotentDeliverCallback.builder(null, handler))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("channel is null");
    }

    @Test
    void storeRetryDelayMustBePositive() {
        IdempotentHandler<Delivery, Void, ?> handler = IdempotentDeliverCallback.<Void>handlerBuilder(
                InMemoryDedupStore.create()).consumer("c").handler((d, tx) -> null).build();
        com.rabbitmq.client.Channel channel = (com.rabbitmq.client.Channel) java.lang.reflect.Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {com.rabbitmq.client.Channel.class}, (p, m, a) -> null);
        assertThatThrownBy(() -> IdempotentDeliverCallback.builder(channel, handler)
                .storeRetryDelay(java.time.Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("hot loop");
    }

    private static Delivery delivery(boolean redelivered, Map<String, Object> headers) {
        return new Delivery(new Envelope(7, redelivered, "", "q"),
                new AMQP.BasicProperties.Builder().headers(headers).build(), new byte[0]);
    }
}
