package dev.oncely.jdbc.internal;

import dev.oncely.CommitOutcomeUnknownException;
import dev.oncely.TransientStoreException;
import dev.oncely.jdbc.ConnectionOwner;
import dev.oncely.spi.ClaimBatch;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import dev.oncely.spi.StoreTransaction;
import dev.oncely.spi.TransactionWork;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.JdbiException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place a JDBC store's transactions are begun, committed, rolled back, retried and have their SQL errors
 * translated: per message, batches, a caller's transaction, purges, partition maintenance and Kafka's offsets all
 * run here. Who owns the connection is a {@link ConnectionOwner}; the runner ends and re-runs only transactions
 * the owner's lease owns, never a caller's.
 *
 * <p>A transaction the database demands to be retried (serialization failure, deadlock: the dialect says which
 * errors) is rolled back and run again, up to {@code maxRetries} times with a short random back-off. A commit
 * whose connection was lost is a {@link CommitOutcomeUnknownException}; any other failure of the runner's own is
 * translated by {@link SqlErrors}. The work's own exceptions pass through unchanged, after the rollback.
 *
 * <p>The store's own transactions ({@code DedupStore.inTransaction}, {@code inClaimingTransaction},
 * {@code inClaimingBatchTransaction}) start here too, with the read before a claim that {@link ReadBeforeClaim}
 * asks for, and hand the work a {@link JdbcStoreTransaction}, whose claims run the dialect's SQL. So one message's
 * path reads in three files: {@code IdempotentHandler.process}, this class, and the dialect (docs/internals.md).
 */
public final class TransactionRunner {

    private static final Logger log = LoggerFactory.getLogger(TransactionRunner.class);

    /** Work on one attempt's connection; {@code attempt} counts from 1. */
    @FunctionalInterface
    public interface Work<T> {
        T execute(ConnectionOwner.Lease lease, int attempt) throws Exception;
    }

    private final SqlDialect dialect;
    private final SqlErrors errors;
    private final TableShape shape;
    private final int maxRetries;
    private final String description;
    /** Nanoseconds a claiming transaction may stay open (time-partitioned layout), or 0 for no limit. */
    private final long maxTransactionNanos;
    private volatile boolean durabilityChecked;
    /** The store's one adaptive choice: whether to read keys before claiming them. */
    private final ReadBeforeClaim readBeforeClaim;
    private final HandleLender lender = new HandleLender();
    private volatile boolean slowClaimWarned;

    public TransactionRunner(SqlDialect dialect, SqlErrors errors, TableShape shape, int maxRetries,
                             String description) {
        this.dialect = dialect;
        this.errors = errors;
        this.shape = shape;
        this.maxRetries = maxRetries;
        this.description = description;
        this.maxTransactionNanos = dialect.maxTransactionDuration().map(Duration::toNanos).orElse(0L);
        this.readBeforeClaim = new ReadBeforeClaim(dialect.findsLiveClaims());
    }

    // ------------------------------------------------------------------------- the store's own transactions

    /** {@code DedupStore.inTransaction}: {@code work} on a {@link JdbcStoreTransaction} of {@code owner}'s. */
    public <T> T inStoreTransaction(ConnectionOwner owner, TransactionWork<T> work) throws Exception {
        return inTransaction(owner, (lease, attempt) -> run(work, lease, false));
    }

    /**
     * {@code DedupStore.inClaimingTransaction}: while {@link ReadBeforeClaim} expects most keys to be duplicates,
     * reads the key first on a connection in autocommit mode; a live claim found that way is the answer, with no
     * transaction begun, nothing written and nothing locked. Otherwise, and on a miss, {@link #inStoreTransaction}
     * on the same connection, whose claim decides as always.
     */
    public <T> T inClaimingTransaction(ConnectionOwner owner, ClaimRequest request,
                                       Function<ClaimResult, T> ifDuplicate, TransactionWork<T> work)
            throws Exception {
        if (!readBeforeClaim.readFirst() || !shape.checked()) {
            return inStoreTransaction(owner, work);
        }
        return readFirst(owner, work, connection -> dialect.findLive(connection, request), live -> {
            readBeforeClaim.note(live);
            return ifDuplicate.apply(live);
        }, () -> "Looking up key '" + request.key() + "' of consumer '" + request.consumer() + "'");
    }

