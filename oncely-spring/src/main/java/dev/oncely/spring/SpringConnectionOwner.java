package dev.oncely.spring;

import dev.oncely.MisconfigurationException;
import dev.oncely.TransientStoreException;
import dev.oncely.jdbc.ConnectionOwner;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.jdbc.JdbcDedupStoreBuilder;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Objects;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataAccessException;
import org.springframework.jdbc.datasource.ConnectionHolder;
import org.springframework.jdbc.datasource.DataSourceUtils;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.TransactionDefinition;
import org.springframework.transaction.TransactionException;
import org.springframework.transaction.TransactionStatus;
import org.springframework.transaction.support.DefaultTransactionDefinition;
import org.springframework.transaction.support.TransactionSynchronizationManager;
import org.springframework.util.ClassUtils;

/**
 * Claims in the Spring-managed transaction: a {@link ConnectionOwner} for {@link JdbcDedupStore} that gets its
 * connection the way Spring's own JDBC code does ({@link DataSourceUtils}), so the claim, {@code JdbcTemplate} writes
 * and JPA repository writes on the same DataSource commit or roll back together. Works with
 * {@code DataSourceTransactionManager}, {@code JdbcTransactionManager} and {@code JpaTransactionManager} (whose
 * DataSource must be the store's).
 *
 * <ul>
 *   <li>A Spring transaction is active on the store's DataSource: the claim joins it. Spring ends it, so the store
 *   never commits, never retries (a serialization failure or deadlock reaches you as a
 *   {@link TransientStoreException}, and the transaction must roll back), and on a failure marks it rollback-only.
 *   </li>
 *   <li>No transaction is active: one is begun through the {@link PlatformTransactionManager} (propagation
 *   REQUIRED), committed or rolled back through it, and run again whole after a serialization failure or deadlock,
 *   as the store's own transactions are.</li>
 *   <li>A transaction is active, but on another DataSource (or the transaction manager manages another one): the
 *   claim is refused with a {@link MisconfigurationException}, since it could not commit with your writes.</li>
 * </ul>
 *
 * <pre>{@code
 * JdbcDedupStore store = SpringConnectionOwner.storeBuilder(dataSource, transactionManager).build();
 * }</pre>
 */
public final class SpringConnectionOwner extends ConnectionOwner {

    private static final Logger log = LoggerFactory.getLogger(SpringConnectionOwner.class);
    private static final boolean JPA_PRESENT = ClassUtils.isPresent("org.springframework.orm.jpa.EntityManagerHolder",
            SpringConnectionOwner.class.getClassLoader())
            && ClassUtils.isPresent("jakarta.persistence.EntityManager", SpringConnectionOwner.class.getClassLoader());

    private final DataSource dataSource;
    private final PlatformTransactionManager transactionManager;
    private final TransactionDefinition definition;

    private SpringConnectionOwner(DataSource dataSource, PlatformTransactionManager transactionManager) {
        this.dataSource = dataSource;
        this.transactionManager = transactionManager;
        DefaultTransactionDefinition required = new DefaultTransactionDefinition(
                TransactionDefinition.PROPAGATION_REQUIRED);
        required.setName("oncely claim");
        this.definition = required;
    }

    /** Connections of {@code dataSource} in the transactions {@code transactionManager} manages. */
    public static SpringConnectionOwner of(DataSource dataSource, PlatformTransactionManager transactionManager) {
        if (dataSource == null) {
            throw new IllegalArgumentException("dataSource is null: pass the DataSource your transaction manager"
                    + " manages (the application's DataSource bean).");
        }
        if (transactionManager == null) {
            throw new IllegalArgumentException("transactionManager is null: pass the application's"
                    + " PlatformTransactionManager (DataSourceTransactionManager, JdbcTransactionManager or"
                    + " JpaTransactionManager).");
        }
        return new SpringConnectionOwner(dataSource, transactionManager);
    }

    /** A store builder on {@code dataSource} whose transactions are Spring's ({@link #of}). */
    public static JdbcDedupStoreBuilder storeBuilder(DataSource dataSource,
                                                      PlatformTransactionManager transactionManager) {
        return JdbcDedupStore.builder(dataSource).connections(of(dataSource, transactionManager));
    }

    /** The DataSource claims are written through. */
    public DataSource dataSource() {
        return dataSource;
    }

