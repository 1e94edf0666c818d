package dev.oncely.spring.amqp;

import dev.oncely.CommitOutcomeUnknownException;
import dev.oncely.InvalidMessageException;
import dev.oncely.MisconfigurationException;
import dev.oncely.OncelyException;
import dev.oncely.PayloadConflictException;
import dev.oncely.TransientStoreException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpRejectAndDontRequeueException;
import org.springframework.amqp.ImmediateRequeueAmqpException;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.rabbit.listener.AbstractMessageListenerContainer;
import org.springframework.amqp.rabbit.listener.ConditionalRejectingErrorHandler;
import org.springframework.amqp.rabbit.listener.MessageListenerContainer;
import org.springframework.amqp.rabbit.support.ListenerExecutionFailedException;

/**
 * The error handler for {@code @RabbitListener} methods with {@code @Idempotent}, in the container's
 * {@code AcknowledgeMode.AUTO} (the default): settles each of Oncely's exceptions as the plain RabbitMQ adapter's
 * {@code IdempotentDeliverCallback} does. The Spring Boot starter sets it on the listener container factories that
 * have no error handler of their own; without Boot, {@code factory.setErrorHandler(...)}.
 *
 * <table>
 *   <caption>How a failed delivery is settled (the transaction rolled back first: claim and writes)</caption>
 *   <tr><th>exception</th><th>settlement</th></tr>
 *   <tr><td>{@link InvalidMessageException}, {@link PayloadConflictException}</td><td>ERROR log, rejected without
 *   requeue: dead-lettered (dropped if the queue has no dead-letter exchange); also when the message already
 *   carries {@code x-death} (Spring's default would drop it)</td></tr>
 *   <tr><td>{@link TransientStoreException}, {@link CommitOutcomeUnknownException}</td><td>WARN log; the delivery
 *   waits {@code storeRetryDelay} unacknowledged on the consumer thread, then is requeued, whatever the
 *   container's {@code defaultRequeueRejected}</td></tr>
 *   <tr><td>{@link MisconfigurationException}</td><td>ERROR log; the containers consuming the message's queue are
 *   stopped (asynchronously, from another thread) and the delivery is requeued unprocessed: messages wait in the
 *   queue, neither looping nor dead-lettered. Fix the configuration, then start the container again
 *   ({@code RabbitListenerEndpointRegistry}). If no container of that queue is known, it is dead-lettered</td></tr>
 *   <tr><td>any other exception (yours)</td><td>Spring AMQP's defaults: its fatal conversion errors are
 *   dead-lettered; anything else is rejected with the container's {@code defaultRequeueRejected} (requeue by
 *   default)</td></tr>
 * </table>
 */
public class OncelyRabbitErrorHandler extends ConditionalRejectingErrorHandler {

    private static final Logger log = LoggerFactory.getLogger(OncelyRabbitErrorHandler.class);

    /** The pause before a store failure's requeue, unless you give another: {@value} ms. */
    public static final long DEFAULT_STORE_RETRY_DELAY_MILLIS = 1_000;

    private final Duration storeRetryDelay;
    private final Supplier<? extends Collection<? extends MessageListenerContainer>> containers;

    /**
     * @param storeRetryDelay the pause before a delivery that met a store failure is requeued (zero for none)
     * @param containers      the listener containers, to stop those of a queue after a misconfiguration; usually
     *                        {@code registry::getListenerContainers} of the {@code RabbitListenerEndpointRegistry}
     */
    public OncelyRabbitErrorHandler(Duration storeRetryDelay,
                                    Supplier<? extends Collection<? extends MessageListenerContainer>> containers) {
        super(new OncelyFatalExceptionStrategy());
        if (storeRetryDelay == null || storeRetryDelay.isNegative()) {
            throw new IllegalArgumentException("storeRetryDelay must be zero or positive, got " + storeRetryDelay
                    + ": it is the pause before a delivery that met a store failure is requeued (e.g. 1 s).");
        }
        if (containers == null) {
            throw new IllegalArgumentException("containers is null: pass the RabbitListenerEndpointRegistry's"
                    + " getListenerContainers, so that a misconfiguration can stop the failing listener.");
        }
        this.storeRetryDelay = storeRetryDelay;
        this.containers = containers;
        setDiscardFatalsWithXDeath(false); // a message back from the dead-letter queue is dead-lettered again
    }