    /**
     * {@code DedupStore.inClaimingBatchTransaction}: as {@link #inClaimingTransaction} for a whole batch, while
     * {@link ReadBeforeClaim} expects whole batches of duplicates (a redelivered batch): the answer without a
     * transaction when every key has a live claim.
     */
    public <T> T inClaimingBatchTransaction(ConnectionOwner owner, ClaimBatch batch,
                                            Function<List<ClaimResult>, T> ifAllDuplicates, TransactionWork<T> work)
            throws Exception {
        if (!readBeforeClaim.batchReadBeforeTransaction() || !shape.checked() || batch.size() == 0) {
            return inStoreTransaction(owner, work);
        }
        return readFirst(owner, work, connection -> dialect.findAllLive(connection, batch), live -> {
            readBeforeClaim.noteBatch(live);
            return ifAllDuplicates.apply(live);
        }, () -> "Looking up a batch of " + batch.size() + " keys of consumer '" + batch.consumer() + "'");
    }

    @FunctionalInterface
    private interface Read<L> {
        Optional<L> read(Connection connection) throws SQLException;
    }

    /** The read before a transaction: its answer if it found one, else the transaction on the same connection. */
    private <L, T> T readFirst(ConnectionOwner owner, TransactionWork<T> work, Read<L> read, Function<L, T> answer,
                               java.util.function.Supplier<String> action) throws Exception {
        ConnectionOwner.Lease lease = acquire(owner);
        boolean autocommit;
        Optional<L> live;
        try {
            // A pool whose connections start transactions by themselves (autocommit off) would give the read a
            // snapshot the transaction then keeps: claim the usual way there.
            autocommit = lease.connection().getAutoCommit();
            live = autocommit ? read.read(lease.connection()) : Optional.empty();
        } catch (SQLException | RuntimeException e) {
            lease.close();
            if (e instanceof SQLException sql) {
                throw errors.translate(action.get(), sql);
            }
            throw e;
        }
        if (live.isPresent()) {
            lease.close();
            return answer.apply(live.get());
        }
        return inTransaction(owner, lease, (l, attempt) -> run(work, l, autocommit && attempt == 1));
    }

    private <T> T run(TransactionWork<T> work, ConnectionOwner.Lease lease, boolean keysJustRead) throws Exception {
        JdbcStoreTransaction tx = new JdbcStoreTransaction(lease, dialect, errors, lender, readBeforeClaim,
                keysJustRead);
        try {
            T result = work.execute(tx);
            Duration moved = tx.keepSlowClaimsLive();
            if (moved != null && !slowClaimWarned) {
                slowClaimWarned = true;
                log.warn("A transaction on {} was open for about {} ms, more than half the retention it claimed keys"
                        + " with ({}): their expiry was moved {} ms later so that they do not expire as they commit."
                        + " Retention must exceed the longest transaction plus the broker's redelivery window; raise"
                        + " it. (Logged once.)", description, moved.toMillis(), tx.shortestRetention(),
                        moved.toMillis());
            }
            return result;
        } finally {
            tx.close();
        }
    }

    // ------------------------------------------------------------------------- any transaction

    public SqlErrors errors() {
        return errors;
    }

    /** Whether the table's shape was checked and found complete ({@link TableShape}). */
    public boolean shapeChecked() {
        return shape.checked();
    }

