package dev.oncely.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.testdatabases.TestDatabase;

/** HikariCP pools on a test database, for the tests that need a pool of their own. */
final class TestPools {

    private TestPools() {
    }

    /**
     * A pool of {@code size} connections at {@code isolation} (a {@code TRANSACTION_*} name; set explicitly, see
     * docs/reliability.md), in autocommit mode or not.
     */
    static HikariDataSource pool(TestDatabase db, int size, String isolation, boolean autoCommit) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(db.jdbcUrl());
        config.setUsername(db.user());
        config.setPassword(db.password());
        config.setMaximumPoolSize(size);
        config.setTransactionIsolation(isolation);
        config.setAutoCommit(autoCommit);
        return new HikariDataSource(config);
    }
}
