package dev.oncely;

import dev.oncely.internal.Validation;
import dev.oncely.spi.ClaimBatch;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import dev.oncely.spi.StoreTransaction;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wraps a consumer callback so that its effects happen once per idempotency key and consumer, however often
 * the message is delivered.
 *
 * <p>For each message it claims {@code (consumer, key)} in the store as the first statement of a transaction,
 * runs your {@link MessageHandler} in that same transaction, and commits both together. A redelivery finds the
 * claim and comes back as {@link Outcome#isDuplicate() a duplicate} without running the handler. A handler that
 * throws rolls the claim back with its writes, so the redelivery runs it again.
 *
 * <p>Exactly once holds for effects written in the transaction. Anything else the handler does (an HTTP call, an
 * email) happens at least once: it may be repeated if the transaction fails to commit after it.
 *
 * <p>{@link Builder#keyWrittenLast()} reverses the order for {@link #process}: the handler first, then the key
 * claimed with its result in one statement. The same guarantee for the transaction's effects, one statement fewer,
 * but a duplicate may run the handler before its writes are rolled back.
 *
 * <pre>{@code
 * IdempotentHandler<ChargeEvent, Void> charges = IdempotentHandler.<ChargeEvent, Void>builder(store)
 *         .consumer("billing")
 *         .key(ChargeEvent::eventId)
 *         .handler((event, tx) -> { chargeRepository(tx).insert(event); return null; })
 *         .build();
 * Outcome<Void> outcome = charges.process(event);
 * }</pre>
 *
 * <p>Instances are immutable and thread-safe; build one per consumer and share it.
 *
 * @param <M> the message type
 * @param <R> the handler's result type ({@link Void} if it has none)
 * @param <X> the checked exception the handler may throw, inferred from it ({@link RuntimeException} if none)
 */
public final class IdempotentHandler<M, R, X extends Exception> {

    /** The longest idempotency key, in characters. Hash longer natural keys. */
    public static final int MAX_KEY_LENGTH = 255;
    /** The longest consumer name, in characters. */
    public static final int MAX_CONSUMER_LENGTH = 100;
    /**
     * The shortest {@link Builder#retention retention}: one minute. A claim must outlive its own transaction and
     * the broker's redelivery window; below a minute, an ordinary slow transaction (a lock wait, a GC pause, a
     * slow downstream write) or a broker's first redelivery backoff can outlast it. It also keeps the stores' half
     * retention margin (the time left on a claim when its transaction commits) at 30 seconds or more.
     */
    public static final Duration MIN_RETENTION = Duration.ofMinutes(1);

    private static final Logger log = LoggerFactory.getLogger(IdempotentHandler.class);

    private final DedupStore store;
    private final String consumer;
    private final MessageKeys<M> keys;
    private final MessageHandler<? super M, ? extends R, ? extends X> handler;
    private final BatchHandler<? super M, ? extends R, ? extends X> batchHandler;
    private final ResultCodec<R> resultCodec;
    private final Duration retention;
    /** {@link Builder#keyWrittenLast()}: {@code process()} runs the handler first and claims with its result last. */
    private final boolean keyWrittenLast;
    /** Null without listeners: then no clock is read and nothing is allocated for them. */
    private final Listeners listeners;

    @SuppressWarnings("unchecked")
    private IdempotentHandler(Builder<M, R, X> builder) {
        this.store = builder.store;
        this.consumer = builder.consumer;
        this.keys = new MessageKeys<>(builder.consumer, builder.keyExtractor, builder.fingerprint);
        // Each was set with the builder's current X (handler(...) and batchHandler(...) retype it).
        this.handler = (MessageHandler<? super M, ? extends R, ? extends X>) builder.handler;
        this.batchHandler = (BatchHandler<? super M, ? extends R, ? extends X>) builder.batchHandler;
        this.resultCodec = builder.resultCodec;
        this.retention = builder.retention;
        this.keyWrittenLast = builder.keyWrittenLast;
        this.listeners = Listeners.of(builder.listeners);
    }

    /**
     * Starts a builder on a store. Name the types: {@code IdempotentHandler.<Event, Receipt>builder(store)}; the
     * handler's checked exception type is inferred when you set it.
     */
    public static <M, R> Builder<M, R, RuntimeException> builder(DedupStore store) {
        return new Builder<>(store);
    }

    /**
     * Processes one message in a new transaction of the store: claims its key first, or, with
     * {@link Builder#keyWrittenLast()}, runs the handler first and writes the key last with its result.
     *
     * @return processed, or duplicate (with the first run's result if a codec is set)
     * @throws X                         the handler's own checked exception, the same instance, after rollback (its
     *                                   unchecked ones pass the same way)
     * @throws InvalidMessageException   if the message is null or has no valid key; nothing was written
     * @throws PayloadConflictException  if the key was processed before with another payload fingerprint
     * @throws OncelyException           if the store failed (database down, table missing, commit failed)
     */
    public Outcome<R> process(M message) throws X {
        if (listeners == null) {
            return processOne(message, null); // no recorder: no capturing lambda per message
        }
        ProcessingRecorder rec = listeners.started(consumer, 1, false);
        return recorded(rec, () -> processOne(message, rec), ProcessingRecorder::returned);
    }

    private Outcome<R> processOne(M message, ProcessingRecorder rec) throws X {
        Pending pending = prepare(message, 0);
        if (rec != null) {
            rec.key(pending.request.key());
            rec.claimBegins();
        }
        if (keyWrittenLast) {
            return processWrittenLast(pending, rec);
        }
        return unwrapped(() -> store.inClaimingTransaction(pending.request, claim -> {
            if (rec != null) {
                rec.claimAnswered();
            }
            return duplicateOf(pending.request, claim);
        }, tx -> runOne(tx, pending, rec)));
    }

    /**
     * Processes one message inside your own open transaction: the claim joins it, nothing is committed, and
     * after a duplicate the transaction is still usable. You commit or roll back. If the handler throws, the
     * exception reaches you unchanged and you must roll back your transaction yourself.
     *
     * @throws OncelyException if the store cannot join the transaction (for JDBC: autocommit is on)
     */
    public Outcome<R> processIn(CallerTransaction transaction, M message) throws X {
        Objects.requireNonNull(transaction, "transaction");
        ProcessingRecorder rec = listeners == null ? null : listeners.started(consumer, 1, false);
        return recorded(rec, () -> {
            Pending pending = prepare(message, 0);
            if (rec != null) {
                rec.key(pending.request.key());
                rec.claimBegins();
            }
            return unwrapped(() -> store.inCallerTransaction(transaction, tx -> runOne(tx, pending, rec)));
        }, ProcessingRecorder::returned);
    }

    /**
     * Processes a batch in one transaction: one set-based claim for all keys, then the {@link BatchHandler} once
     * with the fresh messages in input order if one is set, else the handler for each fresh message in input
     * order. Returns one outcome per input, in input order. A key that occurs twice in the
     * batch is processed once; its later occurrences are duplicates.
     *
     * <p>All or nothing: if the handler throws for any message, the whole batch rolls back (no claim and no
     * effect survives) and that exception reaches the caller; redeliver the batch, or process its messages one
     * by one to isolate the failing one.
     */
    public List<Outcome<R>> processBatch(List<? extends M> messages) throws X {
        return batch(messages, null);
    }

    /** The batch in a transaction of the store's ({@code caller} null) or in the caller's. */
    private List<Outcome<R>> batch(List<? extends M> messages, CallerTransaction caller) throws X {
        ProcessingRecorder rec = batchRecorder(messages);
        return recorded(rec, () -> {
            Batch batch = prepareBatch(messages);
            if (batch.inputs.isEmpty()) {
                return List.of();
            }
            if (rec != null) {
                rec.claimBegins();
            }
            if (caller != null) {
                return unwrapped(() -> store.inCallerTransaction(caller, tx -> runBatch(tx, batch, false, rec)));
            }
            // All duplicates, read without a transaction: the same outcomes, and nothing runs that needs one.
            return unwrapped(() -> store.inClaimingBatchTransaction(batch.claims,
                    claims -> settleBatch(null, batch, claims, false, rec), tx -> runBatch(tx, batch, false, rec)));
        }, ProcessingRecorder::returned);
    }

    /**
     * Processes a batch like {@link #processBatch(List)}, but a message whose handler throws does not fail the
     * others: the transaction rolls back, and the batch runs again without that message's key, until it
     * commits. The result has an outcome for every other message and the handler's own exception for each
     * failed one; redeliver or dead-letter those yourself.
     *
     * <p>Cost: nothing while no handler throws. Each failing key costs one rolled-back transaction, after which
     * the handlers of the messages processed before it in that attempt run again (their writes were rolled
     * back; effects outside the transaction happen again, as always at least once). A payload conflict, a
     * result codec failure or an undecodable stored result is isolated like a handler failure. A store failure
     * (database down, claim or commit failed) still fails the whole call with its {@link OncelyException}.
     * Only for transactions the store runs: inside your own transaction a rollback would undo your work too.
     * Runs the per-message handler (a batch handler cannot say which message failed).
     *
     * @throws IllegalStateException if this handler has a batch handler only
     */
    public BatchResult<R> processBatchIsolatingFailures(List<? extends M> messages) {
        if (handler == null) {
            throw new IllegalStateException("processBatchIsolatingFailures runs the per-message handler, and consumer '"
                    + consumer + "' has a batch handler only: set handler(...) too, or call processBatch.");
        }
        ProcessingRecorder rec = batchRecorder(messages);
        return recorded(rec, () -> isolatingFailures(messages, rec), ProcessingRecorder::returned);
    }

    /** A call's body, for {@link #recorded}. */
    @FunctionalInterface
    private interface Body<T, E extends Exception> {
        T run() throws E;
    }

    /** Runs {@code body}; with a recorder, hands it the result or the failure (which passes on unchanged). */
    private static <T, E extends Exception> T recorded(ProcessingRecorder rec, Body<T, E> body,
                                                       java.util.function.BiConsumer<ProcessingRecorder, T> returned)
            throws E {
        if (rec == null) {
            return body.run();
        }
        T result;
        try {
            result = body.run();
        } catch (Throwable failure) {
            rec.threw(failure);
            throw failure;
        }
        returned.accept(rec, result);
        return result;
    }

    private BatchResult<R> isolatingFailures(List<? extends M> messages, ProcessingRecorder rec) {
        Batch all = prepareBatch(messages);
        List<Outcome<R>> byIndex = new ArrayList<>(Collections.nCopies(all.inputs.size(), null));
        TreeMap<Integer, Exception> failures = new TreeMap<>();
        Set<String> failedKeys = new HashSet<>();
        Batch attempt = all;
        while (!attempt.inputs.isEmpty()) {
            Batch current = attempt;
            if (rec != null) {
                rec.claimBegins();
            }
            try {
                List<Outcome<R>> outcomes = unchecked(() -> store.inTransaction(tx -> runBatch(tx, current, true, rec)));
                for (int i = 0; i < outcomes.size(); i++) {
                    byIndex.set(current.inputs.get(i).index, outcomes.get(i));
                }
                break;
            } catch (IsolatedFailure f) {
                if (rec != null) {
                    rec.attemptEnded();
                }
                failedKeys.add(f.key);
                for (Pending p : all.inputs) {
                    if (p.request.key().equals(f.key)) {
                        failures.put(p.index, f.failure);
                    }
                }
                if (log.isDebugEnabled()) {
                    log.debug("Batch of consumer '{}': key '{}' failed ({}); running the rest again", consumer,
                            f.key, f.failure.toString());
                }
                attempt = all.without(failedKeys);
            }
        }
        return new BatchResult<>(byIndex, failures);
    }

    /** {@link #processBatch(List)} inside your own open transaction, as {@link #processIn} does for one. */
    public List<Outcome<R>> processBatchIn(CallerTransaction transaction, List<? extends M> messages) throws X {
        Objects.requireNonNull(transaction, "transaction");
        return batch(messages, transaction);
    }

    /** The recorder of a batch call: null without listeners, and for an empty (or null) batch, which does nothing. */
    private ProcessingRecorder batchRecorder(List<? extends M> messages) {
        return listeners == null || messages == null || messages.isEmpty() ? null
                : listeners.started(consumer, messages.size(), true);
    }

    /** The consumer name: the scope within which a key is processed once. */
    public String consumer() {
        return consumer;
    }

    /** The store claims are recorded in. */
    public DedupStore store() {
        return store;
    }

    /** How long a claim is kept, if limited. */
    public Optional<Duration> retention() {
        return Optional.ofNullable(retention);
    }

    /** The idempotency key of a message, validated as {@link #process} would. */
    public String keyOf(M message) {
        return keys.keyOf(message);
    }

    // ------------------------------------------------------------------------------------------------------

    private final class Pending {
        final M message;
        final ClaimRequest request;
        final int index;

        Pending(M message, ClaimRequest request, int index) {
            this.message = message;
            this.request = request;
            this.index = index;
        }
    }

    private final class Batch {
        final List<Pending> inputs;
        /** Distinct keys, sorted, first occurrence's fingerprint: the lock order of the claim. */
        final ClaimBatch claims;
        /** For each input, the index of its key in {@link #claims}. */
        final int[] slotOf;

        Batch(List<Pending> inputs) {
            this.inputs = inputs;
            int n = inputs.size();
            // A stable sort of the inputs' positions by key keeps each key's first occurrence first; then the
            // repeats share its slot. (Integer.valueOf caches small positions: batches up to 128 box nothing.)
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            java.util.Arrays.sort(order, (a, b) -> inputs.get(a).request.key().compareTo(inputs.get(b).request.key()));
            this.slotOf = new int[n];
            List<ClaimBatch.Key> distinct = new ArrayList<>(n);
            String previous = null;
            for (Integer position : order) {
                ClaimRequest r = inputs.get(position).request;
                if (!r.key().equals(previous)) {
                    distinct.add(new ClaimBatch.Key(r.key(), r.fingerprint()));
                    previous = r.key();
                }
                slotOf[position] = distinct.size() - 1;
            }
            this.claims = new ClaimBatch(consumer, Optional.ofNullable(retention), resultCodec != null, distinct);
        }

        Batch without(Set<String> keys) {
            List<Pending> kept = new ArrayList<>(inputs.size());
            for (Pending p : inputs) {
                if (!keys.contains(p.request.key())) {
                    kept.add(p);
                }
            }
            return new Batch(kept);
        }
    }

    /** A batch key's claim, and its first occurrence's outcome and request once handled. */
    private static final class Slot<R> {
        final ClaimResult claim;
        Outcome<R> outcome;
        ClaimRequest firstRequest;

        Slot(ClaimResult claim) {
            this.claim = claim;
        }
    }

    /**
     * Carries a handler's checked exception out of the store's transaction (which rolls back and may re-run the
     * work on it, seeing the cause), to be thrown again as the same instance by {@link #unwrapped}; never reaches
     * users.
     */
    private static final class HandlerFailure extends RuntimeException {
        HandlerFailure(Exception failure) {
            super(failure.getMessage(), failure, false, false);
        }
    }

    @FunctionalInterface
    private interface StoreCall<T> {
        T call() throws Exception;
    }

    /** Runs a store call, giving the handler's checked exception back as itself. */
    @SuppressWarnings("unchecked")
    private <T> T unwrapped(StoreCall<T> call) throws X {
        try {
            return call.call();
        } catch (HandlerFailure f) {
            throw (X) f.getCause();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new MisconfigurationException(store.describe() + " threw the checked exception " + e + ", which"
                    + " is neither Oncely's (unchecked) nor the handler's: the store violates the DedupStore"
                    + " contract.", e);
        }
    }

    /** {@link #unwrapped} where handler failures were isolated (they arrive as IsolatedFailure). */
    private <T> T unchecked(StoreCall<T> call) {
        try {
            return unwrapped(call);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("unreachable: isolated handler failures are caught inside", e);
        }
    }

    /** Calls the per-message handler; its checked exception leaves as a {@link HandlerFailure}. */
    private R handle(M message, ProcessingContext context, ProcessingRecorder rec) {
        long start = rec == null ? 0L : System.nanoTime();
        try {
            return handler.handle(message, context);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new HandlerFailure(e);
        } finally {
            if (rec != null) {
                rec.handlerRan(start);
            }
        }
    }

    /** Carries a message's failure out of the transaction so it rolls back; never reaches users. */
    private static final class IsolatedFailure extends RuntimeException {
        final String key;
        final Exception failure;

        IsolatedFailure(String key, Exception failure) {
            super(failure.getMessage(), failure, false, false);
            this.key = key;
            this.failure = failure;
        }
    }

    private Pending prepare(M message, int index) {
        String key = keys.keyOf(message);
        Optional<String> fp = keys.fingerprintOf(message, key);
        return new Pending(message, new ClaimRequest(consumer, key, fp, Optional.ofNullable(retention),
                resultCodec != null), index);
    }

    private Batch prepareBatch(List<? extends M> messages) {
        Objects.requireNonNull(messages, "messages");
        List<Pending> inputs = new ArrayList<>(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            M message = messages.get(i);
            Pending pending;
            try {
                pending = prepare(message, i);
            } catch (InvalidMessageException e) {
                throw new InvalidMessageException("Message " + i + " of the batch: " + e.getMessage()
                        + " Nothing of the batch was processed.", e);
            }
            inputs.add(pending);
        }
        return new Batch(inputs);
    }

    private Outcome<R> runOne(StoreTransaction tx, Pending pending, ProcessingRecorder rec) {
        ClaimRequest request = pending.request;
        ClaimResult claim = tx.claim(request);
        if (rec != null) {
            rec.claimAnswered();
        }
        if (!claim.claimed()) {
            return duplicateOf(request, claim);
        }
        R result = runHandler(tx, pending, rec);
        if (resultCodec != null && result != null) {
            tx.saveResult(consumer, request.key(), encode(request.key(), result));
        }
        if (log.isDebugEnabled()) {
            log.debug("Processed key '{}' of consumer '{}'", request.key(), consumer);
        }
        return Outcome.processed(request.key(), claim.processedAt(), result);
    }

    /**
     * {@link Builder#keyWrittenLast()}: the handler, then the key claimed with its encoded result by one
     * {@link StoreTransaction#claimWithResult}, then the commit. The store may still read the key before its
     * transaction ({@link DedupStore#inClaimingTransaction}) and spare a duplicate the run. A key found written by
     * another transaction (committed, or waited for until it committed) rolls this run's writes back, and the
     * message is answered as that key's duplicate.
     */
    private Outcome<R> processWrittenLast(Pending pending, ProcessingRecorder rec) throws X {
        ClaimRequest request = pending.request;
        try {
            return unwrapped(() -> store.inClaimingTransaction(request, claim -> {
                if (rec != null) {
                    rec.claimAnswered();
                }
                return duplicateOf(request, claim);
            }, tx -> runWrittenLast(tx, pending, rec)));
        } catch (WrittenByAnother written) {
            if (log.isDebugEnabled()) {
                log.debug("Key '{}' of consumer '{}' was written by another transaction first; this run's writes"
                        + " were rolled back", request.key(), consumer);
            }
            return duplicateOf(request, written.claim);
        }
    }

    private Outcome<R> runWrittenLast(StoreTransaction tx, Pending pending, ProcessingRecorder rec) {
        ClaimRequest request = pending.request;
        R result = runHandler(tx, pending, rec);
        byte[] encoded = result == null ? null : encode(request.key(), result);
        if (rec != null) {
            rec.claimBegins(); // the claim is this statement, not the transaction's begin nor the handler
        }
        ClaimResult claim = encoded == null ? tx.claim(request) : tx.claimWithResult(request, encoded);
        if (rec != null) {
            rec.claimAnswered();
        }
        if (!claim.claimed()) {
            throw new WrittenByAnother(claim);
        }
        if (log.isDebugEnabled()) {
            log.debug("Processed key '{}' of consumer '{}' (key written last)", request.key(), consumer);
        }
        return Outcome.processed(request.key(), claim.processedAt(), result);
    }

    /** Runs the per-message handler on one message, or else the batch handler on a batch of one. */
    private R runHandler(StoreTransaction tx, Pending pending, ProcessingRecorder rec) {
        String key = pending.request.key();
        return handler != null ? handle(pending.message, new Context(tx, key), rec)
                : handleBatch(tx, List.of(pending.message), List.of(key), rec).get(key);
    }

    /** Carries the claim of a key another transaction wrote out of this one, rolling back what it wrote. */
    private static final class WrittenByAnother extends RuntimeException {
        final transient ClaimResult claim;

        WrittenByAnother(ClaimResult claim) {
            super("key written by another transaction", null, false, false);
            this.claim = claim;
        }
    }

    private List<Outcome<R>> runBatch(StoreTransaction tx, Batch batch, boolean isolate, ProcessingRecorder rec) {
        return settleBatch(tx, batch, tx.claimAll(batch.claims), isolate, rec);
    }

    /**
     * The batch's outcomes from its claims: the handler for the claimed keys, the duplicates' answers, the results
     * saved. {@code tx} may be null when every claim is a duplicate (nothing then runs that needs it).
     */
    private List<Outcome<R>> settleBatch(StoreTransaction tx, Batch batch, List<ClaimResult> claimed, boolean isolate,
                                         ProcessingRecorder rec) {
        if (rec != null) {
            rec.claimAnswered();
        }
        if (claimed.size() != batch.claims.size()) {
            throw new MisconfigurationException(store.describe() + " returned " + claimed.size() + " claim results for "
                    + batch.claims.size() + " keys: the store violates the DedupStore contract.");
        }
        if (tx == null && claimed.stream().anyMatch(ClaimResult::claimed)) {
            throw new MisconfigurationException(store.describe() + " answered a batch without a transaction with a"
                    + " claimed key: inClaimingBatchTransaction may only do so when every key is a duplicate; the"
                    + " store violates the DedupStore contract.");
        }
        @SuppressWarnings("unchecked")
        Slot<R>[] slots = new Slot[claimed.size()];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = new Slot<>(claimed.get(i));
        }
        Map<String, R> batchResults = batchHandler != null && !isolate ? runBatchHandler(tx, batch, slots, rec) : null;
        List<Outcome<R>> outcomes = new ArrayList<>(batch.inputs.size());
        Map<String, byte[]> toSave = resultCodec == null ? Map.of() : new LinkedHashMap<>();
        for (int i = 0; i < batch.inputs.size(); i++) {
            Pending pending = batch.inputs.get(i);
            ClaimRequest request = pending.request;
            String key = request.key();
            Slot<R> slot = slots[batch.slotOf[i]];
            Outcome<R> outcome;
            try {
                if (slot.outcome != null) {
                    // The key's second occurrence in this batch.
                    checkFingerprint(request, slot.firstRequest.fingerprint(), slot.outcome.firstProcessedAt());
                    outcome = Outcome.duplicate(key, slot.outcome.firstProcessedAt(),
                            resultCodec == null ? null : slot.outcome.result().orElse(null));
                } else {
                    ClaimResult claim = slot.claim;
                    if (claim.claimed()) {
                        R result = batchResults != null ? batchResults.get(key)
                                : handle(pending.message, new Context(tx, key), rec);
                        if (resultCodec != null && result != null) {
                            toSave.put(key, encode(key, result));
                        }
                        outcome = Outcome.processed(key, claim.processedAt(), result);
                    } else {
                        outcome = duplicateOf(request, claim);
                    }
                    slot.outcome = outcome;
                    slot.firstRequest = request;
                }
            } catch (RuntimeException failure) {
                if (!isolate) {
                    throw failure;
                }
                // The handler, a payload conflict or the result codec failed for this message alone; the claim
                // and the commit are outside this block, so store failures still fail the whole call.
                throw new IsolatedFailure(key, failure instanceof HandlerFailure f ? (Exception) f.getCause() : failure);
            }
            outcomes.add(outcome);
        }
        if (!toSave.isEmpty()) {
            tx.saveResults(consumer, toSave);
        }
        if (log.isDebugEnabled()) {
            long processed = outcomes.stream().filter(Outcome::isProcessed).count();
            log.debug("Batch of {} for consumer '{}': {} processed, {} duplicates", outcomes.size(), consumer,
                    processed, outcomes.size() - processed);
        }
        return outcomes;
    }

    /**
     * Runs the batch handler once on the first occurrences of the keys this batch claimed, in input order; returns
     * their results by key (the handler's duplicates and repeats are answered by the loop that follows).
     */
    private Map<String, R> runBatchHandler(StoreTransaction tx, Batch batch, Slot<R>[] slots,
                                           ProcessingRecorder rec) {
        List<M> fresh = new ArrayList<>();
        List<String> keys = new ArrayList<>();
        boolean[] seen = new boolean[slots.length];
        for (int i = 0; i < batch.inputs.size(); i++) {
            int slot = batch.slotOf[i];
            if (slots[slot].claim.claimed() && !seen[slot]) {
                seen[slot] = true;
                Pending pending = batch.inputs.get(i);
                fresh.add(pending.message);
                keys.add(pending.request.key());
            }
        }
        return fresh.isEmpty() ? Map.of() : handleBatch(tx, fresh, keys, rec);
    }

    /** Calls the batch handler on {@code messages} (keys in the same order); its results by key. */
    private Map<String, R> handleBatch(StoreTransaction tx, List<M> messages, List<String> keys,
                                       ProcessingRecorder rec) {
        List<? extends R> results;
        long start = rec == null ? 0L : System.nanoTime();
        try {
            results = batchHandler.handle(Collections.unmodifiableList(messages), new Context(tx, keys.get(0), Collections.unmodifiableList(keys)));
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new HandlerFailure(e);
        } finally {
            if (rec != null) {
                rec.handlerRan(start);
            }
        }
        if (results == null || results.isEmpty()) {
            return Map.of();
        }
        Map<String, R> byKey = new HashMap<>(keys.size() * 2);
        if (results.size() != keys.size()) {
            throw new MisconfigurationException("The batch handler of consumer '" + consumer + "' returned "
                    + results.size() + " results for " + keys.size() + " messages. Return one result per message,"
                    + " in the order of the messages, or an empty list. The batch was rolled back.");
        }
        for (int i = 0; i < keys.size(); i++) {
            byKey.put(keys.get(i), results.get(i));
        }
        return byKey;
    }

    private Outcome<R> duplicateOf(ClaimRequest request, ClaimResult claim) {
        keys.checkFingerprint(request.key(), request.fingerprint(), claim.fingerprint(), claim.processedAt());
        R replayed = keys.decode(resultCodec, request.key(), claim.result(), claim.processedAt());
        if (log.isDebugEnabled()) {
            log.debug("Duplicate key '{}' of consumer '{}', first processed at {}", request.key(), consumer,
                    claim.processedAt());
        }
        return Outcome.duplicate(request.key(), claim.processedAt(), replayed);
    }

    private void checkFingerprint(ClaimRequest request, Optional<String> stored, java.time.Instant firstAt) {
        keys.checkFingerprint(request.key(), request.fingerprint(), stored, firstAt);
    }

    private byte[] encode(String key, R result) {
        return keys.encode(resultCodec, key, result);
    }

    private MisconfigurationException noResource(StoreTransaction tx, Class<?> type) {
        Set<Class<?>> offered = tx.resourceTypes();
        return new MisconfigurationException(store.describe() + " offers no " + type.getName() + " to handlers"
                + (offered.isEmpty() ? "; it offers none at all"
                : "; it offers " + offered.stream().map(Class::getName).sorted().collect(Collectors.joining(", ")))
                + ". With the in-memory store, reach your business writes through an interface of your own that"
                + " tests can fake.");
    }

    /** The context of one message (its key) or of a batch (its keys): the same transaction's resources. */
    private final class Context implements ProcessingContext, BatchContext {
        private final StoreTransaction tx;
        private final String key;
        private final List<String> keys;

        Context(StoreTransaction tx, String key) {
            this(tx, key, List.of(key));
        }

        Context(StoreTransaction tx, String key, List<String> keys) {
            this.tx = tx;
            this.key = key;
            this.keys = keys;
        }

        @Override
        public List<String> keys() {
            return keys;
        }

        @Override
        public String consumer() {
            return consumer;
        }

        @Override
        public String key() {
            return key;
        }

        @Override
        public <T> T unwrap(Class<T> type) {
            return tx.resource(type).orElseThrow(() -> noResource(tx, type));
        }

        @Override
        public <T> Optional<T> find(Class<T> type) {
            return tx.resource(type);
        }
    }

    /**
     * Builds an {@link IdempotentHandler}. Required: {@link #consumer}, {@link #key} and {@link #handler}.
     * {@link #build()} checks everything and says what is missing.
     */
    public static final class Builder<M, R, X extends Exception> {
        private final DedupStore store;
        private String consumer;
        private Function<? super M, String> keyExtractor;
        private MessageHandler<? super M, ? extends R, ? extends Exception> handler;
        private BatchHandler<? super M, ? extends R, ? extends Exception> batchHandler;
        private ResultCodec<R> resultCodec;
        private Function<? super M, byte[]> fingerprint;
        private Duration retention;
        private boolean keyWrittenLast;
        private final List<OncelyListener> listeners = new ArrayList<>();

        private Builder(DedupStore store) {
            if (store == null) {
                throw new IllegalArgumentException("store is null: pass a DedupStore, such as"
                        + " InMemoryDedupStore.create() or JdbcDedupStore.postgres(dataSource).build().");
            }
            this.store = store;
        }

        /** The consumer name: the same key is processed once per consumer. Up to 100 characters. */
        public Builder<M, R, X> consumer(String consumer) {
            this.consumer = Validation.checkText("The consumer name", consumer, MAX_CONSUMER_LENGTH,
                    "Name the consumer, e.g. \"billing\"; two handlers with the same name share their keys.");
            return this;
        }

        /**
         * How to get the idempotency key from a message: what identifies the logical event, stable across
         * redeliveries (e.g. {@code sourceId + ":" + sequenceNumber}), never a delivery id. Up to
         * {@value IdempotentHandler#MAX_KEY_LENGTH} characters.
         */
        public Builder<M, R, X> key(Function<? super M, String> keyExtractor) {
            this.keyExtractor = Objects.requireNonNull(keyExtractor, "keyExtractor");
            return this;
        }

        /**
         * Your callback, run once per key in the claim's transaction. Its checked exception type becomes the
         * handler's: a lambda that throws nothing checked gives a handler whose {@code process()} declares nothing.
         */
        @SuppressWarnings("unchecked")
        public <Y extends Exception> Builder<M, R, Y> handler(MessageHandler<? super M, ? extends R, Y> handler) {
            this.handler = Objects.requireNonNull(handler, "handler");
            return (Builder<M, R, Y>) this;
        }

        /**
         * A callback for whole batches: {@link IdempotentHandler#processBatch} calls it once with the batch's fresh
         * messages, so their business rows can go in one statement ({@link BatchHandler}). With both this and
         * {@link #handler}, {@code process()} runs the per-message one; with this alone, a batch of one. Both must
         * throw the same checked exception type.
         */
        @SuppressWarnings("unchecked")
        public <Y extends Exception> Builder<M, R, Y> batchHandler(BatchHandler<? super M, ? extends R, Y> handler) {
            this.batchHandler = Objects.requireNonNull(handler, "batchHandler");
            return (Builder<M, R, Y>) this;
        }

        /**
         * Store each first run's result with its claim, and give it back to duplicates in
         * {@link Outcome#result()}. Costs one more statement per processed message, unless the key is
         * {@link #keyWrittenLast() written last} with its result.
         */
        public Builder<M, R, X> resultCodec(ResultCodec<R> resultCodec) {
            this.resultCodec = Objects.requireNonNull(resultCodec, "resultCodec");
            return this;
        }

        /**
         * The payload to fingerprint (its SHA-256 is stored). A redelivery whose key was processed with a
         * different payload throws {@link PayloadConflictException} instead of passing as a duplicate.
         */
        public Builder<M, R, X> fingerprint(Function<? super M, byte[]> payload) {
            this.fingerprint = Objects.requireNonNull(payload, "payload");
            return this;
        }

        /**
         * How long a claim is kept, measured by the store's clock. Choose it longer than your longest transaction
         * plus the longest time in which your broker can redeliver a message (its retry, backoff and replay
         * windows together): a redelivery that arrives after its key expired is processed again. At least
         * {@link IdempotentHandler#MIN_RETENTION}. Default: kept forever.
         *
         * <p>A claim's retention runs from its claim; a transaction of the store's own that has been open for
         * more than half of it moves the expiry to its end before committing, so a redelivery waiting for a slow
         * transaction always finds the claim live (docs/guarantees.md, "Retention").
         *
         * @throws IllegalArgumentException if shorter than {@link IdempotentHandler#MIN_RETENTION} or longer than
         *                                  100 years
         */
        public Builder<M, R, X> retention(Duration retention) {
            checkRetention(retention);
            if (retention.compareTo(MIN_RETENTION) < 0) {
                throw new IllegalArgumentException("retention " + retention + " is shorter than the minimum of "
                        + MIN_RETENTION + ": a claim must outlive the longest transaction plus the broker's"
                        + " redelivery window, or a redelivery of a slow message is processed again. Use a period"
                        + " longer than both, e.g. Duration.ofDays(7).");
            }
            this.retention = retention;
            return this;
        }

        /**
         * For tests of expiry only: {@link #retention} without its minimum, so a test need not wait a minute for a
         * key to expire on a store whose clock it cannot move (a database's). Never use it in production: a claim
         * kept shorter than a transaction plus the broker's redelivery window lets a redelivery run the handler
         * again. Stores with an injectable clock (InMemoryDedupStore) are better tested with a clock you move.
         */
        public Builder<M, R, X> retentionForTestsOnly(Duration retention) {
            checkRetention(retention);
            this.retention = retention;
            return this;
        }

        /**
         * Writes each key last, with its result: {@link IdempotentHandler#process process()} runs the handler first
         * in the store's transaction, then claims the key and stores the encoded result in one statement
         * ({@link dev.oncely.spi.StoreTransaction#claimWithResult}), then commits. A fresh message costs one
         * statement fewer than claiming first (the claim's {@code INSERT} carries the result, so no {@code UPDATE}
         * follows). Needs a {@link #resultCodec}: without a result to store there is no statement to save.
         *
         * <p>The guarantee is the same for effects written in the store's transaction: they commit exactly once per
         * key, with the key, or not at all. What differs: <strong>a duplicate may run the handler</strong>. A
         * concurrent duplicate runs it beside the first; its claim then waits on the first's uncommitted key, finds
         * it committed, and its transaction rolls back with everything it wrote; it returns as a
         * {@link Outcome#isDuplicate() duplicate} with the first run's result (or a {@link PayloadConflictException}).
         * A redelivery of a committed key runs the handler as well, unless the store reads the key before its
         * transaction ({@link DedupStore#inClaimingTransaction}; the JDBC store does while most recent keys were
         * duplicates). So anything the handler does outside the transaction (an HTTP call, an email) happens again
         * for such a duplicate, and a duplicate's handler may fail on what the first run wrote (a unique business
         * key): that exception reaches you, and the redelivery is answered as a duplicate. Listeners see a
         * duplicate as {@link OutcomeKind#DUPLICATE}, with the time its handler ran.
         *
         * <p>Only {@code process()} writes the key last. {@code processIn} and the batch methods claim first, as
         * without this option: in your own transaction a duplicate found last could not be rolled back without
         * your work, and a batch claims its keys in one statement. Both orders store keys, fingerprints and
         * results alike, so they share keys and answer alike.
         */
        public Builder<M, R, X> keyWrittenLast() {
            this.keyWrittenLast = true;
            return this;
        }

        /**
         * Adds a listener that hears how each call ended, with its claim and handler times (for metrics and
         * tracing, e.g. {@code OncelyMetrics} of {@code oncely-micrometer}). Call it again to add more; they are
         * called in the order added. A listener that throws is logged and never breaks processing. Without
         * listeners a handler reads no clock and allocates nothing for them.
         */
        public Builder<M, R, X> listener(OncelyListener listener) {
            if (listener == null) {
                throw new IllegalArgumentException("listener is null: pass an OncelyListener, or leave it out.");
            }
            this.listeners.add(listener);
            return this;
        }

        private static void checkRetention(Duration retention) {
            if (retention == null || retention.isZero() || retention.isNegative()) {
                throw new IllegalArgumentException("retention must be positive, was " + retention
                        + ": use a period longer than your broker's redelivery window, e.g. Duration.ofDays(7).");
            }
            if (retention.compareTo(Duration.ofDays(365L * 100)) > 0) {
                throw new IllegalArgumentException("retention " + retention + " exceeds 100 years: leave it unset"
                        + " to keep claims forever.");
            }
        }

        public IdempotentHandler<M, R, X> build() {
            List<String> missing = new ArrayList<>();
            if (consumer == null) {
                missing.add("consumer(\"name\")");
            }
            if (keyExtractor == null) {
                missing.add("key(message -> message.eventId())");
            }
            if (handler == null && batchHandler == null) {
                missing.add("handler((message, tx) -> ...) or batchHandler((messages, tx) -> ...)");
            }
            if (!missing.isEmpty()) {
                throw new IllegalArgumentException("IdempotentHandler needs " + String.join(", ", missing)
                        + " before build().");
            }
            if (keyWrittenLast && resultCodec == null) {
                throw new IllegalArgumentException("keyWrittenLast() of consumer '" + consumer + "' writes each key"
                        + " with its stored result in one statement, and needs resultCodec(...) for that. Set a"
                        + " result codec, or leave keyWrittenLast() out: without a result, claiming first costs the"
                        + " same statements and never runs a duplicate's handler.");
            }
            IdempotentHandler<M, R, X> built = new IdempotentHandler<>(this);
            log.info("Oncely handler for consumer '{}' on {} (result replay: {}, fingerprint: {}, retention: {},"
                            + " key written: {}, listeners: {})", consumer, store.describe(),
                    resultCodec != null ? "on" : "off", fingerprint != null ? "on" : "off",
                    retention == null ? "forever" : retention, keyWrittenLast ? "last" : "first", listeners.size());
            return built;
        }
    }

    @Override
    public String toString() {
        return "IdempotentHandler[consumer=" + consumer + ", store=" + store.describe() + "]";
    }

}
