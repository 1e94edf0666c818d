package dev.oncely.micrometer;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.DedupStore;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabases;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInstance;

/** {@link OncelyMetrics} over a real JdbcDedupStore on PostgreSQL; claims counted in the table. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PostgresOncelyMetricsTest extends OncelyMetricsTestBase {

    private static final String TABLE = "metrics_claims";

    private HikariDataSource dataSource;
    private JdbcDedupStore store;

    @BeforeAll
    void connect() {
        TestDatabase db = TestDatabases.postgres();
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(db.jdbcUrl());
        config.setUsername(db.user());
        config.setPassword(db.password());
        config.setMaximumPoolSize(4);
        dataSource = new HikariDataSource(config);
        store = JdbcDedupStore.builder(dataSource).table(TABLE).build().createSchemaIfMissing();
    }

    @AfterAll
    void close() {
        if (dataSource != null) {
            dataSource.close();
        }
    }

    @BeforeEach
    void empty() {
        update("DELETE FROM " + TABLE);
    }

    @Override
    DedupStore store() {
        return store;
    }

    @Override
    long claims(String consumer) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM " + TABLE + " WHERE consumer = ?")) {
            ps.setString(1, consumer);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    void expireAll() {
        update("UPDATE " + TABLE + " SET expires_at = now() - interval '1 hour' WHERE expires_at IS NOT NULL");
    }

    private void update(String sql) {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            s.executeUpdate(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
