package dev.oncely.examples.springboot;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.kafka.test.EmbeddedKafkaKraftBroker;

/**
 * Oncely in a Spring Boot application, end to end: starts an in-process Kafka broker (KRaft) and the application
 * on an embedded H2 database, produces payment and refund events of which every one is sent at least twice (some
 * three times, a few refunds without a key), lets a batch {@code @KafkaListener} ({@code @IdempotentBatch}) and a
 * record listener ({@code @Idempotent}) write them through {@code JdbcTemplate}, then prints the rows from the
 * database and {@code oncely.messages} by outcome as the application's own {@code /actuator/metrics} serves them.
 *
 * <pre>
 * mvn -q -pl examples/spring-boot -am compile exec:java
 * mvn -q -pl examples/spring-boot -am compile exec:java -Dexec.args="--events 5000 --keep-running"
 * </pre>
 */
public final class SpringBootExample {

    static final String PAYMENTS = "payments";
    static final String REFUNDS = "refunds";
    static final int REFUNDS_WITHOUT_KEY = 3;
    static final List<String> OUTCOMES = List.of("processed", "duplicate", "invalid", "conflict", "failed");

    static final String USAGE = """
            Usage: spring-boot-example [options]
              (mvn -q -pl examples/spring-boot -am compile exec:java -Dexec.args="[options]")

            Starts an in-process Kafka broker and a Spring Boot application on an embedded H2 database,
            produces payment and refund events (every one at least twice, some three times, a few refunds
            without a key), consumes them with a batch @KafkaListener (@IdempotentBatch) and a record listener
            (@Idempotent), and prints the rows in the database and oncely.messages read from
            /actuator/metrics.

              --events N       payment events to produce, 1 to 1000000 (default 1000); refunds: N/10, at least 2
              --port P         HTTP port of the application, 0 for any free port (default 8080)
              --keep-running   stay up after the report, so that you can curl /actuator/metrics (Ctrl-C stops)
              --help           this text
            """;

    /** What one run produced, sent and counted. */
    record Report(int sentRecords, int distinctEvents, int invalidRecords, long rows, long distinctRows,
                  Map<String, Long> messagesByOutcome, int deadLetters, String metricsUrl) {

        long duplicatesExpected() {
            return (long) sentRecords - distinctEvents - invalidRecords;
        }

        boolean ok() {
            return rows == distinctEvents && distinctRows == distinctEvents
                    && messagesByOutcome.get("processed") == distinctEvents
                    && messagesByOutcome.get("duplicate") == duplicatesExpected()
                    && messagesByOutcome.get("invalid") == invalidRecords
                    && messagesByOutcome.get("failed") == 0 && messagesByOutcome.get("conflict") == 0
                    && deadLetters == invalidRecords;
        }
    }

    record Options(int events, int port, boolean keepRunning) { }

    private SpringBootExample() {
    }

    public static void main(String[] args) throws Exception {
        Options options;
        try {
            options = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("spring-boot-example: " + e.getMessage());
            System.exit(2); // exec:java runs in Maven's JVM: exit rather than throw into a Maven error block
            return;
        }
        if (options == null) {
            System.out.print(USAGE);
            return;
        }
        Report report = run(options);
        if (!report.ok()) {
            throw new IllegalStateException("The example's counts do not match");
        }
    }