    @Override
    public void handleError(Throwable t) {
        Throwable cause = oncelyCause(t);
        if (cause instanceof TransientStoreException || cause instanceof CommitOutcomeUnknownException) {
            log.warn("{}: {}. Requeueing the delivery after {} ms.", describe(t), cause.getMessage(),
                    storeRetryDelay.toMillis());
            pause();
            throw new ImmediateRequeueAmqpException("Store failure, requeued: " + cause.getMessage(), t);
        }
        if (cause instanceof MisconfigurationException) {
            String queue = queueOf(t);
            List<MessageListenerContainer> stopped = stopContainersOf(queue);
            if (stopped.isEmpty()) {
                log.error("{}: {}. No listener container of queue '{}' is known to stop, so the delivery is"
                        + " rejected without requeue (dead-lettered). Fix the configuration.", describe(t),
                        cause.getMessage(), queue);
                throw new AmqpRejectAndDontRequeueException("Misconfiguration: " + cause.getMessage(), t);
            }
            log.error("{}: {}. Stopping the {} listener container(s) of queue '{}' and requeueing the delivery"
                    + " unprocessed: fix the configuration, then start them again.", describe(t), cause.getMessage(),
                    stopped.size(), queue);
            throw new ImmediateRequeueAmqpException("Misconfiguration, consumer stopped: " + cause.getMessage(), t);
        }
        super.handleError(t);
    }

    @Override
    protected void log(Throwable t) {
        Throwable cause = oncelyCause(t);
        if (cause instanceof InvalidMessageException || cause instanceof PayloadConflictException) {
            log.error("{}: {}. Rejected without requeue (dead-lettered).", describe(t), cause.getMessage());
        } else if (cause == null) {
            super.log(t);
        }
        // Store failures and misconfigurations are logged by handleError.
    }

    private void pause() {
        if (storeRetryDelay.isZero()) {
            return;
        }
        try {
            Thread.sleep(storeRetryDelay.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // the container is stopping: requeue now
        }
    }

    private List<MessageListenerContainer> stopContainersOf(String queue) {
        List<MessageListenerContainer> matching = new ArrayList<>();
        if (queue == null) {
            return matching;
        }
        for (MessageListenerContainer container : containers.get()) {
            if (container instanceof AbstractMessageListenerContainer amlc
                    && Arrays.asList(amlc.getQueueNames()).contains(queue)) {
                matching.add(container);
            }
        }
        for (MessageListenerContainer container : matching) {
            // Not on this consumer thread: stop() waits for the consumers, this one included.
            Thread stopper = new Thread(container::stop, "oncely-stop-" + queue);
            stopper.setDaemon(true);
            stopper.start();
        }
        return matching;
    }

    private static String queueOf(Throwable t) {
        if (t instanceof ListenerExecutionFailedException lefe && lefe.getFailedMessage() != null) {
            return lefe.getFailedMessage().getMessageProperties().getConsumerQueue();
        }
        return null;
    }

    private static String describe(Throwable t) {
        if (t instanceof ListenerExecutionFailedException lefe && lefe.getFailedMessage() != null) {
            Message message = lefe.getFailedMessage();
            return "Delivery " + message.getMessageProperties().getDeliveryTag() + " (message-id "
                    + message.getMessageProperties().getMessageId() + ") from queue '"
                    + message.getMessageProperties().getConsumerQueue() + "' failed";
        }
        return "A delivery failed";
    }

    /** The first of Oncely's exceptions in the cause chain, or null. */
    static Throwable oncelyCause(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof OncelyException) {
                return c;
            }
        }
        return null;
    }

    /**
     * Spring AMQP's fatal exceptions, plus {@link InvalidMessageException} and {@link PayloadConflictException}:
     * a delivery that fails with one of them is rejected without requeue. Usable on its own in a
     * {@code ConditionalRejectingErrorHandler} of yours.
     */
    public static class OncelyFatalExceptionStrategy extends ConditionalRejectingErrorHandler.DefaultExceptionStrategy {
        @Override
        protected boolean isUserCauseFatal(Throwable cause) {
            return cause instanceof InvalidMessageException || cause instanceof PayloadConflictException;
        }

        @Override
        protected void logFatalException(ListenerExecutionFailedException t, Throwable cause) {
            if (oncelyCause(cause) == null) {
                super.logFatalException(t, cause);
            }
        }
    }
}
