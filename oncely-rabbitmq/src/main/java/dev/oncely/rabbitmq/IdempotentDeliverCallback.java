package dev.oncely.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DeliverCallback;
import com.rabbitmq.client.Delivery;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import com.rabbitmq.client.ShutdownSignalException;
import dev.oncely.CommitOutcomeUnknownException;
import dev.oncely.IdempotentHandler;
import dev.oncely.InvalidMessageException;
import dev.oncely.MisconfigurationException;
import dev.oncely.OncelyException;
import dev.oncely.Outcome;
import dev.oncely.PayloadConflictException;
import dev.oncely.TransientStoreException;
import dev.oncely.DedupStore;
import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A RabbitMQ {@link DeliverCallback} that processes each delivery once through an {@link IdempotentHandler} and
 * acknowledges it only after the handler's transaction has committed.
 *
 * <pre>{@code
 * IdempotentHandler<Delivery, Void, ?> orders = IdempotentDeliverCallback.<Void>handlerBuilder(store)
 *         .consumer("orders")                              // key: the message-id property by default
 *         .handler((delivery, tx) -> { insertOrder(tx.unwrap(java.sql.Connection.class), delivery.getBody()); return null; })
 *         .build();
 * channel.basicQos(50);
 * IdempotentDeliverCallback.builder(channel, orders).build().consume("orders");
 * // or: channel.basicConsume("orders", false, callback, consumerTag -> { });   autoAck MUST be false
 * }</pre>
 *
 * <h2>How each delivery is settled</h2>
 * <ul>
 *   <li>processed (claim and business writes committed) or duplicate: {@code basicAck};</li>
 *   <li>{@link InvalidMessageException} (no valid key, e.g. no message-id) or {@link PayloadConflictException}
 *       (same key, different payload fingerprint): logged as an error and {@code basicReject(requeue=false)}, so
 *       the broker dead-letters it; nothing is written;</li>
 *   <li>the handler threw: rolled back, then requeued or dead-lettered as the {@link FailurePolicy} says
 *       (default: requeue);</li>
 *   <li>{@link TransientStoreException} or {@link CommitOutcomeUnknownException} (database down, commit failed
 *       or its outcome unknown): {@code basicNack(requeue=true)} after a pause ({@link Builder#storeRetryDelay});
 *       if the commit did happen, the redelivery is a duplicate and is acked;</li>
 *   <li>{@link MisconfigurationException} (table or column missing, permission denied, a codec that cannot
 *       decode): the callback cancels its subscription ({@code basicCancel}), requeues the message unprocessed,
 *       logs an ERROR saying what to fix, and runs no handler again;</li>
 *   <li>the channel is already closed when a buffered delivery's turn comes: skipped (the broker redelivers it).</li>
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

    private static final long CONFIRM_TIMEOUT_MILLIS = 10_000;

    private final Channel channel;
    private final IdempotentHandler<Delivery, R, ?> handler;
    private final FailurePolicy failurePolicy;
    private final Duration storeRetryDelay;
    /** The queue of each subscription started by {@link #consume}: where a counted requeue republishes to. */
    private final Map<String, String> queueByConsumerTag = new ConcurrentHashMap<>();
    /** Set once a {@link MisconfigurationException} stopped this callback; it then runs no handler again. */
    private final AtomicReference<MisconfigurationException> stoppedBy = new AtomicReference<>();

    private IdempotentDeliverCallback(Builder<R> builder) {
        this.channel = builder.channel;
        this.handler = builder.handler;
        this.failurePolicy = builder.failurePolicy;
        this.storeRetryDelay = builder.storeRetryDelay;
        channel.addShutdownListener(this::explainShutdown);
        if (channel instanceof Recoverable recoverable) {
            recoverable.addRecoveryListener(new RecoveryListener() {
                @Override
                public void handleRecovery(Recoverable recovered) {
                    log.info("Channel {} of Oncely consumer '{}' recovered; consumption resumes on it",
                            channel.getChannelNumber(), handler.consumer());
                }

                @Override
                public void handleRecoveryStarted(Recoverable recovering) {
                }
            });
        }
    }

    /** Starts a builder; required: the channel you consume on and the handler. */
    public static <R> Builder<R> builder(Channel channel, IdempotentHandler<Delivery, R, ?> handler) {
        return new Builder<>(channel, handler);
    }

    /** A callback with the default {@link FailurePolicy#requeue()}. */
    public static <R> IdempotentDeliverCallback<R> of(Channel channel, IdempotentHandler<Delivery, R, ?> handler) {
        return builder(channel, handler).build();
    }

    /**
     * An {@link IdempotentHandler} builder for deliveries, keyed by the AMQP {@code message-id} property. Use
     * {@code .key(DeliveryKeys.header("event-id"))} to take the key from a header instead.
     */
    public static <R> IdempotentHandler.Builder<Delivery, R, ?> handlerBuilder(DedupStore store) {
        return IdempotentHandler.<Delivery, R>builder(store).key(DeliveryKeys.messageId());
    }

    /**
     * Starts consuming {@code queue} on this callback's channel with manual acknowledgements
     * ({@code basicConsume(queue, false, tag, this, cancel)}). Returns the consumer tag. Prefer it to your own
     * {@code basicConsume}: the callback then knows the queue, so that {@link FailurePolicy#deadLetterAfter(int)}
     * can requeue by republishing a copy that counts the attempt (a delivery names its exchange, not its queue).
     */
    public String consume(String queue) throws IOException {
        if (queue == null || queue.isBlank()) {
            throw new IllegalArgumentException("queue is " + (queue == null ? "null" : "blank")
                    + ": name the queue to consume.");
        }
        // Our own tag, registered before the first delivery can arrive.
        String consumerTag = "oncely-" + handler.consumer() + "-" + java.util.UUID.randomUUID();
        queueByConsumerTag.put(consumerTag, queue);
        try {
            return channel.basicConsume(queue, false, consumerTag, this,
                    tag -> log.warn("Consumer {} of queue '{}' (Oncely consumer '{}') was cancelled by the"
                            + " broker (queue deleted?); no more deliveries will arrive on it", tag, queue,
                            handler.consumer()));
        } catch (IOException | RuntimeException e) {
            queueByConsumerTag.remove(consumerTag);
            throw e;
        }
    }

    /** The channel deliveries are acknowledged on. */
    public Channel channel() {
        return channel;
    }

    /** The handler each delivery is processed by. */
    public IdempotentHandler<Delivery, R, ?> handler() {
        return handler;
    }

    /** What happens to a delivery whose handler throws. */
    public FailurePolicy failurePolicy() {
        return failurePolicy;
    }

    /** How long a delivery waits before it is requeued after a transient store failure. */
    public Duration storeRetryDelay() {
        return storeRetryDelay;
    }

    @Override
    public void handle(String consumerTag, Delivery delivery) {
        long tag = delivery.getEnvelope().getDeliveryTag();
        if (!channel.isOpen()) {
            // Buffered in the client before the channel closed: it can no longer be acked, and the broker has
            // already put it back in the queue. Running the handler would only repeat effects outside the
            // transaction when the redelivery is processed elsewhere.
            log.debug("Skipping {}: channel {} is closed, the broker redelivers it", describe(delivery),
                    channel.getChannelNumber());
            return;
        }
        if (stoppedBy.get() != null) {
            log.debug("Requeueing {} unprocessed: this callback stopped on a misconfiguration", describe(delivery));
            settle(tag, Settlement.REQUEUE, delivery);
            return;
        }
        // The handler extracts and validates the key once; failure paths look it up again for their messages.
        Outcome<R> outcome;
        try {
            outcome = handler.process(delivery);
        } catch (PayloadConflictException e) {
            // The message itself is wrong: every retry gives the same answer.
            log.error("Rejecting {} (key '{}') to the dead-letter route: {}", describe(delivery), e.key(),
                    e.getMessage());
            settle(tag, Settlement.REJECT, delivery);
            return;
        } catch (InvalidMessageException e) {
            log.error("Rejecting {} to the dead-letter route: it has no usable idempotency key for consumer '{}'"
                    + " (message-id {}, headers {}), or it cannot be processed. {} Nothing was written. Make the"
                    + " producer set the key (by default the message-id property) on every message; without a"
                    + " dead-letter exchange on the queue the broker drops it.", describe(delivery),
                    handler.consumer(), messageIdOf(delivery), headerNamesOf(delivery), e.getMessage());
            settle(tag, Settlement.REJECT, delivery);
            return;
        } catch (MisconfigurationException e) {
            stop(consumerTag, tag, delivery, keyForLog(delivery), e);
            return;
        } catch (TransientStoreException | CommitOutcomeUnknownException e) {
            requeueAfterPause(tag, delivery, keyForLog(delivery), e);
            return;
        } catch (OncelyException e) {
            // A type this adapter does not know yet: the safe settlement is the transient one.
            requeueAfterPause(tag, delivery, keyForLog(delivery), e);
            return;
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            onHandlerFailure(consumerTag, tag, delivery, keyForLog(delivery), e);
            return;
        }
        if (log.isDebugEnabled()) {
            log.debug("{} {} (key '{}'), acknowledging", outcome.isDuplicate() ? "Duplicate" : "Processed",
                    describe(delivery), outcome.key());
        }
        settle(tag, Settlement.ACK, delivery);
    }

    /** The delivery's key for a failure's log line; process() validated it already. */
    private String keyForLog(Delivery delivery) {
        try {
            return handler.keyOf(delivery);
        } catch (RuntimeException e) {
            return "?";
        }
    }

    /**
     * Not the message's fault (the database is down, or the commit failed or its outcome is unknown), so it is
     * requeued, never dead-lettered: an outage would otherwise empty the queue into the dead-letter queue. The
     * pause keeps that from becoming a hot loop of redeliveries; the message stays unacked meanwhile, so no other
     * consumer gets it, and this channel takes no other delivery (back-pressure while the database is away). If
     * the commit did happen, the redelivery is a duplicate and is acked.
     */
    private void requeueAfterPause(long tag, Delivery delivery, String key, OncelyException e) {
        log.warn("Requeueing {} (key '{}') in {} ms: the store failed ({}): {}", describe(delivery), key,
                storeRetryDelay.toMillis(), e.getClass().getSimpleName(), e.getMessage(), e);
        try {
            Thread.sleep(storeRetryDelay.toMillis());
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
        }
        settle(tag, Settlement.REQUEUE, delivery);
    }

    /**
     * Every message would fail the same way, so requeueing would loop and dead-lettering would empty the queue:
     * cancel this subscription first (so the broker stops sending to it), then put the message back, unprocessed.
     * Deliveries already buffered are requeued unprocessed too (see {@link #handle}).
     */
    private void stop(String consumerTag, long tag, Delivery delivery, String key, MisconfigurationException e) {
        boolean first = stoppedBy.compareAndSet(null, e);
        if (first) {
            try {
                channel.basicCancel(consumerTag);
            } catch (IOException | ShutdownSignalException cancelFailed) {
                log.warn("Could not cancel consumer {} of Oncely consumer '{}' ({}); its deliveries are requeued"
                        + " unprocessed", consumerTag, handler.consumer(), cancelFailed.getMessage());
            }
        }
        settle(tag, Settlement.REQUEUE, delivery);
        if (first) {
            log.error("Stopped consuming: Oncely consumer '{}' cancelled its subscription {} on channel {} and put"
                    + " {} (key '{}') back on the queue unprocessed, because the store or the handler is"
                    + " misconfigured and every message would fail the same way: {} Fix that, then start consuming"
                    + " again with a new callback (IdempotentDeliverCallback.builder(channel, handler).build()"
                    + ".consume(queue)); the messages wait in the queue.", handler.consumer(), consumerTag,
                    channel.getChannelNumber(), describe(delivery), key, e.getMessage(), e);
        }
    }

    private void onHandlerFailure(String consumerTag, long tag, Delivery delivery, String key, Exception e) {
        boolean requeue = failurePolicy.requeue(delivery);
        String queue = queueByConsumerTag.get(consumerTag);
        if (requeue && failurePolicy.countsAttempts() && queue != null && republish(queue, delivery)) {
            // A classic queue's requeue counts nothing; the copy carries the count, so the policy's limit is met.
            log.warn("The handler of consumer '{}' failed on {} (key '{}', attempt {}); rolled back, requeued as a"
                    + " copy counting the attempt (policy: {})", handler.consumer(), describe(delivery), key,
                    FailurePolicy.attempt(delivery), failurePolicy, e);
            settle(tag, Settlement.ACK, delivery);
            return;
        }
        log.warn("The handler of consumer '{}' failed on {} (key '{}'); rolled back, {}", handler.consumer(),
                describe(delivery), key, requeue ? "requeued" : "dead-lettered (policy: " + failurePolicy + ")", e);
        settle(tag, requeue ? Settlement.REQUEUE : Settlement.DEAD_LETTER, delivery);
    }

    /**
     * Publishes a copy of the delivery to {@code queue} with its failed attempts counted in
     * {@link FailurePolicy#FAILED_ATTEMPTS_HEADER}, and waits for the broker's confirm, so the original may be
     * acked. If the connection dies between the confirm and the ack, both copies exist: harmless, the claim makes
     * the second one a duplicate once the first succeeds. Returns false (and the caller requeues plainly) if the
     * copy could not be confirmed.
     */
    private boolean republish(String queue, Delivery delivery) {
        AMQP.BasicProperties properties = delivery.getProperties() == null ? new AMQP.BasicProperties()
                : delivery.getProperties();
        Map<String, Object> headers = properties.getHeaders() == null ? new HashMap<>()
                : new HashMap<>(properties.getHeaders());
        headers.put(FailurePolicy.FAILED_ATTEMPTS_HEADER, FailurePolicy.failedAttemptsOutsideDeaths(delivery) + 1);
        headers.remove("x-delivery-count"); // folded into our header; the copy is a new message to the queue
        // A channel of our own per copy: confirms need confirm mode, which must not change the user's channel,
        // and handler failures are rare enough that opening one costs nothing worth keeping a channel for.
        Channel confirmed = null;
        try {
            confirmed = channel.getConnection().createChannel();
            confirmed.confirmSelect();
            confirmed.basicPublish("", queue, properties.builder().headers(headers).build(), delivery.getBody());
            confirmed.waitForConfirmsOrDie(CONFIRM_TIMEOUT_MILLIS);
            return true;
        } catch (IOException | TimeoutException | RuntimeException e) { // ShutdownSignalException included
            log.warn("Could not republish {} to queue '{}' to count its attempt ({}); requeueing it instead",
                    describe(delivery), queue, e.toString());
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            if (confirmed != null) {
                try {
                    confirmed.abort();
                } catch (IOException | RuntimeException e) {
                    log.debug("Closing the republishing channel failed ({}); the copy's fate is already settled",
                            e.toString());
                }
            }
        }
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
        if (cause.isInitiatedByApplication()) {
            return; // closed on purpose by the application
        }
        if (!cause.isHardError() && cause.getReason() instanceof AMQP.Channel.Close close
                && close.getReplyCode() == AMQP.PRECONDITION_FAILED && close.getReplyText() != null
                && close.getReplyText().contains("unknown delivery tag")) {
            log.error("The broker closed the channel of Oncely consumer '{}': {}. The consumer was most likely"
                    + " started with autoAck=true: consume with basicConsume(queue, false, callback, ...) or"
                    + " callback.consume(queue), and use one callback per channel.", handler.consumer(),
                    close.getReplyText());
            return;
        }
        // Runs on the client's connection thread: say what happened and what to do, block on nothing.
        boolean recovers = cause.isHardError() && channel instanceof Recoverable
                && channel.getConnection() instanceof Recoverable;
        log.warn("Consumption of Oncely consumer '{}' on channel {} stopped: the {} was closed ({}). Deliveries"
                + " already buffered in the client are skipped; the broker requeues every unacknowledged message,"
                + " and committed ones come back as duplicates. {}", handler.consumer(), channel.getChannelNumber(),
                cause.isHardError() ? "connection" : "channel", cause.getMessage(), recovers
                        ? "The connection recovers automatically: the client reopens the channel and, with topology"
                                + " recovery on (the default), subscribes the consumer again."
                        : cause.isHardError()
                                ? "Automatic recovery is off, so nothing is consumed until you connect again: enable"
                                        + " ConnectionFactory.setAutomaticRecoveryEnabled(true) and"
                                        + " setTopologyRecoveryEnabled(true) (the client's defaults), or open a new"
                                        + " connection and channel and build a new callback on them."
                                : "A channel closed by a channel error is not recovered: open a new channel and"
                                        + " build a new callback on it.");
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
                + ", onHandlerFailure=" + failurePolicy + ", storeRetryDelay=" + storeRetryDelay + "]";
    }

    /** Builds an {@link IdempotentDeliverCallback}. */
    public static final class Builder<R> {
        private final Channel channel;
        private final IdempotentHandler<Delivery, R, ?> handler;
        private FailurePolicy failurePolicy = FailurePolicy.requeue();
        private Duration storeRetryDelay = Duration.ofSeconds(1);

        private Builder(Channel channel, IdempotentHandler<Delivery, R, ?> handler) {
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

        /**
         * How long a delivery waits, unacked, before it is requeued after a {@link TransientStoreException} or
         * {@link CommitOutcomeUnknownException} (database down, connection lost during the commit). The pause
         * holds up this channel, which is the point: while the database is away, every delivery would fail.
         * Default 1 second.
         */
        public Builder<R> storeRetryDelay(Duration delay) {
            if (delay == null || delay.isNegative() || delay.isZero()) {
                throw new IllegalArgumentException("storeRetryDelay is " + delay + ": give a positive duration,"
                        + " e.g. Duration.ofSeconds(1); without a pause a database outage becomes a hot loop of"
                        + " redeliveries.");
            }
            this.storeRetryDelay = delay;
            return this;
        }

        public IdempotentDeliverCallback<R> build() {
            if (!channel.isOpen()) {
                throw new IllegalArgumentException("channel " + channel.getChannelNumber() + " is closed ("
                        + channel.getCloseReason() + "): open a new channel and build the callback on it.");
            }
            IdempotentDeliverCallback<R> built = new IdempotentDeliverCallback<>(this);
            log.info("Oncely RabbitMQ callback for consumer '{}' on channel {}: ack after commit, handler failures:"
                    + " {}, store retry delay {} ms", handler.consumer(), channel.getChannelNumber(), failurePolicy,
                    storeRetryDelay.toMillis());
            return built;
        }
    }
}
