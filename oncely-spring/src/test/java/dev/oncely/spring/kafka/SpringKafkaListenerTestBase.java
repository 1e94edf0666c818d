package dev.oncely.spring.kafka;

import static dev.oncely.spring.SpringTestApps.pool;
import static dev.oncely.spring.SpringTestApps.recreateTables;
import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.TransientStoreException;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.spring.EnableIdempotent;
import dev.oncely.spring.Idempotent;
import dev.oncely.spring.IdempotentBatch;
import dev.oncely.spring.SpringConnectionOwner;
import dev.oncely.spring.SpringTestApps;
import dev.oncely.testdatabases.TestDatabase;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import javax.sql.DataSource;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
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
import org.springframework.data.jpa.repository.config.EnableJpaRepositories;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.kafka.annotation.EnableKafka;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.kafka.config.ConcurrentKafkaListenerContainerFactory;
import org.springframework.kafka.config.KafkaListenerEndpointRegistry;
import org.springframework.kafka.core.DefaultKafkaConsumerFactory;
import org.springframework.kafka.listener.DefaultErrorHandler;
import org.springframework.kafka.listener.MessageListenerContainer;
import org.springframework.kafka.test.EmbeddedKafkaKraftBroker;
import org.springframework.orm.jpa.JpaTransactionManager;
import org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean;
import org.springframework.orm.jpa.vendor.HibernateJpaVendorAdapter;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.annotation.EnableTransactionManagement;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.util.backoff.FixedBackOff;

