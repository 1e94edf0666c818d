package dev.oncely.inmemory;

import dev.oncely.CallerTransaction;
import dev.oncely.MisconfigurationException;
import dev.oncely.TransientStoreException;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import dev.oncely.DedupStore;
import dev.oncely.spi.LeaseAnswer;
import dev.oncely.spi.LeaseRequest;
import dev.oncely.spi.LeaseStore;
import dev.oncely.spi.LeaseToken;
import dev.oncely.spi.StoreTransaction;
import dev.oncely.spi.TransactionWork;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * A {@link DedupStore} in memory, for unit tests of your handlers and for single-process tools. It behaves like
 * the database stores: a claim becomes visible to other deliveries when its transaction commits, a failed run
 * releases its key, a delivery of a key that another transaction holds waits for it (then reports a duplicate
 * if it committed, or claims if it rolled back), and expiry follows the {@link Clock} you give it.
 *
 * <p>What it cannot do: make your business writes transactional. It has no connection to offer; a fake
 * repository you write to from the handler keeps what was written even when the handler throws afterwards.
 * And it forgets everything when the process ends: it is no production store.
 *
 * <p>Thread-safe.
 */
public final class InMemoryDedupStore implements DedupStore {

    private final Clock clock;
    private final Duration lockTimeout;
    private final String name;
    private final Object monitor = new Object();
    private final Map<Slot, Entry> entries = new HashMap<>();
    private final Leases leases = new Leases();

    private InMemoryDedupStore(Clock clock, Duration lockTimeout, String name) {
        this.clock = clock;
        this.lockTimeout = lockTimeout;
        this.name = name;
    }

