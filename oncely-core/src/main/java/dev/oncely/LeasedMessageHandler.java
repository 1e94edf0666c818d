package dev.oncely;

/**
 * Your callback in lease mode ({@link LeasedHandler}): runs with no transaction open and no connection held, so
 * it may call slow external services. Wrap each external effect in {@link LeasedRun#step} so that a retry after a
 * crash skips what already happened, and pass {@link LeasedRun#downstreamKey} to services that deduplicate.
 *
 * @param <M> the message type
 * @param <R> the result type ({@link Void} if none)
 * @param <X> the checked exception it may throw ({@link RuntimeException} if none)
 */
@FunctionalInterface
public interface LeasedMessageHandler<M, R, X extends Exception> {

    R handle(M message, LeasedRun run) throws X;
}
