package dev.oncely.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.CallerTransaction;
import dev.oncely.ProcessingContext;
import dev.oncely.DedupStore;
import dev.oncely.testkit.DedupStoreContract;
import dev.oncely.testkit.OpenTransaction;
import dev.oncely.testkit.StoreCapabilities;
import dev.oncely.testdatabases.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * The conformance suite on a JDBC store: claims in the store's table, effects in a business table without a
 * unique key (so a doubled effect shows as a count of two), both written on the claim's connection.
 */
abstract class JdbcStoreContractTestBase implements DedupStoreContract {

    static final String EFFECTS_TABLE = "oncely_test_effects";

    private static final Map<String, HikariDataSource> POOLS = new HashMap<>();
    private static final java.util.Set<String> RECREATED = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private final Map<String, JdbcDedupStore> stores = new HashMap<>();

    /** The test database. */
    protected abstract TestDatabase database();

    /** The store builder for a table; the test class names the dialect or lets it be detected. */
    protected abstract JdbcDedupStoreBuilder storeBuilder(DataSource dataSource, String table);

    /** DDL of the effects table for this database. */
    protected String effectsDdl() {
        return "CREATE TABLE IF NOT EXISTS " + EFFECTS_TABLE
                + " (consumer varchar(100) NOT NULL, event_id varchar(255) NOT NULL)";
    }

    /** Creates the store's table; by default from the store's own DDL resource. */
    protected void createSchema(JdbcDedupStore store, String table) throws Exception {
        store.createSchemaIfMissing();
    }

    protected static synchronized DataSource pool(TestDatabase db) {
        return POOLS.computeIfAbsent(db.jdbcUrl() + "|" + db.user(), k -> {
            HikariConfig config = new HikariConfig();
            config.setJdbcUrl(db.jdbcUrl());
            config.setUsername(db.user());
            config.setPassword(db.password());
            config.setMaximumPoolSize(40);
            // Up to 40 for the concurrency cases, but idle connections go back to the database: a JVM holds one
            // pool per URL (each MariaDB isolation level is one), and a database's default connection limit
            // (MariaDB 151, PostgreSQL 100) must hold them all.
            config.setMinimumIdle(2);
            config.setIdleTimeout(10_000);
            config.setPoolName("oncely-test");
            return new HikariDataSource(config);
        });
    }

    protected DataSource dataSource() {
        return pool(database());
    }

    @Override
    public DedupStore store() throws Exception {
        return storeOnTable(DEFAULT_TABLE);
    }

    @Override
    public DedupStore storeOnTable(String table) throws Exception {
        JdbcDedupStore store = stores.get(table);
        if (store == null) {
            store = storeBuilder(dataSource(), table).build();
            if (store.leases().isPresent() && RECREATED.add(database().jdbcUrl() + "|" + store.tableName())) {
                // Once per run: a table left by an older version lacks the columns added since (the lease columns).
                execute("DROP TABLE IF EXISTS " + store.tableName());
            }
            createSchema(store, table);
            execute(effectsDdl());
            execute("TRUNCATE TABLE " + store.tableName());
            execute("TRUNCATE TABLE " + EFFECTS_TABLE);
            stores.put(table, store);
        }
        return store;
    }

    /** The store created for a table in this test, if any. */
    protected Optional<JdbcDedupStore> createdStore(String table) {
        return Optional.ofNullable(stores.get(table));
    }

    @Override
    public void recordEffect(ProcessingContext context) throws SQLException {
        try (PreparedStatement ps = context.unwrap(Connection.class).prepareStatement(
                "INSERT INTO " + EFFECTS_TABLE + " (consumer, event_id) VALUES (?, ?)")) {
            ps.setString(1, context.consumer());
            ps.setString(2, context.key());
            ps.executeUpdate();
        }
    }

    @Override
    public long effects(String consumer, String key) throws SQLException {
        return count("SELECT count(*) FROM " + EFFECTS_TABLE + " WHERE consumer = ? AND event_id = ?", consumer, key);
    }

    @Override
    public long totalEffects() throws SQLException {
        return count("SELECT count(*) FROM " + EFFECTS_TABLE);
    }

    @Override
    public long claimRows(String table) throws SQLException {
        if (!stores.containsKey(table)) {
            return 0;
        }
        return count("SELECT count(*) FROM " + stores.get(table).tableName());
    }

    @Override
    public OpenTransaction beginTransaction() throws SQLException {
        return open(false);
    }

    @Override
    public Optional<OpenTransaction> autocommitTransaction() throws SQLException {
        return Optional.of(open(true));
    }

    @Override
    public void letStoreClockPass(Duration duration) throws InterruptedException {
        Thread.sleep(duration.toMillis());
    }

    @Override
    public StoreCapabilities capabilities() {
        return StoreCapabilities.database();
    }

    private OpenTransaction open(boolean autoCommit) throws SQLException {
        Connection c = dataSource().getConnection();
        c.setAutoCommit(autoCommit);
        CallerTransaction tx = JdbcTransactions.of(c);
        return new OpenTransaction() {
            @Override
            public CallerTransaction transaction() {
                return tx;
            }

            @Override
            public void commit() throws SQLException {
                c.commit();
            }

            @Override
            public void rollback() throws SQLException {
                c.rollback();
            }

            @Override
            public void close() throws SQLException {
                try {
                    if (!c.getAutoCommit()) {
                        c.rollback();
                    }
                    c.setAutoCommit(true);
                } finally {
                    c.close();
                }
            }
        };
    }

    protected void execute(String sql) throws SQLException {
        try (Connection c = dataSource().getConnection(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    protected long count(String sql, String... params) throws SQLException {
        try (Connection c = dataSource().getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                ps.setString(i + 1, params[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }
}
