package dev.oncely.examples.kafka;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.kafka.KafkaOffsetStore;
import dev.oncely.kafka.KafkaPollLoop;
import dev.oncely.kafka.PollResult;
import dev.oncely.kafka.RecordKeys;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.springframework.kafka.test.EmbeddedKafkaKraftBroker;

/**
 * Oncely on Kafka, end to end: starts an in-process Kafka broker, produces payment events of which some are sent
 * twice, consumes them into PostgreSQL with offsets stored in the database, restarts the consumer half way, and
 * prints the counts. Every event's payment row exists once.
 *
 * <pre>
 * mvn -q -pl examples/kafka -am compile exec:java
 * mvn -q -pl examples/kafka -am compile exec:java -Dexec.args="--jdbc-url jdbc:postgresql://host:5432/db --user u --password p"
 * </pre>
 */
public final class KafkaExample {

    private static final String TOPIC = "payments";
    private static final int EVENTS = 200;
    private static final int SENT_TWICE = 50;

    static final String USAGE = """
            Usage: kafka-example [options]
              (mvn -q -pl examples/kafka -am compile exec:java -Dexec.args="[options]")

            Starts an in-process Kafka broker, produces payment events of which some are sent twice, consumes
            them into PostgreSQL with offsets stored in the database, restarts the consumer half way, and prints
            the counts.

              --jdbc-url URL      PostgreSQL to run on (default jdbc:postgresql://127.0.0.1:5432/test)
              --user NAME         database user (default postgres)
              --password SECRET   database password (default empty)
              --help              this text
            """;

