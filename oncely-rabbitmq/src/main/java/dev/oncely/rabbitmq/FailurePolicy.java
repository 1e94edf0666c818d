package dev.oncely.rabbitmq;

import com.rabbitmq.client.Delivery;
import java.util.List;
import java.util.Map;

/**
 * What {@link IdempotentDeliverCallback} does with a delivery whose handler threw: give it back to the queue
 * ({@code basicNack(requeue=true)}) or send it to the queue's dead-letter exchange
 * ({@code basicNack(requeue=false)}). Only failures of <em>your handler</em> go through this policy; a store
 * failure (database down, commit outcome unknown) is always requeued, because it is not the message's fault.
 *
 * <p>A message dead-lettered on a queue that has no dead-letter exchange is dropped by the broker: declare the
 * queue with {@code x-dead-letter-exchange} before choosing a policy that dead-letters.
 */
public final class FailurePolicy {

    private final int maxAttempts; // 0: requeue forever

    private FailurePolicy(int maxAttempts) {
        this.maxAttempts = maxAttempts;
    }

    /**
     * Always requeue: the message is retried until the handler succeeds. The default. A message the handler
     * can never process loops; bound that with a quorum queue's {@code x-delivery-limit} (the broker then
     * dead-letters it) or choose {@link #deadLetterAfter(int)}.
     */
    public static FailurePolicy requeue() {
        return new FailurePolicy(0);
    }

    /** Never requeue: dead-letter on the first failure (for retry topologies built from a DLX and a TTL). */
    public static FailurePolicy deadLetter() {
        return new FailurePolicy(1);
    }

    /**
     * Requeue until this delivery is attempt {@code maxAttempts}, then dead-letter. The attempt number is read
     * from what the broker tells: the {@code x-delivery-count} header (quorum queues) or the counts of the
     * {@code x-death} header (retry loops through a dead-letter exchange). A classic queue tells only the
     * {@code redelivered} flag, so there a redelivered message counts as the last attempt: it is dead-lettered
     * on its first failure, whatever {@code maxAttempts} is, so that it can never loop.
     */
    public static FailurePolicy deadLetterAfter(int maxAttempts) {
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be at least 1, was " + maxAttempts
                    + ": use deadLetter() to dead-letter on the first failure, requeue() to retry forever.");
        }
        return new FailurePolicy(maxAttempts);
    }

    /** Whether a delivery whose handler failed goes back to the queue. */
    public boolean requeue(Delivery delivery) {
        if (maxAttempts == 0) {
            return true;
        }
        return attempt(delivery) < maxAttempts;
    }

    /**
     * The attempt number of a delivery as far as the broker tells it: 1 for a first delivery, more for a
     * redelivery; {@link Integer#MAX_VALUE} for a redelivery whose count the broker does not give.
     */
    static int attempt(Delivery delivery) {
        Map<String, Object> headers = delivery.getProperties() == null ? null : delivery.getProperties().getHeaders();
        long counted = 1;
        boolean known = false;
        if (headers != null) {
            Object deliveryCount = headers.get("x-delivery-count");
            if (deliveryCount instanceof Number n) {
                counted = Math.max(counted, n.longValue() + 1);
                known = true;
            }
            Object deaths = headers.get("x-death");
            if (deaths instanceof List<?> list) {
                long sum = 0;
                for (Object death : list) {
                    if (death instanceof Map<?, ?> table && table.get("count") instanceof Number c) {
                        sum += c.longValue();
                    }
                }
                counted = Math.max(counted, sum + 1);
                known = known || sum > 0;
            }
        }
        if (!known && delivery.getEnvelope().isRedeliver()) {
            return Integer.MAX_VALUE;
        }
        return (int) Math.min(counted, Integer.MAX_VALUE);
    }

    @Override
    public String toString() {
        return maxAttempts == 0 ? "requeue" : maxAttempts == 1 ? "dead-letter" : "dead-letter after " + maxAttempts
                + " attempts";
    }
}
