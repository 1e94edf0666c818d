package dev.oncely;

import java.util.List;
import java.util.Map;

/**
 * Times one call of a handler and hands its {@link ProcessingEvent} to the listeners at its end. Exists only when
 * the handler has listeners (handlers pass null otherwise and read no clock). Used by the one thread that runs the
 * call; not thread-safe.
 */
final class ProcessingRecorder {

    private final Listeners listeners;
    private final String consumer;
    private final int messages;
    private final boolean batch;
    private final long startNanos = System.nanoTime();
    private String key;
    private long claimStart;
    private long lastClaim = -1;
    private long claimTotal = -1;
    private long handlerTotal = -1;

    ProcessingRecorder(Listeners listeners, String consumer, int messages, boolean batch) {
        this.listeners = listeners;
        this.consumer = consumer;
        this.messages = messages;
        this.batch = batch;
    }

    /** The key of a call with one message (for tracing, see {@link ProcessingEvent#key()}). */
    void key(String key) {
        this.key = key;
    }

    /** Just before the store is asked to begin the claim's transaction (or to join the caller's). */
    void claimBegins() {
        claimStart = System.nanoTime();
        lastClaim = -1;
    }

    /** When the claim answered; a re-run of the transaction answers again, measured from the same begin. */
    void claimAnswered() {
        lastClaim = System.nanoTime() - claimStart;
    }

    /** One of several transactions of a call ended (processBatchIsolatingFailures): adds its claim time. */
    void attemptEnded() {
        if (lastClaim >= 0) {
            claimTotal = Math.max(claimTotal, 0) + lastClaim;
            lastClaim = -1;
        }
    }

    /** The handler returned or threw; {@code start} is the System.nanoTime() before it was called. */
    void handlerRan(long start) {
        handlerTotal = Math.max(handlerTotal, 0) + (System.nanoTime() - start);
    }

    void returned(Outcome<?> outcome) {
        int[] counts = new int[OutcomeKind.values().length];
        OutcomeKind kind = outcome.isProcessed() ? OutcomeKind.PROCESSED : OutcomeKind.DUPLICATE;
        counts[kind.ordinal()] = 1;
        end(kind, counts, null);
    }

    void returned(List<? extends Outcome<?>> outcomes) {
        int[] counts = new int[OutcomeKind.values().length];
        countOutcomes(outcomes, counts);
        end(counts[OutcomeKind.PROCESSED.ordinal()] > 0 ? OutcomeKind.PROCESSED : OutcomeKind.DUPLICATE, counts,
                null);
    }

    void returned(BatchResult<?> result) {
        attemptEnded();
        int[] counts = new int[OutcomeKind.values().length];
        countOutcomes(result.outcomes(), counts);
        Throwable first = null;
        for (Map.Entry<Integer, Exception> failure : result.failures().entrySet()) {
            counts[OutcomeKind.ofFailure(failure.getValue()).ordinal()]++;
            if (first == null) {
                first = failure.getValue();
            }
        }
        end(counts[OutcomeKind.PROCESSED.ordinal()] > 0 ? OutcomeKind.PROCESSED : OutcomeKind.DUPLICATE, counts,
                first);
    }

    /** The call threw: every message of it counts as the failure's kind (nothing of it committed). */
    void threw(Throwable failure) {
        attemptEnded();
        OutcomeKind kind = OutcomeKind.ofFailure(failure);
        int[] counts = new int[OutcomeKind.values().length];
        counts[kind.ordinal()] = messages;
        end(kind, counts, failure);
    }

    private static void countOutcomes(Iterable<? extends Outcome<?>> outcomes, int[] counts) {
        for (Outcome<?> o : outcomes) {
            counts[(o.isProcessed() ? OutcomeKind.PROCESSED : OutcomeKind.DUPLICATE).ordinal()]++;
        }
    }

    private void end(OutcomeKind kind, int[] counts, Throwable failure) {
        long claim = claimTotal >= 0 || lastClaim >= 0 ? Math.max(claimTotal, 0) + Math.max(lastClaim, 0) : -1;
        listeners.ended(new ProcessingEvent(consumer, kind, messages, batch, counts, claim, handlerTotal,
                System.nanoTime() - startNanos, failure, key));
    }
}
