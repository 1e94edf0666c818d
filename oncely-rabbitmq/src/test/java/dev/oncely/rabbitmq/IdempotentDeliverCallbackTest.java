package dev.oncely.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
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
import dev.oncely.testkit.TestDatabase;
import dev.oncely.testkit.TestDatabaseExtension;
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
        MessageHandler<Delivery, Void> closesItsChannel = (delivery, context) -> {
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
        IdempotentHandler<Delivery, Void> handler = handler(closesItsChannel);

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
        MessageHandler<Delivery, Void> failsFirst = (delivery, context) -> {
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
        IdempotentHandler<Delivery, Void> handler = IdempotentDeliverCallback.<Void>handlerBuilder(store)
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
        MessageHandler<Delivery, Void> alwaysFails = (delivery, context) -> {
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
        MessageHandler<Delivery, Void> alwaysFails = (delivery, context) -> {
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
        JdbcDedupStore flakyStore = JdbcDedupStore.builder(flaky).dialect(dev.oncely.jdbc.JdbcDialect.POSTGRESQL)
                .table(CLAIMS_TABLE).build();
        IdempotentHandler<Delivery, Void> handler = IdempotentDeliverCallback.<Void>handlerBuilder(flakyStore)
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
        IdempotentHandler<Delivery, Void> handler = IdempotentDeliverCallback.<Void>handlerBuilder(store)
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
        IdempotentHandler<Delivery, Void> handler = handler(recordEffect());
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

    // -------------------------------------------------------------------------------------------- helpers

    private MessageHandler<Delivery, Void> recordEffect() {
        return (delivery, context) -> {
            try (PreparedStatement ps = context.connection().prepareStatement(
                    "INSERT INTO " + EFFECTS_TABLE + " (consumer, event_id, body) VALUES (?, ?, ?)")) {
                ps.setString(1, context.consumer());
                ps.setString(2, context.key());
                ps.setString(3, new String(delivery.getBody(), StandardCharsets.UTF_8));
                ps.executeUpdate();
            }
            return null;
        };
    }

    private MessageHandler<Delivery, Void> counted(MessageHandler<Delivery, Void> inner) {
        return (delivery, context) -> {
            handlerRuns.computeIfAbsent(context.key(), k -> new AtomicInteger()).incrementAndGet();
            return inner.handle(delivery, context);
        };
    }

    private IdempotentHandler<Delivery, Void> handler(MessageHandler<Delivery, Void> businessHandler) {
        return IdempotentDeliverCallback.<Void>handlerBuilder(store)
                .consumer(consumer)
                .handler(counted(businessHandler))
                .build();
    }

    private interface CallbackFactory {
        DeliverCallback on(Channel channel);
    }

    private CallbackFactory callbackFor(IdempotentHandler<Delivery, Void> handler, FailurePolicy policy) {
        return channel -> counting(IdempotentDeliverCallback.builder(channel, handler).onHandlerFailure(policy)
                .build());
    }

    /** Records each delivery after the adapter settled it. */
    private DeliverCallback counting(DeliverCallback adapter) {
        return (tag, delivery) -> {
            adapter.handle(tag, delivery);
            String key = String.valueOf(delivery.getProperties().getMessageId());
            Object header = delivery.getProperties().getHeaders() == null ? null
                    : delivery.getProperties().getHeaders().get("event-id");
            if (header != null) {
                key = header.toString();
            }
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
