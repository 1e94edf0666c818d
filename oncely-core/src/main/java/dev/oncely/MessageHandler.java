package dev.oncely;

/**
 * Your consumer callback. It runs at most once per key and consumer for each committed claim, inside the
 * transaction that holds the claim: write your business effects through {@link ProcessingContext} and they
 * commit, or roll back, together with it.
 *
 * <p>Throw to reject the message: the transaction rolls back, the key stays unclaimed, and the same exception
 * instance reaches the caller of {@link IdempotentHandler#process}, so your consumer framework's retry and
 * dead-letter handling sees it. The checked exception type {@code X} is inferred from your lambda, as in Jdbi's
 * callbacks: a handler that throws nothing checked makes {@code X} a {@link RuntimeException}, and
 * {@code process()} then declares no checked exception either.
 *
 * @param <M> the message type
 * @param <R> the result type; return {@code null} if you have none
 * @param <X> the checked exception the handler may throw ({@link RuntimeException} if none)
 */
@FunctionalInterface
public interface MessageHandler<M, R, X extends Exception> {

    R handle(M message, ProcessingContext context) throws X;
}
