package dev.oncely.rabbitmq;

import com.rabbitmq.client.Delivery;
import com.rabbitmq.client.LongString;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;

/**
 * Where the idempotency key of a RabbitMQ {@link Delivery} comes from. Pass one to
 * {@link dev.oncely.IdempotentHandler.Builder#key}; {@link IdempotentDeliverCallback#handlerBuilder} starts with
 * {@link #messageId()}.
 *
 * <p>The key must identify the logical event and be set by the producer, so that a redelivery and a republish
 * of the same event carry the same key. Never use the delivery tag: it changes on every delivery.
 *
 * <p>A delivery without the key yields {@code null}; the handler then refuses it with an
 * {@link IllegalArgumentException} and {@link IdempotentDeliverCallback} rejects it to the dead-letter route.
 */
public final class DeliveryKeys {

    private DeliveryKeys() {
    }

    /** The AMQP {@code message-id} property ({@code BasicProperties.getMessageId()}). The default. */
    public static Function<Delivery, String> messageId() {
        return MessageId.INSTANCE;
    }

    /**
     * A message header, e.g. {@code "event-id"}. String, long-string, byte-array (read as UTF-8), number and UUID
     * values are accepted; any other type (a table, a list) is refused with an {@link IllegalArgumentException}.
     */
    public static Function<Delivery, String> header(String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("The header name is " + (name == null ? "null" : "blank")
                    + ": name the header the producer puts the event id in, e.g. DeliveryKeys.header(\"event-id\").");
        }
        return new Header(name);
    }

    private enum MessageId implements Function<Delivery, String> {
        INSTANCE;

        @Override
        public String apply(Delivery delivery) {
            return delivery.getProperties() == null ? null : delivery.getProperties().getMessageId();
        }

        @Override
        public String toString() {
            return "the message-id property";
        }
    }

    private static final class Header implements Function<Delivery, String> {
        private final String name;

        Header(String name) {
            this.name = name;
        }

        @Override
        public String apply(Delivery delivery) {
            Map<String, Object> headers = delivery.getProperties() == null ? null
                    : delivery.getProperties().getHeaders();
            Object value = headers == null ? null : headers.get(name);
            if (value == null) {
                return null;
            }
            if (value instanceof String || value instanceof LongString || value instanceof Number
                    || value instanceof UUID) {
                return value.toString();
            }
            if (value instanceof byte[] bytes) {
                return new String(bytes, StandardCharsets.UTF_8);
            }
            throw new IllegalArgumentException("Header '" + name + "' holds a " + value.getClass().getName()
                    + ", not a string: the producer must put the event id in it as a string.");
        }

        @Override
        public String toString() {
            return "header '" + name + "'";
        }
    }
}
