package dev.oncely.jdbc.internal;

import dev.oncely.spi.ClaimBatch;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import dev.oncely.spi.StoreTransaction;
import dev.oncely.jdbc.ConnectionOwner;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jdbi.v3.core.Handle;

/**
 * The claim operations of one attempt of a JDBC store's transaction: each runs the dialect's SQL on the lease's
 * connection and translates its SQL errors. Handlers reach the connection, or a Jdbi handle on it, through
 * {@link #resource}.
 */
public final class JdbcStoreTransaction implements StoreTransaction {

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

    public JdbcStoreTransaction(ConnectionOwner.Lease lease, SqlDialect dialect, SqlErrors errors,
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
