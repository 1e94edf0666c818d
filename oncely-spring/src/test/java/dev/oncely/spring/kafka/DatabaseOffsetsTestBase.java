package dev.oncely.spring.kafka;

import static dev.oncely.spring.SpringTestApps.recreateTables;
import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.kafka.KafkaOffsetStore;
import dev.oncely.spring.EnableIdempotent;
import dev.oncely.spring.IdempotentBatch;
import dev.oncely.spring.JdbcTestAppConfig;
import dev.oncely.spring.SpringTestApps;
import dev.oncely.testdatabases.TestDatabase;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import javax.sql.DataSource;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.kafka.annotation.EnableKafka;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.kafka.config.ConcurrentKafkaListenerContainerFactory;
import org.springframework.kafka.config.KafkaListenerEndpointRegistry;
import org.springframework.kafka.core.DefaultKafkaConsumerFactory;
import org.springframework.kafka.listener.MessageListenerContainer;
import org.springframework.kafka.test.EmbeddedKafkaKraftBroker;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.annotation.EnableTransactionManagement;

/**
 * {@link DatabaseOffsets} under real {@code @KafkaListener} batch containers: the offset stored with the claims and
 * the writes, a restarted consumer seeking to it (not to Kafka's), and a batch fenced by another consumer's offset.
 * Effects and offsets are read from the database.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class DatabaseOffsetsTestBase {

    static final String CLAIMS = "spring_offsets_claims";
    static final String ROWS = "spring_offsets_rows";
    static final String OFFSETS = "spring_kafka_offsets";

    abstract TestDatabase database();

    abstract String prefix();

    private EmbeddedKafkaKraftBroker broker;
    private AnnotationConfigApplicationContext context;
    private JdbcTemplate jdbc;
    private State state;
    private KafkaProducer<String, String> producer;

    @BeforeAll
    void start() {
        broker = KafkaTestBroker.get();
        for (String topic : List.of("stored", "restart", "fenced")) {
            broker.addTopics(new NewTopic(topic(topic), 1, (short) 1));
        }
        TestDatabase db = database();
        recreateTables(db, List.of(ROWS, CLAIMS, OFFSETS),
                "CREATE TABLE " + ROWS + " (event_id varchar(100) NOT NULL)");
        context = SpringTestApps.start(Config.class, db,
                Map.of("test.prefix", prefix(), "test.brokers", broker.getBrokersAsString()));
        jdbc = context.getBean(JdbcTemplate.class);
        state = context.getBean(State.class);
        producer = KafkaTestBroker.producer(broker);
    }

    @AfterAll
    void stop() {
        if (producer != null) {
            producer.close();
        }
        if (context != null) {
            context.close();
        }
    }

    @Test
    void theStoredOffsetAdvancesWithEachBatchAndEachRecordsEffectHappensOnce() throws Exception {
        String topic = topic("stored");
        for (int round = 0; round < 2; round++) {
            for (int i = 0; i < 40; i++) {
                producer.send(new ProducerRecord<>(topic, "stored-" + i, "v"));
            }
        }
        producer.flush();
        awaitStored(topic, 80);

        assertThat(rowsLike("stored-%")).isEqualTo(40);
        assertThat(jdbc.queryForObject("SELECT COUNT(DISTINCT event_id) FROM " + ROWS
                + " WHERE event_id LIKE 'stored-%'", Long.class)).isEqualTo(40);
    }

    @Test
    void aRestartedConsumerResumesFromTheStoredOffsetAndNotFromKafkas() throws Exception {
        String topic = topic("restart");
        for (int i = 0; i < 30; i++) {
            producer.send(new ProducerRecord<>(topic, "restart-" + i, "v"));
        }
        producer.flush();
        awaitStored(topic, 30);
        MessageListenerContainer container = container("restart");
        container.stop();
        // Kafka forgets where the group was: with auto.offset.reset=earliest it would start from the beginning.
        broker.doWithAdmin(admin -> {
            try {
                admin.deleteConsumerGroupOffsets(group("restart"), Set.of(new TopicPartition(topic, 0))).all()
                        .get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        state.seen.computeIfAbsent("restart", k -> new AtomicInteger()).set(0);
        container.start();
        for (int i = 30; i < 35; i++) {
            producer.send(new ProducerRecord<>(topic, "restart-" + i, "v"));
        }
        producer.flush();
        awaitStored(topic, 35);

        assertThat(state.seen.get("restart").get()).as("only the new records were delivered").isEqualTo(5);
        assertThat(rowsLike("restart-%")).isEqualTo(35);
    }

    @Test
    void aBatchFencedByAnotherConsumersOffsetRollsBackAndTheConsumerResumesFromTheStoredOffset() throws Exception {
        String topic = topic("fenced");
        for (int i = 0; i < 10; i++) {
            producer.send(new ProducerRecord<>(topic, "fenced-" + i, "v"));
        }
        producer.flush();
        awaitStored(topic, 10);
        MessageListenerContainer container = container("fenced");
        container.pause();
        await(container::isContainerPaused, "the container to pause");
        // Another consumer took the partition and committed records 10..14 (its effects are its own business).
        jdbc.update("UPDATE " + OFFSETS + " SET next_offset = 15 WHERE group_id = ? AND topic = ?", group("fenced"),
                topic);
        for (int i = 10; i < 20; i++) {
            producer.send(new ProducerRecord<>(topic, "fenced-" + i, "v"));
        }
        producer.flush();
        container.resume();
        awaitStored(topic, 20);

        assertThat(rowsLike("fenced-1_")).as("10..14 were the other consumer's; 15..19 are this one's")
                .isEqualTo(5);
        assertThat(jdbc.queryForList("SELECT event_id FROM " + ROWS + " WHERE event_id LIKE 'fenced-1_'",
                String.class)).containsExactlyInAnyOrder("fenced-15", "fenced-16", "fenced-17", "fenced-18",
                "fenced-19");
        assertThat(rowsLike("fenced-_")).isEqualTo(10);
    }

    private String topic(String name) {
        return prefix() + "-offsets-" + name;
    }

    private String group(String name) {
        return prefix() + "-offsets-" + name;
    }

    private MessageListenerContainer container(String id) {
        return context.getBean(KafkaListenerEndpointRegistry.class).getListenerContainer(id);
    }

    private void awaitStored(String topic, long offset) throws InterruptedException {
        await(() -> {
            List<Long> stored = jdbc.queryForList("SELECT next_offset FROM " + OFFSETS + " WHERE topic = ?",
                    Long.class, topic);
            return stored.size() == 1 && stored.get(0) == offset;
        }, "the stored offset of " + topic + " to reach " + offset);
    }

    private long rowsLike(String pattern) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM " + ROWS + " WHERE event_id LIKE ?", Long.class, pattern);
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("Timed out waiting for " + what);
            }
            Thread.sleep(50);
        }
    }

    /** Records delivered to each listener; a bean of its own. */
    public static class State {
        final Map<String, AtomicInteger> seen = new ConcurrentHashMap<>();
    }

    /** The business write: one claim per batch, joining the transaction DatabaseOffsets began. */
    public static class Orders {
        private final JdbcTemplate jdbc;

        public Orders(JdbcTemplate jdbc) {
            this.jdbc = jdbc;
        }

        @IdempotentBatch(consumer = "offsets", key = "#record.key()")
        public void write(List<ConsumerRecord<String, String>> records) {
            List<Object[]> rows = new ArrayList<>();
            for (ConsumerRecord<String, String> record : records) {
                rows.add(new Object[] {record.key()});
            }
            jdbc.batchUpdate("INSERT INTO " + ROWS + " (event_id) VALUES (?)", rows);
        }
    }

    /** Batch listeners without @Transactional: DatabaseOffsets.process begins the transaction. */
    public static class Listeners {
        private final DatabaseOffsets offsets;
        private final Orders orders;
        private final State state;

        public Listeners(DatabaseOffsets offsets, Orders orders, State state) {
            this.offsets = offsets;
            this.orders = orders;
            this.state = state;
        }

        @KafkaListener(id = "stored", topics = "${test.prefix}-offsets-stored",
                groupId = "${test.prefix}-offsets-stored", containerFactory = "offsetsFactory")
        public void stored(List<ConsumerRecord<String, String>> records) {
            handle("stored", records);
        }

        @KafkaListener(id = "restart", topics = "${test.prefix}-offsets-restart",
                groupId = "${test.prefix}-offsets-restart", containerFactory = "offsetsFactory")
        public void restart(List<ConsumerRecord<String, String>> records) {
            handle("restart", records);
        }

        @KafkaListener(id = "fenced", topics = "${test.prefix}-offsets-fenced",
                groupId = "${test.prefix}-offsets-fenced", containerFactory = "offsetsFactory")
        public void fenced(List<ConsumerRecord<String, String>> records) {
            handle("fenced", records);
        }

        private void handle(String name, List<ConsumerRecord<String, String>> records) {
            state.seen.computeIfAbsent(name, k -> new AtomicInteger()).addAndGet(records.size());
            offsets.process(records, () -> orders.write(records));
        }
    }

    @Configuration(proxyBeanMethods = false)
    @EnableTransactionManagement
    @EnableIdempotent
    @EnableKafka
    static class Config extends JdbcTestAppConfig {
        Config() {
            super(8, CLAIMS);
        }

        @Bean
        DatabaseOffsets databaseOffsets(DataSource dataSource, PlatformTransactionManager transactionManager) {
            KafkaOffsetStore store = KafkaOffsetStore.builder(dataSource).table(OFFSETS).build()
                    .createSchemaIfMissing();
            return DatabaseOffsets.of(store, transactionManager);
        }

        @Bean
        ConcurrentKafkaListenerContainerFactory<String, String> offsetsFactory(DatabaseOffsets offsets,
                org.springframework.core.env.Environment environment) {
            ConcurrentKafkaListenerContainerFactory<String, String> factory = new ConcurrentKafkaListenerContainerFactory<>();
            factory.setConsumerFactory(new DefaultKafkaConsumerFactory<>(
                    KafkaTestBroker.consumerConfig(environment.getProperty("test.brokers"), 25)));
            factory.setBatchListener(true);
            factory.getContainerProperties().setConsumerRebalanceListener(offsets);
            factory.setCommonErrorHandler(new OncelyKafkaErrorHandler(
                    new org.springframework.kafka.listener.DefaultErrorHandler(), Duration.ofMillis(50)));
            return factory;
        }

        @Bean
        State state() {
            return new State();
        }

        @Bean
        Orders orders(JdbcTemplate jdbc) {
            return new Orders(jdbc);
        }

        @Bean
        Listeners listeners(DatabaseOffsets offsets, Orders orders, State state) {
            return new Listeners(offsets, orders, state);
        }
    }
}