/**
 * Real {@code @KafkaListener} containers (spring-kafka's embedded KRaft broker, in process) on a real database,
 * under a {@link JpaTransactionManager} that JdbcTemplate and a Spring Data JPA repository both write through. Every
 * record is sent at least twice; the effects are counted in the database, and each test waits until the group's
 * committed offsets cover every record sent.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class SpringKafkaListenerTestBase {

    static final String CLAIMS = "spring_kafka_claims";
    static final String ROWS = "spring_kafka_rows";
    static final String ORDERS = "spring_kafka_jpa_orders";

    private EmbeddedKafkaKraftBroker broker;

    /** The database of the subclass. */
    abstract TestDatabase database();

    /** Topic and group names of this database, so both database classes can share one broker. */
    abstract String prefix();

    private AnnotationConfigApplicationContext context;
    private JdbcTemplate jdbc;
    private ListenerState state;
    private KafkaProducer<String, String> producer;

    @BeforeAll
    void start() {
        broker = KafkaTestBroker.get();
        for (String topic : List.of("jdbc", "jpa", "failing", "blocking", "classified", "misconfigured")) {
            broker.addTopics(new NewTopic(prefix() + "-" + topic, 1, (short) 1));
        }
        broker.addTopics(new NewTopic(prefix() + "-storm", 4, (short) 1));

        TestDatabase db = database();
        recreateTables(db, List.of(ROWS, ORDERS, CLAIMS),
                "CREATE TABLE " + ROWS + " (event_id varchar(100) NOT NULL, consumer varchar(100) NOT NULL,"
                        + " payload varchar(200) NOT NULL)",
                "CREATE TABLE " + ORDERS + " (id " + (db.jdbcUrl().startsWith("jdbc:postgresql")
                        ? "bigserial" : "bigint AUTO_INCREMENT") + " PRIMARY KEY, event_id varchar(100) NOT NULL,"
                        + " payload varchar(200) NOT NULL)");
        context = SpringTestApps.start(Config.class, db,
                Map.of("test.prefix", prefix(), "test.brokers", broker.getBrokersAsString()));
        jdbc = context.getBean(JdbcTemplate.class);
        state = context.getBean(ListenerState.class);
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
    void aBatchListenerWritingThroughJdbcTemplateHasEachRecordsEffectOnceThoughEveryRecordIsSentTwice()
            throws Exception {
        String topic = prefix() + "-jdbc";
        int keys = 120;
        int sent = sendEachTwice(topic, "jdbc", keys);
        awaitCommitted(prefix() + "-jdbc", topic, sent);

        assertThat(rowsOf("jdbc-batch")).isEqualTo(keys);
        assertThat(distinctRowsOf("jdbc-batch")).isEqualTo(keys);
        assertThat(claimsOf("jdbc-batch")).isEqualTo(keys);
        assertThat(state.jdbcRecordsSeen.get()).as("the method gets the fresh records only").isEqualTo(keys);
    }

    @Test
    void aBatchListenerWritingThroughAJpaRepositoryHasEachRecordsEffectOnceThoughEveryRecordIsSentTwice()
            throws Exception {
        String topic = prefix() + "-jpa";
        int keys = 80;
        int sent = sendEachTwice(topic, "jpa", keys);
        awaitCommitted(prefix() + "-jpa", topic, sent);

        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM " + ORDERS, Long.class)).isEqualTo(keys);
        assertThat(jdbc.queryForObject("SELECT COUNT(DISTINCT event_id) FROM " + ORDERS, Long.class))
                .isEqualTo(keys);
        assertThat(claimsOf("jpa-batch")).isEqualTo(keys);
    }

    @Test
    void aBatchListenerThatThrowsRollsBackTheClaimsAndWritesAndTheRedeliveryProcessesThem() throws Exception {
        String topic = prefix() + "-failing";
        state.failOnce.add("failing-7");
        int keys = 20;
        int sent = sendEachTwice(topic, "failing", keys);
        awaitCommitted(prefix() + "-failing", topic, sent);

        assertThat(state.failures.get()).as("the listener threw once").isEqualTo(1);
        assertThat(rowsOf("failing-batch")).isEqualTo(keys);
        assertThat(distinctRowsOf("failing-batch")).isEqualTo(keys);
        assertThat(jdbc.queryForList("SELECT payload FROM " + ROWS + " WHERE consumer = 'failing-batch'"
                + " AND event_id = 'failing-7'", String.class))
                .as("the failed attempt's row rolled back with its claim: the one row is the retry's")
                .containsExactly("attempt-2");
        assertThat(claimsOf("failing-batch")).isEqualTo(keys);
    }

    @Test
    void aConcurrentDuplicateStormThroughTheAnnotationOnARecordListenerRunsEachEventOnce() throws Exception {
        String topic = prefix() + "-storm";
        int events = 150;
        int copies = 3;
        for (int copy = 0; copy < copies; copy++) {
            for (int i = 0; i < events; i++) { // each copy of an event on another partition: another consumer
                producer.send(withEventId(new ProducerRecord<>(topic, (i + copy) % 4, "k", "storm-" + i)));
            }
        }
        for (int p = 0; p < 4; p++) {
            producer.send(withEventId(new ProducerRecord<>(topic, p, "k", "storm-hot")));
        }
        producer.flush();
        awaitCommitted(prefix() + "-storm", topic, events * copies + 4);

        assertThat(rowsOf("storm")).isEqualTo(events + 1L);
        assertThat(distinctRowsOf("storm")).isEqualTo(events + 1L);
        assertThat(claimsOf("storm")).isEqualTo(events + 1L);
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM " + CLAIMS + " WHERE consumer = 'storm'"
                + " AND event_id = 'storm-hot'", Long.class)).as("the header's bytes, read as UTF-8").isEqualTo(1);
    }

    @Test
    void aConsumerStoppedWhileABatchIsBlockedInTheHandlerLosesNothingAndRepeatsNothing() throws Exception {
        String topic = prefix() + "-blocking";
        KafkaListenerEndpointRegistry registry = context.getBean(KafkaListenerEndpointRegistry.class);
        MessageListenerContainer container = registry.getListenerContainer("blocking");
        int keys = 60;
        for (int i = 0; i < keys; i++) {
            producer.send(new ProducerRecord<>(topic, "blocking-" + i, i == 35 ? "block" : "v"));
        }
        producer.flush();
        assertThat(state.blocked.await(60, TimeUnit.SECONDS)).as("a batch reached the blocking record").isTrue();

        Thread stopper = new Thread(container::stop, "test-stopper");
        stopper.start();
        await(() -> !container.isRunning(), "the container to begin stopping");
        state.release.countDown(); // the handler dies: its transaction rolls back, nothing is acknowledged
        stopper.join(60_000);
        assertThat(stopper.isAlive()).isFalse();
        assertThat(rowsWhere("blocking-batch", "blocking-35")).as("the dead batch rolled back").isZero();
        long beforeRestart = rowsOf("blocking-batch");
        assertThat(beforeRestart).isLessThan(keys);

        int resent = 0;
        for (int i = 0; i < keys; i += 3) { // and some are sent again, too
            producer.send(new ProducerRecord<>(topic, "blocking-" + i, "v"));
            resent++;
        }
        producer.flush();
        container.start(); // a new consumer of the same group
        awaitCommitted(prefix() + "-blocking", topic, keys + resent);

        assertThat(rowsOf("blocking-batch")).isEqualTo(keys);
        assertThat(distinctRowsOf("blocking-batch")).isEqualTo(keys);
        assertThat(claimsOf("blocking-batch")).isEqualTo(keys);
    }

    @Test
    void theErrorHandlerRecoversAnInvalidRecordAtOnceAndRetriesStoreFailuresBeyondTheRetryLimit() throws Exception {
        String topic = prefix() + "-classified";
        producer.send(new ProducerRecord<>(topic, "classified-1", "transient")); // fails 12 times, then works
        producer.send(new ProducerRecord<>(topic, null, "poison")); // no key: InvalidMessageException
        producer.send(new ProducerRecord<>(topic, "classified-2", "v"));
        producer.flush();
        awaitCommitted(prefix() + "-classified", topic, 3);

        assertThat(state.deliveries.get("transient").get()).as("retried past the 10 attempts of the back-off")
                .isEqualTo(13);
        assertThat(state.deliveries.get("poison").get()).as("not retried").isEqualTo(1);
        assertThat(state.recovered).as("only the invalid record was handed to the recoverer")
                .containsExactly("poison");
        assertThat(rowsOf("classified")).isEqualTo(2);
        assertThat(rowsWhere("classified", "classified-1")).isEqualTo(1);
    }

    @Test
    void aMisconfigurationStopsTheKafkaContainerWithoutSkippingTheRecord() throws Exception {
        MessageListenerContainer container = context.getBean(KafkaListenerEndpointRegistry.class)
                .getListenerContainer("misconfigured");
        assertThat(container.isRunning()).isTrue();
        String topic = prefix() + "-misconfigured";
        producer.send(new ProducerRecord<>(topic, "misconfigured-1", "v"));
        producer.flush();

        await(() -> !container.isRunning(), "the container to stop");
        await(() -> groupIsEmpty(prefix() + "-misconfigured"), "the consumer to leave the group");
        assertThat(committed(prefix() + "-misconfigured", topic)).as("the record's offset is not committed")
                .isZero();
        assertThat(rowsOf("misconfigured")).isZero();
    }

    /** The event id in a header, as producers that set their own ids do; the value repeats it. */
    private static ProducerRecord<String, String> withEventId(ProducerRecord<String, String> record) {
        record.headers().add("event-id", record.value().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return record;
    }

    /** Sends keys 0..n-1, the first 10 twice in a row (duplicates inside one batch), then all of them again. */
    private int sendEachTwice(String topic, String name, int keys) {
        int sent = 0;
        for (int i = 0; i < keys; i++) {
            producer.send(new ProducerRecord<>(topic, name + "-" + i, "v"));
            sent++;
            if (i < 10) {
                producer.send(new ProducerRecord<>(topic, name + "-" + i, "v"));
                sent++;
            }
        }
        for (int i = 0; i < keys; i++) {
            producer.send(new ProducerRecord<>(topic, name + "-" + i, "v"));
            sent++;
        }
        producer.flush();
        return sent;
    }

    /** Waits until the group has committed offsets for {@code records} records of {@code topic}, all of them. */
    private void awaitCommitted(String group, String topic, long records) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        long committed = -1;
        while (System.nanoTime() < deadline) {
            committed = committed(group, topic);
            if (committed == records && ends(topic) == records) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("group " + group + " committed " + committed + " of " + records + " records of "
                + topic);
    }

    private long committed(String group, String topic) {
        return broker.doWithAdminFunction(admin -> {
            try {
                Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group)
                        .partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
                return offsets.entrySet().stream().filter(e -> e.getKey().topic().equals(topic))
                        .filter(e -> e.getValue() != null).mapToLong(e -> e.getValue().offset()).sum();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private boolean groupIsEmpty(String group) {
        return broker.doWithAdminFunction(admin -> {
            try {
                return admin.describeConsumerGroups(List.of(group)).all().get(10, TimeUnit.SECONDS).get(group)
                        .members().isEmpty();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private long ends(String topic) {
        return broker.doWithAdminFunction(admin -> {
            try {
                int partitions = admin.describeTopics(List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS)
                        .get(topic).partitions().size();
                Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
                for (int p = 0; p < partitions; p++) {
                    latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
                }
                return admin.listOffsets(latest).all().get(10, TimeUnit.SECONDS).values().stream()
                        .mapToLong(info -> info.offset()).sum();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("Timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    private long rowsOf(String consumer) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM " + ROWS + " WHERE consumer = ?", Long.class, consumer);
    }

    private long rowsWhere(String consumer, String eventId) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM " + ROWS + " WHERE consumer = ? AND event_id = ?",
                Long.class, consumer, eventId);
    }

    private long distinctRowsOf(String consumer) {
        return jdbc.queryForObject("SELECT COUNT(DISTINCT event_id) FROM " + ROWS + " WHERE consumer = ?",
                Long.class, consumer);
    }

    private long claimsOf(String consumer) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM " + CLAIMS + " WHERE consumer = ?", Long.class, consumer);
    }

    /** What the listeners saw and what makes them fail; a bean of its own (the listeners bean is a proxy). */
    public static class ListenerState {
        final AtomicInteger jdbcRecordsSeen = new AtomicInteger();
        final Set<String> failOnce = ConcurrentHashMap.newKeySet();
        final AtomicInteger failures = new AtomicInteger();
        final Map<String, AtomicInteger> attempts = new ConcurrentHashMap<>();
        final CountDownLatch blocked = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final Map<String, AtomicInteger> deliveries = new ConcurrentHashMap<>();
        final List<String> recovered = new java.util.concurrent.CopyOnWriteArrayList<>();
    }

    /** The application's listeners. */
    public static class Listeners {
        private final JdbcTemplate jdbc;
        private final KafkaOrderRepository orders;
        private final ListenerState state;

        public Listeners(JdbcTemplate jdbc, KafkaOrderRepository orders, ListenerState state) {
            this.jdbc = jdbc;
            this.orders = orders;
            this.state = state;
        }

        @KafkaListener(id = "jdbc", topics = "${test.prefix}-jdbc", groupId = "${test.prefix}-jdbc",
                containerFactory = "batchFactory")
        @IdempotentBatch(consumer = "jdbc-batch", key = "#record.key()")
        @Transactional
        public void jdbcBatch(List<ConsumerRecord<String, String>> records) {
            state.jdbcRecordsSeen.addAndGet(records.size());
            insertAll("jdbc-batch", records, "v");
        }

        @KafkaListener(id = "jpa", topics = "${test.prefix}-jpa", groupId = "${test.prefix}-jpa",
                containerFactory = "batchFactory")
        @IdempotentBatch(consumer = "jpa-batch", key = "#record.key()")
        @Transactional
        public void jpaBatch(List<ConsumerRecord<String, String>> records) {
            List<KafkaOrder> batch = new ArrayList<>();
            for (ConsumerRecord<String, String> record : records) {
                batch.add(new KafkaOrder(record.key(), record.value()));
            }
            orders.saveAll(batch);
        }

        /** Writes the batch, then throws on the first attempt of a batch holding a key of {@link #failOnce}. */
        @KafkaListener(id = "failing", topics = "${test.prefix}-failing", groupId = "${test.prefix}-failing",
                containerFactory = "batchFactory")
        @IdempotentBatch(consumer = "failing-batch", key = "#record.key()")
        @Transactional
        public void failingBatch(List<ConsumerRecord<String, String>> records) {
            boolean fail = false;
            String attempt = "attempt-1";
            for (ConsumerRecord<String, String> record : records) {
                int n = state.attempts.computeIfAbsent(record.key(), k -> new AtomicInteger()).incrementAndGet();
                if (state.failOnce.remove(record.key())) {
                    fail = true;
                }
                if (n > 1) {
                    attempt = "attempt-" + n;
                }
            }
            insertAll("failing-batch", records, attempt);
            if (fail) {
                state.failures.incrementAndGet();
                throw new IllegalStateException("the handler failed after its writes");
            }
        }

        /** Blocks on the batch holding the record valued "block" until released, then dies. */
        @KafkaListener(id = "blocking", topics = "${test.prefix}-blocking", groupId = "${test.prefix}-blocking",
                containerFactory = "batchFactory", properties = "max.poll.records=10")
        @IdempotentBatch(consumer = "blocking-batch", key = "#record.key()")
        @Transactional
        public void blockingBatch(List<ConsumerRecord<String, String>> records) throws InterruptedException {
            insertAll("blocking-batch", records, "v");
            if (state.blocked.getCount() > 0 && records.stream().anyMatch(r -> r.value().equals("block"))) {
                state.blocked.countDown();
                state.release.await(60, TimeUnit.SECONDS);
                throw new IllegalStateException("the consumer died in the middle of the batch");
            }
        }

        @KafkaListener(id = "storm", topics = "${test.prefix}-storm", groupId = "${test.prefix}-storm",
                containerFactory = "recordFactory", concurrency = "4")
        @Idempotent(consumer = "storm", key = "#record.headers().lastHeader('event-id').value()")
        @Transactional
        public void storm(ConsumerRecord<String, String> record) {
            // The claim's key is the header's bytes read as UTF-8: the same text as the value.
            jdbc.update("INSERT INTO " + ROWS + " (event_id, consumer, payload) VALUES (?, 'storm', 'v')",
                    record.value());
        }

        /** Throws a store failure on the first 12 deliveries of the record valued "transient". */
        @KafkaListener(id = "classified", topics = "${test.prefix}-classified", groupId = "${test.prefix}-classified",
                containerFactory = "classifiedFactory")
        @Idempotent(consumer = "classified", key = "#record.key()")
        @Transactional
        public void classified(ConsumerRecord<String, String> record) {
            if (record.value().equals("transient") && state.deliveries.get("transient").get() <= 12) {
                throw new TransientStoreException("the database is away (simulated)");
            }
            jdbc.update("INSERT INTO " + ROWS + " (event_id, consumer, payload) VALUES (?, 'classified', 'v')",
                    record.key());
        }

        /** Its key expression does not parse: a MisconfigurationException at its first record. */
        @KafkaListener(id = "misconfigured", topics = "${test.prefix}-misconfigured",
                groupId = "${test.prefix}-misconfigured", containerFactory = "recordFactory")
        @Idempotent(consumer = "misconfigured", key = "#record.(")
        @Transactional
        public void misconfigured(ConsumerRecord<String, String> record) {
            jdbc.update("INSERT INTO " + ROWS + " (event_id, consumer, payload) VALUES (?, 'misconfigured', 'v')",
                    record.key());
        }

        private void insertAll(String consumer, List<ConsumerRecord<String, String>> records, String payload) {
            List<Object[]> rows = new ArrayList<>();
            for (ConsumerRecord<String, String> record : records) {
                rows.add(new Object[] {record.key(), consumer, payload});
            }
            jdbc.batchUpdate("INSERT INTO " + ROWS + " (event_id, consumer, payload) VALUES (?, ?, ?)", rows);
        }
    }

    @Configuration(proxyBeanMethods = false)
    @EnableTransactionManagement
    @EnableIdempotent
    @EnableKafka
    @EnableJpaRepositories(basePackageClasses = KafkaOrderRepository.class)
    static class Config {
        @Bean(destroyMethod = "close")
        HikariDataSource dataSource(TestDatabase db) {
            return pool(db, 12);
        }

        @Bean
        LocalContainerEntityManagerFactoryBean entityManagerFactory(DataSource dataSource) {
            LocalContainerEntityManagerFactoryBean factory = new LocalContainerEntityManagerFactoryBean();
            factory.setDataSource(dataSource);
            factory.setPackagesToScan(KafkaOrder.class.getPackageName());
            factory.setJpaVendorAdapter(new HibernateJpaVendorAdapter());
            factory.setJpaPropertyMap(Map.of("hibernate.hbm2ddl.auto", "none"));
            return factory;
        }

        /** JPA's transaction manager on the DataSource: JdbcTemplate, the repository and the claims share it. */
        @Bean
        JpaTransactionManager transactionManager(LocalContainerEntityManagerFactoryBean entityManagerFactory,
                                                 DataSource dataSource) {
            JpaTransactionManager manager = new JpaTransactionManager(entityManagerFactory.getObject());
            manager.setDataSource(dataSource);
            return manager;
        }

        @Bean
        JdbcTemplate jdbcTemplate(DataSource dataSource) {
            return new JdbcTemplate(dataSource);
        }

        @Bean
        JdbcDedupStore dedupStore(DataSource dataSource, PlatformTransactionManager transactionManager) {
            return SpringConnectionOwner.storeBuilder(dataSource, transactionManager).table(CLAIMS).build()
                    .createSchemaIfMissing();
        }

        @Bean
        DefaultKafkaConsumerFactory<String, String> consumerFactory(
                org.springframework.core.env.Environment environment) {
            return new DefaultKafkaConsumerFactory<>(
                    KafkaTestBroker.consumerConfig(environment.getProperty("test.brokers"), 50));
        }

        @Bean
        ConcurrentKafkaListenerContainerFactory<String, String> batchFactory(
                DefaultKafkaConsumerFactory<String, String> consumerFactory) {
            ConcurrentKafkaListenerContainerFactory<String, String> factory = new ConcurrentKafkaListenerContainerFactory<>();
            factory.setConsumerFactory(consumerFactory);
            factory.setBatchListener(true);
            factory.setCommonErrorHandler(errorHandler());
            return factory;
        }

        @Bean
        ConcurrentKafkaListenerContainerFactory<String, String> recordFactory(
                DefaultKafkaConsumerFactory<String, String> consumerFactory) {
            ConcurrentKafkaListenerContainerFactory<String, String> factory = new ConcurrentKafkaListenerContainerFactory<>();
            factory.setConsumerFactory(consumerFactory);
            factory.setCommonErrorHandler(errorHandler());
            return factory;
        }

        /** Counts each delivery (retries included) and records what reaches the recoverer. */
        @Bean
        ConcurrentKafkaListenerContainerFactory<String, String> classifiedFactory(
                DefaultKafkaConsumerFactory<String, String> consumerFactory, ListenerState state) {
            ConcurrentKafkaListenerContainerFactory<String, String> factory = new ConcurrentKafkaListenerContainerFactory<>();
            factory.setConsumerFactory(consumerFactory);
            factory.setRecordInterceptor((record, consumer) -> {
                state.deliveries.computeIfAbsent(record.value(), v -> new AtomicInteger()).incrementAndGet();
                return record;
            });
            DefaultErrorHandler defaults = new DefaultErrorHandler(
                    (record, exception) -> state.recovered.add(String.valueOf(record.value())), new FixedBackOff(0, 9));
            factory.setCommonErrorHandler(new OncelyKafkaErrorHandler(defaults, Duration.ofMillis(10)));
            return factory;
        }

        private static OncelyKafkaErrorHandler errorHandler() {
            // Store failures of the storm (MariaDB deadlocks in Spring's transaction) are retried every 50 ms.
            return new OncelyKafkaErrorHandler(new DefaultErrorHandler(new FixedBackOff(10, 9)), Duration.ofMillis(50));
        }

        @Bean
        ListenerState listenerState() {
            return new ListenerState();
        }

        @Bean
        Listeners listeners(JdbcTemplate jdbc, KafkaOrderRepository orders, ListenerState state) {
            return new Listeners(jdbc, orders, state);
        }
    }
}
