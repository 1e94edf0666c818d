package dev.oncely.examples.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.Delivery;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.rabbitmq.IdempotentDeliverCallback;
import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Publishes orders to a RabbitMQ queue, a fifth of them twice (as a producer retry would), consumes them on
 * several channels with Oncely on PostgreSQL, and prints how many rows the business table got: one per order.
 *
 * <pre>
 * mvn -q -pl examples/rabbitmq -am compile exec:java
 * mvn -q -pl examples/rabbitmq -am compile exec:java -Dexec.args="--jdbc-url jdbc:postgresql://host:5432/db --user me"
 * </pre>
 * Options: --jdbc-url (default jdbc:postgresql://127.0.0.1:5432/test), --user (postgres), --password (empty),
 * --amqp-uri (amqp://guest:guest@127.0.0.1:5672), --orders (200), --duplicates (percent, 20), --channels (3).
 */
public final class RabbitMqExample {

    static final String USAGE = """
            Usage: rabbitmq-example [options]
              (mvn -q -pl examples/rabbitmq -am compile exec:java -Dexec.args="[options]")

            Publishes orders to a RabbitMQ queue, some of them twice, consumes them on several channels with
            Oncely on PostgreSQL and prints the rows the business table got: one per order.

              --jdbc-url URL      PostgreSQL to run on (default jdbc:postgresql://127.0.0.1:5432/test)
              --user NAME         database user (default postgres)
              --password SECRET   database password (default empty)
              --amqp-uri URI      RabbitMQ (default amqp://guest:guest@127.0.0.1:5672; append /vhost for another)
              --orders N          orders to publish (default 200)
              --duplicates P      percent of them published twice (default 20)
              --channels N        consuming channels (default 3)
              --help              this text
            """;

    private static final List<String> FLAGS = List.of("--jdbc-url", "--user", "--password", "--amqp-uri",
            "--orders", "--duplicates", "--channels");

    public static void main(String[] args) throws Exception {
        Map<String, String> options;
        try {
            options = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("rabbitmq-example: " + e.getMessage());
            System.exit(2); // exec:java runs in Maven's JVM: exit rather than throw into a Maven error block
            return;
        }
        if (options.containsKey("help")) {
            System.out.print(USAGE);
            return;
        }
        run(options);
    }

    private static void run(Map<String, String> options) throws Exception {
        String jdbcUrl = options.getOrDefault("jdbc-url", "jdbc:postgresql://127.0.0.1:5432/test");
        String amqpUri = options.getOrDefault("amqp-uri", "amqp://guest:guest@127.0.0.1:5672");
        int orders = Integer.parseInt(options.getOrDefault("orders", "200"));
        int duplicatePercent = Integer.parseInt(options.getOrDefault("duplicates", "20"));
        int channelCount = Integer.parseInt(options.getOrDefault("channels", "3"));
        String run = UUID.randomUUID().toString().substring(0, 8);

        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(jdbcUrl);
        config.setUsername(options.getOrDefault("user", "postgres"));
        config.setPassword(options.getOrDefault("password", ""));
        config.setMaximumPoolSize(channelCount + 2);
        ConnectionFactory factory = new ConnectionFactory();
        factory.setUri(amqpUri);

        try (HikariDataSource dataSource = new HikariDataSource(config);
             Connection rabbit = factory.newConnection("oncely-example")) {
            // 1. The dedup table (use your migration tool in production) and a business table without a unique
            //    key, so that a doubled effect would show as two rows.
            JdbcDedupStore store = JdbcDedupStore.builder(dataSource).build().createSchemaIfMissing();
            try (java.sql.Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
                st.execute("CREATE TABLE IF NOT EXISTS example_rabbitmq_orders (run varchar(8) NOT NULL,"
                        + " order_id varchar(255) NOT NULL, body text NOT NULL)");
            }

            // 2. Publish: each order once, and some of them twice, with the order id as AMQP message-id.
            String queue = "oncely-example-" + run;
            List<String> published = publish(rabbit, queue, run, orders, duplicatePercent);
            int unique = new LinkedHashSet<>(published).size();

            // 3. Consume with Oncely: the insert and the claim commit together, then the delivery is acked.
            AtomicInteger inserted = new AtomicInteger();
            IdempotentHandler<Delivery, Void, ?> handler = IdempotentDeliverCallback.<Void>handlerBuilder(store)
                    .consumer("example-orders")
                    .handler((delivery, tx) -> {
                        try (PreparedStatement ps = tx.unwrap(java.sql.Connection.class).prepareStatement(
                                "INSERT INTO example_rabbitmq_orders (run, order_id, body) VALUES (?, ?, ?)")) {
                            ps.setString(1, run);
                            ps.setString(2, tx.key());
                            ps.setString(3, new String(delivery.getBody(), StandardCharsets.UTF_8));
                            ps.executeUpdate();
                        }
                        inserted.incrementAndGet();
                        return null;
                    })
                    .build();
            AtomicInteger settled = new AtomicInteger();
            List<Channel> channels = new ArrayList<>();
            for (int i = 0; i < channelCount; i++) {
                Channel channel = rabbit.createChannel();
                channel.basicQos(20);
                IdempotentDeliverCallback<Void> callback = IdempotentDeliverCallback.of(channel, handler);
                channel.basicConsume(queue, false, (tag, delivery) -> {
                    callback.handle(tag, delivery);
                    settled.incrementAndGet();
                }, tag -> { });
                channels.add(channel);
            }

            long deadline = System.nanoTime() + 60_000_000_000L;
            while (settled.get() < published.size() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            for (Channel channel : channels) {
                channel.close();
            }
            long left;
            try (Channel admin = rabbit.createChannel()) {
                left = admin.queueDeclarePassive(queue).getMessageCount();
                admin.queueDelete(queue);
            }
            long rows;
            long distinctRows;
            try (java.sql.Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(
                    "SELECT count(*), count(DISTINCT order_id) FROM example_rabbitmq_orders WHERE run = ?")) {
                ps.setString(1, run);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    rows = rs.getLong(1);
                    distinctRows = rs.getLong(2);
                }
            }

            System.out.printf("run %s on %s and %s%n", run, jdbcUrl, amqpUri.replaceAll("//[^@/]*@", "//"));
            System.out.printf("published %d messages for %d orders (%d duplicates)%n", published.size(), unique,
                    published.size() - unique);
            System.out.printf("acknowledged %d deliveries on %d channels: %d processed, %d duplicates%n",
                    settled.get(), channelCount, inserted.get(), settled.get() - inserted.get());
            System.out.printf("rows in example_rabbitmq_orders: %d (%d distinct orders); left in the queue: %d%n",
                    rows, distinctRows, left);
            boolean exactlyOnce = rows == unique && distinctRows == unique && left == 0
                    && settled.get() == published.size();
            System.out.println(exactlyOnce ? "OK: one row per order" : "MISMATCH: see the counts above");
            if (!exactlyOnce) {
                throw new IllegalStateException("Expected one row per order and an empty queue; see the counts above.");
            }
        }
    }

    private static List<String> publish(Connection rabbit, String queue, String run, int orders,
            int duplicatePercent) throws Exception {
        Random random = new Random();
        List<String> ids = new ArrayList<>();
        int duplicates = orders * duplicatePercent / 100;
        for (int i = 0; i < orders - duplicates; i++) {
            ids.add("order-" + run + "-" + i);
        }
        List<String> messages = new ArrayList<>(ids);
        for (int i = 0; i < duplicates; i++) {
            messages.add(ids.get(random.nextInt(ids.size())));
        }
        Collections.shuffle(messages, random);
        try (Channel channel = rabbit.createChannel()) {
            channel.queueDeclare(queue, false, false, false, null);
            for (String id : messages) {
                channel.basicPublish("", queue, new AMQP.BasicProperties.Builder().messageId(id)
                        .contentType("text/plain").build(), ("{\"order\":\"" + id + "\"}").getBytes(StandardCharsets.UTF_8));
            }
        }
        return messages;
    }

    /** Flags by name without the dashes; "help" if --help was given. */
    static Map<String, String> parse(String... args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--help") || args[i].equals("-h")) {
                return Map.of("help", "");
            }
            if (!FLAGS.contains(args[i])) {
                throw new IllegalArgumentException("unknown option '" + args[i] + "'; known: "
                        + String.join(", ", FLAGS) + ", --help");
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(args[i] + " needs a value; see --help");
            }
            options.put(args[i].substring(2), args[++i]);
        }
        return options;
    }
}
