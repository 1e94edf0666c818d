package dev.oncely.jdbc.internal;

import java.sql.Connection;
import org.jdbi.v3.core.ConnectionFactory;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Handles;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wraps a connection the store already holds into a Jdbi {@link Handle} when a handler asks for one: the handle
 * never closes, commits or rolls back the connection. One per store, so lending costs a Handle, not a Jdbi.
 */
public final class HandleLender {

    private static final Logger log = LoggerFactory.getLogger(HandleLender.class);

    private final ThreadLocal<Connection> lent = new ThreadLocal<>();
    private final Jdbi jdbi;

    public HandleLender() {
        this.jdbi = Jdbi.create(new ConnectionFactory() {
            @Override
            public Connection openConnection() {
                Connection connection = lent.get();
                if (connection == null) {
                    throw new IllegalStateException("no connection lent on this thread");
                }
                return connection;
            }

            @Override
            public void closeConnection(Connection toClose) {
                // Its owner closes it.
            }
        });
        this.jdbi.getConfig(Handles.class).setForceEndTransactions(false);
    }

    /** A handle on {@code connection}; close it with {@link #closeQuietly} before the connection's owner does. */
    public Handle lend(Connection connection) {
        lent.set(connection);
        try {
            return jdbi.open();
        } finally {
            lent.remove();
        }
    }

    static void closeQuietly(Handle handle) {
        try {
            handle.close();
        } catch (RuntimeException e) {
            log.warn("Closing a lent Jdbi handle failed: {}", e.toString());
        }
    }
}
