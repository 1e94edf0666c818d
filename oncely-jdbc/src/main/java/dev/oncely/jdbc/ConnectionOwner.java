package dev.oncely.jdbc;

import java.sql.Connection;
import java.sql.SQLException;
import org.jdbi.v3.core.Handle;

/**
 * Who owns the connection a {@link JdbcDedupStore} transaction runs on, and so who begins, commits, rolls back and
 * closes it. The store's one transaction runner drives every transaction through a strategy of this kind; by
 * default it is the pool of the {@link javax.sql.DataSource} (or the {@link org.jdbi.v3.core.Jdbi}) the store was
 * built on. Integrations plug in their own with {@link JdbcDedupStoreBuilder#connections(ConnectionOwner)}:
 * oncely-spring's joins the Spring-managed transaction.
 *
 * <p>A small SPI: an implementation returns a {@link Lease} per attempt. A lease that {@linkplain
 * Lease#ownsTransaction() owns} its transaction is begun, committed or rolled back by the runner, and the whole unit
 * may be run again (on a new lease) after a serialization failure or deadlock. A lease that joins a transaction
 * someone else ends returns {@code false} there: the runner then never ends it and never retries, and a failure
 * reaches that someone else, who must roll back. See docs/writing-a-store.md.
 */
public abstract class ConnectionOwner {

    /** Constructor for implementations. */
    protected ConnectionOwner() {
    }

    /** A connection for one attempt: a new lease each time, closed by the runner when the attempt ends. */
    public abstract Lease acquire() throws SQLException;

    /** One attempt's connection, and the transaction on it. */
    public abstract static class Lease {
        private final Connection connection;
        private boolean claimed;

        /** A lease of {@code connection}, which must stay open until {@link #close()}. */
        protected Lease(Connection connection) {
            if (connection == null) {
                throw new IllegalArgumentException("connection is null: a lease needs the connection the"
                        + " transaction runs on.");
            }
            this.connection = connection;
        }

        /** The connection the claim and the handler's writes run on. */
        public final Connection connection() {
            return connection;
        }

        /** The Jdbi handle the connection came with, or null for a bare connection. */
        public Handle handle() {
            return null;
        }

        /**
         * Whether the transaction is this lease's own: the runner ends it, and may run the work again on a new
         * lease. False for a transaction someone else began and ends: then {@link #begin}, {@link #commit} and
         * {@link #rollback} are called all the same, and must leave that transaction to its owner.
         */
        public boolean ownsTransaction() {
            return true;
        }

        /** Records that the transaction wrote a claim (the time-partitioned layout bounds such transactions). */
        public final void markClaimed() {
            claimed = true;
        }

        /** Whether {@link #markClaimed()} was called: read by the store's runner. */
        public final boolean claimed() {
            return claimed;
        }

        /** Begins the transaction (if it is not begun already), before the work runs. */
        public abstract void begin() throws SQLException;

        /** Commits the transaction the work ran in. */
        public abstract void commit() throws SQLException;

        /** Rolls the transaction back, after the work or the commit failed. */
        public abstract void rollback() throws SQLException;

        /** Gives the connection back; never throws. Called once per lease, also after a failure. */
        public abstract void close();
    }
}
