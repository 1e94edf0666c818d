package dev.oncely.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import dev.oncely.jdbc.Database;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DeliverCallback;
import com.rabbitmq.client.Delivery;
import com.rabbitmq.client.GetResponse;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.MessageHandler;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The adapter against the real RabbitMQ and a real PostgreSQL. Each test uses its own uniquely named queues
 * (deleted afterwards) and its own consumer name, and counts effects in a business table without a unique key,
 * so a doubled effect shows as a count of two.
 */
class IdempotentDeliverCallbackTest {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    private static final String CLAIMS_TABLE = "oncely_rabbitmq_test_claims";
    private static final String EFFECTS_TABLE = "oncely_rabbitmq_test_effects";
    private static final Duration WAIT = Duration.ofSeconds(30);

    private static HikariDataSource dataSource;
    private static JdbcDedupStore store;
    private static Connection broker;

    private final List<String> queues = new ArrayList<>();
    private final List<String> exchanges = new ArrayList<>();
    private final List<Channel> channels = new CopyOnWriteArrayList<>();
    private String consumer;

    /** Per key: the redelivered flag of each delivery, in order, recorded after the callback settled it. */
    private final Map<String, List<Boolean>> deliveries = new ConcurrentHashMap<>();
    private final AtomicInteger settled = new AtomicInteger();
    /** Per key: when each delivery reached the adapter (System.nanoTime), in order. */
    private final Map<String, List<Long>> deliveryStarts = new ConcurrentHashMap<>();
    /** Per key: how often the business handler ran (committed or not). */
    private final Map<String, AtomicInteger> handlerRuns = new ConcurrentHashMap<>();

