package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.OncelyException;
import dev.oncely.Outcome;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** PostgreSQL behaviour beyond the conformance suite: isolation levels, schema errors, Jdbi wiring. */
class PostgresStoreTest {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    private static HikariDataSource pool;

    @BeforeAll
    static void start() {
        pool = pool("TRANSACTION_READ_COMMITTED");
    }

    @AfterAll
    static void stop() {
        pool.close();
    }

    private static HikariDataSource pool(String isolation) {
        return TestPools.pool(DB.database(), 20, isolation, true);
    }

    private static void sql(String statement) throws Exception {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute(statement);
        }
    }

    private static long count(String query) throws Exception {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(query)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"TRANSACTION_REPEATABLE_READ", "TRANSACTION_SERIALIZABLE"})
    void stricterIsolationLevelsRetrySerializationFailuresAndStillCatchDuplicates(String isolation) throws Exception {
        String table = "oncely_iso_" + (isolation.contains("SERIAL") ? "ser" : "rr");
        try (HikariDataSource strict = pool(isolation)) {
            JdbcDedupStore store = JdbcDedupStore.builder(strict).table(table).maxRetries(10).build()
                    .createSchemaIfMissing();
            sql("TRUNCATE " + table);
            sql("CREATE TABLE IF NOT EXISTS oncely_iso_effects (event_id text NOT NULL)");
            sql("TRUNCATE oncely_iso_effects");
            AtomicInteger runs = new AtomicInteger();
            IdempotentHandler<String, Void, ?> h = IdempotentHandler.<String, Void>builder(store)
                    .consumer("iso").key(k -> k).handler((k, tx) -> {
                        runs.incrementAndGet();
                        tx.unwrap(Handle.class).execute("INSERT INTO oncely_iso_effects VALUES (?)", k);
                        Thread.sleep(20);
                        return null;
                    }).build();
            int threads = 16;
            CyclicBarrier barrier = new CyclicBarrier(threads);
            ExecutorService executor = Executors.newFixedThreadPool(threads);
            try {
                List<Future<Outcome<Void>>> futures = new ArrayList<>();
                for (int i = 0; i < threads; i++) {
                    futures.add(executor.submit(() -> {
                        barrier.await();
                        return h.process("same-key");
                    }));
                }
                int processed = 0;
                for (Future<Outcome<Void>> f : futures) {
                    if (f.get(60, TimeUnit.SECONDS).isProcessed()) {
                        processed++;
                    }
                }
                assertThat(processed).isEqualTo(1);
            } finally {
                executor.shutdownNow();
            }
            assertThat(count("SELECT count(*) FROM oncely_iso_effects")).isEqualTo(1);
            assertThat(count("SELECT count(*) FROM " + table)).isEqualTo(1);
            assertThat(runs).as("only the winner's handler ran").hasValue(1);
        }
    }

    @Test
    void aMissingTableIsReportedWithTheDdlResourceAndHowToApplyIt() throws Exception {
        sql("DROP TABLE IF EXISTS oncely_missing");
        JdbcDedupStore store = JdbcDedupStore.builder(pool).table("oncely_missing").build();
        IdempotentHandler<String, Void, ?> h = IdempotentHandler.<String, Void>builder(store)
                .consumer("c").key(k -> k).handler((k, tx) -> null).build();

        assertThatThrownBy(() -> h.process("k1"))
                .isInstanceOf(OncelyException.class)
                .hasMessageContaining("oncely_missing does not exist")
                .hasMessageContaining("dev/oncely/jdbc/postgresql.sql")
                .hasMessageContaining("createSchemaIfMissing()");
    }

    @Test
    void tableAndSchemaNamesCarryingSqlAreRefused() {
        for (String bad : List.of("events; DROP TABLE users", "a.b", "\"quoted\"", "9lives", "", "x".repeat(49))) {
            assertThatThrownBy(() -> JdbcDedupStore.builder(pool).table(bad).build())
                    .as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("letters, digits or underscores");
        }
        assertThatThrownBy(() -> JdbcDedupStore.builder(pool).schema("public--").build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Schema name");
    }

    @Test
    void theDdlIsRenderedForACustomSchemaAndTable() throws Exception {
        sql("CREATE SCHEMA IF NOT EXISTS oncely_app");
        sql("DROP TABLE IF EXISTS oncely_app.dedup");
        JdbcDedupStore store = JdbcDedupStore.builder(pool).schema("oncely_app").table("dedup").build();
        assertThat(store.ddl()).contains("CREATE TABLE IF NOT EXISTS oncely_app.dedup (")
                .contains("CONSTRAINT dedup_pkey PRIMARY KEY").contains("INDEX IF NOT EXISTS dedup_expires_at_idx")
                .contains("ON oncely_app.dedup (expires_at)");
        store.createSchemaIfMissing().createSchemaIfMissing(); // idempotent
        IdempotentHandler<String, Void, ?> h = IdempotentHandler.<String, Void>builder(store)
                .consumer("c").key(k -> k).handler((k, tx) -> null).build();
        assertThat(h.process("k").isProcessed()).isTrue();
        assertThat(h.process("k").isDuplicate()).isTrue();
        assertThat(count("SELECT count(*) FROM oncely_app.dedup")).isEqualTo(1);
        assertThat(store.describe()).isEqualTo("PostgreSQL store on oncely_app.dedup");
    }

    @Test
    void aStoreOnADataSourceLendsHandlersAJdbiHandleOnItsTransactionsConnection() throws Exception {
        JdbcDedupStore store = JdbcDedupStore.builder(pool).table("oncely_lend").build().createSchemaIfMissing();
        sql("CREATE TABLE IF NOT EXISTS oncely_lend_effects (event_id text NOT NULL)");
        sql("TRUNCATE oncely_lend, oncely_lend_effects");
        IllegalStateException boom = new IllegalStateException("declined");
        IdempotentHandler<String, Void, ?> h = IdempotentHandler.<String, Void>builder(store)
                .consumer("lend").key(k -> k).handler((k, tx) -> {
                    Handle handle = tx.unwrap(Handle.class);
                    assertThat(handle.getConnection()).isSameAs(tx.unwrap(Connection.class));
                    assertThat(handle.getConnection().getAutoCommit()).as("inside the store's transaction").isFalse();
                    handle.execute("INSERT INTO oncely_lend_effects VALUES (?)", k);
                    if (k.startsWith("fail")) {
                        throw boom;
                    }
                    return null;
                }).build();

        assertThat(h.process("ok").isProcessed()).isTrue();
        assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> h.process("fail"))).isSameAs(boom);

        assertThat(count("SELECT count(*) FROM oncely_lend_effects")).as("the failed run's write rolled back")
                .isEqualTo(1);
        assertThat(count("SELECT count(*) FROM oncely_lend")).isEqualTo(1);
        assertThat(h.process("ok").isDuplicate()).isTrue();
        assertThatThrownBy(() -> h.process("fail")).as("its key was released: it runs, and fails, again")
                .isSameAs(boom);
        sql("DROP TABLE oncely_lend, oncely_lend_effects");
    }

    @Test
    void aJdbiCallerTransactionGivesTheHandlerTheCallersOwnHandle() throws Exception {
        JdbcDedupStore store = JdbcDedupStore.builder(pool).build().createSchemaIfMissing();
        sql("DELETE FROM processed_events WHERE consumer = 'jdbi-join'");
        Jdbi jdbi = Jdbi.create(pool);
        List<Handle> seen = new ArrayList<>();
        IdempotentHandler<String, Void, ?> h = IdempotentHandler.<String, Void>builder(store)
                .consumer("jdbi-join").key(k -> k).handler((k, tx) -> {
                    seen.add(tx.unwrap(Handle.class));
                    assertThat(tx.unwrap(Connection.class)).isSameAs(tx.unwrap(Handle.class).getConnection());
                    return null;
                }).build();

        jdbi.useTransaction(handle -> {
            assertThat(h.processIn(JdbcTransactions.of(handle), "k1").isProcessed()).isTrue();
            assertThat(seen).containsExactly(handle);
            handle.rollback();
        });
        assertThat(count("SELECT count(*) FROM processed_events WHERE consumer = 'jdbi-join'")).isZero();

        // A bare connection: the handler still gets a handle, on that same connection, and nothing is closed.
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            assertThat(h.processIn(JdbcTransactions.of(c), "k2").isProcessed()).isTrue();
            assertThat(seen.get(1).getConnection()).isSameAs(c);
            assertThat(c.isClosed()).isFalse();
            c.commit();
            c.setAutoCommit(true);
        }
        assertThat(count("SELECT count(*) FROM processed_events WHERE consumer = 'jdbi-join'")).isEqualTo(1);
    }

    @Test
    void askingForAResourceTheStoreDoesNotHaveNamesWhatItHas() throws Exception {
        JdbcDedupStore store = JdbcDedupStore.builder(pool).build().createSchemaIfMissing();
        IdempotentHandler<String, Void, ?> h = IdempotentHandler.<String, Void>builder(store)
                .consumer("resources").key(k -> k).handler((k, tx) -> {
                    tx.unwrap(StringBuilder.class);
                    return null;
                }).build();
        assertThatThrownBy(() -> h.process("k-" + System.nanoTime()))
                .isInstanceOf(OncelyException.class)
                .hasMessageContaining("offers no java.lang.StringBuilder")
                .hasMessageContaining("java.sql.Connection")
                .hasMessageContaining("org.jdbi.v3.core.Handle");
    }

    @Test
    void detectingTheDialectWithTheDatabaseDownSaysHowToBuildWithoutConnecting() {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl("jdbc:postgresql://127.0.0.1:1/none");
        config.setUsername("nobody");
        config.setInitializationFailTimeout(-1);
        config.setConnectionTimeout(1000);
        try (HikariDataSource down = new HikariDataSource(config)) {
            assertThatThrownBy(() -> JdbcDedupStore.builder(down).build())
                    .isInstanceOf(OncelyException.class)
                    .hasMessageContaining("Could not connect to detect the database")
                    .hasMessageContaining(".database(Database.POSTGRESQL)");
            JdbcDedupStore store = JdbcDedupStore.builder(down).database(Database.POSTGRESQL).build();
            IdempotentHandler<String, Void, ?> h = IdempotentHandler.<String, Void>builder(store)
                    .consumer("c").key(k -> k).handler((k, tx) -> null).build();
            assertThatThrownBy(() -> h.process("k"))
                    .isInstanceOf(OncelyException.class)
                    .hasMessageContaining("Could not get a connection")
                    .hasMessageContaining("Check that the database is up");
        }
    }

    @Test
    void theDdlSplitterKeepsEveryStatement() {
        assertThat(dev.oncely.jdbc.internal.Ddl.statements("-- c\nCREATE TABLE a (x int);\n\nCREATE INDEX i ON a (x);\n"))
                .containsExactly("CREATE TABLE a (x int)", "CREATE INDEX i ON a (x)");
    }

    @Test
    void aBatchReclaimsExpiredKeysReplaysLiveOnesAndClaimsFreshOnes() throws Exception {
        JdbcDedupStore store = JdbcDedupStore.builder(pool).table("oncely_batch_expiry").build().createSchemaIfMissing();
        sql("TRUNCATE oncely_batch_expiry");
        AtomicInteger runs = new AtomicInteger();
        IdempotentHandler<String, String, ?> handler = IdempotentHandler.<String, String>builder(store)
                .consumer("batch-expiry").key(k -> k).retention(java.time.Duration.ofHours(1))
                .resultCodec(dev.oncely.ResultCodec.utf8())
                .handler((key, ctx) -> key + "#" + runs.incrementAndGet()).build();
        assertThat(handler.processBatch(List.of("expired", "live")))
                .allMatch(Outcome::isProcessed);
        sql("UPDATE oncely_batch_expiry SET expires_at = now() - interval '1 second' WHERE event_id = 'expired'");

        List<Outcome<String>> outcomes = handler.processBatch(List.of("expired", "fresh", "live"));

        assertThat(outcomes.get(0).isProcessed()).as("expired key is claimed again").isTrue();
        assertThat(outcomes.get(0).result()).contains("expired#3");
        assertThat(outcomes.get(1).isProcessed()).as("fresh key").isTrue();
        assertThat(outcomes.get(2).isDuplicate()).as("live key").isTrue();
        assertThat(outcomes.get(2).result()).contains("live#2");
        assertThat(runs.get()).isEqualTo(4);
        assertThat(count("SELECT count(*) FROM oncely_batch_expiry WHERE expires_at > now()")).isEqualTo(3);
        sql("DROP TABLE oncely_batch_expiry");
    }
}
