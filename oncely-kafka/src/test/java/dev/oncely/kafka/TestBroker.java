package dev.oncely.kafka;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.kafka.clients.admin.AdminClient;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.springframework.kafka.test.EmbeddedKafkaKraftBroker;

/**
 * An in-process KRaft broker for one test class, with how the poll-loop tests name runs, create topics, produce
 * events (the event id as key and as the {@code event-id} header) and open consumers.
 */
final class TestBroker implements AutoCloseable {

    private final EmbeddedKafkaKraftBroker broker;

    private TestBroker(EmbeddedKafkaKraftBroker broker) {
        this.broker = broker;
    }

    /** A one-node broker that starts a new group's rebalance at once. */
    static TestBroker start() {
        EmbeddedKafkaKraftBroker broker = new EmbeddedKafkaKraftBroker(1, 1);
        broker.brokerProperty("group.initial.rebalance.delay.ms", "0");
        broker.afterPropertiesSet();
        return new TestBroker(broker);
    }

    /** A short random id, to keep each test's topics, groups and rows apart. */
    static String shortId() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    /** n event ids of the run: run-e0, run-e1, ... */
    static List<String> eventIds(String run, int n) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ids.add(run + "-e" + i);
        }
        return ids;
    }

    /** A record keyed by the event id, which it also carries in its {@code event-id} header. */
    static ProducerRecord<String, String> record(String topic, String eventId, String value) {
        ProducerRecord<String, String> record = new ProducerRecord<>(topic, eventId, value);
        record.headers().add("event-id", eventId.getBytes(StandardCharsets.UTF_8));
        return record;
    }

    String brokers() {
        return broker.getBrokersAsString();
    }

    void createTopic(String topic, int partitions) {
        broker.addTopics(new NewTopic(topic, partitions, (short) 1));
    }

    <T> T doWithAdminFunction(Function<AdminClient, T> callback) {
        return broker.doWithAdminFunction(callback);
    }

    /** One record an event, "payload of" its id. */
    void produce(String topic, List<String> eventIds) throws Exception {
        List<ProducerRecord<String, String>> records = new ArrayList<>();
        eventIds.forEach(id -> records.add(record(topic, id, "payload of " + id)));
        produceRecords(records);
    }

    void produceRecords(List<ProducerRecord<String, String>> records) throws Exception {
        Map<String, Object> props = new HashMap<>();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers());
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        // One synchronous send at a time with generous timeouts: on a loaded 2-core machine the embedded broker
        // can time out a request, and an idempotent producer's retry then fails forever with
        // OutOfOrderSequenceException. A plain retry may write a record twice, which is what Oncely dedups.
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false);
        props.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 1);
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 60_000);
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 180_000);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props, new StringSerializer(),
                new StringSerializer())) {
            for (ProducerRecord<String, String> record : records) {
                producer.send(record).get(3, TimeUnit.MINUTES);
            }
            producer.flush();
        }
    }

    /** A consumer of the group that commits only by hand and starts at the earliest offset. */
    Consumer<String, String> newConsumer(String group, int maxPollRecords) {
        return newConsumer(group, maxPollRecords, Map.of());
    }

    Consumer<String, String> newConsumer(String group, int maxPollRecords, Map<String, Object> extra) {
        Map<String, Object> props = new HashMap<>();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers());
        props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, maxPollRecords);
        props.putAll(extra);
        return new KafkaConsumer<>(props, new StringDeserializer(), new StringDeserializer());
    }

    @Override
    public void close() {
        broker.destroy();
    }
}
