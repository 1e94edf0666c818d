package dev.oncely.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.OncelyException;
import dev.oncely.ResultCodec;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.jdbc.Database;
import dev.oncely.testdatabases.TestDatabase;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Bad input and bad environments not covered by the core, JDBC and testkit tests: the longest 4-byte key on both
 * databases, a table of an older schema, the database down at start, synchronous_commit=off, a result codec that
 * fails on replay against a real database. Each asserts the error message.
 */
class BadInputTest {

    /** 255 code points, each 4 bytes in UTF-8 (and two Java chars): 1,020 bytes in the key. */
    static final String LONGEST_FOUR_BYTE_KEY = "\uD83D\uDE00".repeat(IdempotentHandler.MAX_KEY_LENGTH);

    @Test
    void theLongestFourByteKeyIsClaimedOnceOnPostgres() throws Exception {
        longestFourByteKey(Databases.postgres(), "badpg");
    }

    @Test
    void theLongestFourByteKeyIsClaimedOnceOnMariaDb() throws Exception {
        longestFourByteKey(Databases.mariadb(), "badmaria");
    }

    private void longestFourByteKey(TestDatabase db, String scenario) throws Exception {
        EffectsTable tables = new EffectsTable(db, scenario);
        try (HikariDataSource pool = Databases.pool(db, 2, c -> { })) {
            JdbcDedupStore store = tables.recreate(pool);
            IdempotentHandler<String, Void, ?> handler = effectHandler(store, tables);
            assertThat(LONGEST_FOUR_BYTE_KEY.getBytes(StandardCharsets.UTF_8)).hasSize(1_020);
            assertThat(handler.process(LONGEST_FOUR_BYTE_KEY).isProcessed()).isTrue();
            assertThat(handler.process(LONGEST_FOUR_BYTE_KEY).isDuplicate()).isTrue();
            // One code point more is refused before anything is written, the same way every time.
            String tooLong = LONGEST_FOUR_BYTE_KEY + "\uD83D\uDE00";
            for (int i = 0; i < 2; i++) {
                assertThatThrownBy(() -> handler.process(tooLong))
                        .isInstanceOf(dev.oncely.InvalidMessageException.class)
                        .hasMessageContaining("256 characters long; the limit is 255");
            }
            tables.assertExactlyOnce(Set.of(LONGEST_FOUR_BYTE_KEY));
        } finally {
            tables.drop();
        }
    }

    @Test
    void aTableOfAnOlderSchemaIsReportedWithTheUpgradeGuideOnPostgres() throws Exception {
        olderSchema(Databases.postgres(), "oldpg", "bytea", "timestamptz");
    }

    @Test
    void aTableOfAnOlderSchemaIsReportedWithTheUpgradeGuideOnMariaDb() throws Exception {
        olderSchema(Databases.mariadb(), "oldmaria", "longblob", "timestamp(6)");
    }

    private void olderSchema(TestDatabase db, String scenario, String blob, String timestamp) throws Exception {
        EffectsTable tables = new EffectsTable(db, scenario);
        tables.drop();
        // processed_events as a version without the fingerprint column would have made it.
        Databases.execute(db, "CREATE TABLE " + tables.effects + " (event_id varchar(255) NOT NULL, payload"
                        + " varchar(100))",
                "CREATE TABLE " + tables.claims + " (consumer varchar(100) NOT NULL, event_id varchar(255) NOT NULL,"
                        + " processed_at " + timestamp + " NOT NULL DEFAULT CURRENT_TIMESTAMP, expires_at "
                        + timestamp + " NULL, result " + blob + ", PRIMARY KEY (consumer, event_id))");
        try (HikariDataSource pool = Databases.pool(db, 2, c -> { })) {
            IdempotentHandler<String, Void, ?> handler = effectHandler(tables.store(pool), tables);
            assertThatThrownBy(() -> handler.process("k-1"))
                    .isInstanceOf(OncelyException.class)
                    .hasMessageContaining("fingerprint")
                    .hasMessageContaining("created by an older version")
                    .hasMessageContaining("docs/upgrading.md")
                    .hasMessageContaining("JdbcDedupStore#ddl()");
            assertThat(tables.effectRows()).as("nothing half-written").isZero();
            assertThat(tables.claimRows()).isZero();
        } finally {
            tables.drop();
        }
    }

