package dev.oncely;

import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;

/**
 * What one call of an {@link IdempotentHandler} did ({@code process}, {@code processIn}, or one of the batch
 * methods), handed to {@link OncelyListener#processingEnded}. Immutable.
 *
 * <p>Bounded values, fit for metrics tags: {@link #consumer()}, {@link #outcome()}, and the failure's type. The
 * idempotency {@link #key()} is offered for tracing and logs only: it is unbounded (one value per message), and as a
 * metrics tag it would create a time series per message.
 */
public final class ProcessingEvent {

    private static final int KINDS = OutcomeKind.values().length;

    private final String consumer;
    private final OutcomeKind outcome;
    private final int messages;
    private final boolean batch;
    private final int[] counts;
    private final long claimNanos;
    private final long handlerNanos;
    private final long durationNanos;
    private final Throwable failure;
    private final String key;

    ProcessingEvent(String consumer, OutcomeKind outcome, int messages, boolean batch, int[] counts, long claimNanos,
                    long handlerNanos, long durationNanos, Throwable failure, String key) {
        this.consumer = Objects.requireNonNull(consumer, "consumer");
        this.outcome = Objects.requireNonNull(outcome, "outcome");
        this.messages = messages;
        this.batch = batch;
        this.counts = Arrays.copyOf(counts, KINDS);
        this.claimNanos = claimNanos;
        this.handlerNanos = handlerNanos;
        this.durationNanos = durationNanos;
        this.failure = failure;
        this.key = key;
    }

    /** The handler's consumer name. Bounded: a metrics tag. */
    public String consumer() {
        return consumer;
    }

    /**
     * The outcome of the call as a whole. For one message, its outcome. For a batch: the failure's kind if the call
     * threw (then every message of the batch counts as that kind: nothing of it committed); otherwise
     * {@link OutcomeKind#PROCESSED} if any message was processed, else {@link OutcomeKind#DUPLICATE}, with each
     * message's own outcome in {@link #count}.
     */
    public OutcomeKind outcome() {
        return outcome;
    }

    /** How many messages the call was given: 1 for {@code process} and {@code processIn}, the batch's size otherwise. */
    public int messages() {
        return messages;
    }

    /** Whether the call was one of the batch methods ({@code processBatch}, {@code processBatchIn}, ...). */
    public boolean isBatch() {
        return batch;
    }

    /**
     * How many of the call's messages ended as {@code kind}; the counts add up to {@link #messages()}. A message
     * counts once, however often the store re-ran its transaction.
     */
    public int count(OutcomeKind kind) {
        return counts[kind.ordinal()];
    }

    /**
     * From the start of the call's transaction (its begin included; for {@code processIn} and
     * {@code processBatchIn}, from the call) to the claim's answer, re-runs after a serialization failure included.
     * For {@code processBatchIsolatingFailures}, the sum over its transactions. With
     * {@link IdempotentHandler.Builder#keyWrittenLast() keyWrittenLast}, {@code process()}'s claim is its last
     * statement, so this is that statement (including its wait for a concurrent claim of the key), or the store's
     * read before the transaction that found the key. Empty if no claim was answered (an invalid message, or a store
     * that failed before the claim).
     */
    public Optional<Duration> claimDuration() {
        return claimNanos < 0 ? Optional.empty() : Optional.of(Duration.ofNanos(claimNanos));
    }

    /**
     * The time spent in your handler, summed over the messages of a batch (and over re-runs of the transaction).
     * Empty if no handler ran (a duplicate, a batch of duplicates, or a failure before the handler). With
     * {@link IdempotentHandler.Builder#keyWrittenLast() keyWrittenLast} a duplicate may have run the handler (its
     * writes rolled back): then it has this time too.
     */
    public Optional<Duration> handlerDuration() {
        return handlerNanos < 0 ? Optional.empty() : Optional.of(Duration.ofNanos(handlerNanos));
    }

    /** The whole call, from its start until it returned or threw. */
    public Duration duration() {
        return Duration.ofNanos(durationNanos);
    }

    /**
     * What the call threw, if it threw: your handler's own exception (the same instance the caller gets) or an
     * {@link OncelyException}. For {@code processBatchIsolatingFailures}, which throws only for store failures,
     * the first isolated failure when there was one.
     */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure);
    }

    /**
     * The idempotency key, for a call with one message whose key could be read. <strong>High cardinality:</strong>
     * one value per message. Use it for traces and logs; never as a metrics tag.
     */
    public Optional<String> key() {
        return Optional.ofNullable(key);
    }

    @Override
    public String toString() {
        StringBuilder text = new StringBuilder("ProcessingEvent{consumer=").append(consumer).append(", outcome=")
                .append(outcome).append(", messages=").append(messages);
        if (batch) {
            for (OutcomeKind kind : OutcomeKind.values()) {
                if (counts[kind.ordinal()] > 0) {
                    text.append(", ").append(kind.tagValue()).append('=').append(counts[kind.ordinal()]);
                }
            }
        }
        if (failure != null) {
            text.append(", failure=").append(failure.getClass().getName());
        }
        return text.append('}').toString();
    }
}
