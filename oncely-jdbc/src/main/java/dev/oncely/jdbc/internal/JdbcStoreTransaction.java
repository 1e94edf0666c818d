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
import java.util.HashMap;
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
    /** The request whose key was read and not found just before this transaction began, if any. */
    private final ClaimRequest lookedUp;
    private final long started = System.nanoTime();
    /** Keys this transaction claimed with a retention, by consumer (null until one is), and the shortest one. */
    private Map<String, List<String>> claimedWithExpiry;
    private Duration shortestRetention;
    private Handle lentHandle;

    public JdbcStoreTransaction(ConnectionOwner.Lease lease, SqlDialect dialect, SqlErrors errors,
                                HandleLender lender, ClaimRequest lookedUp) {
        this.lease = lease;
        this.dialect = dialect;
        this.errors = errors;
        this.lender = lender;
        this.lookedUp = lookedUp;
    }

    @Override
    public ClaimResult claim(ClaimRequest request) {
        try {
            ClaimResult result = request == lookedUp
                    ? dialect.claimAfterMiss(lease.connection(), request)
                    : dialect.claim(lease.connection(), request);
            noteClaim(request, result);
            return result;
        } catch (SQLException e) {
            throw errors.translate("Claiming key '" + request.key() + "' of consumer '" + request.consumer() + "'", e);
        }
    }

    @Override
    public List<ClaimResult> claimAll(ClaimBatch batch) {
        try {
            List<ClaimResult> results = dialect.claimAll(lease.connection(), batch);
            for (int i = 0; i < results.size(); i++) {
                noteClaim(batch.request(i), results.get(i));
            }
            return results;
        } catch (SQLException e) {
            throw errors.translate("Claiming a batch of " + batch.size() + " keys", e);
        }
    }

    private void noteClaim(ClaimRequest request, ClaimResult result) {
        if (!result.claimed()) {
            return;
        }
        lease.markClaimed();
        if (request.retention().isPresent()) {
            Duration retention = request.retention().get();
            if (claimedWithExpiry == null) {
                claimedWithExpiry = new HashMap<>();
            }
            claimedWithExpiry.computeIfAbsent(request.consumer(), c -> new ArrayList<>()).add(request.key());
            if (shortestRetention == null || retention.compareTo(shortestRetention) < 0) {
                shortestRetention = retention;
            }
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
            for (Map.Entry<String, List<String>> e : claimedWithExpiry.entrySet()) {
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
