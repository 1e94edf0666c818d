package dev.oncely.jdbc.internal;

import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import dev.oncely.spi.StoreTransaction;
import java.sql.Connection;
import java.sql.SQLException;
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
            if (result.claimed()) {
                lease.markClaimed();
            }
            return result;
        } catch (SQLException e) {
            throw errors.translate("Claiming key '" + request.key() + "' of consumer '" + request.consumer() + "'", e);
        }
    }

    @Override
    public List<ClaimResult> claimAll(List<ClaimRequest> requests) {
        try {
            List<ClaimResult> results = dialect.claimAll(lease.connection(), requests);
            for (ClaimResult r : results) {
                if (r.claimed()) {
                    lease.markClaimed();
                    break;
                }
            }
            return results;
        } catch (SQLException e) {
            throw errors.translate("Claiming a batch of " + requests.size() + " keys", e);
        }
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
