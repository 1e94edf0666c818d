package dev.oncely.examples.demo;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.SQLException;
import javax.sql.DataSource;

/** The database a demo runs on: a pool that connects at once, and the line that names the database. */
public final class DemoDatabase {

    /**
     * A pool on the URL that connects once now, so that a wrong URL, a missing driver or a wrong password fails
     * here, before the run, with what to check.
     */
    public static HikariDataSource connect(String url, String user, String password, int maxPoolSize,
            String poolName) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(user);
        config.setPassword(password);
        config.setMaximumPoolSize(maxPoolSize);
        config.setConnectionTimeout(10_000);
        config.setPoolName(poolName);
        try {
            return new HikariDataSource(config);
        } catch (RuntimeException e) {
            String why = rootMessage(e);
            if (why.contains("No suitable driver") || why.contains("Failed to get driver")) {
                throw new DemoException("no JDBC driver for " + url + "; the demo ships drivers for"
                        + " jdbc:h2:, jdbc:postgresql: and jdbc:mariadb:");
            }
            throw new DemoException("cannot connect to " + url + " (" + why + "); check that the database"
                    + " is running, the database exists and --user/--password are right");
        }
    }

    /** The database's product and version, e.g. "H2 2.3.232 (2024-08-11) (embedded, in memory)". */
    public static String describe(DataSource dataSource, boolean embedded) {
        try (Connection c = dataSource.getConnection()) {
            DatabaseMetaData meta = c.getMetaData();
            String where = embedded ? " (embedded, in memory)" : "";
            return meta.getDatabaseProductName() + " " + meta.getDatabaseProductVersion() + where;
        } catch (SQLException e) {
            throw new DemoException("cannot read the database version: " + e.getMessage(), e);
        }
    }

    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage() == null ? root.toString() : root.getMessage();
        return message.lines().findFirst().orElse(message);
    }

    private DemoDatabase() {
    }
}
