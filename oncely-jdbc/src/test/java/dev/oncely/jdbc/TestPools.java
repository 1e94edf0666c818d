package dev.oncely.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabaseExtension;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

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

    /**
     * A test class's own pool, as a static {@code @RegisterExtension} declared after the database's: opened at first
     * use, closed after the class's tests.
     */
    static final class ClassPool implements AfterAllCallback {
        private final TestDatabaseExtension db;
        private final int size;
        private final String isolation;
        private HikariDataSource pool;

        /** {@code size} autocommit connections at {@code isolation}, as {@link #pool} opens them. */
        ClassPool(TestDatabaseExtension db, int size, String isolation) {
            this.db = db;
            this.size = size;
            this.isolation = isolation;
        }

        synchronized HikariDataSource get() {
            if (pool == null) {
                pool = pool(db.database(), size, isolation, true);
            }
            return pool;
        }

        @Override
        public synchronized void afterAll(ExtensionContext context) {
            if (pool != null) {
                pool.close();
                pool = null;
            }
        }
    }
}
