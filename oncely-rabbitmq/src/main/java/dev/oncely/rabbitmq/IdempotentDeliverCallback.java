package dev.oncely.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DeliverCallback;
import com.rabbitmq.client.Delivery;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.ShutdownSignalException;
import dev.oncely.IdempotentHandler;
import dev.oncely.InvalidMessageException;
import dev.oncely.OncelyException;
import dev.oncely.Outcome;
import dev.oncely.PayloadConflictException;
import dev.oncely.spi.DedupStore;
import java.io.IOException;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A RabbitMQ {@link DeliverCallback} that processes each delivery once through an {@link IdempotentHandler} and
 * acknowledges it only after the handler's transaction has committed.
 *
 * <pre>{@code
 * IdempotentHandler<Delivery, Void> orders = IdempotentDeliverCallback.<Void>handlerBuilder(store)
 *         .consumer("orders")                              // key: the message-id property by default
 *         .handler((delivery, tx) -> { insertOrder(tx.connection(), delivery.getBody()); return null; })
 *         .build();
 * channel.basicQos(50);
 * IdempotentDeliverCallback.builder(channel, orders).build().consume("orders");
 * // or: channel.basicConsume("orders", false, callback, consumerTag -> { });   autoAck MUST be false
 * }</pre>
 *
 * <h2>How each delivery is settled</h2>
 * <ul>
 *   <li>processed (claim and business writes committed) or duplicate: {@code basicAck};</li>
 *   <li>no valid key (e.g. no message-id): logged as an error and {@code basicReject(requeue=false)}, so the
 *       broker dead-letters it; nothing is written;</li>
 *   <li>{@link PayloadConflictException} (same key, different payload fingerprint): {@code basicReject(requeue=false)};</li>
 *   <li>the handler threw: rolled back, then {@code basicNack} with requeue as the {@link FailurePolicy} says
 *       (default: requeue);</li>
 *   <li>the store failed (database down, commit failed or its outcome unknown): {@code basicNack(requeue=true)};
 *       if the commit did happen, the redelivery is a duplicate and is acked.</li>
 * </ul>
 * If the ack itself is lost (channel or connection closed after the commit), the broker redelivers the message;
 * the redelivery finds the committed claim, is a duplicate, and is acked without running the handler again.
 * That is why acknowledging after the commit is safe: effects in the transaction happen exactly once, the
 * message is acknowledged at least once. Effects outside the transaction (HTTP calls, emails) happen at least once.
 *
 * <h2>Requirements</h2>
 * Consume with manual acknowledgements ({@code autoAck=false}); {@link #consume(String)} does that for you. With
 * {@code autoAck=true} the broker has already forgotten the message before the transaction runs, so a failure
 * loses it; the broker then closes the channel on the first ack with "unknown delivery tag", which this callback
 * reports as an error naming the cause. Build one callback per channel and consume with it on that channel only:
 * delivery tags belong to a channel. A channel dispatches its deliveries one at a time, so for parallelism open
 * several channels, each with its own callback (they may share the handler), and set {@code basicQos}.
 *
 * @param <R> the handler's result type
 */
public final class IdempotentDeliverCallback<R> implements DeliverCallback {

    private static final Logger log = LoggerFactory.getLogger(IdempotentDeliverCallback.class);

    private final Channel channel;
    private final IdempotentHandler<Delivery, R> handler;
    private final FailurePolicy failurePolicy;

    private IdempotentDeliverCallback(Builder<R> builder) {
        this.channel = builder.channel;
        this.handler = builder.handler;
        this.failurePolicy = builder.failurePolicy;
        channel.addShutdownListener(this::explainShutdown);
    }

    /** Starts a builder; required: the channel you consume on and the handler. */
    public static <R> Builder<R> builder(Channel channel, IdempotentHandler<Delivery, R> handler) {
        return new Builder<>(channel, handler);
    }

    /** A callback with the default {@link FailurePolicy#requeue()}. */
    public static <R> IdempotentDeliverCallback<R> of(Channel channel, IdempotentHandler<Delivery, R> handler) {
        return builder(channel, handler).build();
    }

    /**
     * An {@link IdempotentHandler} builder for deliveries, keyed by the AMQP {@code message-id} property. Use
     * {@code .key(DeliveryKeys.header("event-id"))} to take the key from a header instead.
     */
    public static <R> IdempotentHandler.Builder<Delivery, R> handlerBuilder(DedupStore store) {
        return IdempotentHandler.<Delivery, R>builder(store).key(DeliveryKeys.messageId());
    }

    /**
     * Starts consuming {@code queue} on this callback's channel with manual acknowledgements
     * ({@code basicConsume(queue, false, this, cancel)}). Returns the consumer tag.
     */
    public String consume(String queue) throws IOException {
        if (queue == null || queue.isBlank()) {
            throw new IllegalArgumentException("queue is " + (queue == null ? "null" : "blank")
                    + ": name the queue to consume.");
        }
        return channel.basicConsume(queue, false, this,
                consumerTag -> log.warn("Consumer {} of queue '{}' (Oncely consumer '{}') was cancelled by the"
                        + " broker (queue deleted?); no more deliveries will arrive on it", consumerTag, queue,
                        handler.consumer()));
    }

    /** The channel deliveries are acknowledged on. */
    public Channel channel() {
        return channel;
    }

    /** The handler each delivery is processed by. */
    public IdempotentHandler<Delivery, R> handler() {
        return handler;
    }

    /** What happens to a delivery whose handler throws. */
    public FailurePolicy failurePolicy() {
        return failurePolicy;
    }

    @Override
    public void handle(String consumerTag, Delivery delivery) {
        long tag = delivery.getEnvelope().getDeliveryTag();
        String key;
        try {
            key = handler.keyOf(delivery);
        } catch (InvalidMessageException e) {
            log.error("Rejecting {} to the dead-letter route: it has no usable idempotency key for consumer '{}'"
                    + " (message-id {}, headers {}). {} Nothing was written. Make the producer set the key (by"
                    + " default the message-id property) on every message; without a dead-letter exchange on the"
                    + " queue the broker drops it.", describe(delivery), handler.consumer(), messageIdOf(delivery),
                    headerNamesOf(delivery), e.getMessage());
            settle(tag, Settlement.REJECT, delivery);
            return;
        }
        Outcome<R> outcome;
        try {
            outcome = handler.process(delivery);
        } catch (PayloadConflictException e) {
            log.error("Rejecting {} to the dead-letter route: {}", describe(delivery), e.getMessage());
            settle(tag, Settlement.REJECT, delivery);
            return;
        } catch (OncelyException e) {
            // Not the message's fault: the database is down, or the commit failed or its outcome is unknown.
            // Requeue; if the commit did happen, the redelivery is a duplicate and is acked.
            log.warn("Requeueing {} (key '{}'): the store failed: {}", describe(delivery), key, e.getMessage(), e);
            settle(tag, Settlement.REQUEUE, delivery);
            return;
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            boolean requeue = failurePolicy.requeue(delivery);
            log.warn("The handler of consumer '{}' failed on {} (key '{}'); rolled back, {}", handler.consumer(),
                    describe(delivery), key, requeue ? "requeued" : "dead-lettered (policy: " + failurePolicy + ")",
                    e);
            settle(tag, requeue ? Settlement.REQUEUE : Settlement.DEAD_LETTER, delivery);
            return;
        }
        if (log.isDebugEnabled()) {
            log.debug("{} {} (key '{}'), acknowledging", outcome.isDuplicate() ? "Duplicate" : "Processed",
                    describe(delivery), key);
        }
        settle(tag, Settlement.ACK, delivery);
    }

    private enum Settlement { ACK, REQUEUE, DEAD_LETTER, REJECT }

    private void settle(long tag, Settlement settlement, Delivery delivery) {
        try {
            switch (settlement) {
                case ACK -> channel.basicAck(tag, false);
                case REQUEUE -> channel.basicNack(tag, false, true);
                case DEAD_LETTER -> channel.basicNack(tag, false, false);
                case REJECT -> channel.basicReject(tag, false);
                default -> throw new IllegalStateException(settlement.name());
            }
        } catch (IOException | ShutdownSignalException e) {
            // Not rethrown: the client's exception handler would only close the channel. The broker redelivers
            // every unacknowledged message of a closed channel; a committed one then comes back as a duplicate.
            log.warn("Could not {} {} on a closed channel ({}); the broker will redeliver it{}",
                    settlement.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'), describe(delivery),
                    e.getMessage(), settlement == Settlement.ACK
                            ? ", and the redelivery will be acknowledged as a duplicate" : "");
        }
    }

    private void explainShutdown(ShutdownSignalException cause) {
        if (cause.isHardError() || cause.isInitiatedByApplication()) {
            return;
        }
        if (cause.getReason() instanceof AMQP.Channel.Close close && close.getReplyCode() == AMQP.PRECONDITION_FAILED
                && close.getReplyText() != null && close.getReplyText().contains("unknown delivery tag")) {
            log.error("The broker closed the channel of Oncely consumer '{}': {}. The consumer was most likely"
                    + " started with autoAck=true: consume with basicConsume(queue, false, callback, ...) or"
                    + " callback.consume(queue), and use one callback per channel.", handler.consumer(),
                    close.getReplyText());
        }
    }

    private static String messageIdOf(Delivery delivery) {
        String id = delivery.getProperties() == null ? null : delivery.getProperties().getMessageId();
        return id == null ? "absent" : "'" + id + "'";
    }

    private static Object headerNamesOf(Delivery delivery) {
        java.util.Map<String, Object> headers = delivery.getProperties() == null ? null
                : delivery.getProperties().getHeaders();
        return headers == null ? "[]" : new java.util.TreeSet<>(headers.keySet());
    }

    private static String describe(Delivery delivery) {
        Envelope envelope = delivery.getEnvelope();
        return "delivery " + envelope.getDeliveryTag() + " (exchange '" + envelope.getExchange() + "', routing key '"
                + envelope.getRoutingKey() + "'" + (envelope.isRedeliver() ? ", redelivered" : "") + ")";
    }

    @Override
    public String toString() {
        return "IdempotentDeliverCallback[consumer=" + handler.consumer() + ", channel=" + channel.getChannelNumber()
                + ", onHandlerFailure=" + failurePolicy + "]";
    }

    /** Builds an {@link IdempotentDeliverCallback}. */
    public static final class Builder<R> {
        private final Channel channel;
        private final IdempotentHandler<Delivery, R> handler;
        private FailurePolicy failurePolicy = FailurePolicy.requeue();

        private Builder(Channel channel, IdempotentHandler<Delivery, R> handler) {
            if (channel == null) {
                throw new IllegalArgumentException("channel is null: pass the channel you consume on;"
                        + " acknowledgements must go to the channel the delivery came from.");
            }
            if (handler == null) {
                throw new IllegalArgumentException("handler is null: build one with"
                        + " IdempotentDeliverCallback.handlerBuilder(store).consumer(...).handler(...).build().");
            }
            this.channel = channel;
            this.handler = handler;
        }

        /** What to do when the handler throws. Default: {@link FailurePolicy#requeue()}. */
        public Builder<R> onHandlerFailure(FailurePolicy policy) {
            if (policy == null) {
                throw new IllegalArgumentException("policy is null: use FailurePolicy.requeue(), deadLetter() or"
                        + " deadLetterAfter(n).");
            }
            this.failurePolicy = policy;
            return this;
        }

        public IdempotentDeliverCallback<R> build() {
            if (!channel.isOpen()) {
                throw new IllegalArgumentException("channel " + channel.getChannelNumber() + " is closed ("
                        + channel.getCloseReason() + "): open a new channel and build the callback on it.");
            }
            IdempotentDeliverCallback<R> built = new IdempotentDeliverCallback<>(this);
            log.info("Oncely RabbitMQ callback for consumer '{}' on channel {}: ack after commit, handler failures:"
                    + " {}", handler.consumer(), channel.getChannelNumber(), failurePolicy);
            return built;
        }
    }
}
