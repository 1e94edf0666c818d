package dev.oncely.kafka;

import static dev.oncely.kafka.TestBroker.eventIds;
import static dev.oncely.kafka.TestBroker.record;
import static dev.oncely.kafka.TestBroker.shortId;
import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.CommitOutcomeUnknownException;
import dev.oncely.IdempotentHandler;
import dev.oncely.InvalidMessageException;
import dev.oncely.MisconfigurationException;
import dev.oncely.PayloadConflictException;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.kafka.FaultyDataSource.CommitFault;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What the poll loop does when the database or a record fails: serialization failures, deadlocks and lost commit
 * replies on the offsets-in-database path (on PostgreSQL, MariaDB and H2), a handler's own SQL error, a missing
 * offsets table, poison records and the consumer's fatal errors; and which of them end {@link KafkaPollLoop#run()}.
 * Every check of effects counts rows in the database.
 */
class KafkaPollLoopFailureTest {

    enum Mode { OFFSETS_IN_KAFKA, OFFSETS_IN_DATABASE }

    private static final String CLAIMS = "oncely_kafka_fail_claims";
    private static final String EFFECTS = "oncely_kafka_fail_effects";
    private static final String UNIQUE = "oncely_kafka_fail_unique";
    private static final String COUNTERS = "oncely_kafka_fail_counters";
    /**
     * Events per isolation level in the conflict test. The writer holds the contended rows almost all the time, so
     * every batch meets it (a deadlock costs PostgreSQL's deadlock_timeout, a second, at READ COMMITTED); 40 events
     * are 8 or more batches of conflicts, and with the store retrying once, some reach run() at every level, at a
     * third of the time 120 events with five store retries took.
     */
    private static final int CONFLICT_EVENTS = 40;

    private static TestBroker broker;
    private static final Map<TestDbs, Env> ENVS = new EnumMap<>(TestDbs.class);

    /** One database: a pool, the same pool with faults on demand (the store's), the stores and the tables. */
    static final class Env {
        final HikariDataSource pool;
        final FaultyDataSource faulty;
        final JdbcDedupStore store;
        final KafkaOffsetStore offsets;

