package dev.oncely;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What {@link IdempotentHandler#processBatchIsolatingFailures} did with each message of a batch: an
 * {@link Outcome} for each message that was processed or found a duplicate, and the exception of each message
 * whose handler failed (and of every other occurrence of its key in the batch). Indexes are input positions.
 *
 * @param <R> the handler's result type
 */
public final class BatchResult<R> {

    private final List<Outcome<R>> outcomesByIndex;
    private final SortedMap<Integer, Exception> failures;

    BatchResult(List<Outcome<R>> outcomesByIndex, SortedMap<Integer, Exception> failures) {
        this.outcomesByIndex = outcomesByIndex;
        this.failures = Collections.unmodifiableSortedMap(new TreeMap<>(failures));
    }

    /** How many messages the batch had. */
    public int size() {
        return outcomesByIndex.size();
    }

    /** The outcome of message {@code index}, empty if its handler failed. */
    public Optional<Outcome<R>> outcome(int index) {
        Objects.checkIndex(index, outcomesByIndex.size());
        return Optional.ofNullable(outcomesByIndex.get(index));
    }

    /** The exception of message {@code index} (the handler's own instance), empty if it did not fail. */
    public Optional<Exception> failure(int index) {
        Objects.checkIndex(index, outcomesByIndex.size());
        return Optional.ofNullable(failures.get(index));
    }

    /** The outcomes of the messages that did not fail, in input order. */
    public List<Outcome<R>> outcomes() {
        List<Outcome<R>> out = new ArrayList<>(outcomesByIndex.size() - failures.size());
        for (Outcome<R> o : outcomesByIndex) {
            if (o != null) {
                out.add(o);
            }
        }
        return Collections.unmodifiableList(out);
    }

    /** The failed messages' exceptions by input index. */
    public SortedMap<Integer, Exception> failures() {
        return failures;
    }

    public boolean hasFailures() {
        return !failures.isEmpty();
    }

    @Override
    public String toString() {
        return "BatchResult{size=" + size() + ", failed=" + failures.keySet() + '}';
    }
}
