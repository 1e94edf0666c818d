package dev.oncely;

import dev.oncely.internal.Fingerprints;
import dev.oncely.internal.StepRecords;
import dev.oncely.internal.Validation;
import dev.oncely.spi.LeaseAnswer;
import dev.oncely.spi.LeaseRequest;
import dev.oncely.spi.LeaseStore;
import dev.oncely.spi.LeaseToken;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lease mode: processes a message whose effects are <em>outside</em> the database (a payment API, a mail service),
 * where no transaction can hold them together with the claim.
 *
 * <p>For each message it first takes a lease on {@code (consumer, key)} in a short transaction of its own (the
 * record is IN_PROGRESS, with a token, an attempt number and a lease expiry by the store's clock), then runs your
 * {@link LeasedMessageHandler} with <strong>no transaction open and no connection held</strong>, then marks the
 * record COMPLETED with the result in a second short transaction. A delivery that finds the record
 * <ul>
 *   <li>COMPLETED is a {@link Outcome#isDuplicate() duplicate}, with the stored result if a codec is set;</li>
 *   <li>IN_PROGRESS under a live lease gets {@link KeyInProgressException} (requeue it with a delay), after waiting
 *       up to {@link Builder#waitForInProgress} if set;</li>
 *   <li>IN_PROGRESS whose lease ran out (its holder crashed or outlived it) takes it over with attempt + 1; the
 *       old holder's writes are then refused by its stale token ({@link LeaseLostException});</li>
 *   <li>FAILED (parked after {@link Builder#maxAttempts} attempts) gets {@link KeyFailedException}.</li>
 * </ul>
 *
 * <p>What is exactly once: the record's transitions, and every {@link LeasedRun#step step} whose result was recorded
 * (a retry returns it without calling again). An external call is <em>at least once</em> when a run dies between
 * the call and its step's record; with a receiver that honours {@link LeasedRun#downstreamKey} as an idempotency key,
 * that repeat has no effect, so the effect is exactly once end to end. See {@code docs/external-effects.md}.
 *
 * <p>Instances are immutable and thread-safe.
 *
 * @param <M> the message type
 * @param <R> the result type ({@link Void} if none)
 * @param <X> the handler's checked exception, inferred from it ({@link RuntimeException} if none)
 */
public final class LeasedHandler<M, R, X extends Exception> {

    /** The shortest lease: a second. */
    public static final Duration MIN_LEASE = Duration.ofSeconds(1);
    /** The longest step name, in characters. */
    public static final int MAX_STEP_NAME_LENGTH = 100;

    private static final Logger log = LoggerFactory.getLogger(LeasedHandler.class);
    private static final Duration MAX_WAIT_POLL = Duration.ofMillis(200);

    private final DedupStore store;
    private final LeaseStore leases;
    private final String consumer;
    private final MessageKeys<M> keys;
    private final LeasedMessageHandler<? super M, ? extends R, ? extends X> handler;
    private final ResultCodec<R> resultCodec;
    private final Duration retention;
    private final Duration lease;
    private final int maxAttempts;
    private final Duration waitForInProgress;
    private final Duration keepAliveFor;
    private final ScheduledExecutorService keepAlive;

    @SuppressWarnings("unchecked")
    private LeasedHandler(Builder<M, R, X> b, LeaseStore leases) {
        this.store = b.store;
        this.leases = leases;
        this.consumer = b.consumer;
        this.keys = new MessageKeys<>(b.consumer, b.keyExtractor, b.fingerprint);
        this.handler = (LeasedMessageHandler<? super M, ? extends R, ? extends X>) b.handler;
        this.resultCodec = b.resultCodec;
        this.retention = b.retention;
        this.lease = b.lease;
        this.maxAttempts = b.maxAttempts;
        this.waitForInProgress = b.waitForInProgress;
        this.keepAliveFor = b.keepAliveFor;
        this.keepAlive = b.keepAliveFor == null ? null : Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "oncely-keep-alive-" + b.consumer);
            t.setDaemon(true);
            return t;
        });
    }

    /** Starts a builder; name the types: {@code LeasedHandler.<Event, Receipt>builder(store)}. */
    public static <M, R> Builder<M, R, RuntimeException> builder(DedupStore store) {
        return new Builder<>(store);
    }

    /**
     * Processes one message in lease mode.
     *
     * @return processed (the handler ran and its completion was recorded), or duplicate (with the stored result
     *         if a codec is set)
     * @throws X                           the handler's own exception, the same instance, after the lease was released
     *                                     (or the key parked, at the last attempt)
     * @throws KeyInProgressException      another run holds the key: requeue with a delay
     * @throws KeyFailedException          the key is parked as failed: dead-letter
     * @throws LeaseLostException          this run's lease was taken over before it recorded its outcome
     * @throws PayloadConflictException    the key was first seen with another payload
     * @throws InvalidMessageException     no valid key; nothing was written
     * @throws OncelyException             the store failed
     */
    public Outcome<R> process(M message) throws X {
        String key = keys.keyOf(message);
        Optional<String> fingerprint = keys.fingerprintOf(message, key);
        LeaseRequest request = new LeaseRequest(consumer, key, fingerprint, Optional.ofNullable(retention), lease,
                maxAttempts, resultCodec != null);
        long waitUntil = System.nanoTime() + waitForInProgress.toNanos();
        while (true) {
            LeaseAnswer answer = leases.acquire(request);
            if (answer instanceof LeaseAnswer.Acquired acquired) {
                try {
                    keys.checkFingerprint(key, fingerprint, answer.fingerprint(), answer.firstClaimedAt());
                } catch (PayloadConflictException e) {
                    // Taken over from a run of another payload: give the key back untouched, then refuse.
                    leases.release(acquired.lease(), PayloadConflictException.class.getName(), false);
                    throw e;
                }
                return run(message, acquired);
            }
            keys.checkFingerprint(key, fingerprint, answer.fingerprint(), answer.firstClaimedAt());
            if (answer instanceof LeaseAnswer.Completed done) {
                R replayed = keys.decode(resultCodec, key, done.result(), done.firstClaimedAt());
                if (log.isDebugEnabled()) {
                    log.debug("Duplicate key '{}' of consumer '{}' (lease mode), first claimed at {}", key, consumer,
                            done.firstClaimedAt());
                }
                return Outcome.duplicate(key, done.firstClaimedAt(), replayed);
            }
            if (answer instanceof LeaseAnswer.Failed failed) {
                throw new KeyFailedException(consumer, key, failed.attempts(), failed.lastError());
            }
            LeaseAnswer.InProgress busy = (LeaseAnswer.InProgress) answer;
            long left = waitUntil - System.nanoTime();
            if (left <= 0) {
                throw new KeyInProgressException(consumer, key, busy.attempt(),
                        busy.leaseLeft().isZero() ? Duration.ofMillis(1) : busy.leaseLeft());
            }
            sleep(Math.min(left, Math.min(MAX_WAIT_POLL.toNanos(), Math.max(1_000_000, busy.leaseLeft().toNanos()))));
        }
    }

    /** The idempotency key of a message, validated as {@link #process} would. */
    public String keyOf(M message) {
        return keys.keyOf(message);
    }

    public String consumer() {
        return consumer;
    }

    public DedupStore store() {
        return store;
    }

    /** How long a run holds its key before another delivery may take it over. */
    public Duration lease() {
        return lease;
    }

    // ------------------------------------------------------------------------------------------------------

    private Outcome<R> run(M message, LeaseAnswer.Acquired acquired) throws X {
        LeaseToken token = acquired.lease();
        Run run = new Run(token, StepRecords.decode(acquired.steps()));
        if (log.isDebugEnabled()) {
            log.debug("Key '{}' of consumer '{}' leased for {} (attempt {}, {} recorded steps)", token.key(), consumer,
                    lease, token.attempt(), run.steps.size());
        }
        ScheduledFuture<?> renewals = startKeepAlive(run);
        R result;
        try {
            result = handler.handle(message, run);
        } catch (Exception | Error e) {
            stop(run, renewals);
            giveUp(run, e);
            throw rethrow(e);
        }
        stop(run, renewals);
        Optional<byte[]> bytes = Optional.empty();
        if (resultCodec != null && result != null) {
            try {
                bytes = Optional.of(keys.encode(resultCodec, token.key(), result));
            } catch (MisconfigurationException e) {
                giveUp(run, e);
                throw e;
            }
        }
        if (!leases.complete(token, bytes)) {
            throw new LeaseLostException("The run of key '" + token.key() + "' of consumer '" + consumer
                    + "' (attempt " + token.attempt() + ") finished, but its lease had been taken over by another"
                    + " delivery: its completion was refused and its result not stored. Its external calls happened"
                    + " (those made with downstreamKey(step) are deduplicated by a receiver that honours the key)."
                    + " Do not acknowledge this delivery; choose a lease longer than the work (now " + lease
                    + ") or turn on keepAlive.");
        }
        if (log.isDebugEnabled()) {
            log.debug("Key '{}' of consumer '{}' completed (attempt {})", token.key(), consumer, token.attempt());
        }
        return Outcome.processed(token.key(), acquired.firstClaimedAt(), result);
    }

    /** Releases the lease after a failed run, or parks the key at the last attempt; never hides the failure. */
    private void giveUp(Run run, Throwable failure) {
        boolean park = run.token.attempt() >= maxAttempts;
        String error = truncate(failure.getClass().getName(), 255);
        try {
            boolean released = leases.release(run.token, error, park);
            if (!released) {
                log.warn("The failed run of key '{}' of consumer '{}' (attempt {}) had lost its lease already; another"
                        + " run holds the key", run.token.key(), consumer, run.token.attempt());
            } else if (park) {
                log.warn("Key '{}' of consumer '{}' parked as FAILED after {} attempts (last: {})", run.token.key(),
                        consumer, run.token.attempt(), error);
            } else if (log.isDebugEnabled()) {
                log.debug("Key '{}' of consumer '{}' released after a failed attempt {} ({})", run.token.key(),
                        consumer, run.token.attempt(), error);
            }
        } catch (RuntimeException releaseFailure) {
            failure.addSuppressed(releaseFailure);
        }
    }

    @SuppressWarnings("unchecked")
    private X rethrow(Throwable e) throws X {
        if (e instanceof RuntimeException r) {
            throw r;
        }
        if (e instanceof Error err) {
            throw err;
        }
        throw (X) e;
    }

    private ScheduledFuture<?> startKeepAlive(Run run) {
        if (keepAlive == null) {
            return null;
        }
        long period = Math.max(1, lease.toMillis() / 3);
        long until = System.nanoTime() + keepAliveFor.toNanos();
        return keepAlive.scheduleWithFixedDelay(() -> {
            if (System.nanoTime() - until > 0 || run.lost || run.finished) {
                return;
            }
            try {
                // A renewal that races the run's completion (or release) finds the token gone: that is no takeover.
                if (!leases.renew(run.token, lease) && !run.finished) {
                    run.lost = true;
                    log.warn("Keep-alive of key '{}' of consumer '{}' (attempt {}) found the lease taken over",
                            run.token.key(), consumer, run.token.attempt());
                }
            } catch (RuntimeException e) {
                log.debug("Keep-alive of key '{}' failed: {}", run.token.key(), e.toString());
            }
        }, period, period, TimeUnit.MILLISECONDS);
    }

    private void stop(Run run, ScheduledFuture<?> renewals) {
        run.finished = true;
        if (renewals != null) {
            renewals.cancel(false);
        }
    }

    private static void sleep(long nanos) {
        try {
            TimeUnit.NANOSECONDS.sleep(nanos);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TransientStoreException("Interrupted while waiting for a key another run holds", e);
        }
    }

    private static String truncate(String text, int max) {
        return text.length() <= max ? text : text.substring(0, max);
    }

    private final class Run implements LeasedRun {
        final LeaseToken token;
        final Map<String, byte[]> steps;
        volatile boolean lost;
        /** Set before the run completes or gives its key up: renewals stop, and one in flight is no takeover. */
        volatile boolean finished;

        Run(LeaseToken token, Map<String, byte[]> steps) {
            this.token = token;
            this.steps = steps;
        }

        @Override
        public String consumer() {
            return consumer;
        }

        @Override
        public String key() {
            return token.key();
        }

        @Override
        public int attempt() {
            return token.attempt();
        }

        @Override
        public String downstreamKey(String step) {
            checkStepName(step);
            return Fingerprints.sha256Hex((consumer + '\u0000' + token.key() + '\u0000' + step)
                    .getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public <T, E extends Exception> T step(String name, ResultCodec<T> codec, StepCall<T, E> call) throws E {
            checkStepName(name);
            Objects.requireNonNull(codec, "codec");
            Objects.requireNonNull(call, "call");
            byte[] recorded = steps.get(name);
            if (recorded != null) {
                if (log.isDebugEnabled()) {
                    log.debug("Step '{}' of key '{}' replayed from an earlier attempt", name, token.key());
                }
                return recorded == StepRecords.NO_VALUE ? null : decodeStep(codec, name, recorded);
            }
            checkHeld(name);
            T value = call.call();
            record(name, value == null ? StepRecords.NO_VALUE : encodeStep(codec, name, value));
            return value;
        }

        @Override
        public <E extends Exception> void step(String name, StepAction<E> action) throws E {
            checkStepName(name);
            Objects.requireNonNull(action, "action");
            if (steps.containsKey(name)) {
                if (log.isDebugEnabled()) {
                    log.debug("Step '{}' of key '{}' skipped: done by an earlier attempt", name, token.key());
                }
                return;
            }
            checkHeld(name);
            action.run();
            record(name, StepRecords.NO_VALUE);
        }

        @Override
        public boolean stepDone(String name) {
            return steps.containsKey(name);
        }

        @Override
        public void renewLease() {
            if (!leases.renew(token, lease)) {
                lost = true;
                throw lost("renew its lease");
            }
        }

        private void record(String name, byte[] value) {
            steps.put(name, value);
            if (!leases.recordSteps(token, StepRecords.encode(steps), lease)) {
                lost = true;
                throw lost("record step '" + name + "', whose call happened");
            }
        }

        private void checkHeld(String name) {
            if (lost) {
                throw lost("start step '" + name + "'");
            }
        }

        private LeaseLostException lost(String what) {
            return new LeaseLostException("The run of key '" + token.key() + "' of consumer '" + consumer + "' (attempt "
                    + token.attempt() + ") could not " + what + ": its lease was taken over by another delivery. Stop"
                    + " working on it; the other run holds the key now. Choose a lease longer than the work (now "
                    + lease + ") or turn on keepAlive.");
        }

        private <T> T decodeStep(ResultCodec<T> codec, String name, byte[] recorded) {
            try {
                return codec.decode(recorded);
            } catch (Exception e) {
                throw new MisconfigurationException("The recorded result of step '" + name + "' of key '" + token.key()
                        + "' of consumer '" + consumer + "' could not be decoded by " + codec.getClass().getName()
                        + ": " + e + ". The step was not run again. Make the codec read what earlier versions wrote.",
                        e);
            }
        }

        private <T> byte[] encodeStep(ResultCodec<T> codec, String name, T value) {
            try {
                byte[] bytes = codec.encode(value);
                if (bytes == null) {
                    throw new IllegalStateException("the codec returned null");
                }
                return bytes;
            } catch (Exception e) {
                throw new MisconfigurationException("The codec " + codec.getClass().getName() + " failed to encode the"
                        + " result of step '" + name + "' of key '" + token.key() + "' of consumer '" + consumer
                        + "': " + e + ". The step's call happened but is not recorded; fix the codec.", e);
            }
        }
    }

    private static void checkStepName(String name) {
        Validation.checkText("The step name", name, MAX_STEP_NAME_LENGTH,
                "Name each step of a run with a constant, e.g. \"charge\" or \"send-receipt\".");
    }

    /**
     * Builds a {@link LeasedHandler}. Required: {@link #consumer}, {@link #key}, {@link #handler}; the store must
     * offer {@link DedupStore#leases() leases}. {@link #build()} checks everything and says what is missing.
     */
    public static final class Builder<M, R, X extends Exception> {
        private final DedupStore store;
        private String consumer;
        private Function<? super M, String> keyExtractor;
        private LeasedMessageHandler<? super M, ? extends R, ? extends Exception> handler;
        private ResultCodec<R> resultCodec;
        private Function<? super M, byte[]> fingerprint;
        private Duration retention;
        private Duration lease = Duration.ofMinutes(5);
        private int maxAttempts = 5;
        private Duration waitForInProgress = Duration.ZERO;
        private Duration keepAliveFor;

        private Builder(DedupStore store) {
            if (store == null) {
                throw new IllegalArgumentException("store is null: pass a DedupStore, such as"
                        + " InMemoryDedupStore.create() or JdbcDedupStore.postgres(dataSource).build().");
            }
            this.store = store;
        }

        /** The consumer name: the same key is processed once per consumer. Up to 100 characters. */
        public Builder<M, R, X> consumer(String consumer) {
            this.consumer = Validation.checkText("The consumer name", consumer, IdempotentHandler.MAX_CONSUMER_LENGTH,
                    "Name the consumer, e.g. \"billing\"; two handlers with the same name share their keys.");
            return this;
        }

        /** How to get the idempotency key from a message, as for {@link IdempotentHandler.Builder#key}. */
        public Builder<M, R, X> key(Function<? super M, String> keyExtractor) {
            this.keyExtractor = Objects.requireNonNull(keyExtractor, "keyExtractor");
            return this;
        }

        /** Your callback, run with no transaction and no connection held. */
        @SuppressWarnings("unchecked")
        public <Y extends Exception> Builder<M, R, Y> handler(LeasedMessageHandler<? super M, ? extends R, Y> handler) {
            this.handler = Objects.requireNonNull(handler, "handler");
            return (Builder<M, R, Y>) this;
        }

        /** Store each completed run's result and replay it to duplicates. */
        public Builder<M, R, X> resultCodec(ResultCodec<R> resultCodec) {
            this.resultCodec = Objects.requireNonNull(resultCodec, "resultCodec");
            return this;
        }

        /** The payload to fingerprint, as for {@link IdempotentHandler.Builder#fingerprint}. */
        public Builder<M, R, X> fingerprint(Function<? super M, byte[]> payload) {
            this.fingerprint = Objects.requireNonNull(payload, "payload");
            return this;
        }

        /**
         * How long a key's record is kept from its first lease, as for {@link IdempotentHandler.Builder#retention}
         * (at least {@link IdempotentHandler#MIN_RETENTION}, and longer than the lease). Default: forever.
         */
        public Builder<M, R, X> retention(Duration retention) {
            if (retention == null || retention.compareTo(IdempotentHandler.MIN_RETENTION) < 0) {
                throw new IllegalArgumentException("retention " + retention + " is shorter than the minimum of "
                        + IdempotentHandler.MIN_RETENTION + ": a record must outlive the broker's redelivery window."
                        + " Use e.g. Duration.ofDays(7).");
            }
            this.retention = retention;
            return this;
        }

        /**
         * How long a run holds its key before another delivery may take it over: longer than the slowest run you
         * expect (every external call with its timeouts and retries), or use {@link #keepAlive}. A run that outlives
         * its lease may run alongside the one that took over; its own completion is then refused. At least
         * {@link LeasedHandler#MIN_LEASE}. Default: 5 minutes.
         */
        public Builder<M, R, X> lease(Duration lease) {
            if (lease == null || lease.compareTo(MIN_LEASE) < 0 || lease.compareTo(Duration.ofDays(1)) > 0) {
                throw new IllegalArgumentException("lease " + lease + " is outside 1 second to 1 day: choose it"
                        + " longer than the slowest run you expect, e.g. Duration.ofMinutes(5).");
            }
            this.lease = lease;
            return this;
        }

        /**
         * After how many attempts a key whose runs keep failing (or keep losing their lease) is parked as FAILED:
         * later deliveries get {@link KeyFailedException} until an operator retries it. Default: 5.
         */
        public Builder<M, R, X> maxAttempts(int maxAttempts) {
            if (maxAttempts < 1 || maxAttempts > 1000) {
                throw new IllegalArgumentException("maxAttempts " + maxAttempts + " is outside 1 to 1000: use e.g. 5.");
            }
            this.maxAttempts = maxAttempts;
            return this;
        }

        /**
         * Waits up to {@code max} for a key another run holds, polling, before giving up with
         * {@link KeyInProgressException}: the delivery then gets the first run's outcome when it finishes in time.
         * Default: zero (answer at once).
         */
        public Builder<M, R, X> waitForInProgress(Duration max) {
            if (max == null || max.isNegative() || max.compareTo(Duration.ofMinutes(10)) > 0) {
                throw new IllegalArgumentException("waitForInProgress " + max + " is outside 0 to 10 minutes: a"
                        + " delivery thread waiting longer blocks the consumer; requeue with a delay instead.");
            }
            this.waitForInProgress = max;
            return this;
        }

        /**
         * Renews the lease every third of it while the handler runs, for at most {@code maxRunTime} in all; after
         * that the lease runs out and another delivery may take over (so a hung run cannot hold a key forever).
         * One daemon thread per handler. A renewal that finds the lease taken over makes the run's next
         * {@link LeasedRun#step} fail with {@link LeaseLostException}.
         */
        public Builder<M, R, X> keepAlive(Duration maxRunTime) {
            if (maxRunTime == null || maxRunTime.isNegative() || maxRunTime.isZero()
                    || maxRunTime.compareTo(Duration.ofDays(1)) > 0) {
                throw new IllegalArgumentException("keepAlive " + maxRunTime + " is outside 0 to 1 day: give the"
                        + " longest a run may take, e.g. Duration.ofMinutes(30).");
            }
            this.keepAliveFor = maxRunTime;
            return this;
        }

        public LeasedHandler<M, R, X> build() {
            List<String> missing = new ArrayList<>();
            if (consumer == null) {
                missing.add("consumer(\"name\")");
            }
            if (keyExtractor == null) {
                missing.add("key(message -> message.eventId())");
            }
            if (handler == null) {
                missing.add("handler((message, run) -> ...)");
            }
            if (!missing.isEmpty()) {
                throw new IllegalArgumentException("LeasedHandler needs " + String.join(", ", missing)
                        + " before build().");
            }
            if (retention != null && retention.compareTo(lease.multipliedBy(2)) < 0) {
                throw new IllegalArgumentException("retention " + retention + " must be at least twice the lease ("
                        + lease + "): a record must outlive its runs.");
            }
            LeaseStore leaseStore = store.leases().orElseThrow(() -> new IllegalArgumentException(store.describe()
                    + " has no lease operations, which lease mode needs. Use a store that has them (in-memory,"
                    + " PostgreSQL, MariaDB/MySQL, H2 or generic JDBC on the plain table layout)."));
            LeasedHandler<M, R, X> built = new LeasedHandler<>(this, leaseStore);
            log.info("Oncely leased handler for consumer '{}' on {} (lease: {}, max attempts: {}, keep-alive: {},"
                            + " result replay: {}, retention: {})", consumer, store.describe(), lease, maxAttempts,
                    keepAliveFor == null ? "off" : "up to " + keepAliveFor, resultCodec != null ? "on" : "off",
                    retention == null ? "forever" : retention);
            return built;
        }
    }

    @Override
    public String toString() {
        return "LeasedHandler[consumer=" + consumer + ", store=" + store.describe() + ", lease=" + lease + "]";
    }
}
