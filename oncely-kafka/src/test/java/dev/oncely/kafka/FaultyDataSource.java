package dev.oncely.kafka;

import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * A data source whose connections fail on demand, as a database or a network does: statements whose SQL contains
 * a given text throw an SQLException with a given SQLState instead of running, and commits fail before or after
 * really committing (a commit refused, or the reply to a commit lost).
 */
final class FaultyDataSource implements DataSource {

    /** What a commit does when a commit fault is armed. */
    enum CommitFault {
        /** Rolls back and throws 40001: the database refused the commit (serialization failure at commit). */
        REFUSED,
        /** Commits, then throws 08006: the connection died before the reply arrived. */
        REPLY_LOST_AFTER_COMMIT,
        /** Rolls back, then throws 08006: the connection died before the commit arrived. */
        LOST_BEFORE_COMMIT
    }

    private final DataSource real;
    private final AtomicInteger statementFaults = new AtomicInteger();
    private volatile String statementText = "";
    private volatile String statementState = "40001";
    private final AtomicInteger commitFaults = new AtomicInteger();
    private final AtomicReference<CommitFault> commitFault = new AtomicReference<>(CommitFault.REFUSED);
    final AtomicInteger injected = new AtomicInteger();

    FaultyDataSource(DataSource real) {
        this.real = real;
    }

    /** The next {@code times} statements whose SQL contains {@code sqlText} throw SQLState {@code state}. */
    FaultyDataSource failStatements(String sqlText, String state, int times) {
        statementText = sqlText;
        statementState = state;
        statementFaults.set(times);
        return this;
    }

    /** The next {@code times} commits fail as {@code fault} says. */
    FaultyDataSource failCommits(CommitFault fault, int times) {
        commitFault.set(fault);
        commitFaults.set(times);
        return this;
    }

    @Override
    public Connection getConnection() throws SQLException {
        return wrap(real.getConnection());
    }

    @Override
    public Connection getConnection(String username, String password) throws SQLException {
        return wrap(real.getConnection(username, password));
    }

    private Connection wrap(Connection connection) {
        return (Connection) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("commit") && commitFaults.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                        injected.incrementAndGet();
                        switch (commitFault.get()) {
                            case REFUSED -> {
                                connection.rollback();
                                throw new SQLException("injected: could not serialize access (at commit)", "40001");
                            }
                            case REPLY_LOST_AFTER_COMMIT -> {
                                connection.commit();
                                throw new SQLException("injected: connection reset after COMMIT was sent", "08006");
                            }
                            case LOST_BEFORE_COMMIT -> {
                                connection.rollback();
                                throw new SQLException("injected: connection reset before COMMIT was sent", "08006");
                            }
                        }
                    }
                    Object result = invoke(method, connection, args);
                    if (method.getName().equals("prepareStatement") && args != null && args[0] instanceof String sql) {
                        return wrapStatement((PreparedStatement) result, sql);
                    }
                    return result;
                });
    }

    private PreparedStatement wrapStatement(PreparedStatement statement, String sql) {
        return (PreparedStatement) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {PreparedStatement.class}, (proxy, method, args) -> {
                    if (method.getName().startsWith("execute") && sql.contains(statementText)
                            && statementFaults.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                        injected.incrementAndGet();
                        throw new SQLException("injected failure of: " + sql, statementState);
                    }
                    return invoke(method, statement, args);
                });
    }

    private static Object invoke(java.lang.reflect.Method method, Object target, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    @Override
    public PrintWriter getLogWriter() throws SQLException {
        return real.getLogWriter();
    }

    @Override
    public void setLogWriter(PrintWriter out) throws SQLException {
        real.setLogWriter(out);
    }

    @Override
    public void setLoginTimeout(int seconds) throws SQLException {
        real.setLoginTimeout(seconds);
    }

    @Override
    public int getLoginTimeout() throws SQLException {
        return real.getLoginTimeout();
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
        return real.getParentLogger();
    }

    @Override
    public <T> T unwrap(Class<T> iface) throws SQLException {
        throw new SQLException("not a wrapper");
    }

    @Override
    public boolean isWrapperFor(Class<?> iface) {
        return false;
    }
}