    /** A connection of {@code owner}'s, for work outside {@link #inTransaction} (a read before the claim). */
    public ConnectionOwner.Lease acquire(ConnectionOwner owner) {
        try {
            return owner.acquire();
        } catch (SQLException | JdbiException e) {
            throw errors.noConnection(e);
        }
    }

    /** Runs {@code work} in a transaction of {@code owner}'s, as the class comment says. */
    public <T> T inTransaction(ConnectionOwner owner, Work<T> work) throws Exception {
        return inTransaction(owner, null, work);
    }

    /** {@link #inTransaction(ConnectionOwner, Work)} whose first attempt runs on {@code first} (then closed). */
    public <T> T inTransaction(ConnectionOwner owner, ConnectionOwner.Lease first, Work<T> work) throws Exception {
        for (int attempt = 1; ; attempt++) {
            ConnectionOwner.Lease lease = attempt == 1 && first != null ? first : acquire(owner);
            try {
                if (!durabilityChecked && lease.ownsTransaction()) {
                    checkDurability(lease);
                }
                if (!shape.checked()) {
                    checkShape(lease);
                }
                begin(lease);
                long started = System.nanoTime();
                T result;
                try {
                    result = work.execute(lease, attempt);
                    checkDuration(lease, started);
                } catch (Throwable failure) {
                    rollbackQuietly(lease, failure);
                    if (mayRetry(lease, attempt, failure)) {
                        continue;
                    }
                    throw failure;
                }
                try {
                    lease.commit();
                } catch (SQLException | JdbiException e) {
                    rollbackQuietly(lease, e);
                    if (mayRetry(lease, attempt, e)) {
                        // The database refused the commit and rolled back: nothing was written, so retrying is safe.
                        continue;
                    }
                    throw commitFailed(lease, e);
                }
                return result;
            } finally {
                lease.close();
            }
        }
    }

    /**
     * Runs {@code work} on a connection of {@code owner}'s in autocommit mode (each statement its own transaction:
     * purges, partition maintenance that cannot run in a transaction block), re-running it after a transient
     * failure like {@link #inTransaction}; an SQL error is translated as doing {@code action}.
     */
    public <T> T inAutocommit(ConnectionOwner owner, String action, Work<T> work) {
        for (int attempt = 1; ; attempt++) {
            ConnectionOwner.Lease lease = acquire(owner);
            try {
                return work.execute(lease, attempt);
            } catch (Exception e) {
                if (errors.isTransient(e)) {
                    if (attempt <= maxRetries) {
                        backOff(attempt, e);
                        continue;
                    }
                    SQLException sql = SqlErrors.findSql(e);
                    throw new TransientStoreException(action + " on " + description + " failed with a transient"
                            + " error: " + SqlErrors.rootMessage(e) + (sql == null ? "" : " (SQLState "
                            + sql.getSQLState() + ", error " + sql.getErrorCode() + ")") + ". It ran in transactions of its own, tried "
                            + attempt + " times (maxRetries " + maxRetries + "), and each rolled back; nothing of"
                            + " yours is involved and there is nothing for you to roll back. Whatever it did not do"
                            + " is done by a later run (RetentionPurger tries again at its next run).", e);
                }
                if (e instanceof RuntimeException runtime && !(e instanceof JdbiException)) {
                    throw runtime;
                }
                SQLException sql = SqlErrors.findSql(e);
                throw sql != null ? errors.translate(action, sql)
                        : new TransientStoreException(action + " on " + description + " failed: " + e, e);
            } finally {
                lease.close();
            }
        }
    }

    /**
     * Before the first claim can commit: in the caller's transaction, before the claim; on a connection of the
     * owner's, before the transaction begins (a pool without autocommit began one with the check: end it, so the
     * claim stays the first statement of the transaction that commits).
     */
    private void checkShape(ConnectionOwner.Lease lease) throws SQLException {
        shape.check(lease.connection());
        if (lease.ownsTransaction() && !lease.connection().getAutoCommit()) {
            lease.connection().rollback();
        }
    }