    public static void main(String[] args) throws Exception {
        Map<String, String> options;
        try {
            options = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("kafka-example: " + e.getMessage());
            System.exit(2); // exec:java runs in Maven's JVM: exit rather than throw into a Maven error block
            return;
        }
        if (options.containsKey("--help")) {
            System.out.print(USAGE);
            return;
        }
        String url = options.getOrDefault("--jdbc-url", "jdbc:postgresql://127.0.0.1:5432/test");
        String user = options.getOrDefault("--user", "postgres");
        String password = options.getOrDefault("--password", "");
        String run = "example-" + Long.toString(System.currentTimeMillis(), 36);

        System.out.println("Starting an in-process Kafka broker (KRaft)...");
        EmbeddedKafkaKraftBroker broker = new EmbeddedKafkaKraftBroker(1, 3, TOPIC);
        broker.afterPropertiesSet();
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(user);
        config.setPassword(password);
        config.setMaximumPoolSize(4);
        try (HikariDataSource dataSource = new HikariDataSource(config)) {
            // A claims table of the example's own: the default database 'test' is shared with the project's tests,
            // which empty processed_events. In your application the default table name is fine.
            JdbcDedupStore store = JdbcDedupStore.builder(dataSource).table("oncely_example_kafka_claims").build()
                    .createSchemaIfMissing();
            KafkaOffsetStore offsets = KafkaOffsetStore.builder(dataSource).build().createSchemaIfMissing();
            try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
                st.execute("CREATE TABLE IF NOT EXISTS oncely_example_payments (run_id varchar(64) NOT NULL,"
                        + " event_id varchar(255) NOT NULL, amount_cents bigint NOT NULL)");
            }

            int sent = produce(broker.getBrokersAsString());
            System.out.printf("Produced %d records: %d payment events, %d of them sent twice (a producer retry).%n",
                    sent, EVENTS, SENT_TWICE);

            IdempotentHandler<ConsumerRecord<String, String>, Void, ?> payments =
                    IdempotentHandler.<ConsumerRecord<String, String>, Void>builder(store)
                            .consumer(run)
                            .key(RecordKeys.header("event-id"))
                            .handler((record, ctx) -> {
                                try (PreparedStatement ps = ctx.unwrap(Connection.class).prepareStatement(
                                        "INSERT INTO oncely_example_payments VALUES (?, ?, ?)")) {
                                    ps.setString(1, run);
                                    ps.setString(2, ctx.key());
                                    ps.setLong(3, Long.parseLong(record.value()));
                                    ps.executeUpdate();
                                }
                                return null;
                            })
                            .build();

            // First consumer: stops after about half the records, as a deploy or a crash would.
            int[] first = consume(broker, payments, offsets, run, 120);
            System.out.printf("Consumer 1: %d processed, %d duplicates skipped; then it stopped.%n",
                    first[0], first[1]);
            // Second consumer of the same group: seeks to the offsets stored in the database and finishes.
            int[] second = consume(broker, payments, offsets, run, Integer.MAX_VALUE);
            System.out.printf("Consumer 2 (restart): %d processed, %d duplicates skipped.%n", second[0], second[1]);

            long rows;
            long distinct;
            try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(
                    "SELECT count(*), count(DISTINCT event_id) FROM oncely_example_payments WHERE run_id = ?")) {
                ps.setString(1, run);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    rows = rs.getLong(1);
                    distinct = rs.getLong(2);
                }
            }
            Map<TopicPartition, Long> stored = offsets.read(run, List.of(new TopicPartition(TOPIC, 0),
                    new TopicPartition(TOPIC, 1), new TopicPartition(TOPIC, 2)));
            System.out.printf("Payments table: %d rows for %d distinct events (expected %d and %d).%n", rows,
                    distinct, EVENTS, EVENTS);
            System.out.printf("Offsets stored in %s: %d records consumed in all (expected %d).%n",
                    offsets.tableName(), stored.values().stream().mapToLong(Long::longValue).sum(), sent);
            boolean ok = rows == EVENTS && distinct == EVENTS && first[0] + second[0] == EVENTS
                    && first[1] + second[1] == SENT_TWICE;
            System.out.println(ok ? "OK: every payment took effect exactly once."
                    : "MISMATCH: see the counts above.");
            if (!ok) {
                throw new IllegalStateException("The example's counts do not match");
            }
        } finally {
            broker.destroy();
        }
    }

    /** Polls with a new consumer of the group until {@code limit} records are handled or the topic is done. */
    private static int[] consume(EmbeddedKafkaKraftBroker broker,
                                 IdempotentHandler<ConsumerRecord<String, String>, Void, ?> handler,
                                 KafkaOffsetStore offsets, String group, int limit) throws Exception {
        Map<String, Object> props = new HashMap<>();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.getBrokersAsString());
        props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 20);
        int processed = 0;
        int duplicates = 0;
        int idlePolls = 0;
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                new StringDeserializer())) {
            KafkaPollLoop<String, String> loop = KafkaPollLoop.builder(consumer, handler)
                    .topics(TOPIC)
                    .offsetsInDatabase(offsets)
                    .pollTimeout(Duration.ofMillis(300))
                    .build();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (processed + duplicates < limit && System.nanoTime() < deadline) {
                PollResult result = loop.pollOnce();
                processed += result.processed();
                duplicates += result.duplicates();
                // Once assigned, a few empty polls in a row mean the topic is consumed.
                idlePolls = result.records() == 0 && !consumer.assignment().isEmpty() ? idlePolls + 1 : 0;
                if (idlePolls >= 5) {
                    break;
                }
            }
        }
        return new int[] {processed, duplicates};
    }

    private static int produce(String bootstrap) throws Exception {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        // One synchronous send at a time with generous timeouts: on a loaded 2-core machine the embedded broker
        // can time out a request, and an idempotent producer's retry then fails forever with
        // OutOfOrderSequenceException. A plain retry may write a record twice, which is what Oncely dedups.
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false);
        props.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 1);
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 60_000);
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 180_000);
        int sent = 0;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props, new StringSerializer(),
                new StringSerializer())) {
            for (int i = 0; i < EVENTS + SENT_TWICE; i++) {
                int event = i < EVENTS ? i : (i - EVENTS) * 3; // the duplicates: events 0, 3, 6, ...
                String eventId = "payment-" + event;
                ProducerRecord<String, String> record = new ProducerRecord<>(TOPIC, "customer-" + (event % 17),
                        Long.toString(100L + event));
                record.headers().add("event-id", eventId.getBytes(StandardCharsets.UTF_8));
                producer.send(record).get(3, java.util.concurrent.TimeUnit.MINUTES);
                sent++;
            }
            producer.flush();
        }
        return sent;
    }

    /** Flags by name; "--help" if it was given. */
    static Map<String, String> parse(String... args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String name = args[i];
            if (name.equals("--help") || name.equals("-h")) {
                return Map.of("--help", "");
            }
            if (!name.equals("--jdbc-url") && !name.equals("--user") && !name.equals("--password")) {
                throw new IllegalArgumentException("unknown option '" + name + "'; known: --jdbc-url URL, --user NAME,"
                        + " --password SECRET, --help");
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(name + " needs a value; see --help");
            }
            options.put(name, args[++i]);
        }
        return options;
    }

    private KafkaExample() {
    }
}
