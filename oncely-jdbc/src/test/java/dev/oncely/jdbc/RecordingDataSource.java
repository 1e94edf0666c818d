package dev.oncely.jdbc;

import java.io.PrintWriter;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * A DataSource that records the JDBC calls a store makes on its connections: getConnection, prepareStatement
 * (as "prepare" and the SQL's first word), setAutoCommit, commit, rollback and close.
 */
final class RecordingDataSource implements DataSource {

    final List<String> calls = new CopyOnWriteArrayList<>();
    /** Plain (unprepared) statements created, kept apart from {@link #calls}. */
    final java.util.concurrent.atomic.AtomicInteger statementsCreated = new java.util.concurrent.atomic.AtomicInteger();
    private final DataSource target;

    RecordingDataSource(DataSource target) {
        this.target = target;
    }

    @Override
    public Connection getConnection() throws SQLException {
        calls.add("getConnection");
        Connection real = target.getConnection();
        InvocationHandler handler = (proxy, method, args) -> {
            switch (method.getName()) {
                case "prepareStatement" -> calls.add("prepare " + ((String) args[0]).strip().split("\\s+")[0]);
                case "setAutoCommit" -> calls.add("setAutoCommit " + args[0]);
                case "commit", "rollback", "close" -> calls.add(method.getName());
                case "createStatement" -> statementsCreated.incrementAndGet();
                default -> {
                }
            }
            try {
                return method.invoke(real, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        };
        return (Connection) Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
                handler);
    }

    @Override
    public Connection getConnection(String user, String password) throws SQLException {
        throw new SQLFeatureNotSupportedException();
    }

    @Override
    public PrintWriter getLogWriter() {
        return null;
    }

    @Override
    public void setLogWriter(PrintWriter out) {
    }

    @Override
    public void setLoginTimeout(int seconds) {
    }

    @Override
    public int getLoginTimeout() {
        return 0;
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
        throw new SQLFeatureNotSupportedException();
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