    private boolean mayRetry(ConnectionOwner.Lease lease, int attempt, Throwable failure) {
        if (lease.ownsTransaction() && attempt <= maxRetries && errors.isTransient(failure)) {
            backOff(attempt, failure);
            return true;
        }
        return false;
    }

    /**
     * Begins a transaction. A pooled connection whose server side died while it was idle (a terminated backend, a
     * restarted database) fails here: nothing was written yet, so say so instead of leaking Jdbi's exception.
     */
    private void begin(ConnectionOwner.Lease lease) {
        try {
            lease.begin();
        } catch (SQLException | JdbiException e) {
            throw new TransientStoreException("Could not begin a transaction on " + description + ": "
                    + SqlErrors.rootMessage(e) + ". The pooled connection was probably lost (database restarted,"
                    + " backend terminated); nothing was written. Do not acknowledge the message: its redelivery is"
                    + " processed normally.", e);
        }
    }

    private RuntimeException commitFailed(ConnectionOwner.Lease lease, Exception e) {
        if (SqlErrors.isConnectionLoss(e, lease.connection())) {
            return new CommitOutcomeUnknownException("Commit outcome unknown on " + description + ": the connection"
                    + " was lost during the commit (" + SqlErrors.rootMessage(e) + "), so the claim and the business"
                    + " writes either both committed or both did not. Do not acknowledge the message: its"
                    + " redelivery is then processed once or reported as a duplicate.", e);
        }
        SQLException sql = SqlErrors.findSql(e);
        if (sql != null) {
            return errors.translate("Committing", sql);
        }
        return new TransientStoreException("Commit failed on " + description + ": " + SqlErrors.rootMessage(e)
                + ". The database refused the commit, so nothing was written. Do not acknowledge the message; its"
                + " redelivery is processed normally.", e);
    }

    /**
     * Once per store: warns if the database acknowledges commits before they are durable (PostgreSQL's
     * synchronous_commit=off), because a message acknowledged after such a commit is lost if the server crashes.
     */
    private void checkDurability(ConnectionOwner.Lease lease) {
        durabilityChecked = true;
        try {
            dialect.durabilityWarning(lease.connection()).ifPresent(w -> log.warn("{}: {}", description, w));
        } catch (SQLException e) {
            // Checked again next time; if the connection is dead, begin() reports it.
            durabilityChecked = false;
            log.debug("Could not check commit durability on {}: {}", description, e.toString());
        }
    }

    /**
     * Time-partitioned layout: a claiming transaction open longer than 40% of the overlap could let a later claim of
     * the same key in the next partition miss it, so it must not commit.
     */
    private void checkDuration(ConnectionOwner.Lease lease, long started) {
        if (maxTransactionNanos == 0 || !lease.claimed()) {
            return; // a transaction that only found duplicates wrote no claim another one could miss
        }
        long elapsed = System.nanoTime() - started;
        if (elapsed > maxTransactionNanos) {
            throw new TransientStoreException("The transaction on " + description + " was open for "
                    + Duration.ofNanos(elapsed).toMillis() + " ms, longer than 40% of the partition overlap ("
                    + Duration.ofNanos(maxTransactionNanos).toMillis() + " ms), the longest a claiming transaction"
                    + " may last in the time-partitioned layout for exactly-once to hold at a partition boundary."
                    + " It " + (lease.ownsTransaction() ? "rolled back" : "must be rolled back (roll your"
                    + " transaction back)") + ", so nothing it wrote counts: do not acknowledge the message. Make the"
                    + " overlap longer (timePartitioned(partitionLength, overlap)) or the handler faster.");
        }
    }

    private void backOff(int attempt, Throwable cause) {
        log.debug("Retrying transaction on {} after a transient failure (attempt {} of {}): {}", description,
                attempt, maxRetries, cause.toString());
        long maxMillis = Math.min(100, 1L << Math.min(attempt + 1, 6));
        try {
            Thread.sleep(ThreadLocalRandom.current().nextLong(maxMillis + 1));
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw new TransientStoreException("Interrupted while retrying a transaction on " + description, ie);
        }
    }

