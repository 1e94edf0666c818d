package dev.oncely.rabbitmq;

import com.rabbitmq.client.Delivery;
import java.util.List;
import java.util.Map;

/**
 * What {@link IdempotentDeliverCallback} does with a delivery whose handler threw: give it back to the queue
 * ({@code basicNack(requeue=true)}) or send it to the queue's dead-letter exchange
 * ({@code basicNack(requeue=false)}). Only failures of <em>your handler</em> go through this policy; a store
 * failure is settled by its type (see {@link IdempotentDeliverCallback}): a transient one (database down, commit
 * outcome unknown) is requeued after a pause, because it is not the message's fault.
 *
 * <p>A message dead-lettered on a queue that has no dead-letter exchange is dropped by the broker: declare the
 * queue with {@code x-dead-letter-exchange} before choosing a policy that dead-letters.
 */
public final class FailurePolicy {

    /** The header in which the adapter counts the failed attempts it requeued by republishing. */
    static final String FAILED_ATTEMPTS_HEADER = "oncely-failed-attempts";

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
     * Requeue until this delivery is attempt {@code maxAttempts}, then dead-letter. Attempts are counted so that
     * every requeue advances the count: a callback that knows its queue (started with
     * {@link IdempotentDeliverCallback#consume(String)}) requeues by republishing a copy to the queue with its
     * failed-attempt count in the {@value #FAILED_ATTEMPTS_HEADER} header (publisher-confirmed, then the original
     * is acked); quorum queues also count requeues in {@code x-delivery-count}; failed deliveries recorded in
     * {@code x-death} (a message dead-lettered before and moved back, or a retry loop through a dead-letter
     * exchange) count too. A classic queue's own requeue counts nothing, so a {@code redelivered} message without
     * {@code x-delivery-count} counts as the last attempt: it is dead-lettered on its first failure, so that it can
     * never loop.
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

    /** Whether this policy counts attempts (requeues some failures and dead-letters later ones). */
    boolean countsAttempts() {
        return maxAttempts > 1;
    }

    /**
     * The attempt number of a delivery: 1 for a first delivery, more for a later one; {@link Integer#MAX_VALUE}
     * for a delivery the broker requeued without counting it.
     *
     * <p>Counted: the broker's {@code x-delivery-count} (quorum queues count every requeue), the adapter's own
     * {@value #FAILED_ATTEMPTS_HEADER} header (written when it requeues by republishing), and the {@code x-death}
     * entries of failed deliveries (reason {@code rejected} or {@code delivery_limit}; {@code expired} and
     * {@code maxlen} are not attempts: a retry queue's TTL adds one {@code expired} per round trip). A
     * {@code redelivered} delivery without {@code x-delivery-count} was requeued by a classic queue, which counts
     * nothing: no header tells how often that happened, {@code x-death} included (a requeue never changes it), so
     * it counts as the last attempt and can never loop.
     */
    static int attempt(Delivery delivery) {
        Map<String, Object> headers = headersOf(delivery);
        if (!(headers.get("x-delivery-count") instanceof Number) && delivery.getEnvelope().isRedeliver()) {
            return Integer.MAX_VALUE;
        }
        long failed = failedAttemptsOutsideDeaths(delivery);
        if (headers.get("x-death") instanceof List<?> deaths) {
            for (Object death : deaths) {
                if (death instanceof Map<?, ?> table && table.get("count") instanceof Number count
                        && isFailedAttempt(table.get("reason"))) {
                    failed += Math.max(0, count.longValue());
                }
            }
        }
        return (int) Math.min(failed + 1, Integer.MAX_VALUE);
    }

    /**
     * The failed attempts a republished copy must carry in {@value #FAILED_ATTEMPTS_HEADER}: the ones not
     * recorded in {@code x-death} (which the copy keeps), that is this header's value and the broker's
     * {@code x-delivery-count} (which a copy loses: it is a new message to the queue).
     */
    static long failedAttemptsOutsideDeaths(Delivery delivery) {
        Map<String, Object> headers = headersOf(delivery);
        long failed = 0;
        if (headers.get("x-delivery-count") instanceof Number count) {
            failed += Math.max(0, count.longValue());
        }
        if (headers.get(FAILED_ATTEMPTS_HEADER) instanceof Number count) {
            failed += Math.max(0, count.longValue());
        }
        return failed;
    }

    private static boolean isFailedAttempt(Object reason) {
        if (reason == null) {
            return true;
        }
        String text = reason.toString();
        return !text.equals("expired") && !text.equals("maxlen");
    }

    private static Map<String, Object> headersOf(Delivery delivery) {
        Map<String, Object> headers = delivery.getProperties() == null ? null : delivery.getProperties().getHeaders();
        return headers == null ? Map.of() : headers;
    }

    @Override
    public String toString() {
        return maxAttempts == 0 ? "requeue" : maxAttempts == 1 ? "dead-letter" : "dead-letter after " + maxAttempts
                + " attempts";
    }
}
