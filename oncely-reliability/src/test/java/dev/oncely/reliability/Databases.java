package dev.oncely.reliability;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabases;
import java.net.URI;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.function.Consumer;

/** Pools and plain connections on the test databases that {@link TestDatabases} resolves. */
final class Databases {

    private Databases() {
    }

    static TestDatabase postgres() {
        return TestDatabases.postgres();
    }

    static TestDatabase mariadb() {
        return TestDatabases.mariadb();
    }

    static HikariDataSource pool(TestDatabase db, int size, Consumer<HikariConfig> tweak) {
        return pool(db, db.jdbcUrl(), size, tweak);
    }

    static HikariDataSource pool(TestDatabase db, String url, int size, Consumer<HikariConfig> tweak) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(db.user());
        config.setPassword(db.password());
        config.setMaximumPoolSize(size);
        config.setMinimumIdle(0);
        config.setConnectionTimeout(5_000);
        config.setValidationTimeout(1_000);
        config.setInitializationFailTimeout(-1);
        tweak.accept(config);
        return new HikariDataSource(config);
    }

    /** The PostgreSQL URL rewritten to go through a local proxy port (no SSL, so the proxy sees the protocol). */
    static String postgresVia(TestDatabase db, int proxyPort) {
        HostPort target = postgresTarget(db);
        String url = db.jdbcUrl().replaceFirst("//" + java.util.regex.Pattern.quote(target.authority()),
                "//127.0.0.1:" + proxyPort);
        return url + (url.contains("?") ? "&" : "?") + "sslmode=disable";
    }

    static HostPort postgresTarget(TestDatabase db) {
        URI uri = URI.create(db.jdbcUrl().substring("jdbc:".length()));
        int port = uri.getPort() == -1 ? 5432 : uri.getPort();
        String authority = uri.getRawAuthority();
        return new HostPort(uri.getHost(), port, authority);
    }

    record HostPort(String host, int port, String authority) {
    }

    static Connection connect(TestDatabase db) throws SQLException {
        return DriverManager.getConnection(db.jdbcUrl(), db.user(), db.password());
    }

    static void execute(TestDatabase db, String... statements) {
        try (Connection c = connect(db); Statement st = c.createStatement()) {
            for (String sql : statements) {
                st.execute(sql);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Setting up " + db + " failed: " + e.getMessage(), e);
        }
    }

    static long count(TestDatabase db, String sql) {
        try (Connection c = connect(db); Statement st = c.createStatement();
             var rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + " failed: " + e.getMessage(), e);
        }
    }
}
