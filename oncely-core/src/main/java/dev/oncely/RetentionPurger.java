package dev.oncely;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes expired keys from a {@link DedupStore} in the background, in small chunks, so the table stays bounded
 * without a long-running {@code DELETE} that would hold locks or bloat a transaction.
 *
 * <p>Each run calls {@link DedupStore#purgeExpired(int)} with the chunk size, pausing between chunks, for as
 * long as a chunk comes back full; then the purger sleeps for the interval. A failed run is logged at WARN and
 * counted, and the next run happens after the interval as usual: a database that is briefly away does not stop
 * the purger.
 *
 * <pre>{@code
 * RetentionPurger purger = RetentionPurger.builder(store)
 *         .chunkSize(5_000)
 *         .pauseBetweenChunks(Duration.ofMillis(50))
 *         .interval(Duration.ofMinutes(5))
 *         .build();
 * purger.start();
 * ...
 * purger.close();   // on shutdown
 * }</pre>
 *
 * <p>It runs on one daemon thread it owns, started by {@link #start()} and stopped by {@link #close()}. Several
 * application instances may each run one against the same table: on PostgreSQL the chunks skip rows another
 * purger has locked. If you already have a scheduler (Quartz, db-scheduler, Kubernetes CronJob), call
 * {@link #purgeNow()} from it instead of starting the thread.
 *
 * <p>Only keys of handlers built with a {@link IdempotentHandler.Builder#retention(Duration) retention} ever
 * expire; keys kept forever are never touched. Thread-safe.
 */
public final class RetentionPurger implements AutoCloseable {

    /** The largest chunk accepted: larger deletes hold their row locks and WAL for too long. */
    public static final int MAX_CHUNK_SIZE = 100_000;

    private static final Logger log = LoggerFactory.getLogger(RetentionPurger.class);

    private enum State { NEW, RUNNING, CLOSED }

    private final DedupStore store;
    private final int chunkSize;
    private final Duration pauseBetweenChunks;
    private final Duration interval;
    private final String threadName;
    /** Null without listeners. */
    private final Listeners listeners;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wakeUp = lock.newCondition();
    private State state = State.NEW;
    private Thread thread;

    private final AtomicLong runs = new AtomicLong();
    private final AtomicLong failedRuns = new AtomicLong();
    private final AtomicLong chunks = new AtomicLong();
    private final AtomicLong purgedKeys = new AtomicLong();
    private final AtomicReference<RuntimeException> lastFailure = new AtomicReference<>();

    private RetentionPurger(Builder builder) {
        this.store = builder.store;
        this.chunkSize = builder.chunkSize;
        this.pauseBetweenChunks = builder.pauseBetweenChunks;
        this.interval = builder.interval;
        this.threadName = builder.threadName;
        this.listeners = Listeners.of(builder.listeners);
    }

    /** Starts a builder on the store whose expired keys are to be deleted. */
    public static Builder builder(DedupStore store) {
        return new Builder(store);
    }

    /**
     * Starts the background thread; the first run begins at once. Returns this purger.
     *
     * @throws IllegalStateException if it was started or closed before
     */
    public RetentionPurger start() {
        lock.lock();
        try {
            if (state != State.NEW) {
                throw new IllegalStateException("This RetentionPurger was already " + (state == State.RUNNING
                        ? "started" : "closed") + "; build a new one to start again.");
            }
            Thread t = new Thread(this::loop, threadName);
            t.setDaemon(true);
            thread = t;
            state = State.RUNNING;
            t.start();
        } finally {
            lock.unlock();
        }
        log.info("Oncely retention purger started on {} (chunk size {}, pause {}, interval {})", store.describe(),
                chunkSize, pauseBetweenChunks, interval);
        return this;
    }

    /**
     * Stops the background thread: a chunk in progress finishes (its transaction is never cut off), no new one
     * begins. Waits up to 30 seconds for the thread to end. Idempotent; a purger never started just closes.
     */
    @Override
    public void close() {
        Thread t;
        lock.lock();
        try {
            if (state == State.CLOSED) {
                return;
            }
            state = State.CLOSED;
            t = thread;
            wakeUp.signalAll();
        } finally {
            lock.unlock();
        }
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join(TimeUnit.SECONDS.toMillis(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (t.isAlive()) {
                log.warn("Oncely retention purger on {} did not stop within 30 seconds: a purge chunk is still"
                        + " running; it ends with its transaction.", store.describe());
            }
        }
    }

    /**
     * Runs one purge now on the calling thread: chunks while they come back full, with the pause between them.
     * Stops early if the purger is closed meanwhile. Counts toward the counters like a scheduled run.
     *
     * @return how many expired keys were deleted
     * @throws OncelyException (or whatever the store throws) if a chunk failed; keys deleted by earlier chunks
     *                         stay deleted
     */
    public long purgeNow() {
        long startNanos = System.nanoTime();
        long purgedThisRun = 0;
        long chunksThisRun = 0;
        RuntimeException failure = null;
        boolean ended = false;
        try {
            while (true) {
                int purged = store.purgeExpired(chunkSize);
                chunksThisRun++;
                chunks.incrementAndGet();
                purgedThisRun += purged;
                purgedKeys.addAndGet(purged);
                if (purged < chunkSize || isClosed()) {
                    break;
                }
                if (!pause(pauseBetweenChunks)) {
                    break;
                }
            }
            ended = true;
        } catch (RuntimeException e) {
            failedRuns.incrementAndGet();
            lastFailure.set(e);
            failure = e;
            throw e;
        } finally {
            runs.incrementAndGet();
            if (listeners != null && (ended || failure != null)) {
                listeners.purged(new PurgeEvent(store.describe(), purgedThisRun, chunksThisRun,
                        System.nanoTime() - startNanos, failure));
            }
        }
        if (log.isDebugEnabled()) {
            log.debug("Purged {} expired keys from {} in {} chunks, {} ms", purgedThisRun, store.describe(),
                    chunksThisRun, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
        }
        return purgedThisRun;
    }

    /** Whether the background thread has been started and not yet closed. */
    public boolean isRunning() {
        lock.lock();
        try {
            return state == State.RUNNING;
        } finally {
            lock.unlock();
        }
    }

    /** Runs finished so far, failed ones included. */
    public long runs() {
        return runs.get();
    }

    /** Runs that ended with a failure. */
    public long failedRuns() {
        return failedRuns.get();
    }

    /** Chunks deleted so far (calls to {@link DedupStore#purgeExpired(int)} that returned). */
    public long chunks() {
        return chunks.get();
    }

    /** Expired keys deleted so far. */
    public long purgedKeys() {
        return purgedKeys.get();
    }

    /** The failure of the most recent failed run, if any run failed. */
    public Optional<RuntimeException> lastFailure() {
        return Optional.ofNullable(lastFailure.get());
    }

    /** The chunk size: the most keys one {@code purgeExpired} call deletes. */
    public int chunkSize() {
        return chunkSize;
    }

    /** The pause between two full chunks of one run. */
    public Duration pauseBetweenChunks() {
        return pauseBetweenChunks;
    }

    /** The sleep between the end of one run and the start of the next. */
    public Duration interval() {
        return interval;
    }

    @Override
    public String toString() {
        return "RetentionPurger[" + store.describe() + ", chunkSize=" + chunkSize + ", pause=" + pauseBetweenChunks
                + ", interval=" + interval + ", purged=" + purgedKeys.get() + "]";
    }

    // ------------------------------------------------------------------------------------------------------

    private void loop() {
        while (!isClosed()) {
            try {
                purgeNow();
            } catch (RuntimeException e) {
                log.warn("Oncely retention purge on {} failed; retrying in {}: {}", store.describe(), interval,
                        e.toString());
            }
            if (!pause(interval)) {
                return;
            }
        }
    }

    private boolean isClosed() {
        lock.lock();
        try {
            return state == State.CLOSED;
        } finally {
            lock.unlock();
        }
    }

    /** Sleeps, waking early on close. Returns false if the purger was closed. */
    private boolean pause(Duration duration) {
        long remaining = duration.toNanos();
        lock.lock();
        try {
            while (state != State.CLOSED && remaining > 0) {
                try {
                    remaining = wakeUp.awaitNanos(remaining);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
            return state != State.CLOSED;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Builds a {@link RetentionPurger}. Defaults: chunks of 1,000 keys, 100 ms between chunks, 5 minutes between
     * runs.
     */
    public static final class Builder {
        private final DedupStore store;
        private int chunkSize = 1_000;
        private Duration pauseBetweenChunks = Duration.ofMillis(100);
        private Duration interval = Duration.ofMinutes(5);
        private String threadName = "oncely-retention-purger";
        private final java.util.List<OncelyListener> listeners = new java.util.ArrayList<>();

        private Builder(DedupStore store) {
            if (store == null) {
                throw new IllegalArgumentException("store is null: pass the DedupStore your handlers use.");
            }
            this.store = store;
        }

        /**
         * The most keys one chunk deletes, 1 to {@value RetentionPurger#MAX_CHUNK_SIZE}. Smaller chunks hold
         * fewer locks for less time; larger ones purge faster. Default 1,000.
         */
        public Builder chunkSize(int chunkSize) {
            if (chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
                throw new IllegalArgumentException("chunkSize must be between 1 and " + MAX_CHUNK_SIZE + ", was "
                        + chunkSize + ": a few thousand keys per chunk keeps each delete short.");
            }
            this.chunkSize = chunkSize;
            return this;
        }

        /**
         * How long to wait between two chunks of one run, leaving the database to live traffic. Zero is allowed
         * (no pause). Default 100 ms.
         */
        public Builder pauseBetweenChunks(Duration pause) {
            if (pause == null || pause.isNegative()) {
                throw new IllegalArgumentException("pauseBetweenChunks must be zero or positive, was " + pause
                        + ": e.g. Duration.ofMillis(100).");
            }
            this.pauseBetweenChunks = pause;
            return this;
        }

        /** How long to sleep after a run (or a failed run) before the next. Positive; default 5 minutes. */
        public Builder interval(Duration interval) {
            if (interval == null || interval.isNegative() || interval.isZero()) {
                throw new IllegalArgumentException("interval must be positive, was " + interval
                        + ": e.g. Duration.ofMinutes(5); a fraction of the retention window is plenty.");
            }
            this.interval = interval;
            return this;
        }

        /** The name of the background thread, for thread dumps. Default {@code oncely-retention-purger}. */
        public Builder threadName(String threadName) {
            if (threadName == null || threadName.isBlank()) {
                throw new IllegalArgumentException("threadName must not be blank.");
            }
            this.threadName = threadName;
            return this;
        }

        /**
         * Adds a listener that hears each run's end: keys deleted, duration, failure
         * ({@link OncelyListener#purgeEnded}). Call it again to add more. A listener that throws is logged and never
         * stops the purger.
         */
        public Builder listener(OncelyListener listener) {
            if (listener == null) {
                throw new IllegalArgumentException("listener is null: pass an OncelyListener, or leave it out.");
            }
            this.listeners.add(listener);
            return this;
        }

        public RetentionPurger build() {
            return new RetentionPurger(this);
        }
    }
}
