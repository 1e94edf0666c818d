package dev.oncely.kafka;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabases;
import java.util.function.Supplier;

/**
 * The databases the offsets-in-database mode runs on: PostgreSQL and MariaDB found by {@link TestDatabases} (the
 * test fails with its message if one is missing, never skips), H2 in process.
 */
enum TestDbs {
    POSTGRESQL(TestDatabases::postgres),
    MARIADB(TestDatabases::mariadb),
    H2(() -> new TestDatabase("h2", "jdbc:h2:mem:oncely_kafka;DB_CLOSE_DELAY=-1", "sa", "", "in process"));

    private final Supplier<TestDatabase> database;

    TestDbs(Supplier<TestDatabase> database) {
        this.database = database;
    }

    /** A pool of {@code size} connections at {@code isolation} (a {@code TRANSACTION_*} name). */
    HikariDataSource pool(int size, String isolation) {
        return pool(size, isolation, null);
    }

    /** With {@code initSql} run on each new connection (none if null). */
    HikariDataSource pool(int size, String isolation, String initSql) {
        TestDatabase db = database.get();
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(db.jdbcUrl());
        config.setUsername(db.user());
        config.setPassword(db.password());
        config.setMaximumPoolSize(size);
        config.setMinimumIdle(1); // the test servers are shared: open connections only when needed
        config.setTransactionIsolation(isolation);
        if (initSql != null) {
            config.setConnectionInitSql(initSql);
        }
        return new HikariDataSource(config);
    }

    HikariDataSource pool(int size) {
        return pool(size, this == MARIADB ? "TRANSACTION_REPEATABLE_READ" : "TRANSACTION_READ_COMMITTED");
    }
}