    /** Parses the flags; {@code null} for {@code --help}. */
    static Options parse(String... args) {
        int events = 1000;
        int port = 8080;
        boolean keepRunning = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--help" -> {
                    return null;
                }
                case "--keep-running" -> keepRunning = true;
                case "--events" -> events = intValue(args, ++i, "--events", 1, 1_000_000);
                case "--port" -> port = intValue(args, ++i, "--port", 0, 65535);
                default -> throw new IllegalArgumentException("unknown option '" + args[i]
                        + "'; known: --events N, --port P, --keep-running, --help");
            }
        }
        return new Options(events, port, keepRunning);
    }

    private static int intValue(String[] args, int i, String flag, int min, int max) {
        if (i >= args.length) {
            throw new IllegalArgumentException(flag + " needs a number from " + min + " to " + max);
        }
        try {
            int value = Integer.parseInt(args[i]);
            if (value >= min && value <= max) {
                return value;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(flag + " must be a number from " + min + " to " + max + ", not '"
                + args[i] + "'");
    }

    static Report run(Options options) throws Exception {
        System.out.println("Starting an in-process Kafka broker (KRaft)...");
        EmbeddedKafkaKraftBroker broker = new EmbeddedKafkaKraftBroker(1, 3, PAYMENTS, REFUNDS);
        broker.afterPropertiesSet();
        ConfigurableApplicationContext context = null;
        try {
            System.out.println("Starting the Spring Boot application (embedded H2, Actuator on port "
                    + (options.port() == 0 ? "any free port" : options.port()) + ")...");
            context = SpringApplication.run(PaymentsApplication.class,
                    "--spring.kafka.bootstrap-servers=" + broker.getBrokersAsString(),
                    "--server.port=" + options.port());
            String port = context.getEnvironment().getProperty("local.server.port");
            String metricsUrl = "http://localhost:" + port + "/actuator/metrics/oncely.messages";

            int payments = options.events();
            int refunds = Math.max(2, payments / 10);
            int sent = produce(broker.getBrokersAsString(), payments, refunds);
            int distinct = payments + refunds;
            System.out.printf("Produced %d records: %d payments and %d refunds, every one sent twice, every"
                    + " tenth three times, and %d refunds without a key.%n", sent, payments, refunds,
                    REFUNDS_WITHOUT_KEY);

            awaitConsumed(context.getBean(MeterRegistry.class), sent, Duration.ofSeconds(60 + payments / 100));

            JdbcTemplate jdbc = context.getBean(JdbcTemplate.class);
            long rows = jdbc.queryForObject("SELECT (SELECT count(*) FROM payments) + (SELECT count(*) FROM refunds)",
                    Long.class);
            long distinctRows = jdbc.queryForObject("SELECT (SELECT count(DISTINCT event_id) FROM payments)"
                    + " + (SELECT count(DISTINCT event_id) FROM refunds)", Long.class);
            requireMeter(metricsUrl);
            Map<String, Long> byOutcome = new LinkedHashMap<>();
            for (String outcome : OUTCOMES) {
                byOutcome.put(outcome, readCounter(metricsUrl, outcome));
            }
            Report report = new Report(sent, distinct, REFUNDS_WITHOUT_KEY, rows, distinctRows, byOutcome,
                    context.getBean(InvalidRecords.class).count(), metricsUrl);
            print(report);
            if (options.keepRunning()) {
                System.out.println();
                System.out.println("Still running (--keep-running); Ctrl-C stops. Try:");
                System.out.println("  curl '" + metricsUrl + "?tag=outcome:duplicate'");
                System.out.println("  curl http://localhost:" + port + "/actuator/health");
                ConfigurableApplicationContext running = context;
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    running.close();
                    broker.destroy();
                }));
                context = null; // closed by the shutdown hook
                new CountDownLatch(1).await();
            }
            return report;
        } finally {
            if (context != null) {
                context.close();
                broker.destroy();
            }
        }
    }

    /**
     * Payments {@code pay-0..} and refunds {@code refund-0..}, each sent once, every tenth again at once (a
     * duplicate that often lands in the same batch), then all of them again (a producer's retry, or a replay).
     */
    private static int produce(String brokers, int payments, int refunds) {
        Map<String, Object> config = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.LINGER_MS_CONFIG, 5);
        int sent = 0;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(config)) {
            for (int round = 0; round < 2; round++) {
                for (int i = 0; i < payments; i++) {
                    String amount = Long.toString(100 + i % 9_900);
                    int copies = round == 0 && i % 10 == 0 ? 2 : 1;
                    for (int c = 0; c < copies; c++) {
                        producer.send(new ProducerRecord<>(PAYMENTS, "pay-" + i, amount));
                        sent++;
                    }
                }
                for (int i = 0; i < refunds; i++) {
                    int copies = round == 0 && i % 10 == 0 ? 2 : 1;
                    for (int c = 0; c < copies; c++) {
                        producer.send(new ProducerRecord<>(REFUNDS, "refund-" + i, Long.toString(50 + i)));
                        sent++;
                    }
                }
            }
            for (int i = 0; i < REFUNDS_WITHOUT_KEY; i++) {
                producer.send(new ProducerRecord<>(REFUNDS, null, "75")); // a producer that forgot the key
                sent++;
            }
            producer.flush();
        }
        return sent;
    }

    /** Prints progress until the listeners have counted every record sent, from the application's registry. */
    private static void awaitConsumed(MeterRegistry registry, int sent, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long last = -1;
        while (true) {
            long processed = count(registry, "processed");
            long duplicate = count(registry, "duplicate");
            long invalid = count(registry, "invalid");
            long other = count(registry, "failed") + count(registry, "conflict");
            long done = processed + duplicate + invalid + other;
            if (done != last) {
                System.out.printf("  consumed %,d of %,d records: %,d processed, %,d duplicates, %,d invalid%n",
                        done, sent, processed, duplicate, invalid);
                last = done;
            }
            if (processed + duplicate + invalid >= sent) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("Timed out after " + timeout.toSeconds() + " s with " + done
                        + " of " + sent + " records consumed");
            }
            Thread.sleep(250);
        }
    }

    private static long count(MeterRegistry registry, String outcome) {
        return (long) registry.find("oncely.messages").tag("outcome", outcome).counters().stream()
                .mapToDouble(Counter::count).sum();
    }

    private static final Pattern VALUE = Pattern.compile("\"statistic\"\\s*:\\s*\"COUNT\"\\s*,\\s*\"value\"\\s*:\\s*([0-9.Ee+]+)");

    /** The meter must be there: a 404 here means the endpoint is not exposed or the metrics are off. */
    private static void requireMeter(String metricsUrl) throws IOException, InterruptedException {
        HttpResponse<String> response = get(metricsUrl);
        if (response.statusCode() != 200) {
            throw new IllegalStateException("GET " + metricsUrl + " answered " + response.statusCode()
                    + ": expose the endpoint (management.endpoints.web.exposure.include=metrics) and keep"
                    + " oncely.metrics.enabled true");
        }
    }

    /** {@code GET /actuator/metrics/oncely.messages?tag=outcome:X}; 404 (no message had that outcome) is 0. */
    static long readCounter(String metricsUrl, String outcome) throws IOException, InterruptedException {
        HttpResponse<String> response = get(metricsUrl + "?tag=outcome:" + outcome);
        if (response.statusCode() == 404) {
            return 0;
        }
        Matcher m = VALUE.matcher(response.body());
        if (response.statusCode() != 200 || !m.find()) {
            throw new IllegalStateException("Unexpected answer from " + metricsUrl + ": " + response.statusCode()
                    + " " + response.body());
        }
        return Math.round(Double.parseDouble(m.group(1)));
    }

    private static HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static void print(Report r) {
        System.out.println();
        System.out.printf("%-52s %10s %10s%n", "", "counted", "expected");
        System.out.printf("%-52s %,10d %,10d%n", "records sent", r.sentRecords(), r.sentRecords());
        System.out.printf("%-52s %,10d %,10d%n", "rows in payments + refunds (database)", r.rows(),
                r.distinctEvents());
        System.out.printf("%-52s %,10d %,10d%n", "distinct event ids in those rows (database)", r.distinctRows(),
                r.distinctEvents());
        System.out.printf("%-52s %,10d %,10d%n", "records dead-lettered (no key)", r.deadLetters(),
                r.invalidRecords());
        System.out.println("oncely.messages, from " + r.metricsUrl() + "?tag=outcome:...");
        Map<String, Long> expected = Map.of("processed", (long) r.distinctEvents(), "duplicate",
                r.duplicatesExpected(), "invalid", (long) r.invalidRecords(), "conflict", 0L, "failed", 0L);
        for (String outcome : OUTCOMES) {
            System.out.printf("%-52s %,10d %,10d%n", "  outcome:" + outcome, r.messagesByOutcome().get(outcome),
                    expected.get(outcome));
        }
        System.out.println(r.ok() ? "OK: every event took effect exactly once, and the metrics say so."
                : "MISMATCH: see the counts above.");
    }
}
