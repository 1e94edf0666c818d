package dev.oncely.kafka;

import static dev.oncely.kafka.TestBroker.eventIds;
import static dev.oncely.kafka.TestBroker.shortId;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.inmemory.InMemoryDedupStore;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The poll loop against a real Kafka broker (an in-process KRaft broker, one for the class) and a real
 * PostgreSQL: crashes in the middle of a batch and between the database and the Kafka commit, a rebalance
 * between two consumers, and a zombie consumer that is fenced. Every check is on the business table: each
 * event's effect exists exactly once.
 */
class KafkaPollLoopTest {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    enum Mode { OFFSETS_IN_KAFKA, OFFSETS_IN_DATABASE }

    private static TestBroker broker;
    private static HikariDataSource dataSource;
    private static JdbcDedupStore store;
    private static KafkaOffsetStore offsetStore;

    /** Thrown to simulate a process dying: an Error, so nothing in the loop handles it. */
    static final class SimulatedCrash extends Error {
        SimulatedCrash(String where) {
            super("simulated crash " + where);
        }
    }

    @BeforeAll
    static void start() throws SQLException {
        broker = TestBroker.start();

        TestDatabase db = DB.database();
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(db.jdbcUrl());
        config.setUsername(db.user());
        config.setPassword(db.password());
        config.setMaximumPoolSize(8);
        dataSource = new HikariDataSource(config);
        // A table of its own: the JDBC conformance tests truncate processed_events, maybe at the same time.
        store = JdbcDedupStore.builder(dataSource).table("oncely_kafka_test_claims").build().createSchemaIfMissing();
        offsetStore = KafkaOffsetStore.builder(dataSource).build().createSchemaIfMissing();
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            // No unique constraint on purpose: a second effect of an event must show up as a second row.
            st.execute("CREATE TABLE IF NOT EXISTS oncely_kafka_test_effects (run_id varchar(64) NOT NULL,"
                    + " event_id varchar(255) NOT NULL, handled_by varchar(32) NOT NULL)");
        }
    }

    @AfterAll
    static void stop() {
        if (dataSource != null) {
            dataSource.close();
        }
        if (broker != null) {
            broker.close();
        }
    }

    // -------------------------------------------------------------------------------------------------- tests

    @ParameterizedTest
    @EnumSource(Mode.class)
    void crashesBetweenCommitsAndInTheMiddleOfABatchLeaveEveryEffectExactlyOnce(Mode mode) throws Exception {
        String run = "restart-" + mode + "-" + shortId();
        String topic = run;
        broker.createTopic(topic, 3);
        List<String> events = eventIds(run, 60);
        List<String> sent = new ArrayList<>(events);
        sent.addAll(events.subList(10, 25)); // a producer that sent 15 events twice
        broker.produce(topic, sent);

        // Generation 1 dies right after its first database commit, before Kafka's offset commit.
        Consumer<String, String> gen1 = crashOnFirstCommit(broker.newConsumer(run, 10, Map.of()));
        KafkaPollLoop<String, String> loop1 = loop(gen1, handler(run, "gen1", new AtomicInteger(), -1), topic, mode);
        assertThatThrownBy(() -> pollUntil(loop1, () -> false, Duration.ofSeconds(30)))
                .isInstanceOf(SimulatedCrash.class).hasMessageContaining("commitSync");
        gen1.close(Duration.ZERO);
        int afterGen1 = effectRows(run);
        assertThat(afterGen1).as("generation 1 committed its first batch to the database before dying").isPositive();
        if (mode == Mode.OFFSETS_IN_KAFKA) {
            assertThat(kafkaCommitted(run)).as("Kafka never got the offsets of what the database has").isEmpty();
        }

        // Generation 2 dies in its handler on its third fresh record, inside a partition's batch.
        Consumer<String, String> gen2 = broker.newConsumer(run, 10, Map.of());
        KafkaPollLoop<String, String> loop2 = loop(gen2, handler(run, "gen2", new AtomicInteger(), 3), topic, mode);
        assertThatThrownBy(() -> pollUntil(loop2, () -> false, Duration.ofSeconds(30)))
                .isInstanceOf(SimulatedCrash.class).hasMessageContaining("handler");
        gen2.close(Duration.ZERO);

        // Generation 3 resumes and finishes.
        Consumer<String, String> gen3 = broker.newConsumer(run, 10, Map.of());
        KafkaPollLoop<String, String> loop3 = loop(gen3, handler(run, "gen3", new AtomicInteger(), -1), topic, mode);
        pollUntil(loop3, () -> effectRows(run) >= events.size() && allConsumed(run, topic, mode),
                Duration.ofSeconds(60));
        gen3.close();

        assertExactlyOnce(run, events);
        assertThat(handledBy(run)).containsKey("gen1").containsKey("gen3");
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aRebalanceBetweenTwoConsumersLeavesEveryEffectExactlyOnce(Mode mode) throws Exception {
        String run = "rebalance-" + mode + "-" + shortId();
        String topic = run;
        broker.createTopic(topic, 4);
        List<String> events = eventIds(run, 200);
        List<String> firstHalf = new ArrayList<>(events.subList(0, 100));
        firstHalf.addAll(events.subList(50, 60)); // sent twice
        broker.produce(topic, firstHalf);

        AtomicReference<Throwable> failure = new AtomicReference<>();
        // A works slowly (10 ms a record), so B joins while A is still busy with the first half.
        Consumer<String, String> first = broker.newConsumer(run, 10, Map.of());
        KafkaPollLoop<String, String> loopA = loop(first, handler(run, "A", new AtomicInteger(), -1, () -> 10),
                topic, mode);
        Thread a = runInThread(loopA, failure, "consumer-A");
        waitFor(() -> effectRows(run) >= 40, Duration.ofSeconds(30), "consumer A to process 40 events");

        Consumer<String, String> second = broker.newConsumer(run, 10, Map.of());
        KafkaPollLoop<String, String> loopB = loop(second, handler(run, "B", new AtomicInteger(), -1, () -> 0),
                topic, mode);
        Thread b = runInThread(loopB, failure, "consumer-B");
        waitFor(() -> failure.get() != null || membersWithPartitions(run) == 2, Duration.ofSeconds(30),
                "the group to give partitions to both consumers");

        // The second half lands on every partition, so both owners have work after the rebalance.
        List<String> secondHalf = new ArrayList<>(events.subList(100, 200));
        secondHalf.addAll(events.subList(150, 160));
        broker.produce(topic, secondHalf);

        waitFor(() -> failure.get() != null || (effectRows(run) >= events.size() && allConsumed(run, topic, mode)),
                Duration.ofSeconds(90), "both consumers to finish the topic");
        loopA.stop();
        loopB.stop();
        a.join(10_000);
        b.join(10_000);
        first.close();
        second.close();
        assertThat(failure.get()).as("a consumer loop failed").isNull();

        assertExactlyOnce(run, events);
        Map<String, Integer> byConsumer = handledBy(run);
        assertThat(byConsumer).as("both consumers did part of the work, so the rebalance happened mid-stream")
                .containsKey("A").containsKey("B");
    }

    @Test
    void aZombieThatLostItsPartitionCannotCommitOverTheNewOwner() throws Exception {
        String run = "zombie-" + shortId();
        String topic = run;
        broker.createTopic(topic, 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        List<String> events = eventIds(run, 15);
        broker.produce(topic, events);

        // A processes offsets 0..4, then fetches 5..9 and stalls (a long GC pause) without polling again.
        Consumer<String, String> zombie = broker.newConsumer(run, 5,
                Map.of(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, 2_000));
        AtomicInteger zombieCalls = new AtomicInteger();
        KafkaPollLoop<String, String> loopA = loop(zombie, handler(run, "A", zombieCalls, -1), topic,
                Mode.OFFSETS_IN_DATABASE);
        pollUntil(loopA, () -> offsetStore.read(run, tp).orElse(-1) == 5, Duration.ofSeconds(30));
        ConsumerRecords<String, String> stale = ConsumerRecords.empty();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (stale.isEmpty() && System.nanoTime() < deadline) {
            stale = zombie.poll(Duration.ofMillis(500));
        }
        assertThat(stale.records(tp)).extracting(ConsumerRecord::offset).containsExactly(5L, 6L, 7L, 8L, 9L);
        int zombieCallsBefore = zombieCalls.get();

        // B joins; once A's poll interval runs out, the group gives B the partition and B finishes it.
        Consumer<String, String> owner = broker.newConsumer(run, 100, Map.of());
        KafkaPollLoop<String, String> loopB = loop(owner, handler(run, "B", new AtomicInteger(), -1), topic,
                Mode.OFFSETS_IN_DATABASE);
        pollUntil(loopB, () -> offsetStore.read(run, tp).orElse(-1) == 15, Duration.ofSeconds(60));

        // A wakes up and tries to commit the records it still holds.
        PollResult result = loopA.process(stale);
        assertThat(result.fenced()).containsExactly(tp);
        assertThat(result.processed()).isZero();
        assertThat(zombieCalls.get()).as("the fence stops the zombie before its handler runs")
                .isEqualTo(zombieCallsBefore);
        assertThat(offsetStore.read(run, tp)).as("the stored offset did not go back to the zombie's 10")
                .hasValue(15);
        assertExactlyOnce(run, events);
        assertThat(handledBy(run)).containsEntry("A", 5).containsEntry("B", 10);
        zombie.close(Duration.ZERO);
        owner.close();
    }

    @Test
    void theBuilderRefusesWhatCannotWork() {
        Consumer<String, String> consumer = broker.newConsumer("builder-" + shortId(), 10, Map.of());
        try {
            IdempotentHandler<ConsumerRecord<String, String>, Void, ?> inMemory =
                    IdempotentHandler.<ConsumerRecord<String, String>, Void>builder(InMemoryDedupStore.create())
                            .consumer("c").key(RecordKeys.topicPartitionOffset()).handler((r, ctx) -> null).build();
            assertThatThrownBy(() -> KafkaPollLoop.builder(consumer, inMemory).topics("t")
                    .offsetsInDatabase(offsetStore).build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("JdbcDedupStore over the same DataSource");
            assertThatThrownBy(() -> KafkaPollLoop.builder(consumer, inMemory).build())
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("topics(");
            assertThatThrownBy(() -> KafkaPollLoop.builder(consumer, inMemory).topics(" "))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("blank");
            assertThatThrownBy(() -> KafkaPollLoop.builder(consumer, inMemory).pollTimeout(Duration.ZERO))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("positive");
            assertThat(KafkaPollLoop.builder(consumer, inMemory).topics("t").build().group())
                    .startsWith("builder-");
        } finally {
            consumer.close(Duration.ZERO);
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /** A consumer whose first commitSync kills the process: after the database commit, before Kafka's. */
    @SuppressWarnings("unchecked")
    private static Consumer<String, String> crashOnFirstCommit(Consumer<String, String> real) {
        return (Consumer<String, String>) Proxy.newProxyInstance(Consumer.class.getClassLoader(),
                new Class<?>[] {Consumer.class}, (proxy, method, args) -> {
                    if (method.getName().equals("commitSync")) {
                        throw new SimulatedCrash("before commitSync");
                    }
                    try {
                        return method.invoke(real, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    private static IdempotentHandler<ConsumerRecord<String, String>, Void, ?> handler(String run, String name,
                                                                                 AtomicInteger calls,
                                                                                 int crashOnCall) {
        return handler(run, name, calls, crashOnCall, () -> 0);
    }

    /**
     * The business handler: one row per effect. Crashes on its {@code crashOnCall}-th call if positive; sleeps
     * {@code delayMillis} per record (so a second consumer can join while the first is busy).
     */
    private static IdempotentHandler<ConsumerRecord<String, String>, Void, ?> handler(String run, String name,
                                                                                 AtomicInteger calls,
                                                                                 int crashOnCall,
                                                                                 LongSupplier delay) {
        return IdempotentHandler.<ConsumerRecord<String, String>, Void>builder(store)
                .consumer(run)
                .key(RecordKeys.header("event-id"))
                .handler((record, ctx) -> {
                    long delayMillis = delay.getAsLong();
                    if (delayMillis > 0) {
                        Thread.sleep(delayMillis);
                    }
                    if (calls.incrementAndGet() == crashOnCall) {
                        throw new SimulatedCrash("in the handler at " + record.offset());
                    }
                    try (PreparedStatement ps = ctx.unwrap(Connection.class).prepareStatement(
                            "INSERT INTO oncely_kafka_test_effects (run_id, event_id, handled_by) VALUES (?, ?, ?)")) {
                        ps.setString(1, run);
                        ps.setString(2, ctx.key());
                        ps.setString(3, name);
                        ps.executeUpdate();
                    }
                    return null;
                })
                .build();
    }

    private static KafkaPollLoop<String, String> loop(Consumer<String, String> consumer,
                                                      IdempotentHandler<ConsumerRecord<String, String>, Void, ?> handler,
                                                      String topic, Mode mode) {
        KafkaPollLoop.Builder<String, String> builder = KafkaPollLoop.builder(consumer, handler).topics(topic)
                .pollTimeout(Duration.ofMillis(200));
        if (mode == Mode.OFFSETS_IN_DATABASE) {
            builder.offsetsInDatabase(offsetStore);
        }
        return builder.build();
    }

    private static Thread runInThread(KafkaPollLoop<String, String> loop, AtomicReference<Throwable> failure,
                                      String name) {
        Thread thread = new Thread(() -> {
            try {
                loop.run();
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        }, name);
        thread.start();
        return thread;
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

    private static void waitFor(BooleanSupplier condition, Duration timeout, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("Timed out after " + timeout + " waiting for " + what);
            }
            Thread.sleep(50);
        }
    }

    /** Whether the group's stored (database mode) or committed (Kafka mode) offsets reached the topic's end. */
    private static boolean allConsumed(String group, String topic, Mode mode) {
        Map<TopicPartition, Long> ends = endOffsets(topic);
        Map<TopicPartition, Long> done = mode == Mode.OFFSETS_IN_DATABASE
                ? offsetStore.read(group, ends.keySet())
                : kafkaCommitted(group);
        return ends.entrySet().stream().allMatch(e -> e.getValue().equals(done.get(e.getKey())));
    }

    private static Map<TopicPartition, Long> endOffsets(String topic) {
        return broker.doWithAdminFunction(admin -> {
            try {
                int partitions = admin.describeTopics(Set.of(topic)).allTopicNames().get().get(topic)
                        .partitions().size();
                Map<TopicPartition, OffsetSpec> request = new HashMap<>();
                for (int p = 0; p < partitions; p++) {
                    request.put(new TopicPartition(topic, p), OffsetSpec.latest());
                }
                Map<TopicPartition, Long> ends = new HashMap<>();
                admin.listOffsets(request).all().get().forEach((tp, info) -> ends.put(tp, info.offset()));
                return ends;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static long membersWithPartitions(String group) {
        return broker.doWithAdminFunction(admin -> {
            try {
                return admin.describeConsumerGroups(List.of(group)).all().get().get(group).members().stream()
                        .filter(m -> !m.assignment().topicPartitions().isEmpty()).count();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static Map<TopicPartition, Long> kafkaCommitted(String group) {
        return broker.doWithAdminFunction(admin -> {
            try {
                Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                        .partitionsToOffsetAndMetadata().get();
                Map<TopicPartition, Long> out = new HashMap<>();
                committed.forEach((tp, om) -> {
                    if (om != null) {
                        out.put(tp, om.offset());
                    }
                });
                return out;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static int effectRows(String run) {
        return query("SELECT count(*) FROM oncely_kafka_test_effects WHERE run_id = ?", run).values().stream()
                .mapToInt(Integer::intValue).sum();
    }

    private static Map<String, Integer> handledBy(String run) {
        return query("SELECT handled_by, count(*) FROM oncely_kafka_test_effects WHERE run_id = ?"
                + " GROUP BY handled_by", run);
    }

    private static void assertExactlyOnce(String run, List<String> events) {
        Map<String, Integer> perEvent = query("SELECT event_id, count(*) FROM oncely_kafka_test_effects"
                + " WHERE run_id = ? GROUP BY event_id", run);
        assertThat(perEvent.keySet()).as("every event has an effect").containsExactlyInAnyOrderElementsOf(events);
        assertThat(perEvent).as("no event has two effects").allSatisfy((id, count) -> assertThat(count).isOne());
    }

    /** Rows of (label, count); a single-count query comes back under the key "". */
    private static Map<String, Integer> query(String sql, String run) {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, run);
            Map<String, Integer> out = new HashMap<>();
            try (ResultSet rs = ps.executeQuery()) {
                boolean single = rs.getMetaData().getColumnCount() == 1;
                while (rs.next()) {
                    out.put(single ? "" : rs.getString(1), rs.getInt(single ? 1 : 2));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