    @Override
    public Lease acquire() throws SQLException {
        if (TransactionSynchronizationManager.isActualTransactionActive()) {
            if (TransactionSynchronizationManager.getResource(dataSource) == null) {
                throw new MisconfigurationException("A Spring transaction is active ("
                        + describeCurrent() + "), but not on the DataSource of the Oncely store (" + dataSource
                        + "): the claim would commit apart from your writes, so it is refused. Use one DataSource"
                        + " for the claims and the business writes, and a transaction manager on it"
                        + " (DataSourceTransactionManager, JdbcTransactionManager, or JpaTransactionManager whose"
                        + " DataSource is that one); with several transaction managers, name the right one in"
                        + " @Transactional(\"...\").");
            }
            if (log.isDebugEnabled()) {
                log.debug("Joining the active Spring transaction {}", describeCurrent());
            }
            return new JoinedLease(connection(), dataSource);
        }
        TransactionStatus status;
        try {
            status = transactionManager.getTransaction(definition);
        } catch (TransactionException e) {
            throw new TransientStoreException("Could not begin a transaction through " + transactionManager + ": "
                    + e.getMessage() + ". Nothing was written. Do not acknowledge the message: its redelivery is"
                    + " processed normally.", e);
        }
        try {
            if (TransactionSynchronizationManager.getResource(dataSource) == null) {
                throw new MisconfigurationException("The transaction manager " + transactionManager + " began a"
                        + " transaction, but not on the DataSource of the Oncely store (" + dataSource + "), so the"
                        + " claim could not commit with your writes; it is refused. Give the store the transaction"
                        + " manager of its DataSource (a JpaTransactionManager needs that DataSource set, as Spring"
                        + " Boot does).");
            }
            return new OwnedLease(connection(), dataSource, transactionManager, status);
        } catch (SQLException | RuntimeException e) {
            // Never leave a transaction begun here bound to the thread: the next claim would join it.
            if (!status.isCompleted()) {
                try {
                    transactionManager.rollback(status);
                } catch (RuntimeException rollback) {
                    e.addSuppressed(rollback);
                }
            }
            throw e;
        }
    }

    private Connection connection() throws SQLException {
        try {
            return DataSourceUtils.getConnection(dataSource);
        } catch (DataAccessException e) {
            throw sqlOf(e);
        }
    }

    private static String describeCurrent() {
        String name = TransactionSynchronizationManager.getCurrentTransactionName();
        return name == null ? "unnamed" : name;
    }

    /**
     * The SQLException behind a Spring exception, with its SQLState and vendor code, so the store's runner decides
     * about retries, lost connections and translation exactly as for its own transactions.
     */
    static SQLException sqlOf(RuntimeException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql) {
                return new SQLException(e.getMessage(), sql.getSQLState(), sql.getErrorCode(), e);
            }
        }
        return new SQLException(e.getMessage(), null, 0, e);
    }

    @Override
    public String toString() {
        return "Spring-managed transactions on " + dataSource + " through " + transactionManager;
    }

    /** A transaction Spring began for someone else: joined, never ended here. */
    private static final class JoinedLease extends Lease {
        private final DataSource dataSource;

        JoinedLease(Connection connection, DataSource dataSource) {
            super(connection);
            this.dataSource = dataSource;
        }

        @Override
        public boolean ownsTransaction() {
            return false;
        }

        @Override
        public void begin() {
            // Spring began it.
        }

        @Override
        public void commit() {
            // Spring commits it when the outermost transactional scope ends.
        }

        /**
         * The failure reaches the caller, whose transaction rolls back if it propagates. If someone catches it, the
         * claim and the writes before it must still not commit: the transaction is marked rollback-only as a whole
         * (global, as Spring marks a failed participating scope), so its commit rolls back and throws
         * {@code UnexpectedRollbackException} instead of silently committing or silently rolling back.
         */
        @Override
        public void rollback() {
            if (TransactionSynchronizationManager.getResource(dataSource) instanceof ConnectionHolder holder) {
                holder.setRollbackOnly(); // what Data/JdbcTransactionManager's commit checks
            }
            if (JPA_PRESENT) { // JpaTransactionManager's commit checks the EntityManager's transaction instead
                for (Object holder : TransactionSynchronizationManager.getResourceMap().values()) {
                    JpaRollback.markRollbackOnly(holder);
                }
            }
        }

        @Override
        public void close() {
            DataSourceUtils.releaseConnection(connection(), dataSource);
        }
    }

    /** A transaction begun here through the transaction manager, ended here, and retried by the runner. */
    private static final class OwnedLease extends Lease {
        private final DataSource dataSource;
        private final PlatformTransactionManager transactionManager;
        private final TransactionStatus status;
        private boolean released;

        OwnedLease(Connection connection, DataSource dataSource, PlatformTransactionManager transactionManager,
                   TransactionStatus status) {
            super(connection);
            this.dataSource = dataSource;
            this.transactionManager = transactionManager;
            this.status = status;
        }

        @Override
        public void begin() {
            // Begun by acquire(), through the transaction manager.
        }

        @Override
        public void commit() throws SQLException {
            release();
            try {
                transactionManager.commit(status);
            } catch (TransactionException e) {
                throw sqlOf(e);
            }
        }

        @Override
        public void rollback() throws SQLException {
            release();
            if (status.isCompleted()) {
                return; // a failed commit was rolled back by the transaction manager already
            }
            try {
                transactionManager.rollback(status);
            } catch (TransactionException e) {
                throw sqlOf(e);
            }
        }

        @Override
        public void close() {
            try {
                if (!status.isCompleted()) {
                    rollback(); // an attempt that ended before commit (a duplicate found by a read)
                }
            } catch (SQLException | RuntimeException e) {
                log.warn("Rolling back an Oncely transaction on close failed: {}", e.toString());
            } finally {
                release();
            }
        }

        /** Gives the connection back to Spring while its transaction is still bound, as JdbcTemplate does. */
        private void release() {
            if (!released) {
                released = true;
                DataSourceUtils.releaseConnection(connection(), dataSource);
            }
        }
    }
}
