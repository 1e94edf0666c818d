package dev.oncely.jdbc.internal;

import dev.oncely.MisconfigurationException;
import dev.oncely.jdbc.ConnectionOwner;
import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The built-in {@link ConnectionOwner}s the {@link TransactionRunner} runs on: the store's pool ({@link #pool}),
 * the caller's Jdbi ({@link #jdbi}), or a transaction the caller already has open ({@link #caller}), which is
 * joined and never ended or retried.
 */
public final class ConnectionOwners {

    private static final Logger log = LoggerFactory.getLogger(ConnectionOwners.class);

    private ConnectionOwners() {
    }

    /** Transactions on plain JDBC, on connections of a pool. */
    public static ConnectionOwner pool(DataSource dataSource) {
        return new ConnectionOwner() {
            @Override
            public Lease acquire() throws SQLException {
                return new PooledLease(dataSource.getConnection());
            }

            @Override
            public String toString() {
                return "the pool of " + dataSource;
            }
        };
    }

    /** Transactions through handles of the caller's Jdbi, so its transaction handler applies. */
    public static ConnectionOwner jdbi(Jdbi jdbi) {
        return new ConnectionOwner() {
            @Override
            public Lease acquire() {
                Handle handle = jdbi.open();
                return new JdbiLease(handle);
            }

            @Override
            public String toString() {
                return "handles of " + jdbi;
            }
        };
    }

    /**
     * The caller's open transaction on {@code connection} (and its Jdbi {@code handle}, or null): never begun,
     * committed, rolled back, closed or retried here. Refused up front if the connection is in autocommit mode.
     */
    public static ConnectionOwner caller(Connection connection, Handle handle) {
        return new ConnectionOwner() {
            @Override
            public Lease acquire() throws SQLException {
                if (connection.getAutoCommit()) {
                    throw new MisconfigurationException("The caller's connection is in autocommit mode, so the claim"
                            + " would commit on its own, before your business writes. Begin a transaction first"
                            + " (connection.setAutoCommit(false), handle.begin(), or your framework's transaction),"
                            + " then call processIn inside it.");
                }
                return new CallerLease(connection, handle);
            }
        };
    }

    static void warnCloseFailed(Exception e) {
        log.warn("Closing a connection failed: {}", e.toString());
    }

    private static final class PooledLease extends ConnectionOwner.Lease {
        /** Autocommit was switched off by {@link #begin} and is to be switched back once the transaction ended. */
        private boolean restoreAutoCommit;
        private boolean inTransaction;

        PooledLease(Connection connection) {
            super(connection);
        }

        @Override
        public void begin() throws SQLException {
            if (connection().getAutoCommit()) {
                connection().setAutoCommit(false);
                restoreAutoCommit = true;
            }
            inTransaction = true;
        }

        @Override
        public void commit() throws SQLException {
            connection().commit();
            inTransaction = false;
        }

        @Override
        public void rollback() throws SQLException {
            connection().rollback();
            inTransaction = false;
        }

        @Override
        public void close() {
            try {
                try {
                    // Never while a transaction may be open: switching autocommit on would commit it. A pool rolls
                    // an unfinished transaction back when the connection comes back (HikariCP does).
                    if (restoreAutoCommit && !inTransaction) {
                        connection().setAutoCommit(true);
                    }
                } finally {
                    connection().close();
                }
            } catch (SQLException | RuntimeException e) {
                warnCloseFailed(e);
            }
        }
    }

    private static final class JdbiLease extends ConnectionOwner.Lease {
        private final Handle handle;

        JdbiLease(Handle handle) {
            super(handle.getConnection());
            this.handle = handle;
        }

        @Override
        public Handle handle() {
            return handle;
        }

        @Override
        public void begin() {
            handle.begin();
        }

        @Override
        public void commit() {
            handle.commit();
        }

        @Override
        public void rollback() {
            handle.rollback();
        }

        @Override
        public void close() {
            try {
                handle.close();
            } catch (RuntimeException e) {
                warnCloseFailed(e);
            }
        }
    }

    private static final class CallerLease extends ConnectionOwner.Lease {
        private final Handle handle;

        CallerLease(Connection connection, Handle handle) {
            super(connection);
            this.handle = handle;
        }

        @Override
        public Handle handle() {
            return handle;
        }

        @Override
        public boolean ownsTransaction() {
            return false;
        }

        @Override
        public void begin() {
            // The caller's transaction is open already.
        }

        @Override
        public void commit() {
            // The caller commits.
        }

        @Override
        public void rollback() {
            // The caller rolls back: the failure reaches them unchanged.
        }

        @Override
        public void close() {
            // The caller closes.
        }
    }
}