    /** A store on the system clock, waiting at most 30 seconds for a key another transaction holds. */
    public static InMemoryDedupStore create() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Begins a transaction you commit or roll back yourself, to test code that calls
     * {@link dev.oncely.IdempotentHandler#processIn}.
     */
    public InMemoryTransaction begin() {
        return new InMemoryTransaction(this);
    }

    @Override
    public <T> T inTransaction(TransactionWork<T> work) throws Exception {
        InMemoryTransaction tx = new InMemoryTransaction(this);
        T result;
        try {
            result = work.execute(tx.storeTransaction());
        } catch (Throwable failure) {
            tx.rollback();
            throw failure;
        }
        tx.commit();
        return result;
    }

    @Override
    public <T> T inCallerTransaction(CallerTransaction transaction, TransactionWork<T> work) throws Exception {
        InMemoryTransaction tx = transaction.unwrap(InMemoryTransaction.class).orElseThrow(() ->
                new MisconfigurationException("The in-memory store can only join transactions it began: pass"
                        + " store.begin(), not " + transaction + "."));
        if (tx.store != this) {
            throw new MisconfigurationException("That transaction was begun by another InMemoryDedupStore: begin it on the"
                    + " store the handler was built with.");
        }
        tx.checkOpen();
        return work.execute(tx.storeTransaction());
    }

    @Override
    public int purgeExpired(int maxRows) {
        if (maxRows < 1) {
            throw new IllegalArgumentException("maxRows must be at least 1, was " + maxRows);
        }
        Instant now = clock.instant();
        int purged = 0;
        synchronized (monitor) {
            Iterator<Entry> it = entries.values().iterator();
            while (it.hasNext() && purged < maxRows) {
                Entry e = it.next();
                if (e.owner == null && e.isExpired(now)) {
                    it.remove();
                    purged++;
                }
            }
        }
        return purged;
    }

    @Override
    public Optional<LeaseStore> leases() {
        return Optional.of(leases);
    }

    /** Whether the key is claimed by a committed transaction and not expired. */
    public boolean contains(String consumer, String key) {
        Instant now = clock.instant();
        synchronized (monitor) {
            Entry e = entries.get(new Slot(consumer, key));
            return e != null && e.owner == null && !e.isExpired(now);
        }
    }

    /** How many committed claims are stored, expired ones included until they are purged. */
    public int size() {
        synchronized (monitor) {
            return (int) entries.values().stream().filter(e -> e.owner == null).count();
        }
    }

    /** Forgets every committed claim. Fails if a transaction is open on the store. */
    public void clear() {
        synchronized (monitor) {
            if (entries.values().stream().anyMatch(e -> e.owner != null)) {
                throw new IllegalStateException("A transaction holding claims is still open: end it before clear()");
            }
            entries.clear();
        }
    }

    @Override
    public String describe() {
        return "in-memory store '" + name + "'";
    }

    @Override
    public String toString() {
        return "InMemoryDedupStore[" + name + ", clock=" + clock + "]";
    }

    // -------------------------------------------------------------------------------------------------------

    /** Claims the key; a fresh claim holds {@code result} (null: none yet) from the start. */
    ClaimResult claim(InMemoryTransaction tx, ClaimRequest request, byte[] result) {
        Slot slot = new Slot(request.consumer(), request.key());
        long deadline = System.nanoTime() + lockTimeout.toNanos();
        synchronized (monitor) {
            while (true) {
                tx.checkOpen();
                Instant now = clock.instant();
                Entry e = entries.get(slot);
                if (e == null || (e.owner == null && e.isExpired(now))) {
                    Instant expiresAt = request.retention().map(now::plus).orElse(null);
                    Entry fresh = new Entry(now, request.retention().orElse(null), expiresAt,
                            request.fingerprint().orElse(null), tx);
                    fresh.result = result == null ? null : result.clone();
                    entries.put(slot, fresh);
                    tx.claimed.add(slot);
                    return ClaimResult.claimed(now);
                }
                if (e.owner == null || e.owner == tx) {
                    return ClaimResult.duplicate(e.processedAt, Optional.ofNullable(e.fingerprint),
                            request.loadResult() ? Optional.ofNullable(e.result).map(byte[]::clone)
                                    : Optional.empty());
                }
                long waitNanos = deadline - System.nanoTime();
                if (waitNanos <= 0) {
                    throw new TransientStoreException("Timed out after " + lockTimeout + " waiting for key '"
                            + request.key() + "' of consumer '" + request.consumer() + "', which another open"
                            + " transaction holds. End that transaction (a handler must not process a message"
                            + " whose key its own caller holds), or raise the lock timeout.");
                }
                try {
                    monitor.wait(Math.max(1, waitNanos / 1_000_000));
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new TransientStoreException("Interrupted while waiting for key '" + request.key()
                            + "', which another transaction holds", ie);
                }
            }
        }
    }

    void saveResult(InMemoryTransaction tx, String consumer, String key, byte[] result) {
        synchronized (monitor) {
            tx.checkOpen();
            Entry e = entries.get(new Slot(consumer, key));
            if (e == null || e.owner != tx) {
                throw new MisconfigurationException("Key '" + key + "' of consumer '" + consumer
                        + "' is not claimed by this transaction: claim it before saving its result.");
            }
            e.result = result.clone();
        }
    }

    void end(InMemoryTransaction tx, boolean commit) {
        synchronized (monitor) {
            for (Slot slot : tx.claimed) {
                Entry e = entries.get(slot);
                if (e != null && e.owner == tx) {
                    if (commit) {
                        e.owner = null;
                        // Retention counts from the commit, when the claim becomes visible: a transaction slower
                        // than its retention would otherwise commit an expired claim, and a redelivery waiting on
                        // the key would reclaim it at once.
                        if (e.retention != null) {
                            e.expiresAt = clock.instant().plus(e.retention);
                        }
                    } else {
                        entries.remove(slot);
                    }
                }
            }
            tx.claimed.clear();
            monitor.notifyAll();
        }
    }

    private enum LeaseState { IN_PROGRESS, COMPLETED, FAILED }

    /** Lease mode on the same entries, under the same monitor; times by the store's clock. */
    private final class Leases implements LeaseStore {

        @Override
        public LeaseAnswer acquire(LeaseRequest request) {
            Slot slot = new Slot(request.consumer(), request.key());
            synchronized (monitor) {
                Instant now = clock.instant();
                Entry e = entries.get(slot);
                if (e == null || (e.owner == null && e.isExpired(now))) {
                    e = new Entry(now, request.retention().orElse(null),
                            request.retention().map(now::plus).orElse(null), request.fingerprint().orElse(null), null);
                    entries.put(slot, e);
                    return take(e, request, now, 1);
                }
                Optional<String> fp = Optional.ofNullable(e.fingerprint);
                if (e.owner != null) {
                    // A claim of an open transaction (another mode on the same consumer): busy until it ends.
                    return new LeaseAnswer.InProgress(e.processedAt, fp, 0, lockTimeout);
                }
                if (e.state == null || e.state == LeaseState.COMPLETED) {
                    return new LeaseAnswer.Completed(e.processedAt, fp, request.loadResult()
                            ? Optional.ofNullable(e.result).map(byte[]::clone) : Optional.empty());
                }
                if (e.state == LeaseState.FAILED) {
                    return new LeaseAnswer.Failed(e.processedAt, fp, e.attempt, e.lastError);
                }
                if (now.isBefore(e.leaseUntil)) {
                    return new LeaseAnswer.InProgress(e.processedAt, fp, e.attempt,
                            Duration.between(now, e.leaseUntil));
                }
                if (e.attempt >= request.maxAttempts()) {
                    e.state = LeaseState.FAILED;
                    e.token = null;
                    e.lastError = "lease expired";
                    return new LeaseAnswer.Failed(e.processedAt, fp, e.attempt, e.lastError);
                }
                return take(e, request, now, e.attempt + 1);
            }
        }

        private LeaseAnswer take(Entry e, LeaseRequest request, Instant now, int attempt) {
            e.state = LeaseState.IN_PROGRESS;
            e.token = UUID.randomUUID().toString();
            e.attempt = attempt;
            e.leaseUntil = now.plus(request.lease());
            return new LeaseAnswer.Acquired(new LeaseToken(request.consumer(), request.key(), e.token, attempt),
                    e.processedAt, Optional.ofNullable(e.fingerprint), Optional.ofNullable(e.steps).map(byte[]::clone));
        }

        /** The entry if it is in progress under {@code lease}'s token (run out or not), else null. */
        private Entry held(LeaseToken lease) {
            Entry e = entries.get(new Slot(lease.consumer(), lease.key()));
            return e != null && e.owner == null && e.state == LeaseState.IN_PROGRESS && lease.token().equals(e.token)
                    ? e : null;
        }

        @Override
        public boolean complete(LeaseToken lease, Optional<byte[]> result) {
            synchronized (monitor) {
                Entry e = held(lease);
                if (e == null) {
                    return false;
                }
                e.state = LeaseState.COMPLETED;
                e.token = null;
                e.leaseUntil = null;
                e.result = result.map(byte[]::clone).orElse(null);
                monitor.notifyAll();
                return true;
            }
        }

        @Override
        public boolean renew(LeaseToken lease, Duration leaseDuration) {
            synchronized (monitor) {
                Entry e = held(lease);
                if (e == null) {
                    return false;
                }
                e.leaseUntil = clock.instant().plus(leaseDuration);
                return true;
            }
        }

        @Override
        public boolean recordSteps(LeaseToken lease, byte[] steps, Duration leaseDuration) {
            synchronized (monitor) {
                Entry e = held(lease);
                if (e == null) {
                    return false;
                }
                e.steps = steps.clone();
                e.leaseUntil = clock.instant().plus(leaseDuration);
                return true;
            }
        }

        @Override
        public boolean release(LeaseToken lease, String error, boolean park) {
            synchronized (monitor) {
                Entry e = held(lease);
                if (e == null) {
                    return false;
                }
                e.token = null;
                e.lastError = error;
                e.leaseUntil = clock.instant();
                if (park) {
                    e.state = LeaseState.FAILED;
                }
                return true;
            }
        }

        @Override
        public boolean retryFailed(String consumer, String key) {
            synchronized (monitor) {
                Entry e = entries.get(new Slot(consumer, key));
                if (e == null || e.state != LeaseState.FAILED) {
                    return false;
                }
                e.state = LeaseState.IN_PROGRESS;
                e.attempt = 0;
                e.token = null;
                e.leaseUntil = clock.instant();
                return true;
            }
        }
    }

    private record Slot(String consumer, String key) {
    }

    private static final class Entry {
        final Instant processedAt;
        final Duration retention;
        Instant expiresAt;
        final String fingerprint;
        byte[] result;
        InMemoryTransaction owner;
        // Lease mode only (state null: a claim of a transaction, done when committed).
        LeaseState state;
        String token;
        int attempt;
        Instant leaseUntil;
        byte[] steps;
        String lastError;

        Entry(Instant processedAt, Duration retention, Instant expiresAt, String fingerprint,
              InMemoryTransaction owner) {
            this.processedAt = processedAt;
            this.retention = retention;
            this.expiresAt = expiresAt;
            this.fingerprint = fingerprint;
            this.owner = owner;
        }

        boolean isExpired(Instant now) {
            return expiresAt != null && !now.isBefore(expiresAt);
        }
    }

    /** A transaction of an {@link InMemoryDedupStore}. Not thread-safe. Closing it rolls back unless committed. */
    public static final class InMemoryTransaction implements CallerTransaction, AutoCloseable {
        private final InMemoryDedupStore store;
        private final List<Slot> claimed = new ArrayList<>();
        private boolean open = true;

        private InMemoryTransaction(InMemoryDedupStore store) {
            this.store = store;
        }

        public void commit() {
            checkOpen();
            open = false;
            store.end(this, true);
        }

        public void rollback() {
            if (open) {
                open = false;
                store.end(this, false);
            }
        }

        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() {
            rollback();
        }

        @Override
        public <T> Optional<T> unwrap(Class<T> type) {
            return type.isInstance(this) ? Optional.of(type.cast(this)) : Optional.empty();
        }

        void checkOpen() {
            if (!open) {
                throw new MisconfigurationException("This in-memory transaction has already ended: begin a new one.");
            }
        }

        StoreTransaction storeTransaction() {
            return new StoreTransaction() {
                @Override
                public ClaimResult claim(ClaimRequest request) {
                    return store.claim(InMemoryTransaction.this, request, null);
                }

                @Override
                public ClaimResult claimWithResult(ClaimRequest request, byte[] result) {
                    return store.claim(InMemoryTransaction.this, request, java.util.Objects.requireNonNull(result,
                            "result"));
                }

                @Override
                public void saveResult(String consumer, String key, byte[] result) {
                    store.saveResult(InMemoryTransaction.this, consumer, key, result);
                }

                @Override
                public <T> Optional<T> resource(Class<T> type) {
                    return Optional.empty();
                }

                @Override
                public Set<Class<?>> resourceTypes() {
                    return Set.of();
                }
            };
        }
    }

    /** Builds an {@link InMemoryDedupStore}. */
    public static final class Builder {
        private Clock clock = Clock.systemUTC();
        private Duration lockTimeout = Duration.ofSeconds(30);
        private String name = "processed_events";

        private Builder() {
        }

        /** A name for logs and messages, e.g. the table it stands in for. Default {@code processed_events}. */
        public Builder name(String name) {
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("name must not be blank");
            }
            this.name = name;
            return this;
        }

        /** The clock that decides expiry; inject one you control to test retention. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** How long a delivery waits for a key another open transaction holds before failing. */
        public Builder lockTimeout(Duration lockTimeout) {
            if (lockTimeout == null || lockTimeout.isNegative() || lockTimeout.isZero()) {
                throw new IllegalArgumentException("lockTimeout must be positive, was " + lockTimeout);
            }
            this.lockTimeout = lockTimeout;
            return this;
        }

        public InMemoryDedupStore build() {
            return new InMemoryDedupStore(clock, lockTimeout, name);
        }
    }
}