    @Test
    void theDatabaseDownAtStartIsAClearErrorAndTheConsumerWorksOnceItIsUp() throws Exception {
        TestDatabase db = Databases.postgres();
        Databases.HostPort target = Databases.postgresTarget(db);
        EffectsTable tables = new EffectsTable(db, "downstart");
        try (FaultProxy proxy = new FaultProxy(target.host(), target.port());
             HikariDataSource pool = Databases.pool(db, Databases.postgresVia(db, proxy.port()), 2,
                     c -> c.setConnectionTimeout(1_000))) {
            Databases.execute(db, "DROP TABLE IF EXISTS " + tables.effects, "CREATE TABLE " + tables.effects
                    + " (event_id varchar(255) NOT NULL, payload text)");
            proxy.outage(60_000); // the database is "down" from the start
            // Building with the dialect named does not connect; the first message reports the outage.
            JdbcDedupStore store = JdbcDedupStore.builder(pool).database(Database.POSTGRESQL)
                    .table(tables.claims).build();
            IdempotentHandler<String, Void, ?> handler = effectHandler(store, tables);
            assertThatThrownBy(() -> handler.process("k-1"))
                    .isInstanceOf(OncelyException.class)
                    .hasMessageContaining("Could not get a connection for PostgreSQL store on " + tables.claims)
                    .hasMessageContaining("Check that the database is up")
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain("every connection was in use"));
            assertThatThrownBy(() -> JdbcDedupStore.builder(pool).table(tables.claims).build())
                    .isInstanceOf(OncelyException.class)
                    .hasMessageContaining("Could not connect to detect the database")
                    .hasMessageContaining(".database(Database.POSTGRESQL)");
            proxy.outage(0);
            store.createSchemaIfMissing();
            assertThat(handler.process("k-1").isProcessed()).isTrue();
            tables.assertExactlyOnce(Set.of("k-1"));
        } finally {
            tables.drop();
        }
    }

    @Test
    void aDatabaseThatNothingListensOnIsAClearErrorToo() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        TestDatabase db = Databases.postgres();
        try (HikariDataSource pool = Databases.pool(db, Databases.postgresVia(db, closedPort), 1,
                c -> c.setConnectionTimeout(500))) {
            JdbcDedupStore store = JdbcDedupStore.builder(pool).database(Database.POSTGRESQL).build();
            IdempotentHandler<String, Void, ?> handler = IdempotentHandler.<String, Void>builder(store).consumer("c")
                    .key(k -> k).handler((k, ctx) -> null).build();
            assertThatThrownBy(() -> handler.process("k"))
                    .isInstanceOf(OncelyException.class)
                    .hasMessageContaining("Could not get a connection")
                    .hasMessageContaining("Connection refused")
                    .hasMessageContaining("Check that the database is up");
        }
    }

    @Test
    void synchronousCommitOffIsWarnedAboutOnFirstUseAndOnIsNot() throws Exception {
        TestDatabase db = Databases.postgres();
        EffectsTable tables = new EffectsTable(db, "async");
        try (HikariDataSource async = Databases.pool(db, 1,
                c -> c.setConnectionInitSql("SET synchronous_commit = off"));
             HikariDataSource sync = Databases.pool(db, 1, c -> { })) {
            tables.recreate(sync);
            String warned = stderrOf(() -> {
                IdempotentHandler<String, Void, ?> handler = effectHandler(tables.store(async), tables);
                handler.process("k-1");
                handler.process("k-2");
            });
            assertThat(warned).contains("WARN").contains("synchronous_commit=off")
                    .contains("already acknowledged to the broker: those messages are lost")
                    .contains("ALTER ROLE ... SET synchronous_commit = on");
            assertThat(warned.split("synchronous_commit=off", -1)).as("warned once per store").hasSize(2);

            String quiet = stderrOf(() -> effectHandler(tables.store(sync), tables).process("k-3"));
            assertThat(quiet).doesNotContain("synchronous_commit");
            tables.assertExactlyOnce(Set.of("k-1", "k-2", "k-3"));
        } finally {
            tables.drop();
        }
    }

    @Test
    void aResultCodecThatFailsOnReplayIsReportedAndTheMessageIsNotProcessedAgain() throws Exception {
        TestDatabase db = Databases.postgres();
        EffectsTable tables = new EffectsTable(db, "codec");
        try (HikariDataSource pool = Databases.pool(db, 2, c -> { })) {
            JdbcDedupStore store = tables.recreate(pool);
            AtomicInteger runs = new AtomicInteger();
            IdempotentHandler<String, String, ?> handler = IdempotentHandler.<String, String>builder(store)
                    .consumer("codec")
                    .key(k -> k)
                    .resultCodec(new ResultCodec<>() {
                        @Override
                        public byte[] encode(String result) {
                            return result.getBytes(StandardCharsets.UTF_8);
                        }

                        @Override
                        public String decode(byte[] stored) {
                            throw new IllegalStateException("unknown format version");
                        }
                    })
                    .handler((key, ctx) -> {
                        runs.incrementAndGet();
                        tables.insert(ctx.unwrap(Connection.class), key, "effect");
                        return "receipt";
                    })
                    .build();
            assertThat(handler.process("k-1").result()).contains("receipt");
            for (int i = 0; i < 2; i++) {
                assertThatThrownBy(() -> handler.process("k-1"))
                        .isInstanceOf(OncelyException.class)
                        .hasMessageContaining("could not be decoded")
                        .hasMessageContaining("unknown format version")
                        .hasMessageContaining("was not processed again");
            }
            assertThat(runs.get()).isEqualTo(1);
            tables.assertExactlyOnce(Set.of("k-1"));
        } finally {
            tables.drop();
        }
    }

    private static IdempotentHandler<String, Void, ?> effectHandler(JdbcDedupStore store, EffectsTable tables) {
        return IdempotentHandler.<String, Void>builder(store)
                .consumer("bad")
                .key(k -> k)
                .handler((key, ctx) -> {
                    tables.insert(ctx.unwrap(Connection.class), key, "effect");
                    return null;
                })
                .build();
    }

    interface Action {
        void run() throws Exception;
    }

    /** What slf4j-simple (which writes to the current System.err) printed while the action ran. */
    private static String stderrOf(Action action) throws Exception {
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            action.run();
        } finally {
            System.setErr(original);
        }
        String text = captured.toString(StandardCharsets.UTF_8);
        original.print(text);
        return text;
    }
}