    private static void rollbackQuietly(ConnectionOwner.Lease lease, Throwable primary) {
        try {
            lease.rollback();
        } catch (SQLException | RuntimeException e) {
            primary.addSuppressed(e);
        }
    }

    /**
     * The claim operations of one attempt of a JDBC store's transaction: each runs the dialect's SQL on the lease's
     * connection and translates its SQL errors. Handlers reach the connection, or a Jdbi handle on it, through
     * {@link #resource}.
     */
    static final class JdbcStoreTransaction implements StoreTransaction {

        private final ConnectionOwner.Lease lease;
        private final SqlDialect dialect;
        private final SqlErrors errors;
        private final HandleLender lender;
        /** The store's strategy: which claim to send, and told each claim's answers. */
        private final ReadBeforeClaim readBeforeClaim;
        /** Whether the store read this transaction's key(s) just before beginning it, and did not find them all live. */
        private final boolean keyJustRead;
        private final long started = System.nanoTime();
        /** Keys this transaction claimed with a retention, as (consumer, keys) per claim call (null until one is). */
        private List<Map.Entry<String, List<String>>> claimedWithExpiry;
        private Duration shortestRetention;
        private Handle lentHandle;

        JdbcStoreTransaction(ConnectionOwner.Lease lease, SqlDialect dialect, SqlErrors errors,
                                    HandleLender lender, ReadBeforeClaim readBeforeClaim, boolean keyJustRead) {
            this.lease = lease;
            this.dialect = dialect;
            this.errors = errors;
            this.lender = lender;
            this.readBeforeClaim = readBeforeClaim;
            this.keyJustRead = keyJustRead;
        }

        @Override
        public ClaimResult claim(ClaimRequest request) {
            try {
                // A key the store has just read and not found is claimed plainly: it is most likely fresh.
                ClaimResult result = !keyJustRead && readBeforeClaim.readFirst()
                        ? dialect.claimReadingFirst(lease.connection(), request)
                        : dialect.claim(lease.connection(), request);
                readBeforeClaim.note(result);
                noteClaim(request, result);
                return result;
            } catch (SQLException e) {
                throw errors.translate("Claiming key '" + request.key() + "' of consumer '" + request.consumer() + "'", e);
            }
        }

        @Override
        public ClaimResult claimWithResult(ClaimRequest request, byte[] result) {
            try {
                ClaimResult claim = dialect.claimWithResult(lease.connection(), request, result);
                readBeforeClaim.note(claim);
                noteClaim(request, claim);
                return claim;
            } catch (SQLException e) {
                throw errors.translate("Claiming key '" + request.key() + "' of consumer '" + request.consumer()
                        + "' with its result", e);
            }
        }

        @Override
        public List<ClaimResult> claimAll(ClaimBatch batch) {
            List<ClaimResult> results;
            try {
                // Keys the store has just read, not all live, are claimed plainly: some of them are fresh.
                results = !keyJustRead && readBeforeClaim.batchReadFirst()
                        ? dialect.claimAllReadingFirst(lease.connection(), batch)
                        : dialect.claimAll(lease.connection(), batch);
            } catch (SQLException e) {
                throw errors.translate("Claiming a batch of " + batch.size() + " keys", e);
            }
            readBeforeClaim.noteBatch(results);
            List<String> claimed = null;
            for (int i = 0; i < results.size(); i++) {
                if (results.get(i).claimed()) {
                    if (batch.retention().isEmpty()) {
                        lease.markClaimed();
                        break; // nothing to remember per key: the claims never expire
                    }
                    claimed = claimed != null ? claimed : new ArrayList<>(results.size() - i);
                    claimed.add(batch.keys().get(i).key());
                }
            }
            if (claimed != null) {
                lease.markClaimed();
                rememberExpiring(batch.consumer(), claimed, batch.retention().get());
            }
            return results;
        }

