package dev.oncely.http;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabases;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The databases the filter runs on: PostgreSQL and MariaDB found by {@link TestDatabases} (the test fails with its
 * message if one is missing, never skips), H2 in process. One pool and one store per database for the whole JVM.
 */
enum TestDbs {
    POSTGRESQL(TestDatabases::postgres),
    MARIADB(TestDatabases::mariadb),
    H2(() -> new TestDatabase("h2", "jdbc:h2:mem:oncely_http;DB_CLOSE_DELAY=-1;LOCK_TIMEOUT=10000", "sa", "",
            "in process"));

    private static final Map<TestDbs, HikariDataSource> POOLS = new ConcurrentHashMap<>();
    private static final Map<TestDbs, JdbcDedupStore> STORES = new ConcurrentHashMap<>();

    private final Supplier<TestDatabase> database;

    TestDbs(Supplier<TestDatabase> database) {
        this.database = database;
    }

    HikariDataSource pool() {
        return POOLS.computeIfAbsent(this, db -> {
            HikariDataSource pool = newPool(10);
            execute(pool, "CREATE TABLE IF NOT EXISTS http_effects (id varchar(64) PRIMARY KEY,"
                    + " run varchar(100) NOT NULL, path varchar(100) NOT NULL, client varchar(100), body varchar(2000))");
            return pool;
        });
    }

    /** A pool of its own; close it after the test. */
    HikariDataSource newPool(int size) {
        TestDatabase found = database.get();
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(found.jdbcUrl());
        config.setUsername(found.user());
        config.setPassword(found.password());
        config.setMaximumPoolSize(size);
        config.setMinimumIdle(1); // the test servers are shared: open connections only when needed
        config.setIdleTimeout(10_000);
        config.setConnectionTimeout(size == 1 ? 3_000 : 30_000);
        config.setTransactionIsolation(this == MARIADB ? "TRANSACTION_REPEATABLE_READ"
                : "TRANSACTION_READ_COMMITTED");
        return new HikariDataSource(config);
    }

    JdbcDedupStore store() {
        return STORES.computeIfAbsent(this, db -> JdbcDedupStore.builder(pool()).build().createSchemaIfMissing());
    }

    /** The effects (rows of http_effects) that requests of one consumer committed. */
    long effects(String consumer) {
        try (Connection c = pool().getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM http_effects WHERE run = ?")) {
            ps.setString(1, consumer);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The effects of one consumer's runs of one attempt (lease mode: client holds "attempt-N"). */
    long effects(String consumer, int attempt) {
        try (Connection c = pool().getConnection();
             PreparedStatement ps = c.prepareStatement(
                     "SELECT count(*) FROM http_effects WHERE run = ? AND client = ?")) {
            ps.setString(1, consumer);
            ps.setString(2, "attempt-" + attempt);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void execute(HikariDataSource pool, String sql) {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + " failed: " + e.getMessage(), e);
        }
    }

    static void closeAll() {
        POOLS.values().forEach(HikariDataSource::close);
        POOLS.clear();
        STORES.clear();
    }
}
