package dev.oncely.spring.amqp;

import static dev.oncely.spring.SpringTestApps.recreateTables;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import dev.oncely.spring.EnableIdempotent;
import dev.oncely.spring.Idempotent;
import dev.oncely.spring.JdbcTestAppConfig;
import dev.oncely.spring.SpringTestApps;
import dev.oncely.testdatabases.TestDatabase;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.springframework.amqp.core.AcknowledgeMode;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageProperties;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.core.QueueBuilder;
import org.springframework.amqp.rabbit.annotation.EnableRabbit;
import org.springframework.amqp.rabbit.annotation.RabbitListener;
import org.springframework.amqp.rabbit.config.SimpleRabbitListenerContainerFactory;
import org.springframework.amqp.rabbit.connection.CachingConnectionFactory;
import org.springframework.amqp.rabbit.core.RabbitAdmin;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.amqp.rabbit.listener.MessageListenerContainer;
import org.springframework.amqp.rabbit.listener.RabbitListenerEndpointRegistry;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.transaction.annotation.EnableTransactionManagement;
import org.springframework.transaction.annotation.Transactional;

/**
 * Real {@code @RabbitListener} containers (the local RabbitMQ, {@code ONCELY_TEST_RABBITMQ_URI}) in
 * {@code AcknowledgeMode.AUTO} with {@link OncelyRabbitErrorHandler}, on a real database. Effects are counted in
 * the database; acknowledgements are read from the broker ({@code rabbitmqctl list_queues}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class SpringRabbitListenerTestBase {

    static final String URI_ENV = "ONCELY_TEST_RABBITMQ_URI";
    static final String CLAIMS = "spring_rabbit_claims";
    static final String ROWS = "spring_rabbit_rows";

    /** The database of the subclass. */
    abstract TestDatabase database();

    /** Queue names of this database. */
    abstract String prefix();

    private AnnotationConfigApplicationContext context;
    private JdbcTemplate jdbc;
    private RabbitTemplate rabbit;
    private RabbitAdmin admin;
    private ListenerState state;

    @BeforeAll
    void start() {
        TestDatabase db = database();
        recreateTables(db, List.of(ROWS, CLAIMS),
                "CREATE TABLE " + ROWS + " (event_id varchar(100) NOT NULL, body varchar(200) NOT NULL)");
        CachingConnectionFactory connections = connectionFactory();
        RabbitAdmin setupAdmin = new RabbitAdmin(connections);
        for (String name : List.of(queue("orders"), queue("misconfigured"))) {
            setupAdmin.deleteQueue(name);
            setupAdmin.deleteQueue(name + "-dlq");
            setupAdmin.declareQueue(new Queue(name + "-dlq"));
            setupAdmin.declareQueue(QueueBuilder.durable(name).deadLetterExchange("")
                    .deadLetterRoutingKey(name + "-dlq").build());
        }
        connections.destroy();

        context = SpringTestApps.start(Config.class, db, Map.of("test.prefix", prefix()));
        jdbc = context.getBean(JdbcTemplate.class);
        rabbit = context.getBean(RabbitTemplate.class);
        admin = context.getBean(RabbitAdmin.class);
        state = context.getBean(ListenerState.class);
    }

    @AfterAll
    void stop() {
        if (context != null) {
            context.close();
        }
    }

    @BeforeEach
    void clean() throws Exception {
        await(() -> admin.getQueueInfo(queue("orders")).getMessageCount() == 0, "the queue to drain");
        admin.purgeQueue(queue("orders-dlq"));
    }

    @Test
    void eachMessagesEffectHappensOnceThoughEveryMessageIsSentTwice() throws Exception {
        int messages = 40;
        for (int round = 0; round < 2; round++) {
            for (int i = 0; i < messages; i++) {
                send("twice-" + i, "v");
            }
        }
        await(() -> rowsLike("twice-%") == messages && settled(), "every delivery to be settled");

        assertThat(rowsLike("twice-%")).isEqualTo(messages);
        assertThat(jdbc.queryForObject("SELECT COUNT(DISTINCT event_id) FROM " + ROWS
                + " WHERE event_id LIKE 'twice-%'", Long.class)).isEqualTo(messages);
        assertThat(claimsLike("twice-%")).isEqualTo(messages);
    }

    @Test
    void theDeliveryIsAcknowledgedOnlyAfterTheTransactionCommits() throws Exception {
        send("blocked-1", "block");
        assertThat(state.blocked.await(30, TimeUnit.SECONDS)).isTrue();
        // The listener has written its row and is inside its transaction: not committed, not acknowledged.
        assertThat(rowsLike("blocked-1")).as("uncommitted").isZero();
        assertThat(unacknowledged(queue("orders"))).as("the delivery is not acknowledged yet").isEqualTo(1);

        state.release.countDown();
        await(() -> rowsLike("blocked-1") == 1 && settled(), "the commit and the acknowledgement");
        assertThat(claimsLike("blocked-1")).isEqualTo(1);
    }

    @Test
    void aListenerThatThrowsRollsBackItsWritesAndTheRequeuedDeliveryIsProcessedOnce() throws Exception {
        state.failOnce.add("fails-1");
        send("fails-1", "v");
        await(() -> state.failures.get() == 1 && rowsLike("fails-1") == 1 && settled(), "the redelivery");

        assertThat(rowsLike("fails-1")).as("the failed attempt's row rolled back").isEqualTo(1);
        assertThat(claimsLike("fails-1")).isEqualTo(1);
        assertThat(admin.getQueueInfo(queue("orders-dlq")).getMessageCount()).isZero();
    }

    @Test
    void aDeliveryWithoutAKeyIsDeadLetteredAndTheListenerGoesOn() throws Exception {
        MessageProperties properties = new MessageProperties(); // no message-id: InvalidMessageException
        rabbit.send("", queue("orders"), new Message("no key".getBytes(StandardCharsets.UTF_8), properties));
        send("after-invalid", "v");

        Message deadLettered = rabbit.receive(queue("orders-dlq"), 30_000);
        assertThat(deadLettered).as("dead-lettered").isNotNull();
        assertThat(new String(deadLettered.getBody(), StandardCharsets.UTF_8)).isEqualTo("no key");
        await(() -> rowsLike("after-invalid") == 1 && settled(), "the next delivery");
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM " + ROWS + " WHERE body = 'no key'", Long.class))
                .isZero();
    }

    @Test
    void aMisconfiguredListenerStopsItsContainerAndLeavesTheMessageInTheQueue() throws Exception {
        MessageListenerContainer container = context.getBean(RabbitListenerEndpointRegistry.class)
                .getListenerContainer("misconfigured");
        assertThat(container.isRunning()).isTrue();
        MessageProperties properties = new MessageProperties();
        properties.setMessageId("misconfigured-1");
        rabbit.send("", queue("misconfigured"), new Message("v".getBytes(StandardCharsets.UTF_8), properties));

        await(() -> !container.isRunning(), "the container to stop");
        // On a timeout, say where the delivery is: still unacknowledged on a channel, or gone.
        await(() -> admin.getQueueInfo(queue("misconfigured")).getMessageCount() == 1, () -> "the message requeued"
                + " (ready " + admin.getQueueInfo(queue("misconfigured")).getMessageCount() + ", unacknowledged "
                + unacknowledgedOrError(queue("misconfigured")) + ", dead-lettered "
                + admin.getQueueInfo(queue("misconfigured-dlq")).getMessageCount() + ")");
        assertThat(admin.getQueueInfo(queue("misconfigured-dlq")).getMessageCount()).as("not dead-lettered")
                .isZero();
    }

    private void send(String messageId, String body) {
        MessageProperties properties = new MessageProperties();
        properties.setMessageId(messageId);
        rabbit.send("", queue("orders"), new Message(body.getBytes(StandardCharsets.UTF_8), properties));
    }

    private String queue(String name) {
        return "oncely-spring-" + prefix() + "-" + name;
    }

    /** Nothing ready and nothing unacknowledged in the work queue. */
    private boolean settled() {
        try {
            return admin.getQueueInfo(queue("orders")).getMessageCount() == 0
                    && unacknowledged(queue("orders")) == 0;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private long rowsLike(String pattern) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM " + ROWS + " WHERE event_id LIKE ?", Long.class, pattern);
    }

    private long claimsLike(String pattern) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM " + CLAIMS + " WHERE event_id LIKE ?", Long.class,
                pattern);
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        await(condition, () -> what);
    }

    /** As {@link #await(BooleanSupplier, String)}, describing what it waited for only when it times out. */
    private static void await(BooleanSupplier condition, Supplier<String> what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("Timed out waiting for " + what.get());
            }
            Thread.sleep(50);
        }
    }

    static String uri() {
        String uri = System.getenv(URI_ENV);
        return uri == null || uri.isBlank() ? "amqp://guest:guest@127.0.0.1:5672" : uri;
    }

    static CachingConnectionFactory connectionFactory() {
        CachingConnectionFactory factory = new CachingConnectionFactory(URI.create(uri()));
        try {
            factory.createConnection().close();
        } catch (RuntimeException e) {
            fail("RabbitMQ is not reachable at " + uri().replaceAll("//[^@/]*@", "//***@") + " (" + e + ")."
                    + " Start it with `rabbitmq-server -detached`, or point " + URI_ENV + " at another broker,"
                    + " e.g. amqp://user:password@host:5672/vhost.");
        }
        return factory;
    }

    private static String unacknowledgedOrError(String queue) {
        try {
            return String.valueOf(unacknowledged(queue));
        } catch (Exception e) {
            return "unknown: " + e;
        }
    }

    /** messages_unacknowledged of {@code queue}, from {@code rabbitmqctl list_queues} in the test's vhost. */
    static long unacknowledged(String queue) throws Exception {
        String path = URI.create(uri()).getPath();
        String vhost = path == null || path.isEmpty() || path.equals("/") ? "/" : path.substring(1);
        Process process = new ProcessBuilder("rabbitmqctl", "-q", "-p", vhost, "list_queues", "--no-table-headers",
                "name", "messages_unacknowledged").redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
            fail("rabbitmqctl list_queues failed (put RabbitMQ's sbin on the PATH):\n" + output);
        }
        for (String line : output.split("\\R")) {
            String[] columns = line.trim().split("\\s+");
            if (columns.length == 2 && columns[0].equals(queue)) {
                return Long.parseLong(columns[1]);
            }
        }
        return fail("Queue '" + queue + "' not listed by rabbitmqctl in vhost " + vhost + ":\n" + output);
    }

    /** What makes the listeners block or fail; a bean of its own (the listeners bean is a proxy). */
    public static class ListenerState {
        final Set<String> failOnce = ConcurrentHashMap.newKeySet();
        final java.util.concurrent.atomic.AtomicInteger failures = new java.util.concurrent.atomic.AtomicInteger();
        final CountDownLatch blocked = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
    }

    /** The application's listeners. */
    public static class Listeners {
        private final JdbcTemplate jdbc;
        private final ListenerState state;

        public Listeners(JdbcTemplate jdbc, ListenerState state) {
            this.jdbc = jdbc;
            this.state = state;
        }

        @RabbitListener(id = "orders", queues = "oncely-spring-${test.prefix}-orders")
        @Idempotent(consumer = "rabbit-orders", key = "#message.messageProperties.messageId")
        @Transactional
        public void onOrder(Message message) throws InterruptedException {
            String id = message.getMessageProperties().getMessageId();
            String body = new String(message.getBody(), StandardCharsets.UTF_8);
            jdbc.update("INSERT INTO " + ROWS + " (event_id, body) VALUES (?, ?)", id, body);
            if (body.equals("block") && state.blocked.getCount() > 0) {
                state.blocked.countDown();
                state.release.await(60, TimeUnit.SECONDS);
            }
            if (state.failOnce.remove(id)) {
                state.failures.incrementAndGet();
                throw new IllegalStateException("the listener failed after its write");
            }
        }

        /** Its key expression does not parse: a MisconfigurationException at its first delivery. */
        @RabbitListener(id = "misconfigured", queues = "oncely-spring-${test.prefix}-misconfigured")
        @Idempotent(consumer = "rabbit-misconfigured", key = "#message.(")
        @Transactional
        public void onMisconfigured(Message message) {
            jdbc.update("INSERT INTO " + ROWS + " (event_id, body) VALUES ('misconfigured', 'v')");
        }
    }

    @Configuration(proxyBeanMethods = false)
    @EnableTransactionManagement
    @EnableIdempotent
    @EnableRabbit
    static class Config extends JdbcTestAppConfig {
        Config() {
            super(8, CLAIMS);
        }

        @Bean(destroyMethod = "destroy")
        CachingConnectionFactory rabbitConnectionFactory() {
            return connectionFactory();
        }

        @Bean
        RabbitTemplate rabbitTemplate(CachingConnectionFactory connectionFactory) {
            return new RabbitTemplate(connectionFactory);
        }

        @Bean
        RabbitAdmin rabbitAdmin(CachingConnectionFactory connectionFactory) {
            return new RabbitAdmin(connectionFactory);
        }

        @Bean
        SimpleRabbitListenerContainerFactory rabbitListenerContainerFactory(CachingConnectionFactory connectionFactory,
                ObjectProvider<RabbitListenerEndpointRegistry> registry) {
            SimpleRabbitListenerContainerFactory factory = new SimpleRabbitListenerContainerFactory();
            factory.setConnectionFactory(connectionFactory);
            factory.setAcknowledgeMode(AcknowledgeMode.AUTO); // the default: acked after the listener returns
            factory.setPrefetchCount(10);
            factory.setErrorHandler(new OncelyRabbitErrorHandler(Duration.ofMillis(50),
                    () -> registry.getObject().getListenerContainers()));
            return factory;
        }

        @Bean
        ListenerState listenerState() {
            return new ListenerState();
        }

        @Bean
        Listeners listeners(JdbcTemplate jdbc, ListenerState state) {
            return new Listeners(jdbc, state);
        }
    }
}
