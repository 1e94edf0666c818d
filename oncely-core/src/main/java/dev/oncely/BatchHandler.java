package dev.oncely;

import java.util.List;

/**
 * A callback for a whole batch: it receives the <em>fresh</em> messages of a batch (duplicates and repeated keys
 * left out), in input order, together, in the one transaction that holds their claims, so their business rows can
 * go in one JDBC batch or one set-based statement. Set it with
 * {@link IdempotentHandler.Builder#batchHandler(BatchHandler)}; {@link IdempotentHandler#processBatch} then calls
 * it once per batch (not at all if every message was a duplicate), and {@link IdempotentHandler#process} with a
 * batch of one.
 *
 * <p>Throw to reject the batch: the transaction rolls back with every claim, and the same exception instance
 * reaches the caller.
 *
 * @param <M> the message type
 * @param <R> the result type
 * @param <X> the checked exception the handler may throw ({@link RuntimeException} if none)
 */
@FunctionalInterface
public interface BatchHandler<M, R, X extends Exception> {

    /**
     * @param messages the fresh messages, in input order; never empty
     * @param context  the transaction's resources and the messages' keys
     * @return one result per message, in the same order, or an empty list (or null) if there are none; results
     *         are stored for duplicates only when a {@link ResultCodec} is set
     */
    List<R> handle(List<M> messages, BatchContext context) throws X;
}