        Env(TestDbs db, String isolation) throws SQLException {
            // The PostgreSQL conflict tests deadlock on purpose; PostgreSQL looks for a deadlock only after
            // deadlock_timeout (1 s by default) of waiting, which made most of their run time. A superuser may
            // lower it per session; another role keeps the default (slower, same assertions).
            String initSql = db != TestDbs.POSTGRESQL ? null : "DO $$BEGIN IF (SELECT rolsuper FROM pg_roles"
                    + " WHERE rolname = current_user) THEN PERFORM set_config('deadlock_timeout', '50ms', false);"
                    + " END IF; END$$";
            pool = isolation == null ? db.pool(8) : db.pool(8, isolation, initSql);
            faulty = new FaultyDataSource(pool);
            store = JdbcDedupStore.builder(faulty).table(CLAIMS).build().createSchemaIfMissing();
            offsets = KafkaOffsetStore.builder(pool).build().createSchemaIfMissing();
            try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
                // No unique constraint on purpose: a second effect of an event must show up as a second row.
                st.execute("CREATE TABLE IF NOT EXISTS " + EFFECTS + " (run_id varchar(64) NOT NULL,"
                        + " event_id varchar(255) NOT NULL)");
                st.execute("CREATE TABLE IF NOT EXISTS " + UNIQUE + " (id varchar(64) NOT NULL PRIMARY KEY)");
                st.execute("CREATE TABLE IF NOT EXISTS " + COUNTERS + " (run_id varchar(64) NOT NULL,"
                        + " id integer NOT NULL, n bigint NOT NULL, PRIMARY KEY (run_id, id))");
            }
        }
    }

    @BeforeAll
    static void start() {
        broker = TestBroker.start();
    }

    @AfterAll
    static void stop() {
        ENVS.values().forEach(env -> env.pool.close());
        if (broker != null) {
            broker.close();
        }
    }

    private static Env env(TestDbs db) throws SQLException {
        Env env = ENVS.get(db);
        if (env == null) {
            env = new Env(db, null);
            ENVS.put(db, env);
        }
        env.faulty.failStatements("", "40001", 0).failCommits(CommitFault.REFUSED, 0);
        env.faulty.injected.set(0);
        return env;
    }

    // ------------------------------------------------------------------------------- the transaction path

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void serializationFailuresOfTheOffsetUpdateAndOfTheCommitAreRetriedAndEffectsStayExactlyOnce(TestDbs db)
            throws Exception {
        Env env = env(db);
        String run = "retry-" + db + "-" + shortId();
        broker.createTopic(run, 1);
        List<String> events = eventIds(run, 20);
        broker.produce(run, events);
        Consumer<String, String> consumer = broker.newConsumer(run, 10);
        KafkaPollLoop<String, String> loop = loop(consumer, handler(env, run), run, Mode.OFFSETS_IN_DATABASE, env);
        // The fence fails twice with 40001, then a commit is refused with 40001: the store re-runs the whole
        // transaction each time, and pollOnce() never sees a failure.
        env.faulty.failStatements(env.offsets.tableName(), "40001", 2).failCommits(CommitFault.REFUSED, 1);

        pollUntil(loop, () -> storedOffset(env, run) == events.size(), Duration.ofSeconds(60));
        consumer.close();

        assertThat(env.faulty.injected).as("every injected failure was hit").hasValue(3);
        assertExactlyOnce(env, run, events);
    }

    static Stream<Arguments> lostCommits() {
        List<Arguments> out = new ArrayList<>();
        for (TestDbs db : TestDbs.values()) {
            out.add(Arguments.of(db, CommitFault.REPLY_LOST_AFTER_COMMIT));
            out.add(Arguments.of(db, CommitFault.LOST_BEFORE_COMMIT));
        }
        return out.stream();
    }

    @ParameterizedTest
    @MethodSource("lostCommits")
    void aLostCommitReplyIsReportedAsCommitOutcomeUnknownAndTheRedeliveryKeepsEffectsExactlyOnce(TestDbs db,
                                                                                               CommitFault fault)
            throws Exception {
        Env env = env(db);
        String run = "lost-" + db + "-" + shortId();
        broker.createTopic(run, 1);
        List<String> events = eventIds(run, 12);
        broker.produce(run, events);
        Consumer<String, String> consumer = broker.newConsumer(run, 5);
        KafkaPollLoop<String, String> loop = loop(consumer, handler(env, run), run, Mode.OFFSETS_IN_DATABASE, env);
        env.faulty.failCommits(fault, 1);

        Exception failure = pollUntilFailure(loop, Duration.ofSeconds(60));
        assertThat(failure).isInstanceOf(CommitOutcomeUnknownException.class);
        pollUntil(loop, () -> storedOffset(env, run) == events.size(), Duration.ofSeconds(60));
        consumer.close();

        assertExactlyOnce(env, run, events);
    }

    static Stream<Arguments> databasesAndModes() {
        List<Arguments> out = new ArrayList<>();
        for (TestDbs db : TestDbs.values()) {
            for (Mode mode : Mode.values()) {
                out.add(Arguments.of(db, mode));
            }
        }
        return out.stream();
    }

    @ParameterizedTest
    @MethodSource("databasesAndModes")
    void aHandlersOwnSqlExceptionReachesTheCallerOfPollOnceAsTheSameInstance(TestDbs db, Mode mode) throws Exception {
        Env env = env(db);
        String run = "own-" + db + "-" + mode + "-" + shortId();
        broker.createTopic(run, 1);
        broker.produce(run, eventIds(run, 3));
        AtomicReference<SQLException> thrown = new AtomicReference<>();
        // Every record inserts the same id: the second one violates the primary key.
        IdempotentHandler<ConsumerRecord<String, String>, Void, ?> handler =
                IdempotentHandler.<ConsumerRecord<String, String>, Void>builder(env.store)
                        .consumer(run).key(RecordKeys.header("event-id"))
                        .handler((record, ctx) -> {
                            try (PreparedStatement ps = ctx.unwrap(Connection.class).prepareStatement(
                                    "INSERT INTO " + UNIQUE + " (id) VALUES (?)")) {
                                ps.setString(1, run);
                                ps.executeUpdate();
                            } catch (SQLException e) {
                                thrown.set(e);
                                throw e;
                            }
                            return null;
                        }).build();
        Consumer<String, String> consumer = broker.newConsumer(run, 10);
        KafkaPollLoop<String, String> loop = loop(consumer, handler, run, mode, env);

        Exception failure = pollUntilFailure(loop, Duration.ofSeconds(60));
        consumer.close();

        assertThat((Object) thrown.get()).as("the handler hit the constraint").isNotNull();
        assertThat((Object) failure).isSameAs(thrown.get());
        assertThat(count(env, "SELECT count(*) FROM " + UNIQUE + " WHERE id = ?", run)).as("rolled back").isZero();
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void aMissingOffsetsTableIsAMisconfigurationThatEndsRun(TestDbs db) throws Exception {
        Env env = env(db);
        String run = "gone-" + db + "-" + shortId();
        String table = "oncely_kafka_gone_" + shortId();
        KafkaOffsetStore gone = KafkaOffsetStore.builder(env.pool).table(table).build().createSchemaIfMissing();
        broker.createTopic(run, 1);
        List<String> events = eventIds(run, 6);
        broker.produce(run, events.subList(0, 3));
        Consumer<String, String> consumer = broker.newConsumer(run, 10);
        KafkaPollLoop<String, String> loop = KafkaPollLoop.builder(consumer, handler(env, run)).topics(run)
                .pollTimeout(Duration.ofMillis(200)).offsetsInDatabase(gone)
                .retryBackoff(Duration.ofMillis(10), Duration.ofMillis(50)).build();
        pollUntil(loop, () -> gone.read(run, new TopicPartition(run, 0)).orElse(-1) == 3, Duration.ofSeconds(60));
        // The table goes away while the loop owns the partition: the next batch's offset update fails.
        try (Connection c = env.pool.getConnection(); Statement st = c.createStatement()) {
            st.execute("DROP TABLE " + table);
        }
        broker.produce(run, events.subList(3, 6));

        Throwable failure = runUntilItEnds(loop, Duration.ofSeconds(60));
        consumer.close();

        assertThat(failure).isInstanceOf(MisconfigurationException.class)
                .hasMessageContaining("Table " + table + " does not exist")
                .hasMessageContaining(gone.ddlResource());
        assertThat(effectRows(env, run)).as("the second batch rolled back").isEqualTo(3);
    }

    // ------------------------------------------------------------------------------------- conflicts, PostgreSQL

    @ParameterizedTest
    @ValueSource(strings = {"TRANSACTION_READ_COMMITTED", "TRANSACTION_REPEATABLE_READ", "TRANSACTION_SERIALIZABLE"})
    void concurrentWritesToTheSameBusinessRowsNeverEndRun(String isolation) throws Exception {
        Env env = new Env(TestDbs.POSTGRESQL, isolation);
        try {
            String run = "conflict-" + isolation.substring(12, 16) + "-" + shortId();
            broker.createTopic(run, 2);
            List<String> events = eventIds(run, CONFLICT_EVENTS);
            try (Connection c = env.pool.getConnection(); Statement st = c.createStatement()) {
                st.execute("INSERT INTO " + COUNTERS + " (run_id, id, n) VALUES ('" + run + "', 1, 0), ('" + run
                        + "', 2, 0)");
            }
            broker.produce(run, events);
            AtomicInteger calls = new AtomicInteger();
            // Row 1 then row 2; the writer takes them in the other order, so at READ COMMITTED they deadlock, and
            // at REPEATABLE READ and SERIALIZABLE every overlap is a serialization failure. The store retries once,
            // so conflicts go through both its retry and, when that one conflicts too, run()'s.
            JdbcDedupStore oneRetry = JdbcDedupStore.builder(env.pool).table(CLAIMS).maxRetries(1).build();
            IdempotentHandler<ConsumerRecord<String, String>, Void, ?> handler =
                    IdempotentHandler.<ConsumerRecord<String, String>, Void>builder(oneRetry)
                            .consumer(run).key(RecordKeys.header("event-id"))
                            .handler((record, ctx) -> {
                                calls.incrementAndGet();
                                bump(ctx.unwrap(Connection.class), run, 1);
                                Thread.sleep(1);
                                bump(ctx.unwrap(Connection.class), run, 2);
                                insertEffect(ctx.unwrap(Connection.class), run, ctx.key());
                                return null;
                            }).build();
            AtomicBoolean writing = new AtomicBoolean(true);
            AtomicInteger writerConflicts = new AtomicInteger();
            Thread writer = new Thread(() -> {
                while (writing.get()) {
                    try (Connection c = env.pool.getConnection()) {
                        c.setAutoCommit(false);
                        try {
                            bump(c, run, 2);
                            Thread.sleep(2);
                            bump(c, run, 1);
                            c.commit();
                        } catch (SQLException e) {
                            writerConflicts.incrementAndGet();
                            c.rollback();
                        }
                    } catch (Exception e) {
                        return;
                    }
                }
            }, "writer");
            writer.start();
            Consumer<String, String> consumer = broker.newConsumer(run, 5);
            KafkaPollLoop<String, String> loop = loop(consumer, handler, run, Mode.OFFSETS_IN_DATABASE, env);
            AtomicReference<Throwable> death = new AtomicReference<>();
            Thread runner = runInThread(loop, death);
            waitFor(() -> death.get() != null || storedOffsets(env, run, 2) == events.size(), Duration.ofSeconds(120),
                    "the loop to consume the topic");
            loop.stop();
            runner.join(10_000);
            writing.set(false);
            writer.join(10_000);
            consumer.close();

            System.out.printf("conflicts at %s: %d events, %d handler calls, %d writer rollbacks%n", isolation,
                    events.size(), calls.get(), writerConflicts.get());
            assertThat(death.get()).as("run() ended").isNull();
            assertThat(calls.get() - events.size() + writerConflicts.get())
                    .as("the loop and the writer did conflict (handler re-runs plus writer rollbacks)").isPositive();
            assertExactlyOnce(env, run, events);
        } finally {
            env.pool.close();
        }
    }

    @Test
    void aFenceThatMeetsAConcurrentUpdateAtRepeatableReadIsRetriedNotReported() throws Exception {
        Env env = new Env(TestDbs.POSTGRESQL, "TRANSACTION_REPEATABLE_READ");
        try {
            String run = "fence-rr-" + shortId();
            broker.createTopic(run, 1);
            List<String> events = eventIds(run, 4);
            broker.produce(run, events.subList(0, 2));
            Consumer<String, String> consumer = broker.newConsumer(run, 10);
            KafkaPollLoop<String, String> loop = loop(consumer, handler(env, run), run, Mode.OFFSETS_IN_DATABASE,
                    env);
            pollUntil(loop, () -> storedOffset(env, run) == 2, Duration.ofSeconds(60));
            broker.produce(run, events.subList(2, 4));

            try (Connection other = env.pool.getConnection()) {
                // Another transaction touches the offset row (same value) and holds it, so the loop's fence waits
                // on it with a snapshot taken before it commits: PostgreSQL then fails the fence with 40001.
                other.setAutoCommit(false);
                try (Statement st = other.createStatement()) {
                    st.executeUpdate("UPDATE " + env.offsets.tableName() + " SET next_offset = next_offset"
                            + " WHERE group_id = '" + run + "'");
                }
                CompletableFuture<Void> polling = CompletableFuture.runAsync(() -> {
                    try {
                        pollUntil(loop, () -> storedOffset(env, run) == 4, Duration.ofSeconds(60));
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                waitFor(() -> polling.isDone() || waitingOnALock(env), Duration.ofSeconds(30),
                        "the fence to wait on the row lock");
                other.commit();
                polling.get(60, TimeUnit.SECONDS);
            }
            consumer.close();
            assertExactlyOnce(env, run, events);
        } finally {
            env.pool.close();
        }
    }

    // --------------------------------------------------------------------------------------------- death policy

    @ParameterizedTest
    @EnumSource(Mode.class)
    void runRetriesTransientFailuresAndLostCommitRepliesWithBackOffAndGoesOn(Mode mode) throws Exception {
        Env env = env(TestDbs.POSTGRESQL);
        String run = "backoff-" + mode + "-" + shortId();
        broker.createTopic(run, 2);
        List<String> events = eventIds(run, 30);
        broker.produce(run, events);
        Consumer<String, String> consumer = broker.newConsumer(run, 5);
        KafkaPollLoop<String, String> loop = loop(consumer, handler(env, run), run, mode, env);
        // Two claims lose their connection (TransientStoreException), one commit reply is lost after the commit
        // (CommitOutcomeUnknownException).
        env.faulty.failStatements(CLAIMS, "08006", 2).failCommits(CommitFault.REPLY_LOST_AFTER_COMMIT, 1);
        AtomicReference<Throwable> death = new AtomicReference<>();
        Thread runner = runInThread(loop, death);
        waitFor(() -> death.get() != null || consumed(env, run, mode, 2) == events.size(), Duration.ofSeconds(90),
                "the loop to consume the topic");
        loop.stop();
        runner.join(10_000);
        consumer.close();

        assertThat(death.get()).as("run() ended").isNull();
        assertThat(env.faulty.injected).hasValue(3);
        assertExactlyOnce(env, run, events);
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aPoisonRecordIsHandedToThePoisonHandlerAndSkippedWhileTheRestIsProcessedExactlyOnce(Mode mode)
            throws Exception {
        Env env = env(TestDbs.POSTGRESQL);
        String run = "poison-" + mode + "-" + shortId();
        broker.createTopic(run, 1);
        List<String> events = eventIds(run, 10);
        List<ProducerRecord<String, String>> records = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            records.add(record(run, events.get(i), "payload of " + events.get(i)));
            if (i == 2) {
                records.add(record(run, events.get(2), "payload of " + events.get(2))); // a plain duplicate
            }
            if (i == 4) {
                records.add(new ProducerRecord<>(run, "no-header", "a record without event-id")); // offset 6
            }
            if (i == 7) {
                records.add(record(run, events.get(1), "another payload")); // offset 10: a payload conflict
            }
        }
        broker.produceRecords(records);
        List<String> poisoned = Collections.synchronizedList(new ArrayList<>());
        IdempotentHandler<ConsumerRecord<String, String>, Void, ?> handler =
                IdempotentHandler.<ConsumerRecord<String, String>, Void>builder(env.store)
                        .consumer(run).key(RecordKeys.header("event-id"))
                        .fingerprint(r -> r.value().getBytes(StandardCharsets.UTF_8))
                        .handler((record, ctx) -> {
                            insertEffect(ctx.unwrap(Connection.class), run, ctx.key());
                            return null;
                        }).build();
        Consumer<String, String> consumer = broker.newConsumer(run, 20);
        KafkaPollLoop.Builder<String, String> builder = KafkaPollLoop.builder(consumer, handler).topics(run)
                .pollTimeout(Duration.ofMillis(200))
                .onPoisonRecord((record, reason) -> poisoned.add(record.offset() + ":"
                        + reason.getClass().getSimpleName()));
        if (mode == Mode.OFFSETS_IN_DATABASE) {
            builder.offsetsInDatabase(env.offsets);
        }
        KafkaPollLoop<String, String> loop = builder.build();
        pollUntil(loop, () -> consumed(env, run, mode, 1) == records.size(), Duration.ofSeconds(60));
        consumer.close();

        assertThat(poisoned).containsExactly("6:InvalidMessageException", "10:PayloadConflictException");
        assertExactlyOnce(env, run, events);
    }

    @Test
    void withoutAPoisonHandlerAPoisonRecordEndsRunAndIsNotSkipped() throws Exception {
        Env env = env(TestDbs.POSTGRESQL);
        String run = "poison-stop-" + shortId();
        broker.createTopic(run, 1);
        broker.produceRecords(List.of(record(run, run + "-e0", "a"),
                new ProducerRecord<>(run, "no-header", "a record without event-id"), record(run, run + "-e2", "c")));
        Consumer<String, String> consumer = broker.newConsumer(run, 10);
        KafkaPollLoop<String, String> loop = loop(consumer, handler(env, run), run, Mode.OFFSETS_IN_DATABASE, env);

        Throwable failure = runUntilItEnds(loop, Duration.ofSeconds(60));
        consumer.close();

        assertThat(failure).isInstanceOf(InvalidMessageException.class).hasMessageContaining("event-id");
        assertThat(storedOffset(env, run)).as("nothing of the batch committed").isLessThanOrEqualTo(0);
    }

    @Test
    void aHandlersOtherExceptionAndTheConsumersFatalErrorsEndRunUnchanged() throws Exception {
        Env env = env(TestDbs.POSTGRESQL);
        String run = "fatal-" + shortId();
        broker.createTopic(run, 1);
        broker.produce(run, eventIds(run, 2));
        IllegalStateException bug = new IllegalStateException("a bug in the handler");
        IdempotentHandler<ConsumerRecord<String, String>, Void, ?> failing =
                IdempotentHandler.<ConsumerRecord<String, String>, Void>builder(env.store)
                        .consumer(run).key(RecordKeys.header("event-id"))
                        .handler((record, ctx) -> {
                            throw bug;
                        }).build();
        Consumer<String, String> consumer = broker.newConsumer(run, 10);
        assertThat(runUntilItEnds(loop(consumer, failing, run, Mode.OFFSETS_IN_KAFKA, env), Duration.ofSeconds(60)))
                .isSameAs(bug);
        consumer.close();

        TopicAuthorizationException denied = new TopicAuthorizationException(Set.of(run));
        Consumer<String, String> unauthorized = failingPoll(broker.newConsumer(run, 10), denied);
        assertThat(runUntilItEnds(loop(unauthorized, handler(env, run), run, Mode.OFFSETS_IN_KAFKA, env),
                Duration.ofSeconds(60))).isSameAs(denied);
        unauthorized.close();
        assertThat(effectRows(env, run)).isZero();
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /** A consumer whose poll throws {@code error}, as poll does with a fatal error of the client. */
    @SuppressWarnings("unchecked")
    private static Consumer<String, String> failingPoll(Consumer<String, String> real, RuntimeException error) {
        return (Consumer<String, String>) Proxy.newProxyInstance(Consumer.class.getClassLoader(),
                new Class<?>[] {Consumer.class}, (proxy, method, args) -> {
                    if (method.getName().equals("poll")) {
                        throw error;
                    }
                    try {
                        return method.invoke(real, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    private static IdempotentHandler<ConsumerRecord<String, String>, Void, ?> handler(Env env, String run) {
        return IdempotentHandler.<ConsumerRecord<String, String>, Void>builder(env.store)
                .consumer(run)
                .key(RecordKeys.header("event-id"))
                .handler((record, ctx) -> {
                    insertEffect(ctx.unwrap(Connection.class), run, ctx.key());
                    return null;
                })
                .build();
    }

    private static void insertEffect(Connection connection, String run, String eventId) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(
                "INSERT INTO " + EFFECTS + " (run_id, event_id) VALUES (?, ?)")) {
            ps.setString(1, run);
            ps.setString(2, eventId);
            ps.executeUpdate();
        }
    }

    private static void bump(Connection connection, String run, int id) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(
                "UPDATE " + COUNTERS + " SET n = n + 1 WHERE run_id = ? AND id = ?")) {
            ps.setString(1, run);
            ps.setInt(2, id);
            ps.executeUpdate();
        }
    }

    private static KafkaPollLoop<String, String> loop(Consumer<String, String> consumer,
                                                      IdempotentHandler<ConsumerRecord<String, String>, Void, ?> handler,
                                                      String topic, Mode mode, Env env) {
        KafkaPollLoop.Builder<String, String> builder = KafkaPollLoop.builder(consumer, handler).topics(topic)
                .pollTimeout(Duration.ofMillis(200)).retryBackoff(Duration.ofMillis(10), Duration.ofMillis(100));
        if (mode == Mode.OFFSETS_IN_DATABASE) {
            builder.offsetsInDatabase(env.offsets);
        }
        return builder.build();
    }

    private static Thread runInThread(KafkaPollLoop<String, String> loop, AtomicReference<Throwable> failure) {
        Thread thread = new Thread(() -> {
            try {
                loop.run();
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        }, "loop");
        thread.start();
        return thread;
    }

    /** Runs the loop until run() ends by itself, and returns what ended it. */
    private static Throwable runUntilItEnds(KafkaPollLoop<String, String> loop, Duration timeout) throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread thread = runInThread(loop, failure);
        thread.join(timeout.toMillis());
        if (thread.isAlive()) {
            loop.stop();
            thread.join(10_000);
            throw new AssertionError("run() did not end within " + timeout);
        }
        return failure.get();
    }

    private static void pollUntil(KafkaPollLoop<String, String> loop, BooleanSupplier done, Duration timeout)
            throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("Timed out after " + timeout + " polling " + loop);
            }
            loop.pollOnce();
        }
    }

    private static Exception pollUntilFailure(KafkaPollLoop<String, String> loop, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            try {
                loop.pollOnce();
            } catch (Exception e) {
                return e;
            }
        }
        throw new AssertionError("pollOnce() did not fail within " + timeout);
    }

    private static void waitFor(BooleanSupplier condition, Duration timeout, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("Timed out after " + timeout + " waiting for " + what);
            }
            Thread.sleep(50);
        }
    }

    private static boolean waitingOnALock(Env env) {
        return count(env, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                + " AND query LIKE ?", "UPDATE " + env.offsets.tableName() + "%") > 0;
    }

    /** The stored next offset of partition 0 of group {@code run}, or -1. */
    private static long storedOffset(Env env, String run) {
        return env.offsets.read(run, new TopicPartition(run, 0)).orElse(-1);
    }

    private static long storedOffsets(Env env, String run, int partitions) {
        long sum = 0;
        for (int p = 0; p < partitions; p++) {
            sum += env.offsets.read(run, new TopicPartition(run, p)).orElse(0);
        }
        return sum;
    }

    /** The sum of the next offsets of the group's partitions: stored in the database, or committed to Kafka. */
    private static long consumed(Env env, String run, Mode mode, int partitions) {
        if (mode == Mode.OFFSETS_IN_DATABASE) {
            return storedOffsets(env, run, partitions);
        }
        return broker.doWithAdminFunction(admin -> {
            try {
                Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(run)
                        .partitionsToOffsetAndMetadata().get();
                return committed.values().stream().filter(java.util.Objects::nonNull)
                        .mapToLong(OffsetAndMetadata::offset).sum();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static int effectRows(Env env, String run) {
        return count(env, "SELECT count(*) FROM " + EFFECTS + " WHERE run_id = ?", run);
    }

    private static void assertExactlyOnce(Env env, String run, List<String> events) throws SQLException {
        Map<String, Integer> perEvent = new HashMap<>();
        try (Connection c = env.pool.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT event_id, count(*) FROM " + EFFECTS + " WHERE run_id = ? GROUP BY event_id")) {
            ps.setString(1, run);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    perEvent.put(rs.getString(1), rs.getInt(2));
                }
            }
        }
        assertThat(perEvent.keySet()).as("every event has an effect").containsExactlyInAnyOrderElementsOf(events);
        assertThat(perEvent).as("no event has two effects").allSatisfy((id, count) -> assertThat(count).isOne());
    }

    private static int count(Env env, String sql, String parameter) {
        try (Connection c = env.pool.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, parameter);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
