package dev.oncely;

/**
 * Hears what {@link IdempotentHandler}s and {@link RetentionPurger}s do, for metrics and tracing
 * ({@code oncely-micrometer}'s {@code OncelyMetrics} is one). Set it with
 * {@link IdempotentHandler.Builder#listener(OncelyListener)} and {@link RetentionPurger.Builder#listener}. Every
 * method has a default that does nothing: implement those you need.
 *
 * <p>Listeners are called synchronously, on the thread that called the handler (or the purger's thread), after the
 * transaction the store ran ended (committed or rolled back; for {@code processIn} and {@code processBatchIn}, when
 * the call returns, your transaction still open): keep them fast and never block in them. They must be
 * thread-safe, since one handler serves many threads. A listener that throws never breaks processing: the
 * exception is logged (at WARN the first time for that listener, then at most once every five minutes, otherwise
 * at DEBUG) and the call goes on as if the listener had returned.
 *
 * <p>A handler or purger without a listener reads no clock and allocates nothing for listeners.
 */
public interface OncelyListener {

    /**
     * Called when a call of the handler begins ({@code process}, {@code processIn}, or a batch method), before its
     * keys are read and its transaction begins; {@link #processingEnded} follows on the same thread, however the call
     * ends. For listeners that open a scope around the processing (a trace span). Default: nothing.
     *
     * @param consumer the handler's consumer name
     * @param messages how many messages the call was given (1 for {@code process})
     */
    default void processingStarted(String consumer, int messages) {
    }

    /** Called when a call of the handler has returned or thrown, after its transaction ended. Default: nothing. */
    default void processingEnded(ProcessingEvent event) {
    }

    /** Called when a run of a {@link RetentionPurger} has ended, whether it deleted, found nothing or failed. */
    default void purgeEnded(PurgeEvent event) {
    }
}