        private void noteClaim(ClaimRequest request, ClaimResult result) {
            if (!result.claimed()) {
                return;
            }
            lease.markClaimed();
            if (request.retention().isPresent()) {
                List<String> key = new ArrayList<>(1);
                key.add(request.key());
                rememberExpiring(request.consumer(), key, request.retention().get());
            }
        }

        /** Keys claimed with a retention, for {@link #keepSlowClaimsLive}: one list per claim call, no per-key lookup. */
        private void rememberExpiring(String consumer, List<String> keys, Duration retention) {
            if (claimedWithExpiry == null) {
                claimedWithExpiry = new ArrayList<>();
            }
            claimedWithExpiry.add(Map.entry(consumer, keys));
            if (shortestRetention == null || retention.compareTo(shortestRetention) < 0) {
                shortestRetention = retention;
            }
        }

        /**
         * Called when the work is done, before the commit. A claim's retention is counted from the claim (the
         * database's now() then), so a transaction open for longer than its retention would commit a key that has
         * already expired, and a redelivery waiting on the key would reclaim it the moment it became visible and run
         * the handler a second time. Once a transaction has been open for more than half the shortest retention it
         * claimed with, its keys' expiry moves later by the whole time it has been open (measured from before its
         * work began, so at least as long as by the database clock): they commit with at least their full retention
         * left. Faster transactions commit with more than half of it left and pay nothing. In a caller's transaction
         * the time between the end of processIn and the caller's commit is not seen here; docs/guarantees.md states
         * the rule for that case.
         *
         * @return how long the expiry was moved, or null if the transaction was fast enough
         */
        public Duration keepSlowClaimsLive() {
            if (shortestRetention == null) {
                return null;
            }
            long elapsed = System.nanoTime() - started;
            if (elapsed <= shortestRetention.toNanos() / 2) {
                return null;
            }
            Duration by = Duration.ofMillis(Duration.ofNanos(elapsed).toMillis() + 1);
            try {
                for (Map.Entry<String, List<String>> e : claimedWithExpiry) {
                    dialect.extendExpiry(lease.connection(), e.getKey(), e.getValue(), by);
                }
            } catch (SQLException e) {
                throw errors.translate("Moving the expiry of keys claimed by a slow transaction", e);
            }
            return by;
        }

        /** The shortest retention this transaction claimed a key with, if any. */
        public Duration shortestRetention() {
            return shortestRetention;
        }

        @Override
        public void saveResult(String consumer, String key, byte[] result) {
            saveResults(consumer, Map.of(key, result));
        }

        @Override
        public void saveResults(String consumer, Map<String, byte[]> resultsByKey) {
            try {
                dialect.saveResults(lease.connection(), consumer, resultsByKey);
            } catch (SQLException e) {
                throw errors.translate("Saving the results of " + resultsByKey.size() + " keys", e);
            }
        }

        @Override
        public <T> Optional<T> resource(Class<T> type) {
            if (type == Connection.class) {
                return Optional.of(type.cast(lease.connection()));
            }
            if (type == Handle.class) {
                return Optional.of(type.cast(handle()));
            }
            return Optional.empty();
        }

        @Override
        public Set<Class<?>> resourceTypes() {
            return Set.of(Connection.class, Handle.class);
        }

        private Handle handle() {
            if (lease.handle() != null) {
                return lease.handle();
            }
            if (lentHandle == null) {
                lentHandle = lender.lend(lease.connection());
            }
            return lentHandle;
        }

        /** Closes a handle lent on a bare connection, leaving the connection and its transaction as they are. */
        public void close() {
            if (lentHandle != null) {
                HandleLender.closeQuietly(lentHandle);
                lentHandle = null;
            }
        }
    }
}