    @BeforeAll
    static void setUp() throws SQLException {
        broker = RabbitBroker.connect("oncely-rabbitmq-tests");
        TestDatabase db = DB.database();
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(db.jdbcUrl());
        config.setUsername(db.user());
        config.setPassword(db.password());
        config.setMaximumPoolSize(8);
        config.setPoolName("oncely-rabbitmq-test");
        dataSource = new HikariDataSource(config);
        store = JdbcDedupStore.builder(dataSource).table(CLAIMS_TABLE).build().createSchemaIfMissing();
        try (java.sql.Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS " + EFFECTS_TABLE
                    + " (consumer varchar(100) NOT NULL, event_id varchar(255) NOT NULL, body text)");
        }
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (broker != null) {
            broker.close();
        }
        if (dataSource != null) {
            dataSource.close();
        }
    }

    @BeforeEach
    void name() {
        consumer = "rabbit-test-" + UUID.randomUUID();
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (Channel channel : channels) {
            if (channel.isOpen()) {
                channel.close();
            }
        }
        try (Channel admin = broker.createChannel()) {
            for (String queue : queues) {
                admin.queueDelete(queue);
            }
            for (String exchange : exchanges) {
                admin.exchangeDelete(exchange);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------- tests

    @Test
    void processesEachMessageOnceAndAcknowledgesAll() throws Exception {
        String queue = declareQueue(Map.of());
        for (int i = 0; i < 10; i++) {
            publish(queue, "m-" + i, "body-" + i);
        }
        Channel channel = consume(queue, callbackFor(handler(recordEffect()), FailurePolicy.requeue()), 5);

        awaitSettled(10);
        channel.close(); // whatever was not acked would go back to the queue now
        assertThat(readyMessages(queue)).isZero();
        assertThat(totalEffects()).isEqualTo(10);
        for (int i = 0; i < 10; i++) {
            assertThat(effects("m-" + i)).as("effects of m-" + i).isEqualTo(1);
        }
    }

    @Test
    void channelClosedAfterCommitBeforeAckIsRedeliveredAndAckedAsDuplicate() throws Exception {
        String queue = declareQueue(Map.of());
        for (int i = 0; i < 5; i++) {
            publish(queue, "m-" + i, "body-" + i);
        }
        AtomicBoolean closedOnce = new AtomicBoolean();
        Channel[] first = new Channel[1];
        MessageHandler<Delivery, Void, Exception> closesItsChannel = (delivery, context) -> {
            if (delivery.getProperties().getMessageId().equals("m-0") && closedOnce.compareAndSet(false, true)) {
                // The channel dies while the transaction is open: the commit below still succeeds, the ack cannot.
                Thread closer = new Thread(() -> {
                    try {
                        first[0].close();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                closer.start();
                closer.join(10_000);
                assertThat(first[0].isOpen()).as("channel closed inside the handler").isFalse();
            }
            return recordEffect().handle(delivery, context);
        };
        IdempotentHandler<Delivery, Void, ?> handler = handler(closesItsChannel);

        Channel channelA = broker.createChannel();
        channels.add(channelA);
        first[0] = channelA;
        channelA.basicQos(1);
        channelA.basicConsume(queue, false, counting(IdempotentDeliverCallback.of(channelA, handler)), tag -> { });
        await().atMost(WAIT).until(() -> !channelA.isOpen());
        assertThat(effects("m-0")).as("the first delivery of m-0 committed").isEqualTo(1);

        consume(queue, callbackFor(handler, FailurePolicy.requeue()), 5);
        await().atMost(WAIT).until(() -> deliveries.values().stream().mapToInt(List::size).sum() == 6
                && deliveries.size() == 5);

        closeConsumers();
        assertThat(readyMessages(queue)).isZero();
        assertThat(deliveries.get("m-0")).as("m-0: first delivery (ack lost), then the redelivery")
                .containsExactly(false, true);
        assertThat(handlerRuns.get("m-0")).as("the handler ran once for m-0").hasValue(1);
        for (int i = 0; i < 5; i++) {
            assertThat(effects("m-" + i)).as("effects of m-" + i).isEqualTo(1);
        }
        assertThat(totalEffects()).isEqualTo(5);
    }

    @Test
    void duplicatesPublishedTwiceAreProcessedOnceAndBothAcked() throws Exception {
        String queue = declareQueue(Map.of());
        for (int round = 0; round < 2; round++) {
            for (int i = 0; i < 5; i++) {
                publish(queue, "m-" + i, "body-" + i);
            }
        }
        consume(queue, callbackFor(handler(recordEffect()), FailurePolicy.requeue()), 10);

        awaitSettled(10);
        closeConsumers();
        assertThat(readyMessages(queue)).as("both copies acknowledged").isZero();
        for (int i = 0; i < 5; i++) {
            assertThat(deliveries.get("m-" + i)).as("deliveries of m-" + i).containsExactly(false, false);
            assertThat(handlerRuns.get("m-" + i)).as("handler runs of m-" + i).hasValue(1);
            assertThat(effects("m-" + i)).as("effects of m-" + i).isEqualTo(1);
        }
        assertThat(totalEffects()).isEqualTo(5);
    }

    @Test
    void handlerFailureIsNackedAndRequeuedThenSucceedsOnRedelivery() throws Exception {
        String queue = declareQueue(Map.of());
        AtomicBoolean failedOnce = new AtomicBoolean();
        MessageHandler<Delivery, Void, Exception> failsFirst = (delivery, context) -> {
            recordEffect().handle(delivery, context); // written, then rolled back by the failure
            if (failedOnce.compareAndSet(false, true)) {
                throw new IllegalStateException("simulated handler failure");
            }
            return null;
        };
        publish(queue, "m-0", "body");
        consume(queue, callbackFor(handler(failsFirst), FailurePolicy.requeue()), 1);

        awaitSettled(2);
        closeConsumers();
        assertThat(deliveries.get("m-0")).containsExactly(false, true);
        assertThat(handlerRuns.get("m-0")).hasValue(2);
        assertThat(effects("m-0")).as("the failed attempt rolled back").isEqualTo(1);
        assertThat(readyMessages(queue)).isZero();
    }

    @Test
    void messageWithoutKeyIsRejectedToTheDeadLetterQueueAndNothingIsWritten() throws Exception {
        String dlq = declareDeadLetterQueue();
        String queue = declareQueue(Map.of("x-dead-letter-exchange", exchanges.get(0)));
        publish(queue, null, "no message-id");
        publish(queue, "   ", "blank message-id");
        publish(queue, "m-ok", "fine");
        consume(queue, callbackFor(handler(recordEffect()), FailurePolicy.requeue()), 10);

        await().atMost(WAIT).until(() -> readyMessages(dlq) == 2);
        awaitSettled(3);
        closeConsumers();
        assertThat(readyMessages(queue)).isZero();
        assertThat(totalEffects()).as("only the message with a key has an effect").isEqualTo(1);
        assertThat(effects("m-ok")).isEqualTo(1);
        assertThat(handlerRuns).containsOnlyKeys("m-ok");
        assertThat(claims()).isEqualTo(1);
        List<String> deadBodies = drain(dlq);
        assertThat(deadBodies).containsExactlyInAnyOrder("no message-id", "blank message-id");
    }

    @Test
    void payloadConflictIsRejectedToTheDeadLetterQueue() throws Exception {
        String dlq = declareDeadLetterQueue();
        String queue = declareQueue(Map.of("x-dead-letter-exchange", exchanges.get(0)));
        IdempotentHandler<Delivery, Void, ?> handler = IdempotentDeliverCallback.<Void>handlerBuilder(store)
                .consumer(consumer)
                .fingerprint(Delivery::getBody)
                .handler(counted(recordEffect()))
                .build();
        publish(queue, "m-0", "original");
        publish(queue, "m-0", "original"); // a true duplicate: acked
        publish(queue, "m-0", "different payload, same key");
        consume(queue, callbackFor(handler, FailurePolicy.requeue()), 1);

        await().atMost(WAIT).until(() -> readyMessages(dlq) == 1);
        awaitSettled(3);
        closeConsumers();
        assertThat(readyMessages(queue)).isZero();
        assertThat(drain(dlq)).containsExactly("different payload, same key");
        assertThat(effects("m-0")).isEqualTo(1);
    }

    @Test
    void deadLetterAfterOnAClassicQueueDeadLettersARedeliveredFailureInsteadOfLooping() throws Exception {
        String dlq = declareDeadLetterQueue();
        String queue = declareQueue(Map.of("x-dead-letter-exchange", exchanges.get(0)));
        MessageHandler<Delivery, Void, Exception> alwaysFails = (delivery, context) -> {
            recordEffect().handle(delivery, context);
            throw new IllegalStateException("poison message");
        };
        publish(queue, "poison", "body");
        consume(queue, callbackFor(handler(alwaysFails), FailurePolicy.deadLetterAfter(5)), 1);

        await().atMost(WAIT).until(() -> readyMessages(dlq) == 1);
        closeConsumers();
        assertThat(deliveries.get("poison")).as("first delivery requeued, the redelivery dead-lettered")
                .containsExactly(false, true);
        assertThat(effects("poison")).isZero();
        assertThat(claims()).isZero();
        assertThat(readyMessages(queue)).isZero();
    }

    @Test
    void deadLetterAfterOnAQuorumQueueCountsAttemptsFromTheDeliveryCount() throws Exception {
        String dlq = declareDeadLetterQueue();
        String queue = declareQueue(Map.of("x-dead-letter-exchange", exchanges.get(0), "x-queue-type", "quorum"));
        MessageHandler<Delivery, Void, Exception> alwaysFails = (delivery, context) -> {
            throw new IllegalStateException("poison message");
        };
        publish(queue, "poison", "body");
        consume(queue, callbackFor(handler(alwaysFails), FailurePolicy.deadLetterAfter(3)), 1);

        await().atMost(WAIT).until(() -> readyMessages(dlq) == 1);
        closeConsumers();
        assertThat(deliveries.get("poison")).as("three attempts, then dead-lettered").hasSize(3);
        assertThat(handlerRuns.get("poison")).hasValue(3);
        assertThat(readyMessages(queue)).isZero();
    }

    @Test
    void storeFailureIsRequeuedEvenWhenThePolicyDeadLetters() throws Exception {
        String dlq = declareDeadLetterQueue();
        String queue = declareQueue(Map.of("x-dead-letter-exchange", exchanges.get(0)));
        AtomicInteger outagesLeft = new AtomicInteger(1);
        // The database is "down" for the first connection request: the claim cannot even start.
        javax.sql.DataSource flaky = (javax.sql.DataSource) java.lang.reflect.Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {javax.sql.DataSource.class}, (proxy, method, args) -> {
                    if (method.getName().equals("getConnection") && outagesLeft.getAndDecrement() > 0) {
                        throw new SQLException("simulated outage: connection refused", "08001");
                    }
                    try {
                        return method.invoke(dataSource, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        JdbcDedupStore flakyStore = JdbcDedupStore.builder(flaky).database(dev.oncely.jdbc.Database.POSTGRESQL)
                .table(CLAIMS_TABLE).build();
        IdempotentHandler<Delivery, Void, ?> handler = IdempotentDeliverCallback.<Void>handlerBuilder(flakyStore)
                .consumer(consumer)
                .handler(counted(recordEffect()))
                .build();
        publish(queue, "m-0", "body");
        consume(queue, callbackFor(handler, FailurePolicy.deadLetter()), 1);

        awaitSettled(2);
        closeConsumers();
        assertThat(deliveries.get("m-0")).as("requeued after the outage, then processed").containsExactly(false, true);
        assertThat(effects("m-0")).isEqualTo(1);
        assertThat(readyMessages(dlq)).as("a store failure is not the message's fault").isZero();
        assertThat(readyMessages(queue)).isZero();
    }

    @Test
    void keyFromAHeader() throws Exception {
        String queue = declareQueue(Map.of());
        IdempotentHandler<Delivery, Void, ?> handler = IdempotentDeliverCallback.<Void>handlerBuilder(store)
                .consumer(consumer)
                .key(DeliveryKeys.header("event-id"))
                .handler(counted(recordEffect()))
                .build();
        try (Channel publisher = broker.createChannel()) {
            for (String messageId : List.of("delivery-1", "delivery-2")) { // two publishes of one event
                publisher.basicPublish("", queue, new AMQP.BasicProperties.Builder().messageId(messageId)
                        .headers(Map.of("event-id", "event-42")).build(), "x".getBytes(StandardCharsets.UTF_8));
            }
        }
        consume(queue, callbackFor(handler, FailurePolicy.requeue()), 10);

        await().atMost(WAIT).until(() -> settled.get() == 2);
        closeConsumers();
        assertThat(readyMessages(queue)).isZero();
        assertThat(effects("event-42")).isEqualTo(1);
        assertThat(totalEffects()).isEqualTo(1);
    }

    @Test
    void burstWithDuplicatesOverThreeChannelsHasOneEffectPerMessageId() throws Exception {
        String queue = declareQueue(Map.of());
        int unique = 400;
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < unique; i++) {
            ids.add("burst-" + i);
        }
        Random random = new Random(42);
        List<String> publishes = new ArrayList<>(ids);
        for (int i = 0; i < 100; i++) { // 20% of the 500 publishes are duplicates
            publishes.add(ids.get(random.nextInt(unique)));
        }
        Collections.shuffle(publishes, random);
        try (Channel publisher = broker.createChannel()) {
            for (String id : publishes) {
                publisher.basicPublish("", queue, new AMQP.BasicProperties.Builder().messageId(id).build(),
                        id.getBytes(StandardCharsets.UTF_8));
            }
        }
        IdempotentHandler<Delivery, Void, ?> handler = handler(recordEffect());
        for (int i = 0; i < 3; i++) {
            consume(queue, callbackFor(handler, FailurePolicy.requeue()), 20);
        }

        await().atMost(Duration.ofSeconds(60)).until(() -> settled.get() == publishes.size());
        closeConsumers();
        assertThat(readyMessages(queue)).as("every delivery acknowledged").isZero();
        try (java.sql.Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT count(*), count(DISTINCT event_id) FROM " + EFFECTS_TABLE + " WHERE consumer = ?")) {
            ps.setString(1, consumer);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                assertThat(rs.getLong(1)).as("effects").isEqualTo(unique);
                assertThat(rs.getLong(2)).as("distinct message ids with an effect").isEqualTo(unique);
            }
        }
        assertThat(claims()).isEqualTo(unique);
        assertThat(handlerRuns.values().stream().mapToInt(AtomicInteger::get).sum()).isEqualTo(unique);
    }

    // ------------------------------------------------- settlement by exception type (store failures)

    @Test
    void storeMissingAColumnStopsTheConsumerAndLeavesEveryMessageInTheQueueInsteadOfRequeueingForever()
            throws Exception {
        String brokenTable = "oncely_rabbitmq_test_no_fingerprint";
        try (java.sql.Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("DROP TABLE IF EXISTS " + brokenTable);
            st.execute("CREATE TABLE " + brokenTable + " (consumer varchar(100) NOT NULL, event_id varchar(255) NOT"
                    + " NULL, processed_at timestamptz NOT NULL DEFAULT now(), expires_at timestamptz, result bytea,"
                    + " PRIMARY KEY (consumer, event_id))"); // no fingerprint column
        }
        JdbcDedupStore broken = JdbcDedupStore.builder(dataSource).table(brokenTable).build();
        IdempotentHandler<Delivery, Void, ?> handler = IdempotentDeliverCallback.<Void>handlerBuilder(broken)
                .consumer(consumer).handler(counted(recordEffect())).build();
        String dlq = declareDeadLetterQueue();
        String queue = declareQueue(Map.of("x-dead-letter-exchange", exchanges.get(0)));
        for (int i = 0; i < 5; i++) {
            publish(queue, "m-" + i, "body-" + i);
        }
        Channel channel = broker.createChannel();
        channels.add(channel);
        channel.basicQos(10);
        IdempotentDeliverCallback<Void> callback = IdempotentDeliverCallback.builder(channel, handler).build();
        channel.basicConsume(queue, false, counting(callback), tag -> { }); // the user's own basicConsume

        await("the callback cancels its subscription").atMost(Duration.ofSeconds(15))
                .until(() -> consumers(queue) == 0 && readyMessages(queue) == 5);
        int delivered = settled.get();
        assertThat(delivered).as("each message delivered at most once, then left in the queue").isLessThanOrEqualTo(5);
        assertThat(readyMessages(dlq)).as("a misconfiguration is not the message's fault").isZero();
        assertThat(handlerRuns).as("the claim failed before the handler").isEmpty();
        assertThat(totalEffects()).isZero();
        try (java.sql.Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("DROP TABLE " + brokenTable);
        }
    }

    @Test
    void storedResultTheCodecCannotDecodeStopsTheConsumerInsteadOfRequeueingTheDuplicateForever() throws Exception {
        IdempotentHandler<Delivery, String, ?> handler = IdempotentDeliverCallback.<String>handlerBuilder(store)
                .consumer(consumer)
                .resultCodec(new dev.oncely.ResultCodec<String>() {
                    @Override
                    public byte[] encode(String result) {
                        return result.getBytes(StandardCharsets.UTF_8);
                    }

                    @Override
                    public String decode(byte[] stored) {
                        throw new IllegalStateException("this codec cannot read what it wrote");
                    }
                })
                .handler((delivery, context) -> {
                    counted(recordEffect()).handle(delivery, context);
                    return "done";
                })
                .build();
        String queue = declareQueue(Map.of());
        Channel channel = broker.createChannel();
        channels.add(channel);
        channel.basicQos(10);
        IdempotentDeliverCallback<String> callback = IdempotentDeliverCallback.builder(channel, handler).build();
        channel.basicConsume(queue, false, counting(callback), tag -> { });
        publish(queue, "m-0", "first");
        awaitSettled(1);
        publish(queue, "m-0", "again"); // a duplicate: its stored result cannot be decoded

        await("the callback cancels its subscription").atMost(Duration.ofSeconds(15))
                .until(() -> consumers(queue) == 0 && readyMessages(queue) == 1);
        assertThat(deliveries.get("m-0")).as("processed, then the duplicate once").hasSize(2);
        assertThat(handlerRuns.get("m-0")).hasValue(1);
        assertThat(effects("m-0")).isEqualTo(1);
    }

    @Test
    void transientStoreFailureIsRequeuedAfterAPauseNotInAHotLoop() throws Exception {
        AtomicInteger outagesLeft = new AtomicInteger(3);
        javax.sql.DataSource flaky = failingFirst(outagesLeft);
        JdbcDedupStore flakyStore = JdbcDedupStore.builder(flaky).database(dev.oncely.jdbc.Database.POSTGRESQL)
                .table(CLAIMS_TABLE).build();
        IdempotentHandler<Delivery, Void, ?> handler = IdempotentDeliverCallback.<Void>handlerBuilder(flakyStore)
                .consumer(consumer).handler(counted(recordEffect())).build();
        String queue = declareQueue(Map.of());
        Duration pause = Duration.ofMillis(300);
        consume(queue, channel -> counting(IdempotentDeliverCallback.builder(channel, handler)
                .storeRetryDelay(pause).build()), 1);
        publish(queue, "m-0", "body");

        awaitSettled(4);
        closeConsumers();
        assertThat(deliveries.get("m-0")).as("three outages, then processed").hasSize(4);
        List<Long> starts = deliveryStarts.get("m-0");
        for (int i = 1; i < starts.size(); i++) {
            assertThat(Duration.ofNanos(starts.get(i) - starts.get(i - 1))).as("pause before redelivery " + i)
                    .isGreaterThanOrEqualTo(pause);
        }
        assertThat(effects("m-0")).isEqualTo(1);
        assertThat(readyMessages(queue)).isZero();
    }

    @Test
    void fingerprintFunctionThatFailsOnAMessageDeadLettersItAsInvalid() throws Exception {
        String dlq = declareDeadLetterQueue();
        String queue = declareQueue(Map.of("x-dead-letter-exchange", exchanges.get(0)));
        IdempotentHandler<Delivery, Void, ?> handler = IdempotentDeliverCallback.<Void>handlerBuilder(store)
                .consumer(consumer)
                .fingerprint(delivery -> {
                    if (delivery.getBody().length == 0) {
                        throw new IllegalArgumentException("empty body: nothing to fingerprint");
                    }
                    return delivery.getBody();
                })
                .handler(counted(recordEffect()))
                .build();
        publish(queue, "m-empty", "");
        publish(queue, "m-ok", "fine");
        consume(queue, callbackFor(handler, FailurePolicy.requeue()), 10);

        await().atMost(Duration.ofSeconds(15)).until(() -> readyMessages(dlq) == 1);
        awaitSettled(2);
        closeConsumers();
        assertThat(deliveries.get("m-empty")).as("dead-lettered on its first delivery").hasSize(1);
        assertThat(handlerRuns).containsOnlyKeys("m-ok");
        assertThat(readyMessages(queue)).isZero();
    }

    // ---------------------------------------------------------- attempt counting with x-death

    @Test
    void deadLetterAfterDeadLettersAMessageMovedBackFromTheDeadLetterQueueOnAClassicQueue() throws Exception {
        MovedBack poison = poisonMovedBack("classic");

        consumeThroughTheCallback(poison.queue(), handler(poison.handler()), FailurePolicy.deadLetterAfter(3));

        awaitDeadLettered(poison.dlq());
        assertThat(handlerRuns.get("poison")).as("1 attempt before the move, then attempts 2 and 3").hasValue(3);
        assertThat(readyMessages(poison.queue())).isZero();
    }

    @Test
    void deadLetterAfterDeadLettersAMessageMovedBackWhenConsumedThroughPlainBasicConsume() throws Exception {
        MovedBack poison = poisonMovedBack("classic");

        // The callback does not know the queue: it requeues plainly, and the redelivery counts as the last attempt.
        consume(poison.queue(), callbackFor(handler(poison.handler()), FailurePolicy.deadLetterAfter(5)), 1);

        awaitDeadLettered(poison.dlq());
        assertThat(handlerRuns.get("poison")).as("1 attempt before the move, 2 after").hasValue(3);
        assertThat(readyMessages(poison.queue())).isZero();
    }

    @Test
    void deadLetterAfterOnAClassicQueueConsumedThroughTheCallbackMakesEveryAttempt() throws Exception {
        String dlq = declareDeadLetterQueue();
        String queue = declareQueue(Map.of("x-dead-letter-exchange", exchanges.get(0)));
        publish(queue, "poison", "body");
        consumeThroughTheCallback(queue, handler(alwaysFails()), FailurePolicy.deadLetterAfter(4));

        awaitDeadLettered(dlq);
        assertThat(handlerRuns.get("poison")).as("four attempts, then dead-lettered").hasValue(4);
        assertThat(readyMessages(queue)).isZero();
        assertThat(claims()).isZero();
    }

    @Test
    void deadLetterAfterOnAQuorumQueueCountsAMessageMovedBackFromTheDeadLetterQueue() throws Exception {
        MovedBack poison = poisonMovedBack("quorum");

        consumeThroughTheCallback(poison.queue(), handler(poison.handler()), FailurePolicy.deadLetterAfter(4));

        awaitDeadLettered(poison.dlq());
        assertThat(handlerRuns.get("poison")).as("1 attempt before the move, then attempts 2, 3 and 4").hasValue(4);
        assertThat(readyMessages(poison.queue())).isZero();
    }

    @Test
    void attemptsThroughADeadLetterExchangeAndTtlRetryLoopCountEachFailedDeliveryOnce() throws Exception {
        // work queue --rejected--> retry exchange --> retry queue (TTL 50 ms) --expired--> back to the work queue
        String retryExchange = "oncely-test-retry-" + UUID.randomUUID();
        String queue = declareQueue(Map.of("x-dead-letter-exchange", retryExchange));
        String retryQueue = declareQueue(Map.of("x-message-ttl", 50, "x-dead-letter-exchange", "",
                "x-dead-letter-routing-key", queue));
        try (Channel admin = broker.createChannel()) {
            admin.exchangeDeclare(retryExchange, "fanout", false, false, null);
            admin.queueBind(retryQueue, retryExchange, "");
        }
        exchanges.add(retryExchange);
        List<Integer> attemptsSeen = new CopyOnWriteArrayList<>();
        MessageHandler<Delivery, Void, Exception> failsTwice = (delivery, context) -> {
            int attempt = FailurePolicy.attempt(delivery);
            attemptsSeen.add(attempt);
            recordEffect().handle(delivery, context);
            if (attempt < 3) {
                throw new IllegalStateException("failing attempt " + attempt);
            }
            return null;
        };
        publish(queue, "m-0", "body");
        consume(queue, callbackFor(handler(failsTwice), FailurePolicy.deadLetter()), 1);

        await().atMost(Duration.ofSeconds(15)).until(() -> effects("m-0") == 1);
        awaitSettled(3);
        closeConsumers();
        assertThat(attemptsSeen).as("one rejected and one expired x-death per round trip: one attempt")
                .containsExactly(1, 2, 3);
        assertThat(readyMessages(queue)).isZero();
        assertThat(readyMessages(retryQueue)).isZero();
    }

    // ------------------------------------------------------------------------ connection loss

    @Test
    void connectionClosedByTheBrokerWithoutRecoveryStopsConsumingAndSkipsTheBufferedDeliveries() throws Exception {
        String queue = declareQueue(Map.of());
        publishMany(queue, 200);
        String name = "oncely-cut-" + UUID.randomUUID();
        Connection connection = RabbitBroker.connect(name, false);
        try {
            Channel channel = connection.createChannel();
            java.util.concurrent.CountDownLatch shutdownSeen = new java.util.concurrent.CountDownLatch(1);
            consumeUntilCut(queue, channel, name, (tag, signal) -> shutdownSeen.countDown());

            assertThat(shutdownSeen.await(30, java.util.concurrent.TimeUnit.SECONDS))
                    .as("the consumer is told of the shutdown after the buffered deliveries").isTrue();
            assertThat(settled.get()).as("deliveries that reached the adapter").isGreaterThan(1);
            assertThat(handlerRuns.values().stream().mapToInt(AtomicInteger::get).sum())
                    .as("only the delivery in flight at the cut ran the handler").isEqualTo(1);
            assertThat(totalEffects()).as("the in-flight delivery committed").isEqualTo(1);
            await("every message back in the queue, the committed one included").atMost(WAIT)
                    .until(() -> readyMessages(queue) == 200);
            assertThat(connection.isOpen()).as("no recovery").isFalse();
        } finally {
            connection.abort();
        }
    }

    @Test
    void connectionClosedByTheBrokerWithAutomaticRecoveryResumesAndProcessesEveryMessageOnce() throws Exception {
        String queue = declareQueue(Map.of());
        publishMany(queue, 200);
        String name = "oncely-cut-" + UUID.randomUUID();
        Connection connection = RabbitBroker.connect(name, true);
        try {
            Channel channel = connection.createChannel();
            consumeUntilCut(queue, channel, name, (tag, signal) -> { });

            await("consumption resumes after recovery and drains the queue").atMost(Duration.ofSeconds(60))
                    .until(() -> totalEffects() == 200 && readyMessages(queue) == 0 && unacked(queue) == 0);
            try (java.sql.Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(
                    "SELECT count(DISTINCT event_id) FROM " + EFFECTS_TABLE + " WHERE consumer = ?")) {
                ps.setString(1, consumer);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    assertThat(rs.getLong(1)).as("one effect per message").isEqualTo(200);
                }
            }
            assertThat(runsOnAClosedChannel.get()).as("handler runs for deliveries of the closed channel").isZero();
            assertThat(handlerRuns.values().stream().mapToInt(AtomicInteger::get).sum())
                    .as("the handler ran once per message").isEqualTo(200);
        } finally {
            connection.abort();
        }
    }

    private final AtomicInteger runsOnAClosedChannel = new AtomicInteger();

    /**
     * Consumes {@code queue} on {@code channel} (prefetch 100) with a handler whose first run blocks until the
     * broker has closed the connection named {@code name}, so that the client holds buffered deliveries at the cut.
     */
    private void consumeUntilCut(String queue, Channel channel, String name,
            com.rabbitmq.client.ConsumerShutdownSignalCallback onShutdown) throws Exception {
        java.util.concurrent.CountDownLatch inFirst = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        AtomicBoolean first = new AtomicBoolean(true);
        MessageHandler<Delivery, Void, Exception> blocksFirst = (delivery, context) -> {
            if (first.compareAndSet(true, false)) {
                inFirst.countDown();
                release.await();
            } else if (!channel.isOpen()) {
                runsOnAClosedChannel.incrementAndGet();
            }
            return recordEffect().handle(delivery, context);
        };
        channel.basicQos(100);
        IdempotentDeliverCallback<Void> callback = IdempotentDeliverCallback.of(channel, handler(blocksFirst));
        channel.basicConsume(queue, false, counting(callback), tag -> { }, onShutdown);
        assertThat(inFirst.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        await("the client holds the prefetched deliveries").atMost(WAIT).until(() -> unacked(queue) == 100);
        RabbitBroker.closeFromBroker(name);
        await().atMost(WAIT).until(() -> !channel.isOpen());
        release.countDown();
    }

    /** A queue, its dead-letter queue and the handler that always fails its "poison" message. */
    private record MovedBack(String queue, String dlq, MessageHandler<Delivery, Void, Exception> handler) {
    }

    /** A "poison" message on a new classic or quorum queue, dead-lettered once and moved back to the queue. */
    private MovedBack poisonMovedBack(String queueType) throws Exception {
        String dlq = declareDeadLetterQueue();
        String queue = declareQueue(Map.of("x-dead-letter-exchange", exchanges.get(0), "x-queue-type", queueType));
        MessageHandler<Delivery, Void, Exception> alwaysFails = alwaysFails();
        deadLetterOnceAndMoveBack(queue, dlq, alwaysFails);
        return new MovedBack(queue, dlq, alwaysFails);
    }

    private void deadLetterOnceAndMoveBack(String queue, String dlq, MessageHandler<Delivery, Void, Exception> handler)
            throws Exception {
        publish(queue, "poison", "body");
        Channel channel = consume(queue, callbackFor(handler(handler), FailurePolicy.deadLetter()), 1);
        await().atMost(WAIT).until(() -> readyMessages(dlq) == 1);
        channel.close();
        // What a shovel or the management UI's "move messages" does: the same message, x-death included.
        try (Channel mover = broker.createChannel()) {
            GetResponse dead = mover.basicGet(dlq, false);
            assertThat(dead.getProps().getHeaders()).containsKey("x-death");
            mover.basicPublish("", queue, dead.getProps(), dead.getBody());
            mover.basicAck(dead.getEnvelope().getDeliveryTag(), false);
        }
    }

    private MessageHandler<Delivery, Void, Exception> alwaysFails() {
        return (delivery, context) -> {
            recordEffect().handle(delivery, context);
            throw new IllegalStateException("poison message");
        };
    }

    private javax.sql.DataSource failingFirst(AtomicInteger outagesLeft) {
        return (javax.sql.DataSource) java.lang.reflect.Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {javax.sql.DataSource.class}, (proxy, method, args) -> {
                    if (method.getName().equals("getConnection") && outagesLeft.getAndDecrement() > 0) {
                        throw new SQLException("simulated outage: connection refused", "08001");
                    }
                    try {
                        return method.invoke(dataSource, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    private void publishMany(String queue, int count) throws Exception {
        try (Channel publisher = broker.createChannel()) {
            publisher.confirmSelect();
            for (int i = 0; i < count; i++) {
                publisher.basicPublish("", queue, new AMQP.BasicProperties.Builder().messageId("m-" + i).build(),
                        ("body-" + i).getBytes(StandardCharsets.UTF_8));
            }
            publisher.waitForConfirmsOrDie(30_000);
        }
    }

    private long consumers(String queue) throws Exception {
        try (Channel admin = broker.createChannel()) {
            return admin.queueDeclarePassive(queue).getConsumerCount();
        }
    }

    /** Messages delivered and not yet acknowledged, from rabbitmqctl (AMQP does not tell). */
    private long unacked(String queue) throws Exception {
        return RabbitBroker.unackedMessages(queue);
    }

    // -------------------------------------------------------------------------------------------- helpers

    private MessageHandler<Delivery, Void, Exception> recordEffect() {
        return (delivery, context) -> {
            try (PreparedStatement ps = context.unwrap(java.sql.Connection.class).prepareStatement(
                    "INSERT INTO " + EFFECTS_TABLE + " (consumer, event_id, body) VALUES (?, ?, ?)")) {
                ps.setString(1, context.consumer());
                ps.setString(2, context.key());
                ps.setString(3, new String(delivery.getBody(), StandardCharsets.UTF_8));
                ps.executeUpdate();
            }
            return null;
        };
    }

    private MessageHandler<Delivery, Void, Exception> counted(MessageHandler<Delivery, Void, Exception> inner) {
        return (delivery, context) -> {
            handlerRuns.computeIfAbsent(context.key(), k -> new AtomicInteger()).incrementAndGet();
            return inner.handle(delivery, context);
        };
    }

    private IdempotentHandler<Delivery, Void, ?> handler(MessageHandler<Delivery, Void, Exception> businessHandler) {
        return IdempotentDeliverCallback.<Void>handlerBuilder(store)
                .consumer(consumer)
                .handler(counted(businessHandler))
                .build();
    }

    private interface CallbackFactory {
        DeliverCallback on(Channel channel);
    }

    private CallbackFactory callbackFor(IdempotentHandler<Delivery, Void, ?> handler, FailurePolicy policy) {
        return channel -> counting(IdempotentDeliverCallback.builder(channel, handler).onHandlerFailure(policy)
                .build());
    }

    /** Records each delivery after the adapter settled it. */
    private DeliverCallback counting(DeliverCallback adapter) {
        return (tag, delivery) -> {
            String key = String.valueOf(delivery.getProperties().getMessageId());
            Object header = delivery.getProperties().getHeaders() == null ? null
                    : delivery.getProperties().getHeaders().get("event-id");
            if (header != null) {
                key = header.toString();
            }
            deliveryStarts.computeIfAbsent(key, k -> new CopyOnWriteArrayList<>()).add(System.nanoTime());
            adapter.handle(tag, delivery);
            deliveries.computeIfAbsent(key, k -> new CopyOnWriteArrayList<>())
                    .add(delivery.getEnvelope().isRedeliver());
            settled.incrementAndGet();
        };
    }

    private Channel consume(String queue, CallbackFactory callback, int prefetch) throws Exception {
        Channel channel = broker.createChannel();
        channels.add(channel);
        channel.basicQos(prefetch);
        channel.basicConsume(queue, false, callback.on(channel), tag -> { });
        return channel;
    }

    /** Consumes one message at a time through the callback's own consume(queue), so it knows the queue it reads. */
    private void consumeThroughTheCallback(String queue, IdempotentHandler<Delivery, Void, ?> handler,
            FailurePolicy policy) throws Exception {
        Channel channel = broker.createChannel();
        channels.add(channel);
        channel.basicQos(1);
        IdempotentDeliverCallback.builder(channel, handler).onHandlerFailure(policy).build().consume(queue);
    }

    /** Waits until the message is in the dead-letter queue, then stops consuming. */
    private void awaitDeadLettered(String dlq) throws Exception {
        await("dead-lettered").atMost(Duration.ofSeconds(15)).until(() -> readyMessages(dlq) == 1);
        closeConsumers();
    }

    private void closeConsumers() throws Exception {
        for (Channel channel : channels) {
            if (channel.isOpen()) {
                channel.close();
            }
        }
    }

    private void awaitSettled(int count) {
        await().atMost(WAIT).until(() -> settled.get() >= count);
        assertThat(settled.get()).isEqualTo(count);
    }

    private String declareQueue(Map<String, Object> arguments) throws Exception {
        String queue = "oncely-test-" + UUID.randomUUID();
        boolean quorum = "quorum".equals(arguments.get("x-queue-type"));
        try (Channel admin = broker.createChannel()) {
            admin.queueDeclare(queue, quorum, false, false, new HashMap<>(arguments));
        }
        queues.add(queue);
        return queue;
    }

    /** A fanout dead-letter exchange (first in {@link #exchanges}) and the queue bound to it. */
    private String declareDeadLetterQueue() throws Exception {
        String exchange = "oncely-test-dlx-" + UUID.randomUUID();
        String dlq = declareQueue(Map.of());
        try (Channel admin = broker.createChannel()) {
            admin.exchangeDeclare(exchange, "fanout", false, false, null);
            admin.queueBind(dlq, exchange, "");
        }
        exchanges.add(exchange);
        return dlq;
    }

    private void publish(String queue, String messageId, String body) throws Exception {
        try (Channel publisher = broker.createChannel()) {
            publisher.basicPublish("", queue, new AMQP.BasicProperties.Builder().messageId(messageId).build(),
                    body.getBytes(StandardCharsets.UTF_8));
        }
    }

    private long readyMessages(String queue) throws Exception {
        try (Channel admin = broker.createChannel()) {
            return admin.queueDeclarePassive(queue).getMessageCount();
        }
    }

    private List<String> drain(String queue) throws Exception {
        List<String> bodies = new ArrayList<>();
        try (Channel admin = broker.createChannel()) {
            GetResponse response;
            while ((response = admin.basicGet(queue, true)) != null) {
                bodies.add(new String(response.getBody(), StandardCharsets.UTF_8));
            }
        }
        return bodies;
    }

    private long effects(String key) throws SQLException {
        return count("SELECT count(*) FROM " + EFFECTS_TABLE + " WHERE consumer = ? AND event_id = ?", consumer, key);
    }

    private long totalEffects() throws SQLException {
        return count("SELECT count(*) FROM " + EFFECTS_TABLE + " WHERE consumer = ?", consumer);
    }

    private long claims() throws SQLException {
        return count("SELECT count(*) FROM " + store.tableName() + " WHERE consumer = ?", consumer);
    }

    private static long count(String sql, String... params) throws SQLException {
        try (java.sql.Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
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
